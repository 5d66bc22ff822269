//! Update, status update and read-modify-write. A replace runs in phases: the input checked,
//! the resourceVersion precondition, the new object merged from the stored one (status kept or
//! taken, server-set metadata kept), the finalizer rule, admission, then under the lock the
//! race check and the commit (no-op, generation bump, dry run, MODIFIED or final DELETED).

use super::meta::{
    finalizers_empty, meta_mut, meta_str, normalize_secret, refuse_new_finalizers_while_deleting,
    spec_part,
};
use super::{AdmissionRequest, EventType, Operation, State, Store, Subresource, WriteOptions};
use crate::catalog::{Gr, ResourceInfo};
use crate::error::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;

/// Metadata only the server sets: kept from the stored object on every update.
const SERVER_META: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "namespace",
];

/// The object must be a JSON object with object metadata, a name and (when given) the
/// request's namespace; returns the name.
fn check_input(obj: &Value, ns: Option<&str>) -> Result<String, ApiError> {
    if !obj.is_object() || obj.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApiError::bad_request(
            "the object to update is not a JSON object with object metadata",
        ));
    }
    let name = meta_str(obj, "name").unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "name is required in the object for an update",
        ));
    }
    if let (Some(n), Some(given)) = (ns, meta_str(obj, "namespace")) {
        if !given.is_empty() && given != n {
            return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
        }
    }
    Ok(name)
}

/// Sets `to.status` to `from.status`, or removes it when `from` has none.
fn copy_status(from: &Value, to: &mut Value) {
    match from.get("status") {
        Some(s) => to["status"] = s.clone(),
        None => {
            if let Some(o) = to.as_object_mut() {
                o.remove("status");
            }
        }
    }
}

/// The object to store: for the status subresource the stored object with the given status;
/// for the main resource the given object, with the stored status when the kind has a status
/// subresource. Kind, apiVersion and the server's metadata come from the stored object.
fn merged(info: &ResourceInfo, sub: Subresource, obj: &Value, old: &Value, old_rv: &str) -> Value {
    let mut new = match sub {
        Subresource::Status => {
            let mut n = old.clone();
            copy_status(obj, &mut n);
            n
        }
        Subresource::Main => {
            let mut n = obj.clone();
            if info.has_status {
                copy_status(old, &mut n);
            }
            n
        }
    };
    new["apiVersion"] = json!(info.hub_api_version());
    new["kind"] = json!(info.kind);
    let m = meta_mut(&mut new);
    for key in SERVER_META {
        match old.get("metadata").and_then(|om| om.get(key)) {
            Some(v) => m.insert(key.to_string(), v.clone()),
            None => m.remove(key),
        };
    }
    m.insert("resourceVersion".into(), json!(old_rv));
    new
}

impl Store {
    /// Replaces an object (main resource).
    pub fn update(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.replace(gr, ns, obj, Subresource::Main, opts)
    }

    /// Replaces an object's status.
    pub fn update_status(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.replace(gr, ns, obj, Subresource::Status, opts)
    }

    /// Read-modify-write with up to 20 retries on conflict. `f` gets a fresh copy each time.
    pub fn modify<F>(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        mut f: F,
    ) -> Result<Value, ApiError>
    where
        F: FnMut(&mut Value) -> Result<(), ApiError>,
    {
        self.modify_with(gr, ns, name, sub, &WriteOptions::default(), &mut f)
    }

    /// [`Store::modify`] with write options.
    pub fn modify_with(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        opts: &WriteOptions,
        f: &mut dyn FnMut(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let mut last = None;
        for _ in 0..20 {
            let mut obj = self.get(gr, ns, name)?;
            f(&mut obj)?;
            match self.replace(gr, ns, obj, sub, opts) {
                Err(e) if e.reason == "Conflict" => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| ApiError::conflict(Self::target(gr, name))))
    }

    fn replace(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        mut obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        let name = check_input(&obj, ns)?;
        let precondition = meta_str(&obj, "resourceVersion")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if gr.group.is_empty() && gr.resource == "secrets" {
            normalize_secret(&mut obj);
        }
        for _ in 0..50 {
            let old = self.get_arc(gr, ns, &name)?;
            let old_rv = meta_str(&old, "resourceVersion")
                .unwrap_or_default()
                .to_string();
            if precondition.as_ref().is_some_and(|p| *p != old_rv) {
                return Err(ApiError::conflict(Self::target(gr, &name)));
            }
            let mut new = merged(&info, sub, &obj, &old, &old_rv);
            refuse_new_finalizers_while_deleting(&info, &name, &old, &new)?;
            let req = AdmissionRequest {
                operation: Operation::Update,
                gr,
                kind: &info.kind,
                namespace: ns,
                name: &name,
                subresource: sub,
                old: Some(&old),
                dry_run: opts.dry_run,
                store: self,
            };
            self.run_admission(&req, &mut new)?;
            let mut st = self.lock();
            if !Self::still_stored(&st, gr, ns, &name, &old)? {
                // Another write came between the read and the lock.
                if precondition.is_some() {
                    return Err(ApiError::conflict(Self::target(gr, &name)));
                }
                continue;
            }
            return Ok(self.commit_update(&mut st, gr, &info, &old, new, opts.dry_run));
        }
        Err(ApiError::conflict(Self::target(gr, &name)))
    }

    /// Whether `old` is still the stored object (404 when the object is gone).
    fn still_stored(
        st: &State,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        old: &Arc<Value>,
    ) -> Result<bool, ApiError> {
        let current = Self::stored(st, gr, ns, name)?;
        Ok(Arc::ptr_eq(current, old))
    }

    /// Stores `new` over `old`: nothing when unchanged, `generation` bumped when the spec
    /// changed (custom kinds), a new resourceVersion, and DELETED when the update emptied the
    /// finalizers of an object being deleted. With `dry_run`, returns what would be stored.
    fn commit_update(
        &self,
        st: &mut State,
        gr: &Gr,
        info: &ResourceInfo,
        old: &Value,
        mut new: Value,
        dry_run: bool,
    ) -> Value {
        if new == *old {
            return old.clone();
        }
        if info.custom && spec_part(&new) != spec_part(old) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if dry_run {
            return new;
        }
        st.rv += 1;
        let rv = st.rv;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
        let kind = if deleting && finalizers_empty(&new) {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        let stored = self.commit(st, gr, kind, new);
        (*stored).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config_maps, rv, store, vms};
    use super::*;

    fn create(s: &Store, gr: &Gr, obj: Value) -> Value {
        s.create(gr, Some("demo"), obj, &WriteOptions::default())
            .unwrap()
    }

    #[test]
    fn a_stale_resource_version_conflicts_and_none_means_last_writer_wins() {
        let s = store();
        let w = WriteOptions::default();
        let a = create(&s, &config_maps(), json!({"metadata": {"name": "a"}}));
        let mut first = a.clone();
        first["data"] = json!({"x": "1"});
        let first = s.update(&config_maps(), Some("demo"), first, &w).unwrap();
        assert!(rv(&first) > rv(&a));
        let mut stale = a.clone();
        stale["data"] = json!({"x": "2"});
        let e = s.update(&config_maps(), Some("demo"), stale.clone(), &w);
        assert_eq!(e.unwrap_err().reason, "Conflict");
        meta_mut(&mut stale).remove("resourceVersion");
        let second = s.update(&config_maps(), Some("demo"), stale, &w).unwrap();
        assert_eq!(second["data"]["x"], "2");
    }

    #[test]
    fn a_no_op_update_keeps_the_resource_version() {
        let s = store();
        let a = create(&s, &config_maps(), json!({"metadata": {"name": "a"}}));
        let same = s
            .update(
                &config_maps(),
                Some("demo"),
                a.clone(),
                &WriteOptions::default(),
            )
            .unwrap();
        assert_eq!(rv(&same), rv(&a));
    }

    #[test]
    fn server_metadata_is_kept_and_a_missing_object_is_404() {
        let s = store();
        let a = create(&s, &config_maps(), json!({"metadata": {"name": "a"}}));
        let mut o = a.clone();
        o["metadata"]["uid"] = json!("forged");
        o["metadata"]["labels"] = json!({"l": "v"});
        let u = s
            .update(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap();
        assert_eq!(u["metadata"]["uid"], a["metadata"]["uid"]);
        let gone = json!({"metadata": {"name": "gone"}});
        let e = s.update(&config_maps(), Some("demo"), gone, &WriteOptions::default());
        assert_eq!(e.unwrap_err().code, 404);
    }

    #[test]
    fn status_and_spec_go_through_their_own_subresource() {
        let s = store();
        let w = WriteOptions::default();
        let vm = create(
            &s,
            &vms(),
            json!({"metadata": {"name": "vm"}, "spec": {"a": 1}}),
        );
        let mut o = vm.clone();
        o["status"] = json!({"powerState": "PoweredOn"});
        let u = s.update_status(&vms(), Some("demo"), o, &w).unwrap();
        assert_eq!(u["status"]["powerState"], "PoweredOn");
        assert_eq!(
            u["metadata"]["generation"], 1,
            "status does not bump generation"
        );
        let mut o = u.clone();
        o["spec"] = json!({"a": 2});
        o["status"] = json!({"powerState": "ignored"});
        let u = s.update(&vms(), Some("demo"), o, &w).unwrap();
        assert_eq!(u["status"]["powerState"], "PoweredOn", "main keeps status");
        assert_eq!(u["metadata"]["generation"], 2);
    }

    #[test]
    fn modify_reads_fresh_and_dry_run_stores_nothing() {
        let s = store();
        create(&s, &config_maps(), json!({"metadata": {"name": "a"}}));
        let before = s.current_rv();
        let dry = WriteOptions { dry_run: true };
        let mut set = |o: &mut Value| {
            o["data"] = json!({"k": "v"});
            Ok(())
        };
        let d = s.modify_with(
            &config_maps(),
            Some("demo"),
            "a",
            Subresource::Main,
            &dry,
            &mut set,
        );
        assert_eq!(d.unwrap()["data"]["k"], "v");
        assert_eq!(s.current_rv(), before);
        let m = s.modify(&config_maps(), Some("demo"), "a", Subresource::Main, set);
        assert_eq!(m.unwrap()["data"]["k"], "v");
        assert_eq!(s.current_rv(), before + 1);
    }
}
