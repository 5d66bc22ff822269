//! Writes sample gob/protobuf encodings to files, for manual inspection and for the
//! Packer interop check in tests/data/fake_plugin.py:
//! `cargo run -p packer-wire --example wire_dump DIR`.
use packer_wire::hclspec::{CtyType, GobNames, Spec};
use std::collections::BTreeMap;

fn attr(name: &str, ty: CtyType, required: bool) -> Spec {
    Spec::Attr {
        name: name.into(),
        ty,
        required,
    }
}

fn sample() -> Spec {
    let mut inner = BTreeMap::new();
    inner.insert("path".to_string(), attr("path", CtyType::String, true));
    inner.insert("size".to_string(), attr("size", CtyType::Number, false));
    let mut root = BTreeMap::new();
    for (k, ty) in [
        ("ssh_host", CtyType::String),
        ("ssh_port", CtyType::Number),
        ("debug", CtyType::Bool),
        ("tags", CtyType::Map(Box::new(CtyType::String))),
        ("nets", CtyType::List(Box::new(CtyType::String))),
        (
            "matrix",
            CtyType::List(Box::new(CtyType::List(Box::new(CtyType::Number)))),
        ),
    ] {
        root.insert(k.to_string(), attr(k, ty, false));
    }
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
            max_items: 3,
        },
    );
    Spec::Object(root)
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    std::fs::write(format!("{dir}/cty_string.gob"), CtyType::String.to_gob())?;
    std::fs::write(
        format!("{dir}/cty_list_string.gob"),
        CtyType::List(Box::new(CtyType::String)).to_gob(),
    )?;
    let s = sample();
    std::fs::write(format!("{dir}/sample_vendored.gob"), s.to_gob())?;
    std::fs::write(
        format!("{dir}/sample_module.gob"),
        s.to_gob_with(&GobNames::module()),
    )?;
    std::fs::write(format!("{dir}/sample.pb"), s.to_protobuf())?;
    Ok(())
}
