//! Structural-schema processing of custom resources, in the API server's order: prune unknown
//! fields, apply `default`s, validate (types, required, enum, pattern, lengths, bounds, item
//! counts, int-or-string, anyOf). Error texts follow the API server's field errors so kubectl
//! prints what a real Supervisor would print.

use crate::error::Cause;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

fn regex_cached(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    c.entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn preserves(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Removes fields the schema does not know (recording their paths in `unknown`) and nulls of
/// non-nullable fields. At the root, `apiVersion`, `kind` and `metadata` are left alone.
pub fn prune(schema: &Value, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let keep_unknown =
                preserves(schema) || additional.and_then(Value::as_bool) == Some(true);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let sub = props
                    .and_then(|p| p.get(&k))
                    .or(additional.filter(|a| a.is_object()));
                match sub {
                    Some(s) => {
                        let is_null = map.get(&k).is_some_and(Value::is_null);
                        if is_null && !nullable(s) {
                            map.remove(&k);
                            continue;
                        }
                        if let Some(child) = map.get_mut(&k) {
                            prune(s, child, &join(path, &k), unknown);
                        }
                    }
                    None if keep_unknown => {}
                    None => {
                        map.remove(&k);
                        unknown.push(join(path, &k));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, it) in items.iter_mut().enumerate() {
                    prune(item_schema, it, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s of missing properties (recursively, including array items).
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, s) in props {
                    if !map.contains_key(k) {
                        if let Some(d) = s.get("default") {
                            map.insert(k.clone(), d.clone());
                        }
                    }
                    if let Some(child) = map.get_mut(k) {
                        apply_defaults(s, child);
                    }
                }
            }
            if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                let props = schema.get("properties").and_then(Value::as_object);
                for (k, child) in map.iter_mut() {
                    if props.is_none_or(|p| !p.contains_key(k)) {
                        apply_defaults(add, child);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for it in items.iter_mut() {
                    apply_defaults(item_schema, it);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn cause(field: &str, reason: &str, message: String) -> Cause {
    Cause {
        field: field.to_string(),
        reason: reason.to_string(),
        message,
    }
}

fn type_ok(expected: &str, v: &Value) -> bool {
    match expected {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        _ => true,
    }
}

/// Validates `value` against `schema`, appending API-server-style causes.
pub fn validate(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        check_null(schema, path, causes);
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    if !check_type(schema, value, path, int_or_string, causes) {
        return;
    }
    if !int_or_string {
        check_any_of(schema, value, path, causes);
    }
    check_enum(schema, value, path, causes);
    match value {
        Value::String(s) => validate_string(schema, s, path, causes),
        Value::Number(_) => validate_number(schema, value, path, causes),
        Value::Array(items) => validate_array(schema, items, path, causes),
        Value::Object(map) => validate_object(schema, map, path, causes),
        _ => {}
    }
}

/// A `null` is an error where the schema types the field and does not make it nullable.
fn check_null(schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if nullable(schema) || path.is_empty() {
        return;
    }
    let Some(t) = schema.get("type") else {
        return;
    };
    let t = t.as_str().unwrap_or_default();
    causes.push(cause(
        path,
        "FieldValueTypeInvalid",
        format!("Invalid value: \"null\": {path} in body must be of type {t}: \"null\""),
    ));
}

/// The `type` (or int-or-string) check; `false` when it failed and nothing more is checked.
fn check_type(
    schema: &Value,
    value: &Value,
    path: &str,
    int_or_string: bool,
    causes: &mut Vec<Cause>,
) -> bool {
    let actual = type_name(value);
    let message = if int_or_string {
        if value.is_string() || type_ok("integer", value) {
            return true;
        }
        format!(
            "Invalid value: {}: {path} in body must be of type integer,string: {actual:?}",
            render(&Value::String(actual.into())),
        )
    } else {
        match schema.get("type").and_then(Value::as_str) {
            Some(t) if !type_ok(t, value) => format!(
                "Invalid value: \"{actual}\": {path} in body must be of type {t}: \"{actual}\""
            ),
            _ => return true,
        }
    };
    causes.push(cause(path, "FieldValueTypeInvalid", message));
    false
}

/// `anyOf`: when no alternative fits, the first alternative's causes are reported.
fn check_any_of(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let Some(alts) = schema.get("anyOf").and_then(Value::as_array) else {
        return;
    };
    let mut first = None;
    let ok = alts.iter().any(|alt| {
        let mut c = Vec::new();
        validate(alt, value, path, &mut c);
        if first.is_none() {
            first = Some(c.clone());
        }
        c.is_empty()
    });
    if !ok {
        causes.extend(first.unwrap_or_default());
    }
}

fn check_enum(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let Some(en) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if !en.contains(value) {
        let supported = en.iter().map(render).collect::<Vec<_>>().join(", ");
        causes.push(cause(
            path,
            "FieldValueNotSupported",
            format!(
                "Unsupported value: {}: supported values: {supported}",
                render(value)
            ),
        ));
    }
}

/// `pattern`, `maxLength` and `minLength`.
fn validate_string(schema: &Value, s: &str, path: &str, causes: &mut Vec<Cause>) {
    let shown = format!("{s:?}"); // as `render` shows a string
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        if regex_cached(p).is_some_and(|re| !re.is_match(s)) {
            causes.push(cause(
                path,
                "FieldValueInvalid",
                format!("Invalid value: {shown}: {path} in body should match '{p}'"),
            ));
        }
    }
    let len = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if len > max {
            causes.push(cause(
                path,
                "FieldValueTooLong",
                format!("Too long: may not be more than {max} bytes"),
            ));
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if len < min {
            causes.push(cause(
                path,
                "FieldValueInvalid",
                format!(
                    "Invalid value: {shown}: {path} in body should be at least {min} chars long"
                ),
            ));
        }
    }
}

/// Which side of a number a bound keeps.
#[derive(Clone, Copy)]
enum Bound {
    Minimum,
    Maximum,
}

impl Bound {
    /// The bound's keyword, its exclusivity keyword, and the relation (inclusive, exclusive).
    fn words(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Bound::Minimum => (
                "minimum",
                "exclusiveMinimum",
                "greater than or equal to",
                "greater than",
            ),
            Bound::Maximum => (
                "maximum",
                "exclusiveMaximum",
                "less than or equal to",
                "less than",
            ),
        }
    }
}

/// `minimum`/`maximum` with their `exclusive…` flags.
fn validate_number(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    let x = value.as_f64().unwrap_or(0.0);
    for bound in [Bound::Minimum, Bound::Maximum] {
        let (key, excl_key, inclusive, exclusive) = bound.words();
        let Some(limit) = schema.get(key).and_then(Value::as_f64) else {
            continue;
        };
        let excl = schema.get(excl_key).and_then(Value::as_bool) == Some(true);
        let outside = match bound {
            Bound::Minimum => x < limit,
            Bound::Maximum => x > limit,
        };
        if outside || (excl && x == limit) {
            let rel = if excl { exclusive } else { inclusive };
            causes.push(cause(
                path,
                "FieldValueInvalid",
                format!(
                    "Invalid value: {value}: {path} in body should be {rel} {}",
                    Value::from(min_display(limit))
                ),
            ));
        }
    }
}

/// `maxItems`, `minItems`, then every item against `items`.
fn validate_array(schema: &Value, items: &[Value], path: &str, causes: &mut Vec<Cause>) {
    let count = items.len() as u64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if count > max {
            causes.push(cause(
                path,
                "FieldValueTooMany",
                format!("Too many: {count}: must have at most {max} items"),
            ));
        }
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
        if count < min {
            causes.push(cause(
                path,
                "FieldValueInvalid",
                format!("Invalid value: {count}: {path} in body should have at least {min} items"),
            ));
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, it) in items.iter().enumerate() {
            validate(item_schema, it, &format!("{path}[{i}]"), causes);
        }
    }
}

fn min_display(x: f64) -> serde_json::Number {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        serde_json::Number::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).unwrap_or_else(|| serde_json::Number::from(0))
    }
}

fn validate_object(schema: &Value, map: &Map<String, Value>, path: &str, causes: &mut Vec<Cause>) {
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if path.is_empty() && r == "metadata" {
                continue;
            }
            if !map.contains_key(r) {
                causes.push(cause(
                    &join(path, r),
                    "FieldValueRequired",
                    "Required value".to_string(),
                ));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in map {
        if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(s) = props.and_then(|p| p.get(k)).or(additional) {
            validate(s, v, &join(path, k), causes);
        }
    }
}

/// Prune + default + validate a whole object against a CRD version's `openAPIV3Schema`.
/// Returns the pruned field paths; `Err` holds the validation causes.
pub fn process(schema: &Value, obj: &mut Value) -> Result<Vec<String>, Vec<Cause>> {
    let mut unknown = Vec::new();
    prune(schema, obj, "", &mut unknown);
    apply_defaults(schema, obj);
    let mut causes = Vec::new();
    validate(schema, obj, "", &mut causes);
    if causes.is_empty() {
        Ok(unknown)
    } else {
        Err(causes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
            "spec": {"type": "object", "required": ["className"], "properties": {
                "className": {"type": "string"},
                "powerState": {"type": "string", "enum": ["PoweredOff", "PoweredOn", "Suspended"]},
                "minHardwareVersion": {"type": "integer", "minimum": 13, "format": "int32"},
                "cdrom": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]{2,}$"},
                    "connected": {"type": "boolean", "default": true}}}},
                "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "configSpec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "selector": {"type": "object", "additionalProperties": {"type": "string"}},
                "mode": {"type": "string", "default": "TrySoft"}}}}})
    }

    #[test]
    fn prunes_defaults_and_validates() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "whatever": 1},
            "spec": {"className": "c", "bogus": 1, "cdrom": [{"name": "cd", "junk": true}], "configSpec": {"any": {"thing": 1}}, "selector": {"a": "b"}, "port": 22}});
        let unknown = process(&schema(), &mut o).unwrap();
        assert_eq!(unknown, ["spec.bogus", "spec.cdrom[0].junk"]);
        assert_eq!(o["spec"]["cdrom"][0]["connected"], true);
        assert_eq!(o["spec"]["mode"], "TrySoft");
        assert_eq!(o["spec"]["configSpec"]["any"]["thing"], 1);
        assert_eq!(o["metadata"]["whatever"], 1);
    }

    #[test]
    fn error_texts() {
        let mut o = json!({"spec": {"powerState": "On", "minHardwareVersion": 5, "cdrom": [{"name": "X"}, {"name": "ab"}, {"name": "cd"}], "port": true, "selector": {"a": 1}}});
        let causes = process(&schema(), &mut o).unwrap_err();
        let texts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(texts, [
            "spec.className: Required value",
            "spec.cdrom: Too many: 3: must have at most 2 items",
            "spec.cdrom[0].name: Invalid value: \"X\": spec.cdrom[0].name in body should match '^[a-z0-9]{2,}$'",
            "spec.minHardwareVersion: Invalid value: 5: spec.minHardwareVersion in body should be greater than or equal to 13",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.powerState: Unsupported value: \"On\": supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\"",
            "spec.selector.a: Invalid value: \"integer\": spec.selector.a in body must be of type string: \"integer\"",
        ]);
    }
}
