//! Interop with the real Packer 1.6.6 at /usr/bin/packer: a stand-in plugin
//! (tests/data/fake_plugin.py) returns *our* gob ConfigSpec; Packer core decodes it with
//! Go's gob, decodes the HCL template with it and sends the result to Prepare, which the
//! stand-in records. Skipped (with a message) when packer or python3-msgpack is missing.
use packer_wire::hclspec::{CtyType, GobNames, Spec};
use serde_json::{json, Value as J};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKER: &str = "/usr/bin/packer";
const PYTHON: &str = "/usr/bin/python3";

fn available() -> bool {
    let ok = Path::new(PACKER).exists()
        && Command::new(PYTHON)
            .args(["-c", "import msgpack"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: needs {PACKER} and {PYTHON} with msgpack");
    }
    ok
}

fn attr(name: &str, ty: CtyType, required: bool) -> Spec {
    Spec::Attr {
        name: name.into(),
        ty,
        required,
    }
}

fn spec() -> Spec {
    let mut inner = BTreeMap::new();
    inner.insert("path".to_string(), attr("path", CtyType::String, true));
    inner.insert("size".to_string(), attr("size", CtyType::Number, false));
    let mut root = BTreeMap::new();
    root.insert(
        "ssh_host".to_string(),
        attr("ssh_host", CtyType::String, true),
    );
    root.insert(
        "ssh_port".to_string(),
        attr("ssh_port", CtyType::Number, false),
    );
    root.insert("debug".to_string(), attr("debug", CtyType::Bool, false));
    root.insert(
        "tags".to_string(),
        attr("tags", CtyType::Map(Box::new(CtyType::String)), false),
    );
    root.insert(
        "matrix".to_string(),
        attr(
            "matrix",
            CtyType::List(Box::new(CtyType::List(Box::new(CtyType::Number)))),
            false,
        ),
    );
    root.insert(
        "boot".to_string(),
        Spec::Block {
            type_name: "boot".into(),
            nested: Box::new(Spec::Object(inner.clone())),
            required: false,
        },
    );
    root.insert(
        "disk".to_string(),
        Spec::BlockList {
            type_name: "disk".into(),
            nested: Box::new(Spec::Object(inner)),
            min_items: 1,
            max_items: 2,
        },
    );
    Spec::Object(root)
}

/// Runs `packer build` on `template` with the stand-in plugin serving `gob`; returns
/// (combined output, recorded Prepare configs if Prepare was reached).
fn build(gob: &[u8], template: &str) -> (String, Option<J>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plugin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fake_plugin.py");
    std::os::unix::fs::symlink(&plugin, d.join("packer-builder-fakewire")).unwrap();
    std::fs::write(d.join("spec.gob"), gob).unwrap();
    std::fs::write(d.join("t.pkr.hcl"), template).unwrap();
    let mut child = Command::new(PACKER)
        .args(["build", "t.pkr.hcl"])
        .current_dir(d)
        .env("FAKE_SPEC", d.join("spec.gob"))
        .env("FAKE_OUT", d.join("prepare.json"))
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CONFIG_DIR", d)
        .env("HOME", d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("packer build did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let prepared = std::fs::read(d.join("prepare.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (text, prepared)
}

const TEMPLATE: &str = r#"
source "fakewire" "x" {
  ssh_host = "h"
  ssh_port = 22
  debug    = true
  tags     = { a = "b" }
  matrix   = [[1, 2], [3]]
  boot {
    path = "/boot"
  }
  disk {
    path = "/d1"
    size = 10
  }
}
build {
  sources = ["source.fakewire.x"]
}
"#;

#[test]
fn packer_1_6_6_decodes_our_gob_spec() {
    if !available() {
        return;
    }
    let (out, prepared) = build(&spec().to_gob(), TEMPLATE);
    let configs = prepared.unwrap_or_else(|| panic!("Prepare not reached:\n{out}"));
    let v = &configs[1]["value"];
    assert_eq!(v["ssh_host"], json!("h"));
    assert_eq!(v["ssh_port"], json!(22));
    assert_eq!(v["debug"], json!(true));
    assert_eq!(v["tags"], json!({"a": "b"}));
    assert_eq!(v["matrix"], json!([[1, 2], [3]]));
    assert_eq!(v["boot"], json!({"path": "/boot", "size": null}));
    assert_eq!(v["disk"], json!([{"path": "/d1", "size": 10}]));
    assert_eq!(configs[1]["type"][1]["tags"], json!(["map", "string"]));
    assert!(out.contains("fakewire: stop after Prepare"), "{out}");
}

#[test]
fn packer_1_6_6_enforces_our_block_limits_and_required_attrs() {
    if !available() {
        return;
    }
    let gob = spec().to_gob();
    let too_many = TEMPLATE.replace(
        "  disk {\n    path = \"/d1\"",
        "  disk {\n    path = \"/a\"\n  }\n  disk {\n    path = \"/b\"\n  }\n  disk {\n    path = \"/d1\"",
    );
    let (out, prepared) = build(&gob, &too_many);
    assert!(prepared.is_none());
    assert!(
        out.contains("No more than 2 \"disk\" blocks are allowed"),
        "{out}"
    );
    let none = TEMPLATE.replace("  disk {\n    path = \"/d1\"\n    size = 10\n  }\n", "");
    let (out, _) = build(&gob, &none);
    assert!(
        out.contains("At least 1 \"disk\" blocks are required"),
        "{out}"
    );
    let no_host = TEMPLATE.replace("  ssh_host = \"h\"\n", "");
    let (out, _) = build(&gob, &no_host);
    assert!(out.contains("Missing required argument"), "{out}");
}

#[test]
fn packer_1_6_6_rejects_the_module_path_object_spec_name() {
    if !available() {
        return;
    }
    let (out, prepared) = build(&spec().to_gob_with(&GobNames::module()), TEMPLATE);
    assert!(prepared.is_none());
    assert!(out.contains("name not registered for interface"), "{out}");
}
