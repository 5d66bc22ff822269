//! Writes our gob encodings to files for manual inspection: `cargo run --example wire_dump DIR`.
use packer_wire::hclspec::{CtyType, Spec};
use std::collections::BTreeMap;

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    std::fs::write(format!("{dir}/cty_string.gob"), CtyType::String.to_gob())?;
    std::fs::write(
        format!("{dir}/cty_list_string.gob"),
        CtyType::List(Box::new(CtyType::String)).to_gob(),
    )?;
    let mut m = BTreeMap::new();
    m.insert(
        "ssh_host".to_string(),
        Spec::Attr {
            name: "ssh_host".into(),
            ty: CtyType::String,
            required: false,
        },
    );
    std::fs::write(format!("{dir}/spec_ssh_host.gob"), Spec::Object(m).to_gob())?;
    Ok(())
}
