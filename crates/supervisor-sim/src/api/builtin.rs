//! What kube-apiserver's typed decoding, validation and defaulting do to the few built-in kinds
//! the simulator serves (Namespace, Secret, ConfigMap, PersistentVolumeClaim, Service,
//! StorageClass): unknown top-level fields, values of the wrong type, a few required fields, and
//! the defaults a create fills in. Not a full schema: only what clients run into.

use crate::catalog::ResourceInfo;
use crate::error::{ApiError, Cause};
use serde_json::{json, Value};

/// The top-level fields of a built-in kind (None: not one of these kinds).
fn top_level_fields(kind: &str) -> Option<&'static [&'static str]> {
    let fields: &'static [&'static str] = match kind {
        "Namespace" | "PersistentVolumeClaim" | "Service" => &["spec", "status"],
        "Secret" => &["data", "stringData", "type", "immutable"],
        "ConfigMap" => &["data", "binaryData", "immutable"],
        "StorageClass" => &[
            "provisioner",
            "parameters",
            "reclaimPolicy",
            "mountOptions",
            "allowVolumeExpansion",
            "volumeBindingMode",
            "allowedTopologies",
        ],
        _ => return None,
    };
    Some(fields)
}

fn cannot_decode(info: &ResourceInfo, version: &str, what: String) -> ApiError {
    ApiError::bad_request(format!(
        "{k} in version \"{version}\" cannot be handled as a {k}: {what}",
        k = info.kind
    ))
}

/// Removes unknown top-level fields (returned, for warnings or `fieldValidation=Strict`) and
/// refuses values kube-apiserver cannot decode or accept.
pub fn process(
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
) -> Result<Vec<String>, ApiError> {
    let Some(known) = top_level_fields(&info.kind) else {
        return Ok(Vec::new());
    };
    let mut unknown = Vec::new();
    if let Some(m) = obj.as_object_mut() {
        let extra: Vec<String> = m
            .keys()
            .filter(|k| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in extra {
            m.remove(&k);
            unknown.push(k);
        }
    }
    check_types(info, version, obj)?;
    check_required(info, obj)?;
    Ok(unknown)
}

/// The message for a strict-decoding failure of `unknown`.
pub fn strict_error(info: &ResourceInfo, version: &str, unknown: &[String]) -> ApiError {
    let fields: Vec<String> = unknown
        .iter()
        .map(|u| format!("unknown field \"{u}\""))
        .collect();
    cannot_decode(
        info,
        version,
        format!("strict decoding error: {}", fields.join(", ")),
    )
}

fn check_types(info: &ResourceInfo, version: &str, obj: &Value) -> Result<(), ApiError> {
    let maps: &[&str] = match info.kind.as_str() {
        "Secret" => &["data", "stringData"],
        "ConfigMap" => &["data", "binaryData"],
        "StorageClass" => &["parameters"],
        _ => &[],
    };
    for field in maps {
        let Some(v) = obj.get(*field).filter(|v| !v.is_null()) else {
            continue;
        };
        let ok = v
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            let what = format!(
                "json: cannot unmarshal {} into Go struct field {}.{field}",
                json_type(v),
                info.kind
            );
            return Err(cannot_decode(info, version, what));
        }
    }
    if info.kind == "Service" {
        let ports = obj.pointer("/spec/ports").and_then(Value::as_array);
        for p in ports.into_iter().flatten() {
            if let Some(port) = p.get("port").filter(|v| !v.is_number()) {
                let what = format!(
                    "json: cannot unmarshal {} into Go struct field ServicePort.spec.ports.port of type int32",
                    json_type(port)
                );
                return Err(cannot_decode(info, version, what));
            }
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Object(m) if m.values().any(|x| !x.is_string()) => m
            .values()
            .find(|x| !x.is_string())
            .map_or("object", json_type),
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

fn check_required(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let missing = |p: &str| {
        obj.pointer(p)
            .is_none_or(|v| v.is_null() || v == &json!([]) || v == "")
    };
    let cause = match info.kind.as_str() {
        "PersistentVolumeClaim" if missing("/spec/accessModes") => Some((
            "spec.accessModes",
            "Required value: at least 1 access mode is required",
        )),
        "StorageClass" if missing("/provisioner") => Some(("provisioner", "Required value")),
        _ => None,
    };
    let Some((field, message)) = cause else {
        return Ok(());
    };
    let name = obj.pointer("/metadata/name").and_then(Value::as_str);
    let cause = Cause {
        field: field.into(),
        reason: "FieldValueRequired".into(),
        message: message.into(),
    };
    Err(ApiError::invalid(
        &info.kind,
        &info.gr.group,
        name.unwrap_or_default(),
        vec![cause],
    ))
}

fn default(obj: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if parent.len() > 1 && obj.pointer(parent).is_none() {
        default(obj, parent, json!({}));
    }
    let target = if parent.is_empty() {
        Some(obj)
    } else {
        obj.pointer_mut(parent)
    };
    if let Some(m) = target.and_then(Value::as_object_mut) {
        m.entry(key).or_insert(value);
    }
}

/// The defaults kube-apiserver fills in when a PersistentVolumeClaim or Service is created.
pub fn create_defaults(info: &ResourceInfo, obj: &mut Value) {
    match info.kind.as_str() {
        "PersistentVolumeClaim" => {
            default(obj, "/spec/volumeMode", json!("Filesystem"));
            default(obj, "/status/phase", json!("Pending"));
        }
        "Service" => {
            if let Some(ip) = obj.pointer("/spec/clusterIP").cloned() {
                default(obj, "/spec/clusterIPs", json!([ip]));
            }
            default(obj, "/spec/type", json!("ClusterIP"));
            default(obj, "/spec/sessionAffinity", json!("None"));
            default(obj, "/spec/ipFamilies", json!(["IPv4"]));
            default(obj, "/spec/ipFamilyPolicy", json!("SingleStack"));
            default(obj, "/spec/internalTrafficPolicy", json!("Cluster"));
            default(obj, "/status/loadBalancer", json!({}));
        }
        _ => {}
    }
}
