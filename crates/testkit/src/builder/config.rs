//! The test builder's configuration: the keys it accepts (its HCL2 spec is built from them) and
//! the one parser for Prepare's configs.
//!
//! `communicator`: `ssh` (the default, as in Packer), `local` or `none`; for `ssh`: `ssh_host`,
//! `ssh_port` (22), `ssh_username`, `ssh_password`, `ssh_private_key_file`, `ssh_timeout`
//! (`30s`, `5m`…; default 5m) and `ssh_file_transfer_method` (`scp`, the default, or `sftp`).
//! `run_error`: Run reports this text and fails with it instead of provisioning. Plus the
//! `packer_*` keys Packer adds.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use packer_wire::hclspec::{CtyType, Spec};
use packer_wire::msgpack::Value;
use serde_json::{Map, Value as J};
use ssh_comm::{Auth, ConnectOptions, KeySource, TransferMethod};

/// Which Communicator Run hands to the provisioners.
#[derive(Debug, Clone)]
pub enum CommConfig {
    /// `communicator = "ssh"`: the project's SSH communicator, connected with these options.
    Ssh(Box<ConnectOptions>),
    /// `"local"`: commands run under `sh -c` on this machine, files are local paths
    /// ([`crate::fakes::LocalCommunicator`]).
    Local,
    /// `"none"`: every call fails, as with Packer's `none` communicator.
    None,
}

/// What Prepare accepted.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub comm: CommConfig,
    /// `packer_build_name`.
    pub build_name: String,
    /// `run_error`: Run says it on the Ui and fails with it.
    pub run_error: Option<String>,
}

/// The keys this builder understands, with their cty types.
const KEYS: &[(&str, Ty)] = &[
    ("communicator", Ty::Str),
    ("ssh_host", Ty::Str),
    ("ssh_port", Ty::Num),
    ("ssh_username", Ty::Str),
    ("ssh_password", Ty::Str),
    ("ssh_private_key_file", Ty::Str),
    ("ssh_timeout", Ty::Str),
    ("ssh_file_transfer_method", Ty::Str),
    ("run_error", Ty::Str),
    ("packer_build_name", Ty::Str),
    ("packer_builder_type", Ty::Str),
    ("packer_core_version", Ty::Str),
    ("packer_debug", Ty::Bool),
    ("packer_force", Ty::Bool),
    ("packer_on_error", Ty::Str),
    ("packer_template_path", Ty::Str),
    ("packer_user_variables", Ty::StrMap),
    ("packer_sensitive_variables", Ty::StrList),
];

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Num,
    Bool,
    StrMap,
    StrList,
}

impl Ty {
    fn cty(self) -> CtyType {
        match self {
            Ty::Str => CtyType::String,
            Ty::Num => CtyType::Number,
            Ty::Bool => CtyType::Bool,
            Ty::StrMap => CtyType::Map(Box::new(CtyType::String)),
            Ty::StrList => CtyType::List(Box::new(CtyType::String)),
        }
    }
}

/// The HCL2 spec: every key optional.
pub fn spec() -> Spec {
    let attrs: BTreeMap<String, Spec> = KEYS
        .iter()
        .map(|(name, ty)| {
            let attr = Spec::Attr {
                name: name.to_string(),
                ty: ty.cty(),
                required: false,
            };
            (name.to_string(), attr)
        })
        .collect();
    Spec::Object(attrs)
}

/// Parses Prepare's configs; the errors are one line each.
pub fn parse(configs: &[Value]) -> Result<TestConfig, Vec<String>> {
    let mut errors = Vec::new();
    let m = merge(configs, &mut errors);
    for k in m.keys() {
        if !KEYS.iter().any(|(name, _)| name == k) {
            errors.push(format!("unknown configuration key: {k:?}"));
        }
    }
    let communicator = get_str(&m, "communicator", &mut errors).unwrap_or_else(|| "ssh".into());
    let comm = match communicator.as_str() {
        "ssh" => CommConfig::Ssh(Box::new(ssh_options(&m, &mut errors))),
        "local" => CommConfig::Local,
        "none" => CommConfig::None,
        other => {
            errors.push(format!(
                "communicator: {other:?} is not supported (use \"ssh\", \"local\" or \"none\")"
            ));
            CommConfig::None
        }
    };
    let config = TestConfig {
        comm,
        build_name: get_str(&m, "packer_build_name", &mut errors).unwrap_or_default(),
        run_error: get_str(&m, "run_error", &mut errors),
    };
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// Merges the configs in order (later ones win; nulls are "unset"). Elements are msgpack maps
/// (JSON templates, Packer's own keys) or bin holding cty JSON (HCL2 blocks).
fn merge(configs: &[Value], errors: &mut Vec<String>) -> Map<String, J> {
    let mut out = Map::new();
    for (i, c) in configs.iter().enumerate() {
        let obj = match c {
            Value::Bin(b) => match packer_wire::ctyjson::decode(b) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("config {i}: {e}"));
                    continue;
                }
            },
            Value::Map(_) => packer_wire::msgpack::to_json(c),
            Value::Nil => continue,
            other => {
                errors.push(format!(
                    "config {i}: expected a map or cty JSON, got {}",
                    packer_wire::msgpack::to_json(other)
                ));
                continue;
            }
        };
        if let J::Object(map) = obj {
            out.extend(map.into_iter().filter(|(_, v)| !v.is_null()));
        }
    }
    out
}

/// The `ssh_*` keys as connection options; problems go to `errors`.
fn ssh_options(m: &Map<String, J>, errors: &mut Vec<String>) -> ConnectOptions {
    let mut required = |key: &str| {
        let v = get_str(m, key, errors).unwrap_or_default();
        if v.is_empty() {
            errors.push(format!("{key} must be specified"));
        }
        v
    };
    let host = required("ssh_host");
    let user = required("ssh_username");
    let port = get_port(m).unwrap_or_else(|e| {
        errors.push(e);
        22
    });
    let mut o = ConnectOptions::new(host, port, user);
    if let Some(p) = get_str(m, "ssh_private_key_file", errors) {
        o.auth.push(Auth::PrivateKey {
            key: KeySource::File(PathBuf::from(p)),
            passphrase: None,
            certificate: None,
        });
    }
    if let Some(p) = get_str(m, "ssh_password", errors) {
        o.auth.push(Auth::Password(p));
    }
    if o.auth.is_empty() {
        errors.push("one of ssh_password or ssh_private_key_file must be specified".into());
    }
    if let Some(t) = get_str(m, "ssh_timeout", errors) {
        match parse_duration(&t) {
            Some(d) => o.ssh_timeout = d,
            None => errors.push(format!("ssh_timeout: {t:?} is not a duration")),
        }
    }
    match get_str(m, "ssh_file_transfer_method", errors).as_deref() {
        None | Some("scp") => o.transfer = TransferMethod::Scp,
        Some("sftp") => o.transfer = TransferMethod::Sftp,
        Some(other) => errors.push(format!(
            "ssh_file_transfer_method: {other:?} is neither \"scp\" nor \"sftp\""
        )),
    }
    o
}

fn get_str(m: &Map<String, J>, key: &str, errors: &mut Vec<String>) -> Option<String> {
    match m.get(key)? {
        J::String(s) => Some(s.clone()),
        // Weakly typed, as the Go SDK's decoder: numbers and bools read as their text.
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        other => {
            errors.push(format!("{key}: expected a string, got {other}"));
            None
        }
    }
}

/// `ssh_port`: JSON templates send numbers as Go float64s (`2222.0`), HCL2 as cty numbers, and
/// strings are accepted as the Go SDK's weak decoding does.
fn get_port(m: &Map<String, J>) -> Result<u16, String> {
    let bad = |v: &J| format!("ssh_port: {v} is not a port number");
    match m.get("ssh_port") {
        None => Ok(22),
        Some(v @ J::Number(n)) => {
            let f = n.as_f64().ok_or_else(|| bad(v))?;
            if f.fract() == 0.0 && (1.0..=65535.0).contains(&f) {
                Ok(f as u16)
            } else {
                Err(bad(v))
            }
        }
        Some(v @ J::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// `30s`, `5m`, `1h`, `500ms` (one number, one unit).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (Value::Str(k.to_string()), v.clone()))
                .collect(),
        )
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn ssh_keys_become_connect_options() {
        // An HCL2 block as cty JSON, then Packer's own keys as a map.
        let hcl = br#"{"value":{"communicator":"ssh","ssh_host":"10.0.0.5","ssh_port":2222,
            "ssh_username":"u","ssh_private_key_file":"/k","ssh_password":"p",
            "ssh_timeout":"30s","ssh_file_transfer_method":"sftp"},
            "type":["object",{"communicator":"string","ssh_host":"string","ssh_port":"number",
            "ssh_username":"string","ssh_private_key_file":"string","ssh_password":"string",
            "ssh_timeout":"string","ssh_file_transfer_method":"string"}]}"#;
        let packer = map(&[("packer_build_name", s("x"))]);
        let cfg = parse(&[Value::Bin(hcl.to_vec()), packer]).unwrap();
        let CommConfig::Ssh(o) = cfg.comm else {
            panic!("{:?}", cfg.comm)
        };
        assert_eq!(
            (o.host.as_str(), o.port, o.username.as_str()),
            ("10.0.0.5", 2222, "u")
        );
        assert_eq!(o.ssh_timeout, Duration::from_secs(30));
        assert!(matches!(o.transfer, TransferMethod::Sftp));
        assert!(
            matches!(&o.auth[0], Auth::PrivateKey { key: KeySource::File(p), .. } if p == &PathBuf::from("/k"))
        );
        assert!(matches!(&o.auth[1], Auth::Password(p) if p == "p"));
        assert_eq!(cfg.build_name, "x");
        assert_eq!(cfg.run_error, None);
    }

    #[test]
    fn json_numbers_and_later_configs_win() {
        let first = map(&[
            ("communicator", s("ssh")),
            ("ssh_host", s("a")),
            ("ssh_username", s("u")),
            ("ssh_password", s("p")),
            ("ssh_port", Value::F64(2222.0)),
        ]);
        let second = map(&[("ssh_host", s("b")), ("ssh_port", Value::Nil)]);
        let CommConfig::Ssh(o) = parse(&[first, second]).unwrap().comm else {
            panic!("not ssh")
        };
        assert_eq!((o.host.as_str(), o.port), ("b", 2222));
        assert!(matches!(o.transfer, TransferMethod::Scp));
    }

    #[test]
    fn local_and_none_need_no_ssh_keys() {
        let local = parse(&[map(&[
            ("communicator", s("local")),
            ("run_error", s("boom")),
        ])]);
        let local = local.unwrap();
        assert!(matches!(local.comm, CommConfig::Local));
        assert_eq!(local.run_error.as_deref(), Some("boom"));
        let none = parse(&[map(&[("communicator", s("none"))])]).unwrap();
        assert!(matches!(none.comm, CommConfig::None));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = map(&[
            ("ssh_port", Value::Int(99999)),
            ("ssh_timeout", s("soon")),
            ("ssh_file_transfer_method", s("rsync")),
            ("colour", s("red")),
        ]);
        let errors = parse(&[bad]).unwrap_err();
        assert_eq!(
            errors,
            [
                "unknown configuration key: \"colour\"",
                "ssh_host must be specified",
                "ssh_username must be specified",
                "ssh_port: 99999 is not a port number",
                "one of ssh_password or ssh_private_key_file must be specified",
                "ssh_timeout: \"soon\" is not a duration",
                "ssh_file_transfer_method: \"rsync\" is neither \"scp\" nor \"sftp\"",
            ]
        );
        let errors = parse(&[map(&[("communicator", s("winrm"))])]).unwrap_err();
        assert_eq!(
            errors,
            ["communicator: \"winrm\" is not supported (use \"ssh\", \"local\" or \"none\")"]
        );
    }

    #[test]
    fn durations_take_one_number_and_one_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 5m "), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("3d"), None);
    }

    #[test]
    fn spec_lists_every_key() {
        let Spec::Object(attrs) = spec() else {
            panic!("not an object")
        };
        assert_eq!(attrs.len(), KEYS.len());
        assert!(matches!(
            attrs.get("ssh_port"),
            Some(Spec::Attr {
                ty: CtyType::Number,
                required: false,
                ..
            })
        ));
    }
}
