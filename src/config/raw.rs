//! Turning Prepare's `Configs` into one map of typed option values.
//!
//! Packer sends two kinds of config elements:
//! - msgpack maps (legacy JSON templates, and the `packer_*` map of HCL2 builds) with native
//!   JSON types. Go's SDK decodes these with mapstructure's *weak* typing, so users' JSON
//!   templates routinely contain `"ssh_port": "22"` or `"keep_input_artifact": "true"`; we accept
//!   the same conversions (see [`Decoder`]). Strings in them may hold Go-template
//!   interpolations (`{{user \`x\`}}`), which the plugin renders, as Go's SDK does.
//! - `bin` elements holding cty JSON (HCL2). Packer already converted every value to the type
//!   our spec declares, so these are decoded strictly.
//!
//! Later elements override earlier ones key by key; a null never overrides (the HCL2 cty object
//! carries every spec key, null when unset, after the map that holds the `packer_*` values).
use std::collections::BTreeMap;

use packer_wire::msgpack::Value;

use super::bounds::{number, quote};
use super::options::{self, Kind};
use super::problem::{Problem, ProblemKind};
use super::spec::kind_of;
use super::suggest::suggest;

/// A configuration value before typing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Raw>),
    Map(Vec<(String, Raw)>),
    Bytes(Vec<u8>),
}

impl Raw {
    fn describe(&self) -> String {
        match self {
            Raw::Null => "null".into(),
            Raw::Str(s) => format!("string {}", quote(s)),
            Raw::Int(i) => format!("number {i}"),
            Raw::Float(f) => format!("number {}", number(*f)),
            Raw::Bool(b) => format!("bool {b}"),
            Raw::List(l) => format!("a list of {} element(s)", l.len()),
            Raw::Map(_) => "a map".into(),
            Raw::Bytes(_) => "binary data".into(),
        }
    }

    fn from_msgpack(v: &Value) -> Result<Raw, String> {
        Ok(match v {
            Value::Nil => Raw::Null,
            Value::Bool(b) => Raw::Bool(*b),
            Value::Int(i) => Raw::Int(*i),
            Value::Uint(u) => i64::try_from(*u).map_or(Raw::Float(*u as f64), Raw::Int),
            Value::F32(f) => Raw::Float(f64::from(*f)),
            Value::F64(f) => Raw::Float(*f),
            Value::Str(s) => Raw::Str(s.clone()),
            Value::Bin(b) => Raw::Bytes(b.clone()),
            Value::Array(items) => Raw::List(
                items
                    .iter()
                    .map(Raw::from_msgpack)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(pairs) => Raw::Map(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((map_key(k)?, Raw::from_msgpack(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Ext(t, _) => return Err(format!("unsupported msgpack extension type {t}")),
        })
    }

    fn from_json(v: &serde_json::Value) -> Raw {
        match v {
            serde_json::Value::Null => Raw::Null,
            serde_json::Value::Bool(b) => Raw::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map_or(Raw::Float(n.as_f64().unwrap_or(f64::NAN)), Raw::Int),
            serde_json::Value::String(s) => Raw::Str(s.clone()),
            serde_json::Value::Array(a) => Raw::List(a.iter().map(Raw::from_json).collect()),
            serde_json::Value::Object(o) => Raw::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Raw::from_json(v)))
                    .collect(),
            ),
        }
    }
}

fn map_key(k: &Value) -> Result<String, String> {
    match k {
        Value::Str(s) => Ok(s.clone()),
        Value::Bin(b) => {
            String::from_utf8(b.clone()).map_err(|_| "a map key is not valid UTF-8".to_string())
        }
        other => Err(format!("a map key is not a string ({other:?})")),
    }
}

/// One merged option value and how strictly to type it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub value: Raw,
    /// From a msgpack map: weak typing and template interpolation apply.
    pub weak: bool,
}

/// Merges the configs in order. Returns the merged values and every problem found
/// (malformed elements, unknown keys).
pub(crate) fn merge(configs: &[Value]) -> (BTreeMap<String, Entry>, Vec<Problem>) {
    let mut merged = BTreeMap::new();
    let mut problems = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        let (pairs, weak): (Vec<(String, Raw)>, bool) = match config {
            Value::Nil => continue,
            Value::Map(_) => match Raw::from_msgpack(config) {
                Ok(Raw::Map(pairs)) => (pairs, true),
                Ok(_) => continue,
                Err(e) => {
                    problems.push(Problem::malformed(index, e));
                    continue;
                }
            },
            Value::Bin(bytes) => match cty_object(bytes) {
                Ok(pairs) => (pairs, false),
                Err(e) => {
                    problems.push(Problem::malformed(index, e));
                    continue;
                }
            },
            other => {
                problems.push(Problem::malformed(
                    index,
                    format!("expected a map, got {other:?}"),
                ));
                continue;
            }
        };
        for (key, value) in pairs {
            // Newer Packer versions add internal keys of their own; they are Packer's business,
            // and an error would break every build on those versions.
            if kind_of(&key).is_none() && key.starts_with("packer_") {
                continue;
            }
            if kind_of(&key).is_none() {
                let problem = unknown_key(&key);
                if !problems.contains(&problem) {
                    problems.push(problem);
                }
                continue;
            }
            if value == Raw::Null {
                continue;
            }
            merged.insert(key, Entry { value, weak });
        }
    }
    (merged, problems)
}

/// A key that names no option, with the closest option's name when it looks like a typo.
fn unknown_key(key: &str) -> Problem {
    let suggestion = Some(key)
        .filter(|k| k.len() <= 64)
        .and_then(|k| suggest(k, options::all().map(|o| o.name)))
        .map(|s| format!("; did you mean {s:?}?"))
        .unwrap_or_default();
    Problem::unknown_key(key, suggestion)
}

/// Decodes the cty JSON of an HCL2 body: `{"value": {...}, "type": [...]}`.
fn cty_object(bytes: &[u8]) -> Result<Vec<(String, Raw)>, String> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the HCL2 configuration is not valid cty JSON: {e}"))?;
    let value = match &json {
        serde_json::Value::Object(o) if o.contains_key("value") && o.contains_key("type") => {
            &o["value"]
        }
        other => other,
    };
    match Raw::from_json(value) {
        Raw::Map(pairs) => Ok(pairs),
        Raw::Null => Ok(Vec::new()),
        other => Err(format!(
            "the HCL2 configuration is {}, expected an object",
            other.describe()
        )),
    }
}

/// What Go-template interpolation in JSON templates can refer to.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateContext {
    pub user_variables: BTreeMap<String, String>,
    pub build_name: String,
    pub build_type: String,
    pub template_path: String,
}

/// Renders `{{ ... }}` actions in a JSON-template string. Supported: `user`, `build_name`,
/// `build_type`, `template_dir`, `pwd`, `timestamp`. `env` is refused as in Packer, where it
/// is only allowed in the variables section.
pub(crate) fn interpolate(s: &str, ctx: &TemplateContext) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed template action in {}", quote(s)))?;
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&render_action(action, ctx)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn render_action(action: &str, ctx: &TemplateContext) -> Result<String, String> {
    let (func, arg) = match action.split_once(char::is_whitespace) {
        Some((f, a)) => (f, Some(a.trim())),
        None => (action, None),
    };
    let unquote = |a: Option<&str>| -> Result<String, String> {
        let a = a.ok_or_else(|| format!("template function {func:?} needs an argument"))?;
        let inner = a
            .strip_prefix('`')
            .and_then(|x| x.strip_suffix('`'))
            .or_else(|| a.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            .ok_or_else(|| format!("template argument {a} must be quoted"))?;
        Ok(inner.to_string())
    };
    let no_arg = |v: String| {
        if arg.is_some() {
            Err(format!("template function {func:?} takes no argument"))
        } else {
            Ok(v)
        }
    };
    match func {
        "user" => {
            let name = unquote(arg)?;
            Ok(ctx.user_variables.get(&name).cloned().unwrap_or_default())
        }
        "build_name" => no_arg(ctx.build_name.clone()),
        "build_type" => no_arg(ctx.build_type.clone()),
        "template_dir" => no_arg(
            std::path::Path::new(&ctx.template_path)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        "pwd" => no_arg(
            std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        "timestamp" => no_arg(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs().to_string())
                .unwrap_or_default(),
        ),
        "env" => Err("template function \"env\" can only be used in the variables section".into()),
        other => Err(format!("template function {other:?} is not supported here")),
    }
}

/// Typed access to the merged values; collects a problem per badly typed option.
pub(crate) struct Decoder {
    entries: BTreeMap<String, Entry>,
    ctx: TemplateContext,
    pub problems: Vec<Problem>,
}

impl Decoder {
    pub(crate) fn new(entries: BTreeMap<String, Entry>) -> Self {
        let mut d = Decoder {
            entries,
            ctx: TemplateContext::default(),
            problems: Vec::new(),
        };
        // The context is built before any user-visible string is read; packer_* values are
        // never interpolated.
        d.ctx = TemplateContext {
            user_variables: d.raw_str_map("packer_user_variables").unwrap_or_default(),
            build_name: d.raw_str("packer_build_name").unwrap_or_default(),
            build_type: d.raw_str("packer_builder_type").unwrap_or_default(),
            template_path: d.raw_str("packer_template_path").unwrap_or_default(),
        };
        d
    }

    /// Records a problem once: options are sometimes read twice (e.g. to check an alias).
    fn problem(&mut self, problem: Problem) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Records that `key`'s value does not have the type the option needs.
    fn bad_type(&mut self, key: &str, message: String) {
        self.problem(Problem::new(key, ProblemKind::BadType, message));
    }

    fn mismatch(&mut self, key: &str, kind: Kind, got: &Raw) {
        self.bad_type(
            key,
            format!("expected {}, got {}", kind.describe(), got.describe()),
        );
    }

    fn entry(&self, key: &str) -> Option<(Raw, bool)> {
        debug_assert!(kind_of(key).is_some(), "undeclared option {key}");
        self.entries.get(key).map(|e| (e.value.clone(), e.weak))
    }

    fn scalar_to_string(raw: &Raw, weak: bool) -> Option<String> {
        match (raw, weak) {
            (Raw::Str(s), _) => Some(s.clone()),
            (Raw::Int(i), true) => Some(i.to_string()),
            (Raw::Float(f), true) => Some(f.to_string()),
            (Raw::Bool(b), true) => Some(b.to_string()),
            (Raw::Bytes(b), true) => String::from_utf8(b.clone()).ok(),
            _ => None,
        }
    }

    fn render(&mut self, key: &str, s: String, weak: bool) -> Option<String> {
        if !weak || !s.contains("{{") {
            return Some(s);
        }
        match interpolate(&s, &self.ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                self.bad_type(key, e);
                None
            }
        }
    }

    fn raw_str(&mut self, key: &str) -> Option<String> {
        let (raw, weak) = self.entry(key)?;
        match Self::scalar_to_string(&raw, weak) {
            Some(s) => Some(s),
            None => {
                self.mismatch(key, Kind::Str, &raw);
                None
            }
        }
    }

    fn raw_str_map(&mut self, key: &str) -> Option<BTreeMap<String, String>> {
        let (raw, weak) = self.entry(key)?;
        let Raw::Map(pairs) = &raw else {
            self.mismatch(key, Kind::StrMap, &raw);
            return None;
        };
        let mut out = BTreeMap::new();
        for (k, v) in pairs {
            match Self::scalar_to_string(v, weak) {
                Some(s) => {
                    out.insert(k.clone(), s);
                }
                None if *v == Raw::Null => {}
                None => {
                    self.bad_type(
                        key,
                        format!(
                            "value of {} must be a string, got {}",
                            quote(k),
                            v.describe()
                        ),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A string option; `None` when unset (or badly typed, which is recorded).
    pub(crate) fn str(&mut self, key: &str) -> Option<String> {
        let weak = self.entries.get(key).is_some_and(|e| e.weak);
        let s = self.raw_str(key)?;
        self.render(key, s, weak)
    }

    /// A string option where the empty string also means unset.
    pub(crate) fn non_empty(&mut self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.is_empty())
    }

    /// A whole-number option.
    pub(crate) fn int(&mut self, key: &str) -> Option<i64> {
        let (raw, weak) = self.entry(key)?;
        let parsed = match (&raw, weak) {
            (Raw::Int(i), _) => Some(*i),
            // Huge whole numbers saturate: every range check refuses them, quoting the
            // value as given (see `shown`).
            (Raw::Float(f), _) if f.fract() == 0.0 => Some(*f as i64),
            (Raw::Str(s), true) => {
                let t = s.trim();
                if t.is_empty() {
                    Some(0)
                } else {
                    t.parse::<i64>().ok()
                }
            }
            (Raw::Bool(b), true) => Some(i64::from(*b)),
            _ => None,
        };
        if parsed.is_none() {
            match &raw {
                Raw::Float(f) if f.is_finite() => {
                    self.bad_type(key, format!("expected a whole number, got {}", number(*f)));
                }
                _ => self.mismatch(key, Kind::Int, &raw),
            }
        }
        parsed
    }

    /// A bool option.
    pub(crate) fn bool(&mut self, key: &str) -> Option<bool> {
        let (raw, weak) = self.entry(key)?;
        let parsed = match (&raw, weak) {
            (Raw::Bool(b), _) => Some(*b),
            // Go's strconv.ParseBool spellings, plus "" (mapstructure reads it as false).
            (Raw::Str(s), true) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Some(false),
                _ => None,
            },
            (Raw::Int(i), true) => Some(*i != 0),
            _ => None,
        };
        if parsed.is_none() {
            self.mismatch(key, Kind::Bool, &raw);
        }
        parsed
    }

    /// A list-of-strings option. In JSON templates a single string counts as a one-element list.
    pub(crate) fn str_list(&mut self, key: &str) -> Option<Vec<String>> {
        let (raw, weak) = self.entry(key)?;
        let items = match &raw {
            Raw::List(items) => items.clone(),
            Raw::Str(_) if weak => vec![raw.clone()],
            _ => {
                self.mismatch(key, Kind::StrList, &raw);
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match Self::scalar_to_string(item, weak) {
                Some(s) => out.push(self.render(key, s, weak)?),
                None => {
                    self.bad_type(
                        key,
                        format!("element {i} must be a string, got {}", item.describe()),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A map-of-strings option.
    pub(crate) fn str_map(&mut self, key: &str) -> Option<BTreeMap<String, String>> {
        self.raw_str_map(key)
    }

    /// The option's value as given, short, for messages: digits, `1e300`, a quoted string.
    pub(crate) fn shown(&self, key: &str) -> String {
        match self.entries.get(key).map(|e| &e.value) {
            Some(Raw::Int(i)) => i.to_string(),
            Some(Raw::Float(f)) => number(*f),
            Some(Raw::Str(s)) => quote(s),
            Some(other) => other.describe(),
            None => "nothing".into(),
        }
    }

    /// Records a problem with `key` found outside the decoder (whitespace, names): later
    /// checks of the same option are then not reported again.
    pub(crate) fn reject(&mut self, key: &str, why: &str) {
        self.problem(Problem::invalid(key, why));
    }

    /// Whether the option was given (non-null), whatever its value.
    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TemplateContext {
        TemplateContext {
            user_variables: [("kc".to_string(), "/k".to_string())].into_iter().collect(),
            build_name: "b".into(),
            build_type: "vsphere-supervisor".into(),
            template_path: "/t/dir/x.json".into(),
        }
    }

    #[test]
    fn interpolation_subset() {
        let c = ctx();
        assert_eq!(interpolate("{{user `kc`}}/x", &c).as_deref(), Ok("/k/x"));
        assert_eq!(interpolate("{{ user \"kc\" }}", &c).as_deref(), Ok("/k"));
        assert_eq!(interpolate("{{user `missing`}}", &c).as_deref(), Ok(""));
        assert_eq!(
            interpolate("{{build_name}}-{{build_type}}", &c).as_deref(),
            Ok("b-vsphere-supervisor")
        );
        assert_eq!(
            interpolate("{{template_dir}}/a", &c).as_deref(),
            Ok("/t/dir/a")
        );
        assert_eq!(interpolate("plain", &c).as_deref(), Ok("plain"));
        assert!(interpolate("{{env `HOME`}}", &c)
            .unwrap_err()
            .contains("variables section"));
        assert!(interpolate("{{ .Name }}", &c)
            .unwrap_err()
            .contains("not supported"));
        assert!(interpolate("{{user `x`", &c)
            .unwrap_err()
            .contains("unclosed"));
        assert!(interpolate("{{user x}}", &c)
            .unwrap_err()
            .contains("quoted"));
    }

    #[test]
    fn nulls_never_override_and_later_configs_win() {
        let a = Value::Map(vec![
            (Value::Str("class_name".into()), Value::Str("a".into())),
            (Value::Str("image_name".into()), Value::Str("i".into())),
        ]);
        let b = Value::Bin(
            br#"{"value":{"class_name":"b","image_name":null},"type":"dynamic"}"#.to_vec(),
        );
        let (m, problems) = merge(&[a, Value::Nil, b]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m["class_name"].value, Raw::Str("b".into()));
        assert!(!m["class_name"].weak);
        assert_eq!(m["image_name"].value, Raw::Str("i".into()));
        assert!(m["image_name"].weak);
    }

    #[test]
    fn unknown_packer_internal_keys_are_ignored() {
        let a = Value::Map(vec![
            (
                Value::Str("packer_some_future_key".into()),
                Value::Str("x".into()),
            ),
            (Value::Str("not_an_option".into()), Value::Str("x".into())),
        ]);
        let (m, problems) = merge(&[a]);
        assert!(m.is_empty());
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines, vec!["unknown configuration key: \"not_an_option\""]);
    }

    #[test]
    fn malformed_elements_are_reported() {
        let (_, p) = merge(&[
            Value::Bin(b"not json".to_vec()),
            Value::Int(3),
            Value::Bin(b"[1]".to_vec()),
        ]);
        assert_eq!(p.len(), 3, "{p:?}");
        let p: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(p[0].starts_with("configuration #0: the HCL2 configuration is not valid cty JSON"));
        assert!(p[1].starts_with("configuration #1: expected a map"));
        assert!(p[2].contains("expected an object"));
    }
}
