//! Create, in phases: the namespace, the name (or `generateName`), the name's validity, the
//! kind's defaults, the namespace's existence, admission, then under the lock the
//! already-exists check, the server-set metadata and the commit.

use super::meta::{
    meta_mut, meta_str, normalize_secret, now_rfc3339, random_suffix, validate_dns1123_subdomain,
};
use super::{AdmissionRequest, EventType, Operation, State, Store, Subresource, WriteOptions};
use crate::catalog::{Gr, ResourceInfo};
use crate::error::{ApiError, Cause, Target};
use serde_json::{json, Value};

/// The request's namespace wins over `metadata.namespace` (which must agree when given);
/// cluster-scoped objects carry none.
fn set_namespace(obj: &mut Value, ns: Option<&str>) -> Result<(), ApiError> {
    let m = meta_mut(obj);
    match ns {
        Some(n) => {
            if let Some(given) = m.get("namespace").and_then(Value::as_str) {
                if !given.is_empty() && given != n {
                    return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
                }
            }
            m.insert("namespace".into(), json!(n));
        }
        None => {
            m.remove("namespace");
        }
    }
    Ok(())
}

/// `metadata.name`, generated from `generateName` (plus five random characters) when empty.
fn assign_name(info: &ResourceInfo, obj: &mut Value) -> Result<String, ApiError> {
    let m = meta_mut(obj);
    let has_name = m
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has_name {
        match m.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", random_suffix());
                m.insert("name".into(), json!(name));
            }
            _ => {
                return Err(ApiError::invalid(
                    &info.kind,
                    &info.gr.group,
                    "",
                    vec![Cause {
                        field: "metadata.name".into(),
                        reason: "FieldValueRequired".into(),
                        message: "Required value: name or generateName is required".into(),
                    }],
                ))
            }
        }
    }
    Ok(meta_str(obj, "name").unwrap_or_default().to_string())
}

/// The name must be a DNS-1123 subdomain.
fn check_name(info: &ResourceInfo, name: &str) -> Result<(), ApiError> {
    match validate_dns1123_subdomain(name) {
        None => Ok(()),
        Some(msg) => Err(ApiError::invalid(
            &info.kind,
            &info.gr.group,
            name,
            vec![Cause {
                field: "metadata.name".into(),
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {name:?}: {msg}"),
            }],
        )),
    }
}

/// What the server sets on a new object: uid, creationTimestamp, generation (custom kinds
/// only), no deletion marks; a Namespace starts `Active`.
fn stamp_new(info: &ResourceInfo, obj: &mut Value) {
    let m = meta_mut(obj);
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(now_rfc3339()));
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    if info.custom {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    if info.gr.group.is_empty() && info.gr.resource == "namespaces" && obj.get("status").is_none() {
        obj["status"] = json!({"phase": "Active"});
    }
}

impl Store {
    fn namespace_exists(st: &State, ns: &str) -> bool {
        st.resources
            .get(&Gr::new("", "namespaces"))
            .is_some_and(|rs| rs.objects.contains_key(&(String::new(), ns.to_string())))
    }

    /// 404 unless the namespace exists.
    fn require_namespace(&self, ns: &str) -> Result<(), ApiError> {
        if Self::namespace_exists(&self.lock(), ns) {
            return Ok(());
        }
        Err(ApiError::not_found(Target {
            group: "",
            resource: "namespaces",
            name: ns,
        }))
    }

    /// Creates an object (hub representation). `ns` must be given for namespaced kinds and wins
    /// over `metadata.namespace`.
    pub fn create(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the object to create is not a JSON object",
            ));
        }
        set_namespace(&mut obj, ns)?;
        let name = assign_name(&info, &mut obj)?;
        check_name(&info, &name)?;
        obj["apiVersion"] = json!(info.hub_api_version());
        obj["kind"] = json!(info.kind);
        if gr.group.is_empty() && gr.resource == "secrets" {
            normalize_secret(&mut obj);
        }
        if let Some(n) = ns {
            self.require_namespace(n)?;
        }
        let req = AdmissionRequest {
            operation: Operation::Create,
            gr,
            kind: &info.kind,
            namespace: ns,
            name: &name,
            subresource: Subresource::Main,
            old: None,
            dry_run: opts.dry_run,
            store: self,
        };
        self.run_admission(&req, &mut obj)?;
        let mut st = self.lock();
        let key = (ns.unwrap_or_default().to_string(), name.clone());
        if st
            .resources
            .get(gr)
            .is_some_and(|rs| rs.objects.contains_key(&key))
        {
            return Err(ApiError::already_exists(Self::target(gr, &name)));
        }
        stamp_new(&info, &mut obj);
        if opts.dry_run {
            return Ok(obj);
        }
        st.rv += 1;
        let rv = st.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let stored = self.commit(&mut st, gr, EventType::Added, obj);
        Ok((*stored).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config_maps, namespaces, rv, store, vms};
    use super::*;

    fn cm(name: &str) -> Value {
        json!({"metadata": {"name": name}, "data": {"k": "v"}})
    }

    /// Creates the ConfigMap `obj` in `demo`.
    fn create_cm(s: &Store, obj: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        s.create(&config_maps(), Some("demo"), obj, opts)
    }

    #[test]
    fn create_sets_server_fields_and_a_fresh_resource_version() {
        let s = store();
        let before = s.current_rv();
        let o = create_cm(&s, cm("a"), &WriteOptions::default()).unwrap();
        assert_eq!(rv(&o), before + 1);
        assert_eq!(o["metadata"]["namespace"], "demo");
        assert_eq!(o["kind"], "ConfigMap");
        assert!(o["metadata"]["uid"].is_string());
        assert!(o["metadata"]["creationTimestamp"].is_string());
        assert!(o["metadata"].get("generation").is_none(), "built-in kinds");
        let vm = json!({"metadata": {"name": "vm"}, "spec": {}});
        let vm = s.create(&vms(), Some("demo"), vm, &WriteOptions::default());
        assert_eq!(vm.unwrap()["metadata"]["generation"], 1, "custom kinds");
    }

    #[test]
    fn generate_name_adds_five_characters() {
        let s = store();
        let o = json!({"metadata": {"generateName": "vmi-"}});
        let a = create_cm(&s, o.clone(), &WriteOptions::default());
        let b = create_cm(&s, o, &WriteOptions::default());
        let (a, b) = (a.unwrap(), b.unwrap());
        let name = a["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("vmi-") && name.len() == 9, "{name}");
        assert_ne!(a["metadata"]["name"], b["metadata"]["name"]);
    }

    #[test]
    fn a_name_is_required_and_must_be_valid() {
        let s = store();
        let w = WriteOptions::default();
        let e = create_cm(&s, json!({"metadata": {}}), &w).unwrap_err();
        assert_eq!(e.code, 422);
        let e = create_cm(&s, cm("Not_Valid"), &w).unwrap_err();
        assert_eq!(e.code, 422);
    }

    #[test]
    fn duplicates_missing_namespaces_and_mismatched_namespaces_are_refused() {
        let s = store();
        let w = WriteOptions::default();
        create_cm(&s, cm("a"), &w).unwrap();
        let e = create_cm(&s, cm("a"), &w).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
        let e = s
            .create(&config_maps(), Some("nope"), cm("a"), &w)
            .unwrap_err();
        assert_eq!(e.code, 404);
        let other = json!({"metadata": {"name": "b", "namespace": "other"}});
        let e = create_cm(&s, other, &w).unwrap_err();
        assert_eq!(e.code, 400);
    }

    #[test]
    fn dry_run_stores_nothing() {
        let s = store();
        let before = s.current_rv();
        let o = create_cm(&s, cm("a"), &WriteOptions { dry_run: true }).unwrap();
        assert_eq!(o["metadata"]["name"], "a");
        assert_eq!(s.current_rv(), before);
        assert!(s.get(&config_maps(), Some("demo"), "a").is_err());
    }

    #[test]
    fn a_namespace_starts_active() {
        let s = store();
        let ns = s.get(&namespaces(), None, "demo").unwrap();
        assert_eq!(ns["status"]["phase"], "Active");
        assert!(ns["metadata"].get("namespace").is_none());
    }
}
