//! Mirror writes: a store that caches another API server's objects (`supervisor-sim
//! controllers`) installs them as they are, without admission, validation, defaults or
//! finalizer handling. Only `metadata.resourceVersion` is the store's own, so the store's watches
//! and its optimistic concurrency keep working for the controllers that use it.

use super::meta::{meta_mut, meta_str};
use super::{EventType, Store};
use crate::catalog::Gr;
use crate::error::ApiError;
use serde_json::{json, Value};

/// Fields that differ between two copies of one object without the object having changed.
const VOLATILE_META: &[&str] = &["resourceVersion", "managedFields", "selfLink"];

/// `obj` without the fields of [`VOLATILE_META`].
pub fn without_volatile(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in VOLATILE_META {
            m.remove(*f);
        }
    }
    v
}

impl Store {
    /// Installs `obj` (namespace and name from its metadata) as it is. An object equal to the
    /// stored one apart from its resourceVersion is left alone (no event); returns whether the
    /// store changed.
    pub fn mirror_put(&self, gr: &Gr, mut obj: Value) -> Result<bool, ApiError> {
        self.info(gr)?;
        let ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let mut st = self.lock();
        let existing = st
            .resources
            .get(gr)
            .and_then(|rs| rs.objects.get(&(ns, name)))
            .cloned();
        if let Some(old) = &existing {
            if without_volatile(old) == without_volatile(&obj) {
                return Ok(false);
            }
        }
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        st.rv += 1;
        let rv = st.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let kind = match existing {
            Some(_) => EventType::Modified,
            None => EventType::Added,
        };
        self.commit(&mut st, gr, kind, obj);
        Ok(true)
    }

    /// Removes `ns/name` at once (no finalizers, no grace); returns whether it was there.
    pub fn mirror_remove(&self, gr: &Gr, ns: Option<&str>, name: &str) -> Result<bool, ApiError> {
        self.info(gr)?;
        let mut st = self.lock();
        let key = (ns.unwrap_or_default().to_string(), name.to_string());
        let Some(old) = st
            .resources
            .get(gr)
            .and_then(|rs| rs.objects.get(&key))
            .cloned()
        else {
            return Ok(false);
        };
        st.rv += 1;
        let mut last = (*old).clone();
        meta_mut(&mut last).insert("resourceVersion".into(), json!(st.rv.to_string()));
        self.commit(&mut st, gr, EventType::Deleted, last);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::store::WriteOptions;

    fn vm(name: &str, uid: &str) -> Value {
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": "demo", "uid": uid, "resourceVersion": "777",
                "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["x"]},
            "spec": {"className": "c"}})
    }

    #[test]
    fn put_keeps_the_object_as_given_but_its_resource_version() {
        let s = store();
        assert!(s.mirror_put(&vms(), vm("a", "remote-uid")).unwrap());
        let got = s.get(&vms(), Some("demo"), "a").unwrap();
        assert_eq!(got["metadata"]["uid"], "remote-uid");
        assert_eq!(got["metadata"]["deletionTimestamp"], "2026-01-01T00:00:00Z");
        assert_ne!(got["metadata"]["resourceVersion"], "777");
    }

    #[test]
    fn an_unchanged_object_makes_no_event() {
        let s = store();
        s.mirror_put(&vms(), vm("a", "u")).unwrap();
        let rv = s.current_rv();
        assert!(!s.mirror_put(&vms(), vm("a", "u")).unwrap());
        assert_eq!(s.current_rv(), rv);
        let mut changed = vm("a", "u");
        changed["spec"]["className"] = json!("d");
        assert!(s.mirror_put(&vms(), changed).unwrap());
        assert!(s.current_rv() > rv);
    }

    #[test]
    fn remove_ignores_finalizers_and_is_seen_by_watches() {
        let s = store();
        s.mirror_put(&vms(), vm("a", "u")).unwrap();
        let mut w = s.watch(&vms(), None, Some(s.current_rv())).unwrap();
        assert!(s.mirror_remove(&vms(), Some("demo"), "a").unwrap());
        assert!(s.get(&vms(), Some("demo"), "a").is_err());
        assert!(!s.mirror_remove(&vms(), Some("demo"), "a").unwrap());
        let ev = futures::executor::block_on(w.next()).unwrap().unwrap();
        assert_eq!(ev.kind, EventType::Deleted);
    }

    #[test]
    fn controllers_write_over_mirrored_objects_as_usual() {
        let s = store();
        let mut o = vm("a", "u");
        o["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("deletionTimestamp");
        s.mirror_put(&vms(), o).unwrap();
        let cur = s.get(&vms(), Some("demo"), "a").unwrap();
        let mut next = cur.clone();
        next["metadata"]["labels"] = json!({"l": "v"});
        s.update(&vms(), Some("demo"), next, &WriteOptions::default())
            .unwrap();
        assert_eq!(
            s.get(&vms(), Some("demo"), "a").unwrap()["metadata"]["labels"]["l"],
            "v"
        );
    }
}
