//! Property tests: arbitrary bytes never make a decoder panic, and encode/decode round-trip.
//! Case counts stay in the low hundreds so the suite remains fast.
use packer_wire::hclspec::{CtyType, Spec};
use packer_wire::msgpack::{self, DecodeError, Value};
use packer_wire::{ctyjson, gob};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        // Uints that fit a positive fixint decode as Int; keep them above that range.
        (128u64..).prop_map(Value::Uint),
        any::<f32>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(Value::F32),
        any::<f64>()
            .prop_filter("NaN != NaN", |f| !f.is_nan())
            .prop_map(Value::F64),
        ".{0,40}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bin),
        (any::<i8>(), prop::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(t, d)| Value::Ext(t, d)),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((inner.clone(), inner), 0..20).prop_map(Value::Map),
        ]
    })
}

fn arb_cty() -> impl Strategy<Value = CtyType> {
    prop_oneof![
        Just(CtyType::String),
        Just(CtyType::Number),
        Just(CtyType::Bool)
    ]
    .prop_recursive(3, 8, 1, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| CtyType::List(Box::new(t))),
            inner.prop_map(|t| CtyType::Map(Box::new(t))),
        ]
    })
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    let attr = ("[a-z_]{1,12}", arb_cty(), any::<bool>())
        .prop_map(|(name, ty, required)| Spec::Attr { name, ty, required });
    let object = |inner: BoxedStrategy<Spec>| {
        prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6).prop_map(Spec::Object)
    };
    let leaf = attr.boxed();
    let tree = leaf.prop_recursive(3, 30, 6, move |inner| {
        let obj = object(inner.clone()).boxed();
        prop_oneof![
            inner.clone(),
            ("[a-z]{1,8}", obj.clone(), any::<bool>()).prop_map(|(t, n, r)| Spec::Block {
                type_name: t,
                nested: Box::new(n),
                required: r
            }),
            ("[a-z]{1,8}", obj, 0i64..3, 0i64..9).prop_map(|(t, n, a, b)| Spec::BlockList {
                type_name: t,
                nested: Box::new(n),
                min_items: a,
                max_items: b
            }),
        ]
    });
    prop::collection::btree_map("[a-z_]{1,12}", tree, 0..8).prop_map(Spec::Object)
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn msgpack_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        match msgpack::decode(&bytes) {
            Ok((_, n)) => prop_assert!(n <= bytes.len()),
            Err(DecodeError::Incomplete) | Err(DecodeError::Invalid { .. }) => {}
        }
    }

    #[test]
    fn msgpack_roundtrip(v in arb_value()) {
        let bytes = msgpack::to_vec(&v);
        let (back, n) = msgpack::decode(&bytes).unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(&back, &v);
        // Every strict prefix is Incomplete, never Invalid.
        if !bytes.is_empty() {
            let cut = bytes.len() / 2;
            prop_assert_eq!(msgpack::decode(&bytes[..cut]), Err(DecodeError::Incomplete));
        }
    }

    #[test]
    fn gob_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = gob::decode_all(&bytes);
        let _ = Spec::from_gob(&bytes);
        let _ = CtyType::from_gob(&bytes);
    }

    #[test]
    fn ctyjson_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = ctyjson::decode(&bytes);
    }

    #[test]
    fn ctyjson_never_panics_on_json_shaped_input(s in r#"\{"value":\{("[a-z]":(1|"x"|null|\[1\]),?){0,3}\},"type":\["object",\{("[a-z]":("string"|"number"|\["list","bool"\]|\["tuple",\[\]\]),?){0,3}\}\]\}"#) {
        let _ = ctyjson::decode(s.as_bytes());
    }
}

proptest! {
    #![proptest_config(config(100))]

    #[test]
    fn gob_mutated_spec_never_panics(
        spec in arb_spec(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = spec.to_gob();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let _ = Spec::from_gob(&bytes);
    }

    #[test]
    fn spec_gob_roundtrip(spec in arb_spec()) {
        let bytes = spec.to_gob();
        prop_assert_eq!(Spec::from_gob(&bytes).unwrap(), spec.clone());
        // Feeding in two pieces: incomplete first, then the same value.
        let mut d = gob::Decoder::new();
        let cut = bytes.len() / 2;
        d.push(&bytes[..cut]);
        prop_assert_eq!(d.next_value().unwrap(), None);
        d.push(&bytes[cut..]);
        prop_assert!(d.next_value().unwrap().is_some());
        prop_assert!(d.is_drained());
    }

    #[test]
    fn spec_protobuf_roundtrip(spec in arb_spec()) {
        let back = Spec::from_protobuf(&spec.to_protobuf()).unwrap();
        prop_assert_eq!(back, without_list_limits(spec));
    }

    #[test]
    fn protobuf_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Spec::from_protobuf(&bytes);
    }
}

/// The protobuf form has no BlockList item limits.
fn without_list_limits(s: Spec) -> Spec {
    match s {
        Spec::Object(m) => Spec::Object(
            m.into_iter()
                .map(|(k, v)| (k, without_list_limits(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
        Spec::Block {
            type_name,
            nested,
            required,
        } => Spec::Block {
            type_name,
            nested: Box::new(without_list_limits(*nested)),
            required,
        },
        Spec::BlockList {
            type_name, nested, ..
        } => Spec::BlockList {
            type_name,
            nested: Box::new(without_list_limits(*nested)),
            min_items: 0,
            max_items: 0,
        },
        attr => attr,
    }
}
