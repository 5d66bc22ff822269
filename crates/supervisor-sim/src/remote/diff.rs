//! What changed between two copies of an object: RFC 7386 merge patches computed from a pair
//! ([`merge_diff`]), and the form in which copies from two servers can be compared
//! ([`comparable`]).

use serde_json::{Map, Value};

/// Metadata each server fills in its own way: never compared, never copied across.
const SERVER_META: &[&str] = &[
    "resourceVersion",
    "managedFields",
    "selfLink",
    "uid",
    "creationTimestamp",
    "generation",
];

/// `obj` without the metadata each server sets for itself.
pub(crate) fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_META {
            m.remove(*f);
        }
    }
    v
}

/// The merge patch that turns `from` into `to` (`None` when they are equal). Arrays are
/// replaced whole, a key missing from `to` becomes `null`.
pub(crate) fn merge_diff(from: &Value, to: &Value) -> Option<Value> {
    if from == to {
        return None;
    }
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => Some(Value::Object(object_diff(a, b))),
        _ => Some(to.clone()),
    }
}

fn object_diff(a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, bv) in b {
        match a.get(k) {
            Some(av) if av == bv => {}
            Some(av) => {
                if let Some(d) = merge_diff(av, bv) {
                    out.insert(k.clone(), d);
                }
            }
            None => {
                out.insert(k.clone(), bv.clone());
            }
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

/// `obj` with `status` split off (for kinds whose status is a subresource).
pub(crate) fn split_status(obj: &Value) -> (Value, Value) {
    let mut main = obj.clone();
    let status = main
        .as_object_mut()
        .and_then(|m| m.remove("status"))
        .unwrap_or(Value::Null);
    (main, status)
}

/// Whether `obj` is being deleted.
pub(crate) fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// `obj` without its deletion marks (a deletion is sent as a DELETE, not as a patch).
pub(crate) fn without_deletion(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::patch::merge_patch;
    use serde_json::json;

    #[test]
    fn a_diff_applied_to_its_source_gives_its_target() {
        let a = json!({"a": 1, "b": {"c": 2, "d": [1, 2]}, "gone": true});
        let b = json!({"a": 1, "b": {"c": 3, "d": [2]}, "new": {"x": "y"}});
        let d = merge_diff(&a, &b).unwrap();
        assert_eq!(
            d,
            json!({"b": {"c": 3, "d": [2]}, "new": {"x": "y"}, "gone": null})
        );
        let mut t = a.clone();
        merge_patch(&mut t, &d);
        assert_eq!(t, b);
    }

    #[test]
    fn equal_copies_have_no_diff() {
        let a = json!({"spec": {"x": [1]}});
        assert_eq!(merge_diff(&a, &a.clone()), None);
    }

    #[test]
    fn copies_from_two_servers_compare_without_server_metadata() {
        let a = json!({"metadata": {"name": "n", "uid": "1", "resourceVersion": "5", "generation": 2,
            "creationTimestamp": "t1", "managedFields": [], "labels": {"l": "v"}}});
        let b = json!({"metadata": {"name": "n", "uid": "2", "resourceVersion": "9", "generation": 1,
            "creationTimestamp": "t2", "labels": {"l": "v"}}});
        assert_eq!(comparable(&a), comparable(&b));
    }

    #[test]
    fn status_and_deletion_marks_split_off() {
        let o = json!({"metadata": {"name": "n", "deletionTimestamp": "t", "deletionGracePeriodSeconds": 0},
            "spec": {}, "status": {"s": 1}});
        assert!(deleting(&o));
        let (main, status) = split_status(&without_deletion(&o));
        assert_eq!(status, json!({"s": 1}));
        assert_eq!(main, json!({"metadata": {"name": "n"}, "spec": {}}));
        assert!(!deleting(&main));
    }
}
