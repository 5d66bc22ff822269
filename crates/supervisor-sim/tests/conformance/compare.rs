//! Comparing two outcomes: status code, `reason`, `details.causes` field paths, and the
//! resulting object without what the server sets on its own (uid, resourceVersion, timestamps,
//! generation, managedFields, selfLink, generated name suffixes, continue tokens, Table ages).

use super::request::Outcome;
use serde_json::{Map, Value};

/// What is compared of an outcome.
#[derive(Debug, PartialEq)]
struct Essence {
    code: u16,
    reason: Option<String>,
    causes: Vec<String>,
    object: Value,
}

/// The differences between the simulator's and the real server's outcome (empty: they match).
pub fn differences(sim: &Outcome, real: &Outcome) -> Vec<String> {
    let (a, b) = (essence(sim), essence(real));
    let mut out = Vec::new();
    if a.code != b.code {
        out.push(format!("code: sim {} vs real {}", a.code, b.code));
    }
    if a.reason != b.reason {
        out.push(format!("reason: sim {:?} vs real {:?}", a.reason, b.reason));
    }
    if a.causes != b.causes {
        out.push(format!("causes: sim {:?} vs real {:?}", a.causes, b.causes));
    }
    if let Some(d) = first_difference("", &a.object, &b.object) {
        out.push(format!("object: {d}"));
    }
    out
}

fn essence(o: &Outcome) -> Essence {
    let status = status_of(&o.body);
    let object = match status {
        Some(_) => Value::Null,
        None => {
            let mut v = o.body.clone();
            normalize(&mut v);
            v
        }
    };
    let status = status.unwrap_or(&Value::Null);
    let mut causes: Vec<String> = status["details"]["causes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    causes.sort();
    causes.dedup();
    Essence {
        code: o.code,
        reason: status["reason"].as_str().map(str::to_string),
        causes,
        object,
    }
}

/// The Status of an error answer, or of a watch's single ERROR event.
fn status_of(body: &Value) -> Option<&Value> {
    if body["kind"] == "Status" && body["status"] == "Failure" {
        return Some(body);
    }
    let events = body.as_array()?;
    events
        .iter()
        .find(|e| e["type"] == "ERROR")
        .map(|e| &e["object"])
}

const SERVER_SET: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
];

/// Removes the server-set fields everywhere in `v`.
pub fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                normalize_metadata(meta);
            }
            if m.get("kind").and_then(Value::as_str) == Some("Status") {
                if let Some(Value::Object(d)) = m.get_mut("details") {
                    d.remove("uid");
                }
            }
            if m.get("kind").and_then(Value::as_str) == Some("Table") {
                blank_age_cells(m);
            }
            m.values_mut().for_each(normalize);
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn normalize_metadata(meta: &mut Map<String, Value>) {
    for k in SERVER_SET {
        meta.remove(*k);
    }
    if meta.contains_key("deletionTimestamp") {
        meta.insert("deletionTimestamp".into(), "<set>".into());
    }
    if meta
        .get("continue")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty())
    {
        meta.insert("continue".into(), "<set>".into());
    }
    if let (Some(Value::String(g)), Some(Value::String(n))) =
        (meta.get("generateName"), meta.get("name"))
    {
        if n.starts_with(g.as_str()) {
            let name = format!("{g}<random>");
            meta.insert("name".into(), name.into());
        }
    }
}

/// The `Age` column depends on the clock: its cells become `<age>`.
fn blank_age_cells(table: &mut Map<String, Value>) {
    let Some(age) = table["columnDefinitions"]
        .as_array()
        .and_then(|cols| cols.iter().position(|c| c["name"] == "Age"))
    else {
        return;
    };
    if let Some(rows) = table.get_mut("rows").and_then(Value::as_array_mut) {
        for row in rows {
            if let Some(cell) = row.get_mut("cells").and_then(|c| c.get_mut(age)) {
                *cell = "<age>".into();
            }
        }
    }
}

/// The first place where `a` (sim) and `b` (real) differ, as `path: sim … vs real …`.
fn first_difference(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let (va, vb) = (x.get(k), y.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => first_difference(&format!("{path}.{k}"), va, vb),
                    _ => Some(format!(
                        "{path}.{k}: sim {} vs real {}",
                        short(va),
                        short(vb)
                    )),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_difference(&format!("{path}[{i}]"), va, vb)),
        _ if a == b => None,
        _ => Some(format!(
            "{path}: sim {} vs real {}",
            short(Some(a)),
            short(Some(b))
        )),
    }
}

fn short(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "(absent)".into();
    };
    let s = v.to_string();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}
