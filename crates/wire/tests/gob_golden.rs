//! Golden tests for the gob side: the ConfigSpec Packer 1.6.6's null builder sent (Go's
//! encoder, with its message-splitting quirk) must decode completely; our encoder's output
//! must decode to the same structure, both with our decoder and with the reference Python
//! decoder from the captures.
use packer_wire::gob::{self, GobValue};
use packer_wire::hclspec::{CtyType, GobNames, Spec};
use packer_wire::msgpack::{self, Value};
use serde_json::{json, Value as J};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The bodies of the RPC messages on a captured stream, in order.
fn bodies(file: &str) -> Vec<(Value, Value)> {
    let s = std::fs::read(data_dir().join("out_hcl_packer-builder-null").join(file)).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let (h, n) = msgpack::decode(&s[pos..]).unwrap();
        pos += n;
        let (b, m) = msgpack::decode(&s[pos..]).unwrap();
        pos += m;
        out.push((h, b));
    }
    out
}

fn body_of(file: &str, method: &str) -> Value {
    bodies(file)
        .into_iter()
        .find(|(h, _)| h.get("ServiceMethod").and_then(Value::as_str) == Some(method))
        .map(|(_, b)| b)
        .unwrap()
}

fn captured_spec() -> Vec<u8> {
    body_of("s1_p2c.bin", "Builder.ConfigSpec")
        .get("ConfigSpec")
        .and_then(Value::as_bytes)
        .unwrap()
        .to_vec()
}

/// The cty type of every key, as Packer core itself stated them in the Prepare request.
fn prepare_types() -> serde_json::Map<String, J> {
    let prep = body_of("s1_c2p.bin", "Builder.Prepare");
    let cty = prep.get("Configs").and_then(Value::as_array).unwrap()[1]
        .as_bytes()
        .unwrap()
        .to_vec();
    let j: J = serde_json::from_slice(&cty).unwrap();
    assert_eq!(j["type"][0], "object");
    j["type"][1].as_object().unwrap().clone()
}

fn cty_json(t: &CtyType) -> J {
    match t {
        CtyType::String => json!("string"),
        CtyType::Number => json!("number"),
        CtyType::Bool => json!("bool"),
        CtyType::List(e) => json!(["list", cty_json(e)]),
        CtyType::Map(e) => json!(["map", cty_json(e)]),
    }
}

/// Same view as tests/data/gob_norm.py builds from the Python decoder.
fn norm(v: &GobValue) -> J {
    match v {
        GobValue::Bool(b) => json!(b),
        GobValue::Int(i) => json!(i),
        GobValue::Uint(u) => json!(u),
        GobValue::Float(f) => json!(f),
        GobValue::Complex(a, b) => json!([a, b]),
        GobValue::Bytes(b) => json!(b),
        GobValue::String(s) => json!(s),
        GobValue::NilInterface => J::Null,
        GobValue::Interface { name, value } => json!({"iface": name, "value": norm(value)}),
        GobValue::Struct { type_name, fields } => {
            let f: serde_json::Map<_, _> =
                fields.iter().map(|(k, v)| (k.clone(), norm(v))).collect();
            json!({"struct": type_name, "fields": f})
        }
        GobValue::Slice(a) | GobValue::Array(a) => J::Array(a.iter().map(norm).collect()),
        GobValue::Map(m) => {
            let o: serde_json::Map<_, _> = m
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        GobValue::String(s) => s.clone(),
                        other => norm(other).to_string(),
                    };
                    (key, norm(v))
                })
                .collect();
            json!({"map": o})
        }
        GobValue::Encoded { type_name, bytes } => {
            let inner = gob::decode_all(bytes).unwrap();
            json!({"encoded": type_name, "decoded": inner.iter().map(norm).collect::<Vec<_>>()})
        }
    }
}

fn python_norm(path: &Path) -> Option<J> {
    // Optional cross-check against an independent Python gob decoder (`gobdec.py`, not part of
    // the repository): set GOBDEC_DIR to the directory holding it.
    let dir = std::env::var_os("GOBDEC_DIR")?;
    if !Path::new(&dir).join("gobdec.py").exists() {
        eprintln!("skipping python cross-check: no gobdec.py in GOBDEC_DIR");
        return None;
    }
    let out = Command::new("/usr/bin/python3")
        .arg(data_dir().join("gob_norm.py"))
        .arg(path)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn captured_config_spec_decodes_completely() {
    let bytes = captured_spec();
    assert_eq!(bytes.len(), 12619);
    let values = gob::decode_all(&bytes).unwrap();
    assert_eq!(values.len(), 1);
    let GobValue::Map(entries) = &values[0] else {
        panic!("not a map")
    };
    assert_eq!(entries.len(), 57);
    for (_, v) in entries {
        let GobValue::Interface { name, .. } = v else {
            panic!()
        };
        assert_eq!(name, "*hcldec.AttrSpec");
    }

    let spec = Spec::from_gob(&bytes).unwrap();
    let Spec::Object(m) = &spec else { panic!() };
    assert_eq!(m.len(), 57);
    let ty = |k: &str| match m.get(k) {
        Some(Spec::Attr { name, ty, required }) => {
            assert_eq!(name, k);
            assert!(!required);
            ty.clone()
        }
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(ty("ssh_port"), CtyType::Number);
    assert_eq!(ty("ssh_host"), CtyType::String);
    assert_eq!(ty("packer_debug"), CtyType::Bool);
    assert_eq!(
        ty("packer_user_variables"),
        CtyType::Map(Box::new(CtyType::String))
    );
    assert_eq!(
        ty("packer_sensitive_variables"),
        CtyType::List(Box::new(CtyType::String))
    );

    // Every key's type equals what core put in the Prepare request's cty object type.
    let types = prepare_types();
    assert_eq!(types.len(), 57);
    for (k, s) in m {
        let Spec::Attr { ty, .. } = s else { panic!() };
        assert_eq!(types.get(k), Some(&cty_json(ty)), "{k}");
    }
}

#[test]
fn captured_spec_accepts_byte_by_byte_feeding() {
    let bytes = captured_spec();
    let mut d = gob::Decoder::new();
    let mut got = None;
    for chunk in bytes.chunks(97) {
        d.push(chunk);
        if let Some(v) = d.next_value().unwrap() {
            got = Some(v);
        }
    }
    assert!(d.is_drained());
    assert_eq!(got, Some(gob::decode_all(&bytes).unwrap().remove(0)));
}

#[test]
fn our_encoding_has_the_captured_structure() {
    let captured = captured_spec();
    let spec = Spec::from_gob(&captured).unwrap();
    let ours = spec.to_gob();
    assert_eq!(Spec::from_gob(&ours).unwrap(), spec);

    let n_captured = J::Array(
        gob::decode_all(&captured)
            .unwrap()
            .iter()
            .map(norm)
            .collect(),
    );
    let n_ours = J::Array(gob::decode_all(&ours).unwrap().iter().map(norm).collect());
    assert_eq!(n_ours, n_captured);

    // The reference decoder agrees with ours on both streams.
    let dir = std::env::temp_dir().join(format!("packer-wire-gob-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pc, po) = (dir.join("captured.gob"), dir.join("ours.gob"));
    std::fs::write(&pc, &captured).unwrap();
    std::fs::write(&po, &ours).unwrap();
    if let (Some(py_c), Some(py_o)) = (python_norm(&pc), python_norm(&po)) {
        assert_eq!(py_c, n_captured);
        assert_eq!(py_o, n_captured);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nested_blocks_survive_both_decoders() {
    use std::collections::BTreeMap;
    let mut inner = BTreeMap::new();
    inner.insert(
        "name".to_string(),
        Spec::Attr {
            name: "name".into(),
            ty: CtyType::String,
            required: true,
        },
    );
    let mut root = BTreeMap::new();
    root.insert(
        "disk".to_string(),
        Spec::BlockList {
            type_name: "disk".into(),
            nested: Box::new(Spec::Object(inner.clone())),
            min_items: 1,
            max_items: 4,
        },
    );
    root.insert(
        "boot".to_string(),
        Spec::Block {
            type_name: "boot".into(),
            nested: Box::new(Spec::Object(inner)),
            required: false,
        },
    );
    let spec = Spec::Object(root);
    let ours = spec.to_gob();
    assert_eq!(Spec::from_gob(&ours).unwrap(), spec);
    let n = J::Array(gob::decode_all(&ours).unwrap().iter().map(norm).collect());
    assert_eq!(n[0]["map"]["boot"]["iface"], json!("*hcldec.BlockSpec"));
    assert_eq!(
        n[0]["map"]["boot"]["value"]["fields"]["Nested"]["iface"],
        json!("github.com/hashicorp/packer/vendor/github.com/hashicorp/hcl/v2/hcldec.ObjectSpec")
    );
    let module = spec.to_gob_with(&GobNames::module());
    let nm = J::Array(gob::decode_all(&module).unwrap().iter().map(norm).collect());
    assert_eq!(
        nm[0]["map"]["boot"]["value"]["fields"]["Nested"]["iface"],
        json!("github.com/hashicorp/hcl/v2/hcldec.ObjectSpec")
    );
    assert_eq!(Spec::from_gob(&module).unwrap(), spec);
    assert_eq!(n[0]["map"]["disk"]["value"]["fields"]["MaxItems"], json!(4));
    let dir = std::env::temp_dir().join(format!("packer-wire-gob-n-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("nested.gob");
    std::fs::write(&p, &ours).unwrap();
    if let Some(py) = python_norm(&p) {
        assert_eq!(py, n);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// ConfigSpecs of builders built into Debian's Packer 1.6.6 (fetched with
/// tests/data/fetch_builtin_spec.py): Go's encoding of blocks, block lists and nested object
/// specs, with the vendored package path in the ObjectSpec name.
#[test]
fn builtin_builder_specs_with_blocks() {
    for (file, blocks, lists) in [("amazon-ebs.gob", 8, 12), ("vsphere-iso.gob", 2, 2)] {
        let go = std::fs::read(data_dir().join("builtin_specs").join(file)).unwrap();
        let spec = Spec::from_gob(&go).unwrap();
        let (mut nb, mut nl) = (0, 0);
        fn walk(s: &Spec, nb: &mut usize, nl: &mut usize) {
            match s {
                Spec::Object(m) => m.values().for_each(|v| walk(v, nb, nl)),
                Spec::Block { nested, .. } => {
                    *nb += 1;
                    walk(nested, nb, nl)
                }
                Spec::BlockList { nested, .. } => {
                    *nl += 1;
                    walk(nested, nb, nl)
                }
                Spec::Attr { .. } => {}
            }
        }
        walk(&spec, &mut nb, &mut nl);
        assert_eq!((nb, nl), (blocks, lists), "{file}");

        // Our re-encoding has the same structure as Go's, for both decoders.
        let ours = spec.to_gob();
        assert_eq!(Spec::from_gob(&ours).unwrap(), spec);
        let n_go = J::Array(gob::decode_all(&go).unwrap().iter().map(norm).collect());
        let n_ours = J::Array(gob::decode_all(&ours).unwrap().iter().map(norm).collect());
        assert_eq!(n_ours, n_go, "{file}");
        let dir = std::env::temp_dir().join(format!("packer-wire-gob-b-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (pg, po) = (dir.join("go.gob"), dir.join("ours.gob"));
        std::fs::write(&pg, &go).unwrap();
        std::fs::write(&po, &ours).unwrap();
        if let (Some(py_go), Some(py_ours)) = (python_norm(&pg), python_norm(&po)) {
            assert_eq!(py_go, n_go, "{file}");
            assert_eq!(py_ours, n_go, "{file}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let go = std::fs::read(data_dir().join("builtin_specs/vsphere-iso.gob")).unwrap();
    let Spec::Object(m) = Spec::from_gob(&go).unwrap() else {
        panic!()
    };
    match m.get("network_adapters") {
        Some(Spec::BlockList {
            type_name, nested, ..
        }) => {
            assert_eq!(type_name, "network_adapters");
            let Spec::Object(inner) = &**nested else {
                panic!()
            };
            assert!(matches!(
                inner.get("network"),
                Some(Spec::Attr {
                    ty: CtyType::String,
                    ..
                })
            ));
        }
        other => panic!("network_adapters: {other:?}"),
    }
    assert!(matches!(m.get("export"), Some(Spec::Block { .. })));
}
