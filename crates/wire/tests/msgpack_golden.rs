//! Golden tests: every msgpack RPC message Packer 1.6.6 and its null builder exchanged in
//! the HCL capture must decode and re-encode to exactly the captured bytes.
use packer_wire::msgpack::{decode, encode, to_vec, DecodeError, Value};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/out_hcl_packer-builder-null")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Splits a stream into (header, body) pairs, asserting byte-exact re-encoding of each.
fn rpc_messages(stream: &[u8]) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let (h, n) = decode(&stream[pos..]).unwrap();
        assert_eq!(to_vec(&h), stream[pos..pos + n], "header at {pos}");
        pos += n;
        let (b, m) = decode(&stream[pos..]).unwrap();
        let mut re = Vec::new();
        encode(&b, &mut re);
        assert_eq!(re, stream[pos..pos + m], "body at {pos} after {h:?}");
        pos += m;
        out.push((h, b));
    }
    out
}

fn find<'a>(msgs: &'a [(Value, Value)], method: &str) -> Vec<&'a (Value, Value)> {
    msgs.iter()
        .filter(|(h, _)| h.get("ServiceMethod").and_then(Value::as_str) == Some(method))
        .collect()
}

#[test]
fn all_rpc_streams_roundtrip_byte_exact() {
    let mut total = 0;
    for name in [
        "s1_c2p.bin",
        "s1_p2c.bin",
        "s2_c2p.bin",
        "s2_p2c.bin",
        "s3_c2p.bin",
        "s3_p2c.bin",
        "s5_c2p.bin",
        "s5_p2c.bin",
    ] {
        total += rpc_messages(&fixture(name)).len();
    }
    assert!(total > 40, "only {total} messages");
}

#[test]
fn builder_run_header_and_body() {
    let msgs = rpc_messages(&fixture("s1_c2p.bin"));
    let run = find(&msgs, "Builder.Run");
    assert_eq!(run.len(), 1);
    let (h, b) = run[0];
    let mut expect = vec![0x82, 0xad];
    expect.extend_from_slice(b"ServiceMethod");
    expect.push(0xab);
    expect.extend_from_slice(b"Builder.Run");
    expect.push(0xa3);
    expect.extend_from_slice(b"Seq");
    expect.push(0x02);
    assert_eq!(to_vec(h), expect);
    assert_eq!(to_vec(b), [0x01]);
    // Our own builder form gives the same bytes.
    let built = Value::map_of(vec![
        ("ServiceMethod", "Builder.Run".into()),
        ("Seq", Value::Uint(2)),
    ]);
    assert_eq!(to_vec(&built), expect);

    let replies = rpc_messages(&fixture("s1_p2c.bin"));
    let (rh, rb) = find(&replies, "Builder.Run")[0];
    assert_eq!(rh.get("Error").and_then(Value::as_str), Some(""));
    assert_eq!(rb.as_u64(), Some(2));
}

#[test]
fn prepare_request_configs() {
    let msgs = rpc_messages(&fixture("s1_c2p.bin"));
    let (_, body) = find(&msgs, "Builder.Prepare")[0];
    let configs = body.get("Configs").and_then(Value::as_array).unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(
        configs[0]
            .get("packer_builder_type")
            .and_then(Value::as_str),
        Some("null")
    );
    let cty = configs[1].as_bytes().unwrap();
    assert_eq!(cty.len(), 0x0c95);
    assert!(cty.starts_with(b"{\"value\":"));
}

#[test]
fn config_spec_reply_is_bin() {
    let msgs = rpc_messages(&fixture("s1_p2c.bin"));
    let (_, body) = find(&msgs, "Builder.ConfigSpec")[0];
    assert_eq!(
        body.get("ConfigSpec")
            .and_then(Value::as_bytes)
            .map(<[u8]>::len),
        Some(12619)
    );
}

#[test]
fn track_progress_and_upload_fileinfo() {
    // Stream 2: the builder (plugin) calls core's Ui; stream 3: core calls the builder's
    // Communicator and Ui.
    let ui = rpc_messages(&fixture("s2_p2c.bin"));
    let (_, tp) = find(&ui, "Ui.NewTrackProgress")[0];
    assert_eq!(
        tp,
        &Value::map_of(vec![
            ("Src", "upfile.txt".into()),
            ("TotalSize", Value::Int(13)),
            ("CurrentSize", Value::Int(0)),
        ])
    );
    let comm = rpc_messages(&fixture("s3_c2p.bin"));
    let uploads = find(&comm, "Communicator.Upload");
    let with_info = uploads
        .iter()
        .find(|(_, b)| b.get("FileInfo").is_some_and(|f| !f.is_nil()))
        .unwrap();
    let fi = with_info.1.get("FileInfo").unwrap();
    assert_eq!(fi.get("N").and_then(Value::as_str), Some("upfile.txt"));
    assert_eq!(fi.get("S").and_then(Value::as_i64), Some(13));
    assert_eq!(fi.get("M"), Some(&Value::Uint(420)));
    assert_eq!(to_vec(fi.get("M").unwrap()), [0xcd, 0x01, 0xa4]);
    match fi.get("T") {
        Some(Value::Ext(-1, d)) => {
            assert_eq!(d.len(), 8);
            // timestamp64: 30-bit nanoseconds, 34-bit seconds.
            let raw = u64::from_be_bytes(d[..].try_into().unwrap());
            assert_eq!(raw & ((1 << 34) - 1), 1_795_299_783);
            assert_eq!(raw >> 34, 582_943_701);
        }
        other => panic!("T = {other:?}"),
    }
}

#[test]
fn every_prefix_of_a_capture_is_incomplete() {
    let s = fixture("s2_p2c.bin");
    let (_, first) = decode(&s).unwrap();
    let (_, second) = decode(&s[first..]).unwrap();
    let total = first + second;
    for cut in first..total {
        assert_eq!(decode(&s[first..cut]), Err(DecodeError::Incomplete));
    }
}
