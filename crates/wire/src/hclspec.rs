//! The hcldec object spec a builder returns from `Builder.ConfigSpec`, with its two wire
//! encodings: Go gob (Packer 1.6.6, and newer Packer without `--protobuf`) and protobuf
//! (plugin protocol v2).
use std::collections::BTreeMap;
use thiserror::Error;

use crate::gob::{self, GobError, GobValue, StreamEncoder, StructBody, WireType};

pub mod proto;

/// A cty type, as far as Packer's specs use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtyType {
    String,
    Number,
    Bool,
    List(Box<CtyType>),
    Map(Box<CtyType>),
}

/// One hcldec spec node.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// `map[string]Spec`; the root of every builder's spec.
    Object(BTreeMap<String, Spec>),
    Attr {
        name: String,
        ty: CtyType,
        required: bool,
    },
    Block {
        type_name: String,
        nested: Box<Spec>,
        required: bool,
    },
    BlockList {
        type_name: String,
        nested: Box<Spec>,
        min_items: i64,
        max_items: i64,
    },
}

/// Why a spec could not be decoded.
#[derive(Debug, Error)]
pub enum SpecError {
    #[error("decode hcl spec from gob: {0}")]
    Gob(#[from] GobError),
    #[error("decode hcl spec from protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Well-formed input whose content is not a spec we represent.
    #[error("decode hcl spec: {0}")]
    Shape(String),
}

fn shape(msg: impl Into<String>) -> SpecError {
    SpecError::Shape(msg.into())
}

// Registered gob names (Go's `gob.Register` naming: pointer registrations get
// `*<short pkg>.<Type>`, named non-pointer types get the full import path).
//
// `hcldec.ObjectSpec` is a named map type, so its name carries the *package path* as the Go
// binary of Packer core sees it, and that depends on how core was built:
// - Debian's Packer 1.6.6 (GOPATH build with vendoring, the one installed here) registers
//   [`GOB_OBJECT_SPEC_VENDORED`] (observed in ConfigSpecs of its built-in builders);
// - module builds (upstream release binaries, Packer >= 1.7) register [`GOB_OBJECT_SPEC_MODULE`].
// The name only appears when an ObjectSpec is nested in a block, and core refuses names
// it has not registered, so the encoder takes it as a parameter ([`GobNames`]).
pub const GOB_OBJECT_SPEC_VENDORED: &str =
    "github.com/hashicorp/packer/vendor/github.com/hashicorp/hcl/v2/hcldec.ObjectSpec";
pub const GOB_OBJECT_SPEC_MODULE: &str = "github.com/hashicorp/hcl/v2/hcldec.ObjectSpec";
pub const GOB_ATTR_SPEC: &str = "*hcldec.AttrSpec";
pub const GOB_BLOCK_SPEC: &str = "*hcldec.BlockSpec";
pub const GOB_BLOCK_LIST_SPEC: &str = "*hcldec.BlockListSpec";
pub const GOB_CTY_PRIMITIVE: &str = "github.com/zclconf/go-cty/cty.primitiveType";
pub const GOB_CTY_LIST: &str = "github.com/zclconf/go-cty/cty.typeList";
pub const GOB_CTY_MAP: &str = "github.com/zclconf/go-cty/cty.typeMap";

/// Deepest spec / type nesting accepted when decoding.
const MAX_SPEC_DEPTH: usize = 32;

impl CtyType {
    /// The `cty.Type.GobEncode` bytes: a complete gob stream of
    /// `gobType{Version int; Impl interface{}}` (Version 0, so it is left out).
    pub fn to_gob(&self) -> Vec<u8> {
        let mut enc = StreamEncoder::new();
        let gob_type = enc.define(&WireType::Struct {
            name: "gobType".into(),
            fields: vec![
                ("Version".into(), gob::ids::INT),
                ("Impl".into(), gob::ids::INTERFACE),
            ],
        });
        let (name, impl_id, body) = match self {
            CtyType::String | CtyType::Number | CtyType::Bool => {
                let id = enc.define(&WireType::Struct {
                    name: "primitiveType".into(),
                    fields: vec![("Kind".into(), gob::ids::UINT)],
                });
                let mut b = StructBody::new();
                b.uint(0, u64::from(self.primitive_kind()));
                (GOB_CTY_PRIMITIVE, id, b.finish())
            }
            CtyType::List(elem) | CtyType::Map(elem) => {
                let (iface, struct_name) = match self {
                    CtyType::List(_) => (GOB_CTY_LIST, "typeList"),
                    _ => (GOB_CTY_MAP, "typeMap"),
                };
                let id = enc.reserve_id();
                let type_id = enc.reserve_id();
                enc.define_as(
                    id,
                    &WireType::Struct {
                        name: struct_name.into(),
                        fields: vec![("ElementTypeT".into(), type_id)],
                    },
                );
                enc.define_as(
                    type_id,
                    &WireType::GobEncoder {
                        name: "Type".into(),
                    },
                );
                let mut b = StructBody::new();
                b.bytes(0, &elem.to_gob());
                (iface, id, b.finish())
            }
        };
        let mut outer = StructBody::new();
        gob::write_interface(outer.field(1), name, impl_id, true, &body);
        enc.value(gob_type, true, &outer.finish());
        enc.finish()
    }

    /// Kind byte of go-cty's primitiveType; only meaningful for primitive types.
    fn primitive_kind(&self) -> u8 {
        match self {
            CtyType::String => b'S',
            CtyType::Number => b'N',
            _ => b'B',
        }
    }

    /// Parses `cty.Type.GobEncode` bytes.
    pub fn from_gob(bytes: &[u8]) -> Result<CtyType, SpecError> {
        Self::from_gob_depth(bytes, 0)
    }

    fn from_gob_depth(bytes: &[u8], depth: usize) -> Result<CtyType, SpecError> {
        if depth > MAX_SPEC_DEPTH {
            return Err(shape("cty type nested too deeply"));
        }
        let values = gob::decode_all(bytes)?;
        let [gt] = values.as_slice() else {
            return Err(shape(format!(
                "cty.Type gob holds {} values, want 1",
                values.len()
            )));
        };
        match gt.field("Version") {
            None | Some(GobValue::Int(0)) => {}
            Some(v) => return Err(shape(format!("unsupported cty.Type gob version {v:?}"))),
        }
        let Some(GobValue::Interface { name, value }) = gt.field("Impl") else {
            return Err(shape("cty.Type gob without Impl"));
        };
        match name.as_str() {
            GOB_CTY_PRIMITIVE => match value.field("Kind") {
                Some(GobValue::Uint(83)) => Ok(CtyType::String),
                Some(GobValue::Uint(78)) => Ok(CtyType::Number),
                Some(GobValue::Uint(66)) => Ok(CtyType::Bool),
                other => Err(shape(format!("unknown cty primitive kind {other:?}"))),
            },
            GOB_CTY_LIST | GOB_CTY_MAP => {
                let Some(GobValue::Encoded { bytes, .. }) = value.field("ElementTypeT") else {
                    return Err(shape(format!("{name} without ElementTypeT")));
                };
                let elem = Box::new(Self::from_gob_depth(bytes, depth + 1)?);
                Ok(if name == GOB_CTY_LIST {
                    CtyType::List(elem)
                } else {
                    CtyType::Map(elem)
                })
            }
            other => Err(shape(format!(
                "unsupported cty type implementation {other}"
            ))),
        }
    }
}

/// Registered gob names that depend on how Packer core was built (see
/// [`GOB_OBJECT_SPEC_VENDORED`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobNames {
    /// Interface name of a nested `hcldec.ObjectSpec` (inside a block spec).
    pub object_spec: String,
}

impl GobNames {
    /// Debian's Packer 1.6.6 (vendored GOPATH build), the Packer installed here.
    pub fn vendored() -> Self {
        GobNames {
            object_spec: GOB_OBJECT_SPEC_VENDORED.to_owned(),
        }
    }
    /// Packer built in module mode (upstream release binaries).
    pub fn module() -> Self {
        GobNames {
            object_spec: GOB_OBJECT_SPEC_MODULE.to_owned(),
        }
    }
}

impl Default for GobNames {
    /// [`GobNames::vendored`]: what the Packer 1.6.6 used in this project's tests expects.
    fn default() -> Self {
        Self::vendored()
    }
}

/// Whether a gob interface name denotes `hcldec.ObjectSpec`, whatever the package path.
fn is_object_spec_name(name: &str) -> bool {
    name == "hcldec.ObjectSpec" || name.ends_with("/hcldec.ObjectSpec")
}

/// Type ids of the spec types on one gob stream, defined on first use.
struct SpecTypes<'n> {
    names: &'n GobNames,
    object: i64,
    attr: Option<i64>,
    block: Option<i64>,
    block_list: Option<i64>,
}

impl Spec {
    /// The gob bytes of this spec as `hcldec.ObjectSpec` (what Packer's `ConfigSpec`
    /// decoder expects when the root is an `Object`): all type definitions first, then one
    /// value message.
    ///
    /// Uses [`GobNames::default`]; see [`Spec::to_gob_with`] for other Packer builds.
    pub fn to_gob(&self) -> Vec<u8> {
        self.to_gob_with(&GobNames::default())
    }

    /// [`Spec::to_gob`] with explicit build-dependent gob names.
    pub fn to_gob_with(&self, names: &GobNames) -> Vec<u8> {
        let mut enc = StreamEncoder::new();
        // Mirror Go's order: ObjectSpec first, then the specs in the order they occur.
        let object = enc.define(&WireType::Map {
            name: "ObjectSpec".into(),
            key: gob::ids::STRING,
            elem: gob::ids::INTERFACE,
        });
        let mut types = SpecTypes {
            names,
            object,
            attr: None,
            block: None,
            block_list: None,
        };
        self.define_types(&mut enc, &mut types);
        let (id, is_struct, body) = self.gob_body(&types);
        enc.value(id, is_struct, &body);
        enc.finish()
    }

    fn define_types(&self, enc: &mut StreamEncoder, t: &mut SpecTypes<'_>) {
        match self {
            Spec::Object(m) => {
                for s in m.values() {
                    s.define_types(enc, t);
                }
            }
            Spec::Attr { .. } => {
                if t.attr.is_none() {
                    let attr = enc.reserve_id();
                    let ty = enc.reserve_id();
                    enc.define_as(
                        attr,
                        &WireType::Struct {
                            name: "AttrSpec".into(),
                            fields: vec![
                                ("Name".into(), gob::ids::STRING),
                                ("Type".into(), ty),
                                ("Required".into(), gob::ids::BOOL),
                            ],
                        },
                    );
                    enc.define_as(
                        ty,
                        &WireType::GobEncoder {
                            name: "Type".into(),
                        },
                    );
                    t.attr = Some(attr);
                }
            }
            Spec::Block { nested, .. } => {
                if t.block.is_none() {
                    t.block = Some(enc.define(&WireType::Struct {
                        name: "BlockSpec".into(),
                        fields: vec![
                            ("TypeName".into(), gob::ids::STRING),
                            ("Nested".into(), gob::ids::INTERFACE),
                            ("Required".into(), gob::ids::BOOL),
                        ],
                    }));
                }
                nested.define_types(enc, t);
            }
            Spec::BlockList { nested, .. } => {
                if t.block_list.is_none() {
                    t.block_list = Some(enc.define(&WireType::Struct {
                        name: "BlockListSpec".into(),
                        fields: vec![
                            ("TypeName".into(), gob::ids::STRING),
                            ("Nested".into(), gob::ids::INTERFACE),
                            ("MinItems".into(), gob::ids::INT),
                            ("MaxItems".into(), gob::ids::INT),
                        ],
                    }));
                }
                nested.define_types(enc, t);
            }
        }
    }

    /// (type id, is struct, value encoding without singleton prefix). `define_types` has
    /// run over this spec, so every id it needs exists; `unwrap_or` keeps the code total.
    fn gob_body(&self, t: &SpecTypes<'_>) -> (i64, bool, Vec<u8>) {
        match self {
            Spec::Object(m) => {
                let mut b = Vec::new();
                gob::write_uint(&mut b, m.len() as u64);
                for (k, s) in m {
                    gob::write_string(&mut b, k);
                    s.write_interface(&mut b, t);
                }
                (t.object, false, b)
            }
            Spec::Attr { name, ty, required } => {
                let mut b = StructBody::new();
                b.string(0, name);
                b.bytes(1, &ty.to_gob());
                b.bool(2, *required);
                (t.attr.unwrap_or_default(), true, b.finish())
            }
            Spec::Block {
                type_name,
                nested,
                required,
            } => {
                let mut b = StructBody::new();
                b.string(0, type_name);
                nested.write_interface(b.field(1), t);
                b.bool(2, *required);
                (t.block.unwrap_or_default(), true, b.finish())
            }
            Spec::BlockList {
                type_name,
                nested,
                min_items,
                max_items,
            } => {
                let mut b = StructBody::new();
                b.string(0, type_name);
                nested.write_interface(b.field(1), t);
                b.int(2, *min_items);
                b.int(3, *max_items);
                (t.block_list.unwrap_or_default(), true, b.finish())
            }
        }
    }

    fn gob_name<'n>(&self, names: &'n GobNames) -> &'n str {
        match self {
            Spec::Object(_) => &names.object_spec,
            Spec::Attr { .. } => GOB_ATTR_SPEC,
            Spec::Block { .. } => GOB_BLOCK_SPEC,
            Spec::BlockList { .. } => GOB_BLOCK_LIST_SPEC,
        }
    }

    fn write_interface(&self, out: &mut Vec<u8>, t: &SpecTypes<'_>) {
        let (id, is_struct, body) = self.gob_body(t);
        gob::write_interface(out, self.gob_name(t.names), id, is_struct, &body);
    }

    /// Parses a gob `hcldec.ObjectSpec` stream (as Go's builders send it). Nested object
    /// specs are recognised under any package path.
    pub fn from_gob(bytes: &[u8]) -> Result<Spec, SpecError> {
        let values = gob::decode_all(bytes)?;
        let [root] = values.as_slice() else {
            return Err(shape(format!(
                "ConfigSpec gob holds {} values, want 1",
                values.len()
            )));
        };
        Self::object_from_gob(root, 0)
    }

    fn object_from_gob(v: &GobValue, depth: usize) -> Result<Spec, SpecError> {
        let GobValue::Map(entries) = v else {
            return Err(shape("ObjectSpec is not a map"));
        };
        let mut out = BTreeMap::new();
        for (k, s) in entries {
            let GobValue::String(key) = k else {
                return Err(shape("ObjectSpec key is not a string"));
            };
            out.insert(key.clone(), Self::from_gob_value(s, depth + 1)?);
        }
        Ok(Spec::Object(out))
    }

    fn from_gob_value(v: &GobValue, depth: usize) -> Result<Spec, SpecError> {
        if depth > MAX_SPEC_DEPTH {
            return Err(shape("spec nested too deeply"));
        }
        let GobValue::Interface { name, value } = v else {
            return Err(shape("spec is not an interface value"));
        };
        let string = |field: &str| -> String {
            value
                .field(field)
                .and_then(GobValue::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let boolean = |field: &str| matches!(value.field(field), Some(GobValue::Bool(true)));
        let int = |field: &str| match value.field(field) {
            Some(GobValue::Int(i)) => *i,
            _ => 0,
        };
        let nested = || -> Result<Box<Spec>, SpecError> {
            match value.field("Nested") {
                Some(n) => Ok(Box::new(Self::from_gob_value(n, depth + 1)?)),
                None => Err(shape(format!("{name} without Nested"))),
            }
        };
        if is_object_spec_name(name) {
            return Self::object_from_gob(value, depth);
        }
        match name.as_str() {
            GOB_ATTR_SPEC => {
                let Some(GobValue::Encoded { bytes, .. }) = value.field("Type") else {
                    return Err(shape(format!("AttrSpec {} without Type", string("Name"))));
                };
                Ok(Spec::Attr {
                    name: string("Name"),
                    ty: CtyType::from_gob(bytes)?,
                    required: boolean("Required"),
                })
            }
            GOB_BLOCK_SPEC => Ok(Spec::Block {
                type_name: string("TypeName"),
                nested: nested()?,
                required: boolean("Required"),
            }),
            GOB_BLOCK_LIST_SPEC => Ok(Spec::BlockList {
                type_name: string("TypeName"),
                nested: nested()?,
                min_items: int("MinItems"),
                max_items: int("MaxItems"),
            }),
            other => Err(shape(format!("unsupported spec type {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Spec {
        let attr = |n: &str, ty: CtyType, required: bool| Spec::Attr {
            name: n.into(),
            ty,
            required,
        };
        let mut inner = BTreeMap::new();
        inner.insert("path".to_string(), attr("path", CtyType::String, true));
        inner.insert(
            "labels".to_string(),
            attr("labels", CtyType::Map(Box::new(CtyType::String)), false),
        );
        let mut root = BTreeMap::new();
        root.insert(
            "ssh_port".to_string(),
            attr("ssh_port", CtyType::Number, false),
        );
        root.insert("debug".to_string(), attr("debug", CtyType::Bool, true));
        root.insert(
            "nets".to_string(),
            attr(
                "nets",
                CtyType::List(Box::new(CtyType::List(Box::new(CtyType::Number)))),
                false,
            ),
        );
        root.insert(
            "disk".to_string(),
            Spec::BlockList {
                type_name: "disk".into(),
                nested: Box::new(Spec::Object(inner.clone())),
                min_items: 0,
                max_items: 3,
            },
        );
        root.insert(
            "boot".to_string(),
            Spec::Block {
                type_name: "boot".into(),
                nested: Box::new(Spec::Object(inner)),
                required: true,
            },
        );
        Spec::Object(root)
    }

    #[test]
    fn cty_types_roundtrip() {
        for t in [
            CtyType::String,
            CtyType::Number,
            CtyType::Bool,
            CtyType::List(Box::new(CtyType::String)),
            CtyType::Map(Box::new(CtyType::List(Box::new(CtyType::Bool)))),
        ] {
            assert_eq!(CtyType::from_gob(&t.to_gob()).unwrap(), t);
        }
    }

    #[test]
    fn spec_roundtrips_through_gob() {
        let s = sample();
        assert_eq!(Spec::from_gob(&s.to_gob()).unwrap(), s);
        let empty = Spec::Object(BTreeMap::new());
        assert_eq!(Spec::from_gob(&empty.to_gob()).unwrap(), empty);
    }
}
