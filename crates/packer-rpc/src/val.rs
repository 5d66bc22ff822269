//! Small helpers to build and read the msgpack shapes Go's structs travel as.
//!
//! Kept local (instead of leaning on `Value`'s own accessors) so the RPC layer states exactly
//! which wire types it accepts: Go is lenient about integer widths, so every integer reader
//! here accepts both signed and unsigned encodings.
use packer_wire::msgpack::Value;

/// A msgpack map with string keys in the given (Go struct field) order.
pub fn map<I, K>(entries: I) -> Value
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Str(k.into()), v))
            .collect(),
    )
}

pub fn str(s: impl Into<String>) -> Value {
    Value::Str(s.into())
}

/// `[]string` as Go writes it: a nil slice is `nil`, not an empty array.
pub fn opt_str_list(list: Option<&[String]>) -> Value {
    match list {
        None => Value::Nil,
        Some(l) => str_list(l),
    }
}

pub fn str_list(list: &[String]) -> Value {
    Value::Array(list.iter().map(|s| Value::Str(s.clone())).collect())
}

/// Looks up a string key in a map (str or bin keys; Go accepts both).
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries.iter().find_map(|(k, val)| match k {
            Value::Str(s) if s == key => Some(val),
            Value::Bin(b) if b.as_slice() == key.as_bytes() => Some(val),
            _ => None,
        }),
        _ => None,
    }
}

/// A Go `string`: str, or bin holding UTF-8 (old encoders), nil = "".
pub fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Bin(b) => String::from_utf8(b.clone()).ok(),
        Value::Nil => Some(String::new()),
        _ => None,
    }
}

pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Uint(u) => i64::try_from(*u).ok(),
        Value::Nil => Some(0),
        _ => None,
    }
}

pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Uint(u) => Some(*u),
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::Nil => Some(0),
        _ => None,
    }
}

pub fn as_u32(v: &Value) -> Option<u32> {
    as_u64(v).and_then(|u| u32::try_from(u).ok())
}

pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Nil => Some(false),
        _ => None,
    }
}

/// A Go `[]string`; nil → empty.
pub fn as_string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Nil => Some(Vec::new()),
        Value::Array(items) => items.iter().map(as_string).collect(),
        _ => None,
    }
}

/// Like [`as_string_list`] but keeps the nil/empty distinction Go's `[]string` has.
pub fn as_opt_string_list(v: &Value) -> Option<Option<Vec<String>>> {
    match v {
        Value::Nil => Some(None),
        other => as_string_list(other).map(Some),
    }
}

/// Field `key` of a struct-shaped map as a string; a missing field is Go's zero value.
pub fn field_string(v: &Value, key: &str) -> Option<String> {
    get(v, key).map_or(Some(String::new()), as_string)
}

pub fn field_u32(v: &Value, key: &str) -> Option<u32> {
    get(v, key).map_or(Some(0), as_u32)
}

pub fn field_i64(v: &Value, key: &str) -> Option<i64> {
    get(v, key).map_or(Some(0), as_i64)
}

pub fn field_string_list(v: &Value, key: &str) -> Option<Vec<String>> {
    get(v, key).map_or(Some(Vec::new()), as_string_list)
}

/// A short, human description of a value's wire type, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint",
        Value::F32(_) | Value::F64(_) => "float",
        Value::Str(_) => "str",
        Value::Bin(_) => "bin",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Ext(..) => "ext",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_finds_str_and_bin_keys() {
        let v = Value::Map(vec![
            (Value::Str("A".into()), Value::Uint(1)),
            (Value::Bin(b"B".to_vec()), Value::Int(-2)),
        ]);
        assert_eq!(get(&v, "A").and_then(as_u64), Some(1));
        assert_eq!(get(&v, "B").and_then(as_i64), Some(-2));
        assert!(get(&v, "C").is_none());
        assert_eq!(field_u32(&v, "C"), Some(0));
        assert_eq!(get(&v, "B").and_then(as_u64), None);
    }

    #[test]
    fn string_lists_keep_nil() {
        assert_eq!(as_opt_string_list(&Value::Nil), Some(None));
        assert_eq!(
            as_opt_string_list(&Value::Array(vec![str("x")])),
            Some(Some(vec!["x".to_string()]))
        );
        assert_eq!(opt_str_list(None), Value::Nil);
        assert_eq!(opt_str_list(Some(&[])), Value::Array(vec![]));
        assert_eq!(as_string_list(&Value::Uint(3)), None);
    }
}
