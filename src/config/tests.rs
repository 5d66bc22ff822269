//! Prepare tests. Every config is built twice from the same values, as Packer sends them for
//! an HCL2 template (packer_* map + cty JSON bin) and for a legacy JSON template (one msgpack
//! map with native types), and both must give the same result.
use std::path::{Path, PathBuf};
use std::time::Duration;

use packer_wire::msgpack::Value;
use serde_json::{json, Value as Json};

use super::options::{self, Kind};
use super::*;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: https://127.0.0.1:1\n    certificate-authority: ca.pem\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: dev\n    namespace: demo\n- name: bare\n  context:\n    cluster: sim\n    user: dev\nusers:\n- name: dev\n  user:\n    token: abc\n";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kubeconfig"), KUBECONFIG).expect("write kubeconfig");
        std::fs::write(dir.path().join("ca.pem"), super::files::tests::CERT).expect("write CA");
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    fn env(&self) -> Environment {
        Environment {
            kubeconfig: None,
            home: Some(self.dir.path().join("home")),
        }
    }

    /// The smallest valid set of user options.
    fn base(&self) -> Vec<(&'static str, Json)> {
        vec![
            (
                "kubeconfig_path",
                json!(self.path("kubeconfig").display().to_string()),
            ),
            ("class_name", json!("best-effort-small")),
            ("storage_class", json!("wcpglobal-storage-profile")),
            ("image_name", json!("vmi-0123456789abcdef0")),
        ]
    }

    fn with(&self, extra: &[(&'static str, Json)]) -> Vec<(&'static str, Json)> {
        let mut v = self.base();
        for (k, val) in extra {
            v.retain(|(key, _)| key != k);
            if !val.is_null() {
                v.push((k, val.clone()));
            }
        }
        v
    }

    /// Prepares the values through both paths; asserts they agree and returns the result.
    fn prepare(&self, values: &[(&'static str, Json)]) -> Result<Prepared, ConfigErrors> {
        let env = self.env();
        let via_hcl = prepare_with(&hcl_configs(values), &env);
        let via_json = prepare_with(&json_configs(values), &env);
        match (&via_hcl, &via_json) {
            (Ok(a), Ok(b)) => {
                let mut b = b.clone();
                // The JSON path also carries packer_template_path and user variables.
                b.config.packer.template_path.clear();
                b.config.packer.core_version.clear();
                b.config.packer.user_variables.clear();
                let mut a = a.clone();
                a.config.packer.user_variables.clear();
                // Random defaults differ between the two runs.
                b.config.source_name = a.config.source_name.clone();
                if let (Some(ai), Some(bi)) = (&a.config.import, &mut b.config.import) {
                    bi.request_name = ai.request_name.clone();
                }
                assert_eq!(a, b, "HCL2 and JSON templates disagree");
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "HCL2 and JSON templates report different problems")
            }
            _ => panic!("HCL2 gave {via_hcl:?} but JSON gave {via_json:?}"),
        }
        via_hcl
    }

    fn ok(&self, values: &[(&'static str, Json)]) -> Prepared {
        self.prepare(values)
            .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
    }

    fn errs(&self, values: &[(&'static str, Json)]) -> Vec<String> {
        match self.prepare(values) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(e) => e.lines(),
        }
    }

    /// Asserts exactly one problem, equal to `expected`.
    fn one(&self, extra: &[(&'static str, Json)], expected: &str) {
        let e = self.errs(&self.with(extra));
        assert_eq!(e, vec![expected.to_string()], "for {extra:?}");
    }
}

fn json_to_msgpack(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or(Value::F64(n.as_f64().unwrap_or(0.0)), Value::Int),
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_msgpack).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Str(k.clone()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

/// `(name, wire type)` of every option of the HCL2 spec.
fn spec_options() -> Vec<(&'static str, Kind)> {
    options::all()
        .filter(|o| !o.json_only)
        .map(|o| (o.name, o.kind()))
        .collect()
}

fn cty_type(kind: Kind) -> Json {
    match kind {
        Kind::Str => json!("string"),
        Kind::Int => json!("number"),
        Kind::Bool => json!("bool"),
        Kind::StrList => json!(["list", "string"]),
        Kind::StrMap => json!(["map", "string"]),
        Kind::Bytes => json!(["list", "number"]),
    }
}

/// As Packer 1.6.6 sends an HCL2 source: the packer_* strings, then the cty object with every
/// spec key (null when unset).
fn hcl_configs(values: &[(&str, Json)]) -> Vec<Value> {
    let packer = json!({"packer_build_name": "x", "packer_builder_type": "vsphere-supervisor",
        "packer_debug": "false", "packer_force": "true", "packer_on_error": ""});
    let mut value = serde_json::Map::new();
    let mut types = serde_json::Map::new();
    for (name, kind) in spec_options() {
        value.insert(name.to_string(), Json::Null);
        types.insert(name.to_string(), cty_type(kind));
    }
    for (k, v) in values {
        value.insert((*k).to_string(), v.clone());
    }
    let cty = json!({"value": value, "type": ["object", types]});
    vec![
        json_to_msgpack(&packer),
        Value::Bin(serde_json::to_vec(&cty).expect("json")),
    ]
}

/// As Packer 1.6.6 sends a legacy JSON builder: the builder block, then the packer_* map.
fn json_configs(values: &[(&str, Json)]) -> Vec<Value> {
    let block: serde_json::Map<String, Json> = values
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    let packer = json!({"packer_debug": false, "packer_force": true, "packer_on_error": "",
        "packer_template_path": "/t/tpl.json", "packer_user_variables": {"": ""},
        "packer_build_name": "x", "packer_builder_type": "vsphere-supervisor", "packer_core_version": "1.6.6"});
    vec![
        json_to_msgpack(&Json::Object(block)),
        json_to_msgpack(&packer),
    ]
}

fn cfg(p: &Prepared) -> &Config {
    &p.config
}

mod checks;
mod comm;
mod defaults;
mod problems;
mod reference_table;
mod sources;
mod ssh_docs;
mod values;
