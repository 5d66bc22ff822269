//! `meta.k8s.io/v1` Table responses (what `kubectl get` prints), built from the CRDs'
//! `additionalPrinterColumns` (JSONPath subset: `.a.b`, `[*]`, `[N]`, `[?(.k=='v')]`) plus Name,
//! and fixed columns for the core kinds.

use crate::catalog::{PrinterColumn, ResourceInfo};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    All,
    Index(usize),
    Filter(Vec<String>, String),
}

fn parse_path(path: &str) -> Vec<Step> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(close) = find_close(r) else { break };
            let inner = &r[..close];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Ok(i) = inner.parse() {
                steps.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
                if let Some((lhs, rhs)) = f.split_once("==") {
                    let fields = lhs
                        .trim()
                        .trim_start_matches('@')
                        .trim_start_matches('.')
                        .split('.')
                        .map(str::to_string)
                        .collect();
                    let v = rhs
                        .trim()
                        .trim_matches(|c| c == '\'' || c == '"')
                        .to_string();
                    steps.push(Step::Filter(fields, v));
                }
            }
            rest = &r[close + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    steps
}

fn find_close(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' if depth == 0 => return Some(i),
            ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Evaluates a JSONPath subset; returns every match.
pub fn eval<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur = vec![obj];
    for step in parse_path(path) {
        let mut next = Vec::new();
        for v in cur {
            match &step {
                Step::Field(f) => {
                    if let Some(x) = v.get(f.as_str()) {
                        next.push(x);
                    }
                }
                Step::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Index(i) => {
                    if let Some(x) = v.get(*i) {
                        next.push(x);
                    }
                }
                Step::Filter(fields, want) => {
                    if let Value::Array(a) = v {
                        for item in a {
                            let mut f = Some(item);
                            for k in fields {
                                f = f.and_then(|x| x.get(k.as_str()));
                            }
                            let s = f.map(|x| match x {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            });
                            if s.as_deref() == Some(want.as_str()) {
                                next.push(item);
                            }
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

/// Kubernetes-style short age (`5s`, `3m12s`, `47m`, `5h3m`, `2d`, …).
pub fn human_age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<invalid>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    // `3m12s`, but `3m` when the smaller unit is zero.
    let two = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        two(m, "m", secs % 60, "s")
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        two(h, "h", m % 60, "m")
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        two(d, "d", h % 24, "h")
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn cell(col: &PrinterColumn, obj: &Value) -> Value {
    if col.json_path == "#datacount" {
        let n = obj
            .get("data")
            .and_then(Value::as_object)
            .map(|m| m.len())
            .unwrap_or(0)
            + obj
                .get("binaryData")
                .and_then(Value::as_object)
                .map(|m| m.len())
                .unwrap_or(0);
        return json!(n);
    }
    if col.json_path == "#allowVolumeExpansion" {
        // The StorageClass printer shows an unset allowVolumeExpansion as false.
        return json!(obj["allowVolumeExpansion"].as_bool().unwrap_or(false));
    }
    let found = eval(obj, &col.json_path);
    if found.is_empty() {
        return Value::Null;
    }
    if col.type_ == "date" {
        return match found[0].as_str() {
            Some(s) => json!(human_age(s)),
            None => Value::Null,
        };
    }
    if found.len() == 1 {
        return match found[0] {
            Value::Array(a) => joined(a.iter()),
            Value::Object(_) => json!(found[0].to_string()),
            // kube-apiserver prints numbers and booleans of a string column as text.
            v @ (Value::Number(_) | Value::Bool(_)) if col.type_ == "string" => {
                json!(v.to_string())
            }
            v => v.clone(),
        };
    }
    joined(found.iter().copied())
}

/// Several values in one cell: comma-separated, strings as themselves, others as JSON.
fn joined<'a>(values: impl Iterator<Item = &'a Value>) -> Value {
    json!(values
        .map(|x| x
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| x.to_string()))
        .collect::<Vec<_>>()
        .join(","))
}

/// kube-apiserver's description of an Age column (built-in kinds, CRDs without printer columns).
pub(crate) const CREATION_TIMESTAMP_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// Built-in kinds, whose columns come from kube-apiserver's printers.
fn is_builtin(info: &ResourceInfo) -> bool {
    info.gr.group.is_empty() || info.gr.group == "storage.k8s.io"
}

/// The columns of `info` at `version` (without Name).
pub fn columns(info: &ResourceInfo, version: &str) -> Vec<PrinterColumn> {
    if is_builtin(info) {
        return super::table_builtin::columns(&info.kind);
    }
    let cols = info
        .version(version)
        .map(|v| v.columns.clone())
        .unwrap_or_default();
    if cols.is_empty() {
        vec![super::table_builtin::age()]
    } else {
        cols
    }
}

/// How much of each object a row carries (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// From the `includeObject` query parameter.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// A Table of `objs` (already in the client's version).
pub fn table(
    info: &ResourceInfo,
    version: &str,
    objs: &[Value],
    include: IncludeObject,
    rv: Option<String>,
    with_definitions: bool,
) -> Value {
    let cols = columns(info, version);
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0}),
    ];
    // kube-apiserver's printers declare every built-in column a string (cells keep their type).
    let declared = |c: &PrinterColumn| {
        if is_builtin(info) {
            "string".to_string()
        } else {
            c.type_.clone()
        }
    };
    defs.extend(cols.iter().map(|c| json!({"name": c.name, "type": declared(c), "format": c.format, "description": c.description, "priority": c.priority})));
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            cells.extend(cols.iter().map(|c| cell(c, o)));
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Object => o.clone(),
                IncludeObject::Metadata => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))}),
            };
            let mut row = json!({"cells": cells});
            if !object.is_null() {
                row["object"] = object;
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": if with_definitions { Value::Array(defs) } else { json!([]) },
        "rows": rows,
    });
    if let Some(rv) = rv {
        t["metadata"]["resourceVersion"] = json!(rv);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset() {
        let o = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "False"}], "caps": ["a", "b"]},
            "spec": {"devs": [{"id": 1}, {"id": 2}]}});
        assert_eq!(
            eval(&o, ".status.conditions[?(.type=='Ready')].status"),
            vec![&json!("True")]
        );
        assert_eq!(eval(&o, ".spec.devs[*].id"), vec![&json!(1), &json!(2)]);
        assert_eq!(eval(&o, ".spec.devs[1].id"), vec![&json!(2)]);
        assert!(eval(&o, ".nope.x").is_empty());
        let c = super::super::table_builtin::col("Caps", "string", ".status.caps", "");
        assert_eq!(cell(&c, &o), json!("a,b"));
    }

    #[test]
    fn ages() {
        let ts = (chrono::Utc::now() - chrono::Duration::seconds(3 * 60 + 12)).to_rfc3339();
        assert_eq!(human_age(&ts), "3m12s");
        let ts = (chrono::Utc::now() - chrono::Duration::hours(50)).to_rfc3339();
        assert_eq!(human_age(&ts), "2d2h");
    }
}
