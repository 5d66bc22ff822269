//! Delete: preconditions, admission, then under the lock either the final DELETED (no
//! finalizers) or the deletion marks (finalizers hold the object until an update empties
//! them); deleting a Namespace deletes what it holds.

use super::meta::{finalizers_empty, meta_mut, meta_str, now_rfc3339};
use super::{
    AdmissionRequest, DeleteOptions, EventType, ListOptions, Operation, Store, Subresource,
};
use crate::catalog::Gr;
use crate::error::ApiError;
use serde_json::{json, Value};

/// `preconditions.resourceVersion` and `preconditions.uid` must match the stored object.
fn check_preconditions(
    gr: &Gr,
    name: &str,
    old: &Value,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(p) = &opts.precondition_rv {
        if meta_str(old, "resourceVersion") != Some(p.as_str()) {
            return Err(ApiError::conflict_msg(format!(
                "Operation cannot be fulfilled on {gr} \"{name}\": the ResourceVersion in the precondition ({p}) does not match the ResourceVersion in record ({}). The object might have been modified",
                meta_str(old, "resourceVersion").unwrap_or_default()
            )));
        }
    }
    if let Some(p) = &opts.precondition_uid {
        if meta_str(old, "uid") != Some(p.as_str()) {
            return Err(ApiError::conflict_msg(format!(
                "Operation cannot be fulfilled on {gr} \"{name}\": the UID in the precondition ({p}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                meta_str(old, "uid").unwrap_or_default()
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Deletes an object. Returns the object as it is after the call: with `deletionTimestamp`
    /// when finalizers hold it, or its final state when it was removed.
    pub fn delete(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        let old = self.get_arc(gr, ns, name)?;
        check_preconditions(gr, name, &old, opts)?;
        let mut scratch = (*old).clone();
        let req = AdmissionRequest {
            operation: Operation::Delete,
            gr,
            kind: &info.kind,
            namespace: ns,
            name,
            subresource: Subresource::Main,
            old: Some(&old),
            dry_run: opts.dry_run,
            store: self,
        };
        self.run_admission(&req, &mut scratch)?;
        if opts.dry_run {
            return Ok((*old).clone());
        }
        let result = {
            let mut st = self.lock();
            let current = Self::stored(&st, gr, ns, name)?.clone();
            if finalizers_empty(&current) {
                st.rv += 1;
                let mut last = (*current).clone();
                meta_mut(&mut last).insert("resourceVersion".into(), json!(st.rv.to_string()));
                self.commit(&mut st, gr, EventType::Deleted, last)
            } else if current.pointer("/metadata/deletionTimestamp").is_some() {
                current
            } else {
                st.rv += 1;
                let mut marked = (*current).clone();
                let m = meta_mut(&mut marked);
                m.insert("deletionTimestamp".into(), json!(now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                m.insert("resourceVersion".into(), json!(st.rv.to_string()));
                self.commit(&mut st, gr, EventType::Modified, marked)
            }
        };
        if gr.group.is_empty() && gr.resource == "namespaces" {
            self.delete_namespace_contents(name);
        }
        Ok((*result).clone())
    }

    fn delete_namespace_contents(&self, ns: &str) {
        let namespaced: Vec<Gr> = self
            .inner
            .catalog
            .resources()
            .iter()
            .filter(|r| r.namespaced)
            .map(|r| r.gr.clone())
            .collect();
        for gr in namespaced {
            let names: Vec<String> = match self.list_arc(&gr, Some(ns), &ListOptions::default()) {
                Ok((items, _)) => items
                    .iter()
                    .filter_map(|o| meta_str(o, "name").map(str::to_string))
                    .collect(),
                Err(_) => continue,
            };
            for n in names {
                if let Err(e) = self.delete(&gr, Some(ns), &n, &DeleteOptions::default()) {
                    tracing::warn!(error = %e, "deleting {gr} {ns}/{n} with its namespace");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config_maps, namespaces, store};
    use super::super::WriteOptions;
    use super::*;

    fn held(s: &Store, name: &str) -> Value {
        let o = json!({"metadata": {"name": name, "finalizers": ["example.com/hold"]}});
        s.create(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap()
    }

    #[test]
    fn without_finalizers_the_object_goes() {
        let s = store();
        let o = json!({"metadata": {"name": "a"}});
        s.create(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap();
        let d = s.delete(&config_maps(), Some("demo"), "a", &DeleteOptions::default());
        assert!(d.unwrap()["metadata"].get("deletionTimestamp").is_none());
        let e = s.get(&config_maps(), Some("demo"), "a").unwrap_err();
        assert_eq!(e.code, 404);
    }

    #[test]
    fn finalizers_hold_the_object_until_an_update_empties_them() {
        let s = store();
        held(&s, "a");
        let d = s.delete(&config_maps(), Some("demo"), "a", &DeleteOptions::default());
        let marked = d.unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        let again = s.delete(&config_maps(), Some("demo"), "a", &DeleteOptions::default());
        assert_eq!(again.unwrap(), marked, "a second delete changes nothing");
        let mut more = marked.clone();
        more["metadata"]["finalizers"] = json!(["example.com/hold", "example.com/new"]);
        let e = s.update(&config_maps(), Some("demo"), more, &WriteOptions::default());
        assert_eq!(e.unwrap_err().code, 422, "no new finalizers while deleting");
        let mut none = marked;
        none["metadata"]["finalizers"] = json!([]);
        s.update(&config_maps(), Some("demo"), none, &WriteOptions::default())
            .unwrap();
        assert!(s.get(&config_maps(), Some("demo"), "a").is_err());
    }

    #[test]
    fn preconditions_and_dry_run() {
        let s = store();
        let o = held(&s, "a");
        let wrong_rv = DeleteOptions {
            precondition_rv: Some("1".into()),
            ..Default::default()
        };
        let e = s.delete(&config_maps(), Some("demo"), "a", &wrong_rv);
        assert_eq!(e.unwrap_err().code, 409);
        let wrong_uid = DeleteOptions {
            precondition_uid: Some("nope".into()),
            ..Default::default()
        };
        let e = s.delete(&config_maps(), Some("demo"), "a", &wrong_uid);
        assert_eq!(e.unwrap_err().code, 409);
        let dry = DeleteOptions {
            dry_run: true,
            ..Default::default()
        };
        let d = s.delete(&config_maps(), Some("demo"), "a", &dry).unwrap();
        assert_eq!(d, o);
        let now = s.get(&config_maps(), Some("demo"), "a").unwrap();
        assert!(now["metadata"].get("deletionTimestamp").is_none());
    }

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let s = store();
        let o = json!({"metadata": {"name": "a"}});
        s.create(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap();
        // The store gives a Namespace no finalizer (the HTTP layer adds `spec.finalizers`).
        s.delete(&namespaces(), None, "demo", &DeleteOptions::default())
            .unwrap();
        assert!(s.get(&config_maps(), Some("demo"), "a").is_err());
    }
}
