//! Protobuf form of the spec (plugin protocol v2), hand-written to match
//! `proto/hcl_spec.proto` at the repository root. No build script: the messages are small
//! and stable, and a test below checks every field name and number against the .proto.
use std::collections::BTreeMap;

use prost::Message;

use super::{shape, CtyType, Spec as HclSpec, SpecError};

#[derive(Clone, PartialEq, Message)]
pub struct Spec {
    #[prost(oneof = "spec::Block", tags = "1, 2, 3, 4")]
    pub block: Option<spec::Block>,
}

pub mod spec {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Block {
        #[prost(message, tag = "1")]
        Object(super::Object),
        #[prost(message, tag = "2")]
        Attr(super::Attr),
        #[prost(message, tag = "3")]
        BlockValue(Box<super::Block>),
        #[prost(message, tag = "4")]
        BlockList(Box<super::BlockList>),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct Object {
    /// Sorted map so that the encoding is deterministic.
    #[prost(btree_map = "string, message", tag = "1")]
    pub attributes: BTreeMap<String, Spec>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Attr {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<CtyTypeMsg>,
    #[prost(bool, tag = "3")]
    pub required: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Block {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(bool, tag = "2")]
    pub required: bool,
    #[prost(message, optional, boxed, tag = "3")]
    pub nested: Option<Box<Spec>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct BlockList {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, boxed, tag = "2")]
    pub nested: Option<Box<Spec>>,
}

/// The .proto's `CtyType` (renamed here to avoid a clash with [`super::CtyType`]).
#[derive(Clone, PartialEq, Message)]
pub struct CtyTypeMsg {
    #[prost(oneof = "cty_type::TypeDef", tags = "1, 2, 3")]
    pub type_def: Option<cty_type::TypeDef>,
}

pub mod cty_type {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum TypeDef {
        #[prost(message, tag = "1")]
        Primitive(super::CtyPrimitive),
        #[prost(message, tag = "2")]
        List(Box<super::CtyList>),
        #[prost(message, tag = "3")]
        Map(Box<super::CtyMap>),
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct CtyPrimitive {
    #[prost(string, tag = "1")]
    pub type_string: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct CtyList {
    #[prost(message, optional, boxed, tag = "1")]
    pub element_type: Option<Box<CtyTypeMsg>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct CtyMap {
    #[prost(message, optional, boxed, tag = "1")]
    pub element_type: Option<Box<CtyTypeMsg>>,
}

// ---------------------------------------------------------------------------------------------
// Conversions

impl From<&CtyType> for CtyTypeMsg {
    fn from(t: &CtyType) -> Self {
        use cty_type::TypeDef;
        let prim = |s: &str| {
            TypeDef::Primitive(CtyPrimitive {
                type_string: s.to_owned(),
            })
        };
        let def = match t {
            CtyType::String => prim("cty.String"),
            CtyType::Number => prim("cty.Number"),
            CtyType::Bool => prim("cty.Bool"),
            CtyType::List(e) => TypeDef::List(Box::new(CtyList {
                element_type: Some(Box::new(CtyTypeMsg::from(&**e))),
            })),
            CtyType::Map(e) => TypeDef::Map(Box::new(CtyMap {
                element_type: Some(Box::new(CtyTypeMsg::from(&**e))),
            })),
        };
        CtyTypeMsg {
            type_def: Some(def),
        }
    }
}

impl TryFrom<&CtyTypeMsg> for CtyType {
    type Error = SpecError;
    fn try_from(m: &CtyTypeMsg) -> Result<Self, SpecError> {
        use cty_type::TypeDef;
        let elem = |e: &Option<Box<CtyTypeMsg>>| -> Result<Box<CtyType>, SpecError> {
            match e {
                Some(e) => Ok(Box::new(CtyType::try_from(&**e)?)),
                None => Err(shape("collection cty type without element type")),
            }
        };
        match &m.type_def {
            Some(TypeDef::Primitive(p)) => match p.type_string.as_str() {
                "cty.String" => Ok(CtyType::String),
                "cty.Number" => Ok(CtyType::Number),
                "cty.Bool" => Ok(CtyType::Bool),
                other => Err(shape(format!("unknown cty primitive {other:?}"))),
            },
            Some(TypeDef::List(l)) => Ok(CtyType::List(elem(&l.element_type)?)),
            Some(TypeDef::Map(l)) => Ok(CtyType::Map(elem(&l.element_type)?)),
            None => Err(shape("empty cty type")),
        }
    }
}

impl From<&HclSpec> for Spec {
    fn from(s: &HclSpec) -> Self {
        use spec::Block as B;
        let block = match s {
            HclSpec::Object(m) => B::Object(Object {
                attributes: m.iter().map(|(k, v)| (k.clone(), Spec::from(v))).collect(),
            }),
            HclSpec::Attr { name, ty, required } => B::Attr(Attr {
                name: name.clone(),
                r#type: Some(CtyTypeMsg::from(ty)),
                required: *required,
            }),
            HclSpec::Block {
                type_name,
                nested,
                required,
            } => B::BlockValue(Box::new(Block {
                name: type_name.clone(),
                required: *required,
                nested: Some(Box::new(Spec::from(&**nested))),
            })),
            // The protobuf form has no item limits; they are dropped.
            HclSpec::BlockList {
                type_name, nested, ..
            } => B::BlockList(Box::new(BlockList {
                name: type_name.clone(),
                nested: Some(Box::new(Spec::from(&**nested))),
            })),
        };
        Spec { block: Some(block) }
    }
}

impl TryFrom<&Spec> for HclSpec {
    type Error = SpecError;
    fn try_from(s: &Spec) -> Result<Self, SpecError> {
        use spec::Block as B;
        let nested = |n: &Option<Box<Spec>>, what: &str| -> Result<Box<HclSpec>, SpecError> {
            match n {
                Some(n) => Ok(Box::new(HclSpec::try_from(&**n)?)),
                None => Err(shape(format!("{what} without nested spec"))),
            }
        };
        match &s.block {
            Some(B::Object(o)) => Ok(HclSpec::Object(
                o.attributes
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), HclSpec::try_from(v)?)))
                    .collect::<Result<_, SpecError>>()?,
            )),
            Some(B::Attr(a)) => Ok(HclSpec::Attr {
                name: a.name.clone(),
                ty: match &a.r#type {
                    Some(t) => CtyType::try_from(t)?,
                    None => return Err(shape(format!("attribute {} without type", a.name))),
                },
                required: a.required,
            }),
            Some(B::BlockValue(b)) => Ok(HclSpec::Block {
                type_name: b.name.clone(),
                nested: nested(&b.nested, "block")?,
                required: b.required,
            }),
            Some(B::BlockList(b)) => Ok(HclSpec::BlockList {
                type_name: b.name.clone(),
                nested: nested(&b.nested, "block list")?,
                min_items: 0,
                max_items: 0,
            }),
            None => Err(shape("empty spec")),
        }
    }
}

impl HclSpec {
    /// `proto.Marshal` of the spec, as a v2 plugin returns it from ConfigSpec.
    /// `BlockList` item limits are not representable and are dropped.
    pub fn to_protobuf(&self) -> Vec<u8> {
        Spec::from(self).encode_to_vec()
    }

    /// Parses the protobuf form. Decoded `BlockList`s have `min_items = max_items = 0`.
    pub fn from_protobuf(bytes: &[u8]) -> Result<HclSpec, SpecError> {
        let msg = Spec::decode(bytes)?;
        HclSpec::try_from(&msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap as Map;

    #[test]
    fn ssh_host_example_bytes() {
        let mut root = Map::new();
        root.insert(
            "ssh_host".to_string(),
            HclSpec::Attr {
                name: "ssh_host".into(),
                ty: CtyType::String,
                required: false,
            },
        );
        let got = HclSpec::Object(root.clone()).to_protobuf();
        // 0a L1 0a L2 0a 08 "ssh_host" 12 L3 12 L4 0a 08 "ssh_host" 12 L5 0a L6 0a 0a "cty.String"
        let mut prim = vec![0x0a, 0x0a];
        prim.extend_from_slice(b"cty.String"); // CtyPrimitive: 12 bytes
        let mut cty = vec![0x0a, prim.len() as u8];
        cty.extend_from_slice(&prim); // CtyType: 14
        let mut attr = vec![0x0a, 0x08];
        attr.extend_from_slice(b"ssh_host");
        attr.extend_from_slice(&[0x12, cty.len() as u8]);
        attr.extend_from_slice(&cty); // Attr: 10 + 16 = 26
        let mut spec = vec![0x12, attr.len() as u8];
        spec.extend_from_slice(&attr); // Spec(attr): 28
        let mut entry = vec![0x0a, 0x08];
        entry.extend_from_slice(b"ssh_host");
        entry.extend_from_slice(&[0x12, spec.len() as u8]);
        entry.extend_from_slice(&spec); // map entry: 40
        let mut object = vec![0x0a, entry.len() as u8];
        object.extend_from_slice(&entry); // Object: 42
        let mut expect = vec![0x0a, object.len() as u8];
        expect.extend_from_slice(&object);
        assert_eq!(got, expect);
        assert_eq!(
            (got[1], got[3], got[15], got[17], got[29], got[31]),
            (42, 40, 28, 26, 14, 12)
        );
        assert_eq!(HclSpec::from_protobuf(&got).unwrap(), HclSpec::Object(root));
    }

    #[test]
    fn sample_roundtrips_except_list_limits() {
        let s = crate::hclspec::tests::sample();
        let back = HclSpec::from_protobuf(&s.to_protobuf()).unwrap();
        let HclSpec::Object(mut m) = s else { panic!() };
        if let Some(HclSpec::BlockList {
            min_items,
            max_items,
            ..
        }) = m.get_mut("disk")
        {
            *min_items = 0;
            *max_items = 0;
        }
        assert_eq!(back, HclSpec::Object(m));
    }

    #[test]
    fn rejects_garbage_and_empty() {
        assert!(HclSpec::from_protobuf(&[0xff, 0xff]).is_err());
        assert!(matches!(
            HclSpec::from_protobuf(&[]),
            Err(SpecError::Shape(_))
        ));
    }

    /// (message, field) → encoding of that message with only that field set. The field
    /// number on the wire must equal the .proto's number for the same name.
    fn rust_fields() -> Vec<(&'static str, &'static str, Vec<u8>)> {
        let some_spec = || {
            Some(Box::new(Spec::from(&HclSpec::Attr {
                name: "x".into(),
                ty: CtyType::Bool,
                required: false,
            })))
        };
        let cty = || Some(Box::new(CtyTypeMsg::from(&CtyType::Bool)));
        let b = |m: &dyn Fn() -> Vec<u8>| m();
        vec![
            (
                "Spec",
                "object",
                b(&|| {
                    Spec {
                        block: Some(spec::Block::Object(Object::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Spec",
                "attr",
                b(&|| {
                    Spec {
                        block: Some(spec::Block::Attr(Attr::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Spec",
                "block_value",
                b(&|| {
                    Spec {
                        block: Some(spec::Block::BlockValue(Box::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Spec",
                "block_list",
                b(&|| {
                    Spec {
                        block: Some(spec::Block::BlockList(Box::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Object",
                "attributes",
                b(&|| {
                    Object {
                        attributes: [("k".to_string(), Spec::default())].into(),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Attr",
                "name",
                b(&|| {
                    Attr {
                        name: "n".into(),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Attr",
                "type",
                b(&|| {
                    Attr {
                        r#type: Some(CtyTypeMsg::default()),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Attr",
                "required",
                b(&|| {
                    Attr {
                        required: true,
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Block",
                "name",
                b(&|| {
                    Block {
                        name: "n".into(),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Block",
                "required",
                b(&|| {
                    Block {
                        required: true,
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "Block",
                "nested",
                b(&|| {
                    Block {
                        nested: some_spec(),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "BlockList",
                "name",
                b(&|| {
                    BlockList {
                        name: "n".into(),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "BlockList",
                "nested",
                b(&|| {
                    BlockList {
                        nested: some_spec(),
                        ..Default::default()
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyType",
                "primitive",
                b(&|| {
                    CtyTypeMsg {
                        type_def: Some(cty_type::TypeDef::Primitive(CtyPrimitive::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyType",
                "list",
                b(&|| {
                    CtyTypeMsg {
                        type_def: Some(cty_type::TypeDef::List(Box::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyType",
                "map",
                b(&|| {
                    CtyTypeMsg {
                        type_def: Some(cty_type::TypeDef::Map(Box::default())),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyPrimitive",
                "typeString",
                b(&|| {
                    CtyPrimitive {
                        type_string: "t".into(),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyList",
                "elementType",
                b(&|| {
                    CtyList {
                        element_type: cty(),
                    }
                    .encode_to_vec()
                }),
            ),
            (
                "CtyMap",
                "elementType",
                b(&|| {
                    CtyMap {
                        element_type: cty(),
                    }
                    .encode_to_vec()
                }),
            ),
        ]
    }

    /// Minimal .proto reader: `message Name {` opens a message, `... name = N;` is a field.
    fn proto_fields(text: &str) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if let Some(rest) = line.strip_prefix("message ") {
                current = rest.split_whitespace().next().map(str::to_owned);
                continue;
            }
            let Some(msg) = &current else { continue };
            if let Some((lhs, rhs)) = line.split_once('=') {
                let name = lhs.split_whitespace().last().unwrap().to_owned();
                let num: u64 = rhs.trim().trim_end_matches(';').trim().parse().unwrap();
                out.push((msg.clone(), name, num));
            }
        }
        out
    }

    #[test]
    fn proto_file_matches_prost_structs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto/hcl_spec.proto");
        let text = std::fs::read_to_string(path).unwrap();
        let mut declared = proto_fields(&text);
        declared.retain(|(m, _, _)| m != "HCL2Spec");
        let rust = rust_fields();
        let mut names: Vec<_> = declared
            .iter()
            .map(|(m, f, _)| (m.as_str(), f.as_str()))
            .collect();
        let mut rust_names: Vec<_> = rust.iter().map(|(m, f, _)| (*m, *f)).collect();
        names.sort();
        rust_names.sort();
        assert_eq!(
            names, rust_names,
            "field sets differ between .proto and prost structs"
        );
        for (msg, field, num) in &declared {
            let (_, _, bytes) = rust
                .iter()
                .find(|(m, f, _)| m == msg && f == field)
                .unwrap();
            let key = bytes[0];
            assert_eq!(u64::from(key >> 3), *num, "{msg}.{field}");
        }
    }
}
