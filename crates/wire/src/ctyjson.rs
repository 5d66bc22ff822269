//! cty JSON values from Builder.Prepare.
//!
//! On HCL2 templates Packer core sends the builder block's value as a msgpack bin holding
//! cty JSON with an explicit type (protocol notes §4.1):
//! `{"value": {...}, "type": ["object", {"key": T, ...}]}`. [`decode`] checks that shape and
//! returns the `value` object, with JSON numbers for numbers and `null` for unset keys.
//!
//! Type checking is deliberately loose: core replaces unknown values with placeholder
//! strings (`"<unknown>"`) before Prepare, and cty converts numeric or boolean strings
//! itself, so a string is accepted wherever a primitive is declared.
use serde_json::Value as J;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CtyJsonError {
    #[error("decode cty JSON config: not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("decode cty JSON config: {0}")]
    Shape(String),
    #[error("decode cty JSON config: attribute {path}: {reason}")]
    Mismatch { path: String, reason: String },
}

/// Deepest type nesting followed (serde_json already limits the JSON nesting itself).
const MAX_DEPTH: usize = 64;

/// Parses `{"value":…, "type":…}` and returns the `value` object.
pub fn decode(bytes: &[u8]) -> Result<J, CtyJsonError> {
    decode_typed(bytes).map(|(v, _)| v)
}

/// Like [`decode`], also returning the declared object type (`["object", {...}]`).
pub fn decode_typed(bytes: &[u8]) -> Result<(J, J), CtyJsonError> {
    let root: J = serde_json::from_slice(bytes)?;
    let J::Object(mut root) = root else {
        return Err(CtyJsonError::Shape("top level is not an object".into()));
    };
    let value = root
        .remove("value")
        .ok_or_else(|| CtyJsonError::Shape("no \"value\" member".into()))?;
    let ty = root
        .remove("type")
        .ok_or_else(|| CtyJsonError::Shape("no \"type\" member".into()))?;
    let is_object_type =
        matches!(&ty, J::Array(a) if a.first().and_then(J::as_str) == Some("object"));
    if !is_object_type {
        return Err(CtyJsonError::Shape(format!(
            "type is {ty}, want [\"object\", {{...}}]"
        )));
    }
    if !value.is_object() {
        return Err(CtyJsonError::Shape(format!(
            "value is {}, want an object",
            kind(&value)
        )));
    }
    check(&value, &ty, "", 0)?;
    Ok((value, ty))
}

fn kind(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "a bool",
        J::Number(_) => "a number",
        J::String(_) => "a string",
        J::Array(_) => "an array",
        J::Object(_) => "an object",
    }
}

fn mismatch(path: &str, reason: String) -> CtyJsonError {
    CtyJsonError::Mismatch {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.to_owned()
        },
        reason,
    }
}

/// Checks `v` against the cty JSON type `ty`. Null is valid for every type.
fn check(v: &J, ty: &J, path: &str, depth: usize) -> Result<(), CtyJsonError> {
    if depth > MAX_DEPTH {
        return Err(mismatch(path, "type nested too deeply".into()));
    }
    if v.is_null() {
        return Ok(());
    }
    let wrong = || mismatch(path, format!("{} does not fit type {ty}", kind(v)));
    match ty {
        J::String(prim) => match (prim.as_str(), v) {
            ("dynamic", _) => Ok(()),
            ("string", J::String(_)) => Ok(()),
            ("number", J::Number(_) | J::String(_)) => Ok(()),
            ("bool", J::Bool(_) | J::String(_)) => Ok(()),
            ("string" | "number" | "bool", _) => Err(wrong()),
            (other, _) => Err(mismatch(path, format!("unknown primitive type {other:?}"))),
        },
        J::Array(parts) => {
            let (Some(J::String(k)), Some(arg), 2) = (parts.first(), parts.get(1), parts.len())
            else {
                return Err(mismatch(path, format!("malformed type {ty}")));
            };
            match (k.as_str(), v) {
                ("list" | "set", J::Array(items)) => {
                    for (i, it) in items.iter().enumerate() {
                        check(it, arg, &format!("{path}[{i}]"), depth + 1)?;
                    }
                    Ok(())
                }
                ("map", J::Object(m)) => {
                    for (key, it) in m {
                        check(it, arg, &format!("{path}[{key:?}]"), depth + 1)?;
                    }
                    Ok(())
                }
                ("object", J::Object(m)) => {
                    let J::Object(attrs) = arg else {
                        return Err(mismatch(path, format!("malformed object type {ty}")));
                    };
                    for (key, it) in m {
                        let sub = join(path, key);
                        let t = attrs
                            .get(key)
                            .ok_or_else(|| mismatch(&sub, "not declared in the type".into()))?;
                        check(it, t, &sub, depth + 1)?;
                    }
                    Ok(())
                }
                ("tuple", J::Array(items)) => {
                    let J::Array(types) = arg else {
                        return Err(mismatch(path, format!("malformed tuple type {ty}")));
                    };
                    if types.len() != items.len() {
                        return Err(mismatch(
                            path,
                            format!("{} elements for a tuple of {}", items.len(), types.len()),
                        ));
                    }
                    for (i, (it, t)) in items.iter().zip(types).enumerate() {
                        check(it, t, &format!("{path}[{i}]"), depth + 1)?;
                    }
                    Ok(())
                }
                ("list" | "set" | "map" | "object" | "tuple", _) => Err(wrong()),
                (other, _) => Err(mismatch(path, format!("unknown type kind {other:?}"))),
            }
        }
        _ => Err(mismatch(path, format!("malformed type {ty}"))),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: J) -> Result<J, CtyJsonError> {
        decode(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn accepts_typed_values_and_nulls() {
        let v = run(json!({
            "value": {"a": "x", "n": 3, "b": true, "l": ["p", null], "m": {"k": "v"},
                      "o": {"x": 1}, "t": ["s", 2], "d": {"any": [1]}, "z": null},
            "type": ["object", {"a": "string", "n": "number", "b": "bool", "l": ["list", "string"],
                     "m": ["map", "string"], "o": ["object", {"x": "number"}],
                     "t": ["tuple", ["string", "number"]], "d": "dynamic", "z": ["set", "bool"]}]
        }))
        .unwrap();
        assert_eq!(v["n"], json!(3));
        assert!(v["z"].is_null());
    }

    #[test]
    fn placeholder_strings_stay_strings() {
        let v = run(json!({"value": {"n": "<unknown>", "b": "<unknown>"},
                           "type": ["object", {"n": "number", "b": "bool"}]}))
        .unwrap();
        assert_eq!(v["n"], json!("<unknown>"));
    }

    #[test]
    fn rejects_mismatches() {
        for bad in [
            json!({"value": {"a": 1}, "type": ["object", {"a": "string"}]}),
            json!({"value": {"a": [1]}, "type": ["object", {"a": ["list", "string"]}]}),
            json!({"value": {"a": "s"}, "type": ["object", {}]}),
            json!({"value": {"a": [1, 2]}, "type": ["object", {"a": ["tuple", ["number"]]}]}),
            json!({"value": {"a": {}}, "type": ["object", {"a": "number"}]}),
            json!({"value": {"a": 1}, "type": ["object", {"a": "float"}]}),
            json!({"value": {"a": 1}, "type": ["object", {"a": ["list"]}]}),
        ] {
            assert!(
                matches!(run(bad.clone()), Err(CtyJsonError::Mismatch { .. })),
                "{bad}"
            );
        }
        for bad in [
            json!([1]),
            json!({"type": ["object", {}]}),
            json!({"value": {}}),
            json!({"value": [], "type": ["object", {}]}),
            json!({"value": {}, "type": "string"}),
        ] {
            assert!(
                matches!(run(bad.clone()), Err(CtyJsonError::Shape(_))),
                "{bad}"
            );
        }
        assert!(matches!(decode(b"{"), Err(CtyJsonError::Json(_))));
    }
}
