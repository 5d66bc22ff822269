//! The HCL2 object spec Packer validates templates against, derived from the option table
//! (`options.rs`), and the type of each key for the JSON decoder and its unknown-key check.
use std::collections::BTreeMap;

use packer_wire::hclspec::{CtyType, Spec};

use super::options::{self, Kind};

impl Kind {
    fn cty(self) -> CtyType {
        match self {
            Kind::Str => CtyType::String,
            Kind::Int => CtyType::Number,
            Kind::Bool => CtyType::Bool,
            Kind::StrList => CtyType::List(Box::new(CtyType::String)),
            Kind::StrMap => CtyType::Map(Box::new(CtyType::String)),
            Kind::Bytes => CtyType::List(Box::new(CtyType::Number)),
        }
    }
}

/// The type of a key, or `None` for an unknown key. JSON-only keys (`packer_template_path`)
/// are known: Packer sends them to JSON-template builders outside the HCL2 spec.
pub(crate) fn kind_of(key: &str) -> Option<Kind> {
    options::find(key).map(options::OptionDef::kind)
}

/// The builder's HCL2 object spec: one optional attribute per option of the table (JSON-only
/// keys excepted).
///
/// No attribute is marked required: Packer would then report a missing `class_name` with
/// its own generic message, and only that one; Prepare reports it together with every other
/// problem instead.
pub fn hcl_spec() -> Spec {
    let attrs: BTreeMap<String, Spec> = options::all()
        .filter(|o| !o.json_only)
        .map(|o| {
            (
                o.name.to_string(),
                Spec::Attr {
                    name: o.name.to_string(),
                    ty: o.kind().cty(),
                    required: false,
                },
            )
        })
        .collect();
    Spec::Object(attrs)
}
