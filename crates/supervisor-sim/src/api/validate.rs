//! What a write checks before the store sees it: the body's type, metadata, the schema at the
//! client's version (prune, default, validate) and the Namespace defaults.

use super::builtin;
use super::route::Req;
use super::target::Target;
use crate::error::{ApiError, Cause};
use serde_json::{json, Value};

impl Target<'_> {
    /// Prune/default/validate at the client's version; returns warnings for pruned fields.
    pub(super) fn schema(
        &self,
        r: &Req,
        obj: &mut Value,
        warnings: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let Some(schema) = self
            .info
            .version(&self.version)
            .and_then(|v| v.schema.clone())
        else {
            if self.info.custom {
                return Ok(());
            }
            let unknown = builtin::process(&self.info, &self.version, obj)?;
            return match r.query.get("fieldValidation").map(String::as_str) {
                _ if unknown.is_empty() => Ok(()),
                Some("Strict") => Err(builtin::strict_error(&self.info, &self.version, &unknown)),
                Some("Ignore") => Ok(()),
                _ => {
                    warnings.extend(unknown.iter().map(|u| format!("unknown field \"{u}\"")));
                    Ok(())
                }
            };
        };
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match crate::schema::process(&schema, obj) {
            Ok(unknown) if unknown.is_empty() => Ok(()),
            Ok(unknown) => match r.query.get("fieldValidation").map(String::as_str) {
                Some("Strict") => Err(ApiError::bad_request(format!(
                    "{}.{} \"{name}\" is invalid: strict decoding error: {}",
                    self.info.kind,
                    self.info.gr.group,
                    unknown
                        .iter()
                        .map(|u| format!("unknown field \"{u}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
                Some("Ignore") => Ok(()),
                _ => {
                    warnings.extend(unknown.iter().map(|u| format!("unknown field \"{u}\"")));
                    Ok(())
                }
            },
            Err(mut causes) => {
                // kube-apiserver reports a bad name together with the schema errors.
                if let Some(msg) =
                    crate::store::validate_dns1123_subdomain(&name).filter(|_| !name.is_empty())
                {
                    let message = format!("Invalid value: {name:?}: {msg}");
                    causes.insert(
                        0,
                        Cause {
                            field: "metadata.name".into(),
                            reason: "FieldValueInvalid".into(),
                            message,
                        },
                    );
                }
                Err(ApiError::invalid(
                    &self.info.kind,
                    &self.info.gr.group,
                    &name,
                    causes,
                ))
            }
        }
    }

    pub(super) fn check_type(&self, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON or YAML object",
            ));
        }
        match obj.get("metadata") {
            None | Some(Value::Object(_)) => {}
            Some(Value::Null) => obj["metadata"] = json!({}),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "metadata must be an object, got {}",
                    other
                )))
            }
        }
        let want_av = self.info.api_version(&self.version);
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(av) if av != want_av => return Err(ApiError::bad_request(format!("the API version in the data ({av}) does not match the expected API version ({want_av})"))),
            _ => obj["apiVersion"] = json!(want_av),
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != self.info.kind => {
                let name = obj.pointer("/metadata/name").and_then(Value::as_str);
                let cause = Cause {
                    field: "kind".into(),
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {k:?}: must be {}", self.info.kind),
                };
                return Err(ApiError::invalid(
                    k,
                    &self.info.gr.group,
                    name.unwrap_or_default(),
                    vec![cause],
                ));
            }
            _ => obj["kind"] = json!(self.info.kind),
        }
        Ok(())
    }

    pub(super) fn validate_meta(&self, obj: &Value) -> Result<(), ApiError> {
        let mut causes = Vec::new();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for key in ["labels", "annotations"] {
            if let Some(m) = obj.pointer(&format!("/metadata/{key}")) {
                let ok = m.is_null()
                    || m.as_object()
                        .is_some_and(|m| m.values().all(Value::is_string));
                if !ok {
                    causes.push(Cause {
                        field: format!("metadata.{key}"),
                        reason: "FieldValueTypeInvalid".into(),
                        message: m.to_string(),
                    });
                }
            }
        }
        match causes.first() {
            None => Ok(()),
            // kube-apiserver cannot decode such metadata at all: 400, not 422.
            Some(c) => Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: json: cannot unmarshal {} into Go struct field ObjectMeta.{} of type map[string]string (object {name:?})",
                c.message, c.field, kind = self.info.kind, v = self.version
            ))),
        }
    }

    /// kube-apiserver labels every Namespace with `kubernetes.io/metadata.name: <name>` and
    /// gives it the `kubernetes` finalizer in `spec.finalizers`.
    pub(super) fn namespace_defaults(&self, obj: &mut Value) {
        if !(self.info.gr.group.is_empty() && self.info.gr.resource == "namespaces") {
            return;
        }
        let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
            return;
        };
        let name = json!(name);
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), name);
        }
        if let Some(o) = obj.as_object_mut() {
            let spec = o.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.entry("finalizers")
                    .or_insert_with(|| json!(["kubernetes"]));
            }
        }
    }
}
