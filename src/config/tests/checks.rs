//! Prepare-level tests of the bounds, name, whitespace and file checks (`bounds.rs`,
//! `names.rs`, `files.rs`, `tls.rs`), through both the HCL2 and the JSON path.
use serde_json::json;

use super::Fixture;

#[test]
fn numbers_and_durations_are_bounded() {
    let f = Fixture::new();
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("watch_source_timeout_sec", json!(i64::MAX), "watch_source_timeout_sec: must be at most 86400 seconds (24 hours), got 9223372036854775807"),
        ("watch_source_timeout_sec", json!(1e300), "watch_source_timeout_sec: must be at most 86400 seconds (24 hours), got 1e300"),
        ("watch_source_timeout_sec", json!(-1e300), "watch_source_timeout_sec: must not be negative, got -1e300 (0 means the default, 3600)"),
        ("watch_publish_timeout_sec", json!(86_401), "watch_publish_timeout_sec: must be at most 86400 seconds (24 hours), got 86401"),
        ("ssh_handshake_attempts", json!(1001), "ssh_handshake_attempts: must be at most 1000 attempts, got 1001"),
        ("ssh_handshake_attempts", json!(-3), "ssh_handshake_attempts: must not be negative, got -3 (0 means the default, 10)"),
        ("ssh_port", json!(1e300), "ssh_port: must be a port number between 1 and 65535, got 1e300"),
        ("ssh_timeout", json!("25h"), "ssh_timeout: at most 24h is allowed, got \"25h\""),
        ("pause_before_connecting", json!("61m"), "pause_before_connecting: at most 1h is allowed, got \"61m\""),
        ("winrm_timeout", json!("48h"), "winrm_timeout: at most 24h is allowed, got \"48h\""),
    ];
    for (key, value, expected) in cases {
        f.one(&[(key, value)], expected);
    }
    f.one(
        &[
            ("publish_location_name", json!("golden")),
            ("publish_request_ttl_sec", json!(31_536_001)),
        ],
        "publish_request_ttl_sec: must be at most 31536000 seconds (365 days), got 31536001",
    );
    let p = f.ok(&f.with(&[
        ("watch_source_timeout_sec", json!(86_400)),
        ("ssh_timeout", json!("24h")),
    ]));
    assert_eq!(p.config.watch_source_timeout.as_secs(), 86_400);
    assert_eq!(p.config.comm.ssh.timeout.as_secs(), 86_400);
}

#[test]
fn huge_values_are_quoted_short() {
    let f = Fixture::new();
    let huge = "q".repeat(1 << 20);
    for key in [
        "class_name",
        "ssh_timeout",
        "communicator",
        "iso_boot_disk_size",
    ] {
        let e = f.errs(&f.with(&[(key, json!(huge))]));
        assert_eq!(e.len(), 1, "{key}: {e:?}");
        assert!(e[0].starts_with(&format!("{key}: ")), "{}", &e[0][..100]);
        assert!(e[0].len() < 300, "{key}: {} characters", e[0].len());
        assert_eq!(e[0].matches(&"q".repeat(80)).count(), 1, "{key}: {}", e[0]);
    }
}

#[test]
fn whitespace_and_names() {
    let f = Fixture::new();
    f.one(
        &[("class_name", json!("   "))],
        "class_name: \"   \" is only whitespace",
    );
    f.one(
        &[("ssh_username", json!("packer "))],
        "ssh_username: \"packer \" has leading or trailing whitespace; remove it",
    );
    // A padded keyword is reported once, not also as an unknown value.
    f.one(
        &[("bootstrap_provider", json!(" Sysprep"))],
        "bootstrap_provider: \" Sysprep\" has leading or trailing whitespace; remove it",
    );
    f.one(
        &[("storage_class", json!("Fast_SSD"))],
        "storage_class: \"Fast_SSD\" is not a valid name: 'F' is not allowed (use lowercase letters, digits and '-')",
    );
    f.one(
        &[("image_name", json!("vmi-UPPER"))],
        "image_name: \"vmi-UPPER\" is not a valid name: 'U' is not allowed (use lowercase letters, digits and '-')",
    );
    // A display name is not an object name.
    f.ok(&f.with(&[("image_name", json!("Ubuntu 24.04 LTS"))]));
}

#[test]
fn kubeconfig_tls_material_is_parsed_and_insecure_warns() {
    let f = Fixture::new();
    let kc = std::fs::read_to_string(f.path("kubeconfig")).expect("read");
    let bad = kc.replace(
        "certificate-authority: ca.pem",
        "certificate-authority-data: aGVsbG8=",
    );
    let path = f.file("bad-ca", &bad);
    f.one(
        &[("kubeconfig_path", json!(path))],
        &format!("kubeconfig_path: {path}: cluster \"sim\": certificate-authority-data holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
    );
    let insecure = kc.replace(
        "certificate-authority: ca.pem",
        "insecure-skip-tls-verify: true",
    );
    let path = f.file("insecure", &insecure);
    let p = f.ok(&f.with(&[("kubeconfig_path", json!(path))]));
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("TLS verification is off")),
        "{:?}",
        p.warnings
    );
    let dir = f.path("home");
    std::fs::create_dir_all(&dir).expect("mkdir");
    f.one(
        &[("kubeconfig_path", json!(dir.display().to_string()))],
        &format!(
            "kubeconfig_path: {} is a directory, not a file",
            dir.display()
        ),
    );
}

#[test]
fn bad_key_and_bootstrap_files() {
    let f = Fixture::new();
    let key = f.file("id", "ssh-ed25519 AAAA this is a public key\n");
    f.one(
        &[("ssh_private_key_file", json!(key))],
        &format!("ssh_private_key_file: {key} is not a private key the SSH client can read: Could not read key"),
    );
    let ci = f.file("ci", "#cloud-config\nusers: [\n");
    let e = f.errs(&f.with(&[
        ("bootstrap_data_file", json!(ci)),
        ("ssh_password", json!("pw")),
    ]));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!(
            "bootstrap_data_file: {ci} is not valid #cloud-config YAML: "
        )),
        "{e:?}"
    );
}
