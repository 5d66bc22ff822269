//! Property test of Prepare: arbitrary values (strings of any size and content, huge, negative
//! and fractional numbers, NaN, wrong types, nested lists and maps) for every option, through
//! both ways Packer sends a configuration (weakly typed msgpack map, strict cty JSON), straight
//! into [`prepare_with`]. Prepare must answer with a config or with errors, never panic, and
//! every problem must be one short line that names its option.
//!
//! Runs 256 cases by default (proptest's default, which the test scripts also set with
//! `PROPTEST_CASES=256`); for a longer run raise it:
//! `PROPTEST_CASES=20000 cargo test -p packer-plugin-vsphere --lib config::fuzz`.
use packer_wire::msgpack::Value;
use proptest::prelude::*;
use serde_json::Value as Json;

use super::bounds::LINE_MAX;
use super::options;
use super::{prepare_with, Environment};

/// Values chosen to sit on the edges of what Prepare checks.
const EDGES: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "22",
    "65536",
    "9223372036854775807",
    "9223372036854775808",
    "1e300",
    "-1e300",
    "NaN",
    "5m",
    "-5m",
    "24h",
    "25h",
    "2562047h",
    "99999999999h",
    "0.5s",
    "~",
    "~/x",
    "{{",
    "{{user `a`}}",
    "{{ env `HOME` }}",
    "ssh",
    "none",
    "winrm",
    "Sysprep",
    "vAppConfig",
    "rsa",
    "ecdsa",
    "20Gi",
    "-20Gi",
    "https://x/y.iso",
    "http://x/y.ova",
    "vmi-abc",
    "Bad_Name",
    "a:b:c:d",
    "1:h:2",
    "/",
    "/dev/null",
    "/nonexistent",
    "#cloud-config\n- x",
    "<unattend",
];

/// A string: an edge value, arbitrary text, or a long run of one character.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(EDGES).prop_map(str::to_string),
        3 => any::<String>(),
        1 => (any::<char>(), 0usize..200_000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// A number: any integer, any float (NaN, infinities, 1e300), or an edge integer.
fn number() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        proptest::sample::select(
            &[
                0i64,
                -1,
                1,
                65_535,
                65_536,
                86_400,
                86_401,
                i64::MAX,
                i64::MIN
            ][..]
        )
        .prop_map(Json::from),
    ]
}

/// Any JSON value, nested a little.
fn value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number(),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// Some options, each with an arbitrary value; now and then a key that is no option.
fn options() -> impl Strategy<Value = Vec<(String, Json)>> {
    let option = prop_oneof![
        9 => proptest::sample::select(options::all().map(|o| o.name).collect::<Vec<_>>())
            .prop_map(str::to_string),
        1 => text(),
    ];
    proptest::collection::vec((option, value()), 0..10)
}

fn to_msgpack(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::Uint))
            .unwrap_or_else(|| Value::F64(n.as_f64().unwrap_or(f64::NAN))),
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_msgpack).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Str(k.clone()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// The two shapes of Packer's `Configs`: a msgpack map (JSON templates), and cty JSON (HCL2).
fn both_shapes(values: &[(String, Json)]) -> [Vec<Value>; 2] {
    let map = Value::Map(
        values
            .iter()
            .map(|(k, v)| (Value::Str(k.clone()), to_msgpack(v)))
            .collect(),
    );
    let object: serde_json::Map<String, Json> =
        values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let cty = serde_json::json!({"value": object, "type": "dynamic"});
    [vec![map], vec![Value::Bin(cty.to_string().into_bytes())]]
}

/// Every problem is one line, not too long, naming an option or a configuration element.
fn assert_problems_are_short_lines(problems: &[String]) {
    for p in problems {
        assert!(!p.contains('\n'), "a problem spans lines: {p:?}");
        assert!(
            p.chars().count() <= LINE_MAX + 10,
            "a problem is too long: {p:.200}"
        );
        let named = options::all().any(|o| p.starts_with(&format!("{}:", o.name)))
            || p.starts_with("unknown configuration key: ")
            || p.starts_with("configuration #");
        assert!(named, "a problem names no option: {p:.200}");
    }
}

proptest! {
    #[test]
    fn prepare_answers_every_value_without_panicking(values in options()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Environment { kubeconfig: None, home: Some(dir.path().to_path_buf()) };
        for configs in both_shapes(&values) {
            if let Err(e) = prepare_with(&configs, &env) {
                assert_problems_are_short_lines(&e.lines());
            }
        }
    }
}
