//! The cty JSON config Packer 1.6.6 sent to the null builder's Prepare (HCL2 template).
use packer_wire::ctyjson;
use packer_wire::msgpack::{self, Value};
use serde_json::json;
use std::path::PathBuf;

fn prepare_cty_bytes() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/out_hcl_packer-builder-null/s1_c2p.bin");
    let s = std::fs::read(p).unwrap();
    let mut pos = 0;
    while pos < s.len() {
        let (h, n) = msgpack::decode(&s[pos..]).unwrap();
        pos += n;
        let (b, m) = msgpack::decode(&s[pos..]).unwrap();
        pos += m;
        if h.get("ServiceMethod").and_then(Value::as_str) == Some("Builder.Prepare") {
            let configs = b.get("Configs").and_then(Value::as_array).unwrap();
            return configs[1].as_bytes().unwrap().to_vec();
        }
    }
    panic!("no Prepare request in the capture")
}

#[test]
fn captured_prepare_config_decodes() {
    let bytes = prepare_cty_bytes();
    let (v, ty) = ctyjson::decode_typed(&bytes).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 57);
    assert_eq!(v["communicator"], json!("ssh"));
    assert_eq!(v["ssh_host"], json!("127.0.0.1"));
    assert_eq!(v["ssh_port"], json!(2222));
    assert_eq!(v["ssh_username"], json!("root"));
    assert_eq!(v["ssh_private_key_file"], json!("/tmp/cap/id_ed25519"));
    assert!(v["packer_build_name"].is_null());
    assert!(v["packer_user_variables"].is_null());
    assert_eq!(ty[1]["packer_user_variables"], json!(["map", "string"]));
    assert_eq!(ctyjson::decode(&bytes).unwrap(), v);
}

#[test]
fn captured_config_with_a_wrong_value_is_rejected() {
    let bytes = prepare_cty_bytes();
    let mut j: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    j["value"]["ssh_port"] = json!(["not", "a", "number"]);
    let err = ctyjson::decode(&serde_json::to_vec(&j).unwrap()).unwrap_err();
    assert!(err.to_string().contains("ssh_port"), "{err}");
}
