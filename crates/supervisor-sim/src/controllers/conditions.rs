//! metav1.Condition bookkeeping on JSON status objects.

use serde_json::{json, Value};

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
