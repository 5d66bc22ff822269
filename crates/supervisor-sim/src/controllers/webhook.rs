//! The VirtualMachine mutation and validation webhooks (vm-operator-api.md §2).

use serde_json::{json, Value};

use crate::catalog::Gr;
use crate::error::{ApiError, Cause};
use crate::store::{Admission, AdmissionRequest, Operation, Store, Subresource};

/// VirtualMachine admission: defaults and image-name resolution on create, then the checks the
/// real validation webhook makes. Bootstrap Secret existence is left to the controller.
pub struct VmWebhook;

const VM_KIND: &str = "VirtualMachine";
const VMI_KIND: &str = "VirtualMachineImage";
const CVMI_KIND: &str = "ClusterVirtualMachineImage";

fn is_vm(req: &AdmissionRequest<'_>) -> bool {
    req.kind == VM_KIND
        && req.gr.group == vmop_types::api::VMOP_GROUP
        && req.subresource == Subresource::Main
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    ApiError::invalid(
        VM_KIND,
        vmop_types::api::VMOP_GROUP,
        name,
        vec![Cause {
            field: field.to_string(),
            reason: "FieldValueInvalid".to_string(),
            message,
        }],
    )
}

fn display_name(img: &Value) -> Option<&str> {
    img.pointer("/status/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            img.pointer("/metadata/annotations/vmware.com~1display-name")
                .and_then(Value::as_str)
        })
}

/// Resolves `imageName` to `{kind, name}` as the mutation webhook does.
fn resolve_image(
    store: &Store,
    ns: Option<&str>,
    vm: &str,
    image_name: &str,
) -> Result<Value, ApiError> {
    let vmis = Gr::from(&vmop_types::api::VIRTUAL_MACHINE_IMAGE);
    let cvmis = Gr::from(&vmop_types::api::CLUSTER_VIRTUAL_MACHINE_IMAGE);
    if image_name.starts_with(vmop_types::naming::VMI_PREFIX) {
        if store.get_arc(&vmis, ns, image_name).is_ok() {
            return Ok(json!({"kind": VMI_KIND, "name": image_name}));
        }
        if store.get_arc(&cvmis, None, image_name).is_ok() {
            return Ok(json!({"kind": CVMI_KIND, "name": image_name}));
        }
        // Not found by object name: the controller reports VirtualMachineImageReady=False.
        return Ok(json!({"kind": VMI_KIND, "name": image_name}));
    }
    for (gr, scope, kind) in [(&vmis, ns, VMI_KIND), (&cvmis, None, CVMI_KIND)] {
        let (items, _) = store.list_arc(gr, scope, &Default::default())?;
        let matches: Vec<String> = items
            .iter()
            .filter(|i| display_name(i) == Some(image_name))
            .filter_map(|i| {
                i.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        match matches.len() {
            0 => continue,
            1 => return Ok(json!({"kind": kind, "name": matches[0]})),
            _ => {
                return Err(invalid(
                    vm,
                    "spec.imageName",
                    format!(
                        "multiple {kind}s have the display name {image_name:?}: {}; use the object name instead",
                        matches.join(", ")
                    ),
                ))
            }
        }
    }
    Err(invalid(
        vm,
        "spec.imageName",
        format!("no VM image exists for {image_name:?} in namespace or cluster scope"),
    ))
}

fn cdroms(obj: &Value) -> Vec<Value> {
    obj.pointer("/spec/hardware/cdrom")
        .or_else(|| obj.pointer("/spec/cdrom"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl Admission for VmWebhook {
    fn mutate(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if !is_vm(req) {
            return Ok(());
        }
        if !obj["spec"].is_object() {
            obj["spec"] = json!({});
        }
        match req.operation {
            Operation::Create => {
                let spec = &mut obj["spec"];
                if spec.get("network").is_none_or(Value::is_null) {
                    spec["network"] = json!({"interfaces": [{"name": "eth0"}]});
                }
                if spec
                    .get("powerState")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    spec["powerState"] = json!("PoweredOn");
                }
                if let Some(list) = spec
                    .pointer_mut("/hardware/cdrom")
                    .and_then(Value::as_array_mut)
                {
                    for c in list.iter_mut() {
                        if c.pointer("/image/kind")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .is_empty()
                        {
                            c["image"]["kind"] = json!(VMI_KIND);
                        }
                    }
                }
                let image_name_empty = spec
                    .get("imageName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty();
                if image_name_empty {
                    let list = cdroms(obj);
                    let pick = list
                        .iter()
                        .find(|c| c.get("connected").and_then(Value::as_bool).unwrap_or(true))
                        .or(list.first());
                    if let Some(name) = pick
                        .and_then(|c| c.pointer("/image/name"))
                        .and_then(Value::as_str)
                    {
                        obj["spec"]["imageName"] = json!(name);
                    }
                }
                let spec = &mut obj["spec"];
                for field in ["instanceUUID", "biosUUID"] {
                    if spec
                        .get(field)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                    {
                        spec[field] = json!(uuid::Uuid::new_v4().to_string());
                    }
                }
                let image_set = spec
                    .pointer("/image/name")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                let image_name = spec
                    .get("imageName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if !image_set && !image_name.is_empty() {
                    obj["spec"]["image"] =
                        resolve_image(req.store, req.namespace, req.name, &image_name)?;
                }
            }
            Operation::Update => {
                // Once set, the power state cannot become empty: keep the stored one.
                let empty = obj
                    .pointer("/spec/powerState")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty();
                if empty {
                    if let Some(old) = req.old.and_then(|o| o.pointer("/spec/powerState")).cloned()
                    {
                        obj["spec"]["powerState"] = old;
                    }
                }
            }
            Operation::Delete => {}
        }
        Ok(())
    }

    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        if !is_vm(req) || req.operation == Operation::Delete {
            return Ok(());
        }
        let name = req.name;
        let mut causes = Vec::new();
        let mut bad = |field: &str, message: String| {
            causes.push(Cause {
                field: field.to_string(),
                reason: "FieldValueInvalid".to_string(),
                message,
            })
        };
        let power = obj
            .pointer("/spec/powerState")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !matches!(power, "" | "PoweredOn" | "PoweredOff" | "Suspended") {
            bad("spec.powerState", format!("unsupported value: {power:?}: supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\""));
        }
        if req.operation == Operation::Create {
            if power == "Suspended" {
                bad(
                    "spec.powerState",
                    "cannot set a new VM's power state to Suspended".into(),
                );
            }
            let image = obj
                .pointer("/spec/image/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if image.is_empty() {
                bad(
                    "spec.image",
                    "must specify either spec.image or spec.imageName".into(),
                );
            }
        }
        if let Some(b) = obj.pointer("/spec/bootstrap").filter(|b| b.is_object()) {
            let has = |k: &str| b.get(k).is_some_and(|v| !v.is_null());
            if has("cloudInit") && (has("linuxPrep") || has("sysprep") || has("vAppConfig")) {
                bad(
                    "spec.bootstrap.cloudInit",
                    "CloudInit may not be used with any other bootstrap provider".into(),
                );
            }
            if has("linuxPrep") && has("sysprep") {
                bad(
                    "spec.bootstrap.linuxPrep",
                    "LinuxPrep may not be used with Sysprep".into(),
                );
            }
            if has("sysprep") {
                let host = obj
                    .pointer("/spec/network/hostName")
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty())
                    .unwrap_or(name);
                if host.len() > 15 {
                    bad(
                        "spec.network.hostName",
                        "host name may not exceed 15 characters for Windows".into(),
                    );
                }
            }
            if let Some(ci) = b.get("cloudInit").filter(|v| v.is_object()) {
                if ci.get("cloudConfig").is_some_and(|v| !v.is_null())
                    && ci.get("rawCloudConfig").is_some_and(|v| !v.is_null())
                {
                    bad(
                        "spec.bootstrap.cloudInit",
                        "cloudConfig and rawCloudConfig are mutually exclusive".into(),
                    );
                }
            }
        }
        let cds = cdroms(obj);
        if !cds.is_empty()
            && obj
                .pointer("/spec/guestID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
        {
            bad(
                "spec.guestID",
                "when deploying a VM with CD-ROMs, spec.guestID is required".into(),
            );
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                VM_KIND,
                vmop_types::api::VMOP_GROUP,
                name,
                causes,
            ))
        }
    }
}

/// VirtualMachinePublishRequest validation (vm-operator-api.md §4.1, §4.3 item 8): the target
/// location name is required, API groups and kinds are checked, source and target are
/// immutable.
pub struct PublishWebhook;

impl Admission for PublishWebhook {
    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        if req.kind != "VirtualMachinePublishRequest"
            || req.gr.group != vmop_types::api::VMOP_GROUP
            || req.subresource != Subresource::Main
            || req.operation == Operation::Delete
        {
            return Ok(());
        }
        let mut causes = Vec::new();
        let mut cause = |field: &str, reason: &str, message: String| {
            causes.push(Cause {
                field: field.to_string(),
                reason: reason.to_string(),
                message,
            })
        };
        let str_at = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
        let group_of = |api_version: &str| api_version.split_once('/').map(|(g, _)| g.to_string());
        let src_api = str_at("/spec/source/apiVersion");
        if !src_api.is_empty() && group_of(src_api).as_deref() != Some(vmop_types::api::VMOP_GROUP)
        {
            cause(
                "spec.source.apiVersion",
                "FieldValueInvalid",
                format!(
                    "Invalid value: {src_api:?}: API version group must be {}",
                    vmop_types::api::VMOP_GROUP
                ),
            );
        }
        let src_kind = str_at("/spec/source/kind");
        if !src_kind.is_empty() && src_kind != VM_KIND {
            cause(
                "spec.source.kind",
                "FieldValueInvalid",
                format!("Invalid value: {src_kind:?}: only VirtualMachine is supported"),
            );
        }
        if str_at("/spec/target/location/name").is_empty() {
            cause(
                "spec.target.location.name",
                "FieldValueRequired",
                "Required value".to_string(),
            );
        }
        let loc_api = str_at("/spec/target/location/apiVersion");
        if !loc_api.is_empty()
            && group_of(loc_api).as_deref() != Some(vmop_types::api::IMAGEREGISTRY_GROUP)
        {
            cause(
                "spec.target.location.apiVersion",
                "FieldValueInvalid",
                format!(
                    "Invalid value: {loc_api:?}: API version group must be {}",
                    vmop_types::api::IMAGEREGISTRY_GROUP
                ),
            );
        }
        let loc_kind = str_at("/spec/target/location/kind");
        if !loc_kind.is_empty() && loc_kind != "ContentLibrary" {
            cause(
                "spec.target.location.kind",
                "FieldValueInvalid",
                format!("Invalid value: {loc_kind:?}: only ContentLibrary is supported"),
            );
        }
        if req.operation == Operation::Update {
            if let Some(old) = req.old {
                for f in ["source", "target"] {
                    if old.pointer(&format!("/spec/{f}")) != obj.pointer(&format!("/spec/{f}")) {
                        cause(
                            &format!("spec.{f}"),
                            "FieldValueInvalid",
                            "field is immutable".to_string(),
                        );
                    }
                }
            }
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                "VirtualMachinePublishRequest",
                vmop_types::api::VMOP_GROUP,
                req.name,
                causes,
            ))
        }
    }
}
