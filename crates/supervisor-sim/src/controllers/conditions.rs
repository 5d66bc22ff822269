//! metav1.Condition bookkeeping on JSON status objects, and [`KindHandle`], through which a
//! controller reads, updates the status of, and deletes the objects of one kind.

use serde_json::{json, Value};
use vmop_types::api::ApiKind;

use super::{api_err, update_status, CtlError};
use crate::catalog::Gr;
use crate::store::{DeleteOptions, Store, Subresource};

/// One namespaced kind in the store, as its controller handles the objects; every failure
/// names the operation, the kind and the object.
#[derive(Clone)]
pub(crate) struct KindHandle {
    store: Store,
    kind: &'static ApiKind,
}

impl KindHandle {
    pub(crate) fn new(store: Store, kind: &'static ApiKind) -> Self {
        KindHandle { store, kind }
    }

    pub(crate) fn gr(&self) -> Gr {
        Gr::from(self.kind)
    }

    /// `ns/name`; `None` when it does not exist.
    pub(crate) fn get(&self, ns: &str, name: &str) -> Result<Option<Value>, CtlError> {
        match self.store.get(&self.gr(), Some(ns), name) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(api_err("getting", self.object(ns, name))(e)),
        }
    }

    /// Updates the status of `ns/name` with `f` (see [`update_status`]).
    pub(crate) fn status(
        &self,
        ns: &str,
        name: &str,
        f: impl Fn(&mut Value),
    ) -> Result<Value, CtlError> {
        update_status(&self.store, self.kind, ns, name, f)
    }

    /// Changes the main resource of `ns/name` with `f` (read, change, write; retried on
    /// conflict). `op` names the change ("adding finalizer to").
    pub(crate) fn modify(
        &self,
        ns: &str,
        name: &str,
        op: &'static str,
        f: impl Fn(&mut Value),
    ) -> Result<Value, CtlError> {
        self.store
            .modify(&self.gr(), Some(ns), name, Subresource::Main, |o| {
                f(o);
                Ok(())
            })
            .map_err(api_err(op, self.object(ns, name)))
    }

    /// Deletes `ns/name`; one already gone is no error. `op` says why ("deleting expired").
    pub(crate) fn delete(&self, ns: &str, name: &str, op: &'static str) -> Result<(), CtlError> {
        match self
            .store
            .delete(&self.gr(), Some(ns), name, &DeleteOptions::default())
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(api_err(op, self.object(ns, name))(e)),
        }
    }

    fn object(&self, ns: &str, name: &str) -> String {
        format!("{} {ns}/{name}", self.kind.kind)
    }
}

/// Sets condition `ctype` in `obj.status.conditions`, keeping `lastTransitionTime` when the
/// status does not change. Returns whether anything changed.
pub(crate) fn set(obj: &mut Value, ctype: &str, status: bool, reason: &str, message: &str) -> bool {
    let generation = obj
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let st = if status { "True" } else { "False" };
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let Some(list) = obj["status"]["conditions"].as_array_mut() else {
        return false;
    };
    let reason = if reason.is_empty() { ctype } else { reason };
    if let Some(c) = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ctype))
    {
        let same = c.get("status").and_then(Value::as_str) == Some(st)
            && c.get("reason").and_then(Value::as_str) == Some(reason)
            && c.get("message").and_then(Value::as_str) == Some(message);
        if same {
            return false;
        }
        if c.get("status").and_then(Value::as_str) != Some(st) {
            c["lastTransitionTime"] = json!(crate::store::now_rfc3339());
        }
        c["status"] = json!(st);
        c["reason"] = json!(reason);
        c["message"] = json!(message);
        c["observedGeneration"] = json!(generation);
        return true;
    }
    list.push(json!({
        "type": ctype,
        "status": st,
        "reason": reason,
        "message": message,
        "lastTransitionTime": crate::store::now_rfc3339(),
        "observedGeneration": generation,
    }));
    true
}

/// The condition `ctype`, if present.
pub(crate) fn get<'a>(obj: &'a Value, ctype: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ctype))
}

/// Whether condition `ctype` is True.
pub(crate) fn is_true(obj: &Value, ctype: &str) -> bool {
    get(obj, ctype)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}
