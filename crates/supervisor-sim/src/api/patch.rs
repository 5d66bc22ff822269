//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

use crate::error::ApiError;
use serde_json::Value;

/// Applies an RFC 7386 merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// A patch that cannot be applied to the object: kube-apiserver answers 422 Invalid.
fn rejected(message: String) -> ApiError {
    ApiError::custom(422, "Invalid", message)
}

fn split_pointer(path: &str) -> Result<(String, String), ApiError> {
    if path.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let idx = path
        .rfind('/')
        .ok_or_else(|| ApiError::bad_request(format!("json patch: invalid path {path:?}")))?;
    Ok((path[..idx].to_string(), unescape(&path[idx + 1..])))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let p = doc
        .pointer_mut(&parent)
        .ok_or_else(|| rejected(format!("json patch: doc is missing path: {parent:?}")))?;
    match p {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| {
                ApiError::bad_request(format!("json patch: invalid index {last:?}"))
            })?;
            if i > a.len() {
                return Err(ApiError::bad_request(format!(
                    "json patch: index {i} out of bounds"
                )));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(ApiError::bad_request(format!(
            "json patch: cannot add to {parent:?}"
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, last) = split_pointer(path)?;
    let missing = || {
        rejected(format!(
            "json patch: unable to remove nonexistent key: {path:?}"
        ))
    };
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch: the patch is not a JSON array"))?;
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
        let value = || {
            op.get("value").cloned().ok_or_else(|| {
                ApiError::bad_request(format!("json patch: {kind} operation has no value"))
            })
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("json patch: {kind} operation has no from"))
                })
        };
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, value()?)?;
            }
            "move" => {
                let v = remove(doc, &from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let f = from()?;
                let v = doc.pointer(&f).cloned().ok_or_else(|| {
                    ApiError::bad_request(format!("json patch: missing from path {f:?}"))
                })?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(ApiError::custom(
                        422,
                        "Invalid",
                        format!("json patch: test operation failed at {path:?}"),
                    ));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "json patch: unknown operation {other:?}"
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut t, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(t, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_ops() {
        let mut t = json!({"metadata": {"labels": {"a/b": "x"}}, "l": [1, 2]});
        json_patch(
            &mut t,
            &json!([
                {"op": "add", "path": "/l/-", "value": 3},
                {"op": "remove", "path": "/metadata/labels/a~1b"},
                {"op": "replace", "path": "/l/0", "value": 0},
                {"op": "copy", "from": "/l", "path": "/m"},
                {"op": "move", "from": "/m", "path": "/n"},
                {"op": "test", "path": "/n/2", "value": 3}
            ]),
        )
        .unwrap();
        assert_eq!(
            t,
            json!({"metadata": {"labels": {}}, "l": [0, 2, 3], "n": [0, 2, 3]})
        );
        assert!(json_patch(&mut t, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert_eq!(
            json_patch(&mut t, &json!([{"op": "test", "path": "/l/0", "value": 9}]))
                .unwrap_err()
                .code,
            422
        );
    }
}
