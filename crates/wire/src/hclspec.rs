//! The hcldec object spec a builder returns from `Builder.ConfigSpec`.
//! (CONTRACT — the wire helper adds the gob/protobuf encoders and decoders.)
use std::collections::BTreeMap;

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
