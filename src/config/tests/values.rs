//! Prepare tests: Defaults, the HCL2 and JSON paths agreeing on every option, the spec, paths.
use super::*;
use packer_wire::hclspec::{CtyType, Spec};

#[test]
fn every_default() {
    let f = Fixture::new();
    let p = f.ok(&f.base());
    let c = cfg(&p);
    assert_eq!(c.packer.build_name, "x");
    assert_eq!(c.packer.builder_type, "vsphere-supervisor");
    assert!(!c.packer.debug);
    assert!(c.packer.force);
    assert_eq!(c.kubeconfig_paths, vec![f.path("kubeconfig")]);
    assert_eq!(c.kubeconfig_context, None);
    assert_eq!(c.kube_context_namespace.as_deref(), Some("demo"));
    assert_eq!(c.supervisor_namespace, None);
    assert_eq!(c.namespace(), "demo");
    assert_eq!(c.class_name, "best-effort-small");
    assert_eq!(c.storage_class, "wcpglobal-storage-profile");
    assert_eq!(c.image_name.as_deref(), Some("vmi-0123456789abcdef0"));
    assert!(!c.keep_input_artifact);
    assert_eq!(c.bootstrap_provider, BootstrapProvider::CloudInit);
    assert_eq!(c.bootstrap_data_file, None);
    assert_eq!(c.bootstrap_data, None);
    assert_eq!(c.guest_os_type, "otherGuest");
    assert_eq!(c.iso_boot_disk_size, "20Gi");
    assert_eq!(c.import, None);
    assert_eq!(c.watch_import_timeout, Duration::from_secs(600));
    assert_eq!(c.watch_source_timeout, Duration::from_secs(3600));
    assert_eq!(c.watch_publish_timeout, Duration::from_secs(600));
    assert_eq!(c.publish_location_name, None);
    assert_eq!(c.publish_image_name, None);
    assert_eq!(c.publish_image_description, None);
    assert_eq!(c.publish_request_ttl_sec, None);
    let comm = &c.comm;
    assert_eq!(comm.kind, CommKind::Ssh);
    assert_eq!(comm.pause_before_connecting, Duration::ZERO);
    let ssh = &comm.ssh;
    assert_eq!(ssh.host, None);
    assert_eq!(ssh.port, 22);
    assert_eq!(ssh.username, "packer");
    assert_eq!(ssh.password, None);
    assert_eq!(ssh.private_key_file, None);
    assert_eq!(ssh.temporary_key_pair_type, KeyType::Ed25519);
    assert_eq!(ssh.temporary_key_pair_bits, 256);
    assert_eq!(ssh.timeout, Duration::from_secs(300));
    assert_eq!(ssh.handshake_attempts, 10);
    assert_eq!(ssh.file_transfer_method, FileTransfer::Scp);
    assert_eq!(ssh.keep_alive_interval, Duration::from_secs(5));
    assert_eq!(ssh.read_write_timeout, Duration::ZERO);
    assert_eq!(ssh.bastion, None);
    assert_eq!(ssh.proxy, None);
    assert!(ssh.ciphers.is_empty() && ssh.key_exchange_algorithms.is_empty());
    assert!(
        !ssh.pty && !ssh.agent_auth && ssh.clear_authorized_keys && !ssh.disable_agent_forwarding
    );
    assert_eq!(comm.winrm.port, 5985);
    assert_eq!(comm.winrm.timeout, Duration::from_secs(1800));
    assert!(c.uses_temporary_key());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn random_source_name_is_a_short_dns_label() {
    let f = Fixture::new();
    let a = f.ok(&f.base()).config.source_name;
    let b = f.ok(&f.base()).config.source_name;
    for n in [&a, &b] {
        let suffix = n.strip_prefix("source-").expect("prefix");
        assert_eq!(suffix.len(), 5);
        assert!(
            suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{n}"
        );
    }
    assert_ne!(a, b, "two builds should not share a name");
}

#[test]
fn every_option_set_gives_the_same_config_from_hcl_and_json() {
    let f = Fixture::new();
    let key = f.file("id_ed25519", super::files::tests::SSH_KEY);
    let cert = f.file("id_ed25519-cert.pub", super::files::tests::SSH_CERT);
    let data = f.file(
        "ci.yaml",
        "user-data: |\n  #cloud-config\n  users: []\nmeta-data: 'x'\n",
    );
    let values = f.with(&[
        ("kubeconfig_context", json!("bare")),
        ("supervisor_namespace", json!("team-a")),
        ("source_name", json!("golden-1")),
        ("keep_input_artifact", json!(true)),
        ("bootstrap_provider", json!("CloudInit")),
        ("bootstrap_data_file", json!(data)),
        ("guest_os_type", json!("ubuntu64Guest")),
        ("iso_boot_disk_size", json!("40Gi")),
        ("watch_source_timeout_sec", json!(120)),
        ("watch_publish_timeout_sec", json!(60)),
        ("publish_location_name", json!("golden-images")),
        ("publish_image_name", json!("ubuntu-golden")),
        ("publish_image_description", json!("built by packer")),
        ("publish_request_ttl_sec", json!(0)),
        ("communicator", json!("ssh")),
        ("pause_before_connecting", json!("10s")),
        ("ssh_host", json!("10.0.0.5")),
        ("ssh_port", json!(2222)),
        ("ssh_username", json!("ubuntu")),
        ("ssh_password", json!("pw")),
        ("ssh_private_key_file", json!(key)),
        ("ssh_certificate_file", json!(cert)),
        ("temporary_key_pair_type", json!("rsa")),
        ("temporary_key_pair_bits", json!(3072)),
        ("ssh_ciphers", json!(["aes128-ctr"])),
        ("ssh_key_exchange_algorithms", json!(["curve25519-sha256"])),
        ("ssh_clear_authorized_keys", json!(true)),
        ("ssh_pty", json!(true)),
        ("ssh_timeout", json!("1h30m")),
        ("ssh_agent_auth", json!(false)),
        ("ssh_disable_agent_forwarding", json!(true)),
        ("ssh_handshake_attempts", json!(3)),
        ("ssh_bastion_host", json!("jump")),
        ("ssh_bastion_port", json!(2200)),
        ("ssh_bastion_password", json!("bpw")),
        ("ssh_file_transfer_method", json!("sftp")),
        ("ssh_keep_alive_interval", json!("-1s")),
        ("ssh_read_write_timeout", json!("500ms")),
        ("ssh_remote_tunnels", json!(["8080:localhost:80"])),
        ("ssh_local_tunnels", json!(["127.0.0.1:9090:db:5432"])),
        ("ssh_bastion_interactive", json!(false)),
        ("winrm_use_ssl", json!(true)),
        ("winrm_timeout", json!("1h")),
    ]);
    let p = f.ok(&values);
    let c = cfg(&p);
    assert_eq!(c.kubeconfig_context.as_deref(), Some("bare"));
    assert_eq!(c.kube_context_namespace, None);
    assert_eq!(c.namespace(), "team-a");
    assert_eq!(c.source_name, "golden-1");
    assert!(c.keep_input_artifact);
    assert_eq!(
        c.bootstrap_data.as_ref().map(|d| d["meta-data"].as_str()),
        Some("x")
    );
    assert_eq!(c.iso_boot_disk_size, "40Gi");
    assert_eq!(c.watch_source_timeout, Duration::from_secs(120));
    assert_eq!(c.watch_publish_timeout, Duration::from_secs(60));
    assert_eq!(c.publish_request_ttl_sec, Some(0));
    assert_eq!(c.comm.pause_before_connecting, Duration::from_secs(10));
    let ssh = &c.comm.ssh;
    assert_eq!(ssh.host.as_deref(), Some("10.0.0.5"));
    assert_eq!(ssh.port, 2222);
    assert_eq!(ssh.username, "ubuntu");
    assert_eq!(ssh.temporary_key_pair_type, KeyType::Rsa);
    assert_eq!(ssh.temporary_key_pair_bits, 3072);
    assert_eq!(ssh.timeout, Duration::from_secs(5400));
    assert_eq!(ssh.handshake_attempts, 3);
    assert_eq!(ssh.file_transfer_method, FileTransfer::Sftp);
    assert_eq!(
        ssh.keep_alive_interval,
        Duration::ZERO,
        "negative disables keep-alives"
    );
    assert_eq!(ssh.read_write_timeout, Duration::from_millis(500));
    let bastion = ssh.bastion.as_ref().expect("bastion");
    assert_eq!(
        (
            bastion.host.as_str(),
            bastion.port,
            bastion.username.as_str()
        ),
        ("jump", 2200, "ubuntu")
    );
    assert_eq!(c.comm.winrm.port, 5986, "SSL switches the default port");
    assert_eq!(c.comm.winrm.timeout, Duration::from_secs(3600));
    assert!(!c.uses_temporary_key());
}

#[test]
fn key_pair_bits_defaults_per_type() {
    let f = Fixture::new();
    let rsa = f.ok(&f.with(&[("temporary_key_pair_type", json!("rsa"))]));
    assert_eq!(rsa.config.comm.ssh.temporary_key_pair_bits, 4096);
    let ecdsa = f.ok(&f.with(&[("temporary_key_pair_type", json!("ecdsa"))]));
    assert_eq!(ecdsa.config.comm.ssh.temporary_key_pair_bits, 521);
    let ecdsa = f.ok(&f.with(&[
        ("temporary_key_pair_type", json!("ecdsa")),
        ("temporary_key_pair_bits", json!(384)),
    ]));
    assert_eq!(ecdsa.config.comm.ssh.temporary_key_pair_bits, 384);
}

#[test]
fn zero_timeouts_mean_default_and_ssh_wait_timeout_is_an_alias() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("watch_source_timeout_sec", json!(0)),
        ("ssh_wait_timeout", json!("2m")),
        ("ssh_port", json!(0)),
    ]));
    assert_eq!(p.config.watch_source_timeout, Duration::from_secs(3600));
    assert_eq!(p.config.comm.ssh.timeout, Duration::from_secs(120));
    assert_eq!(p.config.comm.ssh.port, 22);
}

#[test]
fn spec_declares_every_option_with_its_type() {
    let Spec::Object(attrs) = hcl_spec() else {
        panic!("root must be an object")
    };
    // Every key Packer 1.6.6's SDK communicator declares (from the null builder's captured spec).
    let sdk_keys = "communicator packer_build_name packer_builder_type packer_core_version packer_debug packer_force packer_on_error packer_sensitive_variables packer_user_variables pause_before_connecting ssh_agent_auth ssh_bastion_agent_auth ssh_bastion_certificate_file ssh_bastion_host ssh_bastion_interactive ssh_bastion_password ssh_bastion_port ssh_bastion_private_key_file ssh_bastion_username ssh_certificate_file ssh_ciphers ssh_clear_authorized_keys ssh_disable_agent_forwarding ssh_file_transfer_method ssh_handshake_attempts ssh_host ssh_keep_alive_interval ssh_key_exchange_algorithms ssh_keypair_name ssh_local_tunnels ssh_password ssh_port ssh_private_key ssh_private_key_file ssh_proxy_host ssh_proxy_password ssh_proxy_port ssh_proxy_username ssh_pty ssh_public_key ssh_read_write_timeout ssh_remote_tunnels ssh_timeout ssh_username ssh_wait_timeout temporary_key_pair_bits temporary_key_pair_name temporary_key_pair_type winrm_host winrm_insecure winrm_no_proxy winrm_password winrm_port winrm_timeout winrm_use_ntlm winrm_use_ssl winrm_username";
    for key in sdk_keys.split(' ') {
        assert!(attrs.contains_key(key), "spec lacks {key}");
    }
    let builder_keys = "kubeconfig_path kubeconfig_context supervisor_namespace import_source_url import_source_ssl_certificate import_target_location_name import_target_image_type import_target_image_name import_request_name watch_import_timeout_sec keep_import_request clean_imported_image class_name storage_class image_name source_name keep_input_artifact bootstrap_provider bootstrap_data_file cloud_config_passwordless_sudo guest_os_type iso_boot_disk_size watch_source_timeout_sec watch_publish_timeout_sec publish_location_name publish_to_default_location publish_image_name publish_image_description publish_request_ttl_sec";
    for key in builder_keys.split(' ') {
        assert!(attrs.contains_key(key), "spec lacks {key}");
    }
    assert_eq!(
        attrs.len(),
        sdk_keys.split(' ').count() + builder_keys.split(' ').count()
    );
    let ty = |k: &str| match &attrs[k] {
        Spec::Attr { name, ty, required } => {
            assert_eq!(name, k);
            assert!(!required, "{k} must not be required in the spec");
            ty.clone()
        }
        other => panic!("{k}: {other:?}"),
    };
    let list = |t: CtyType| CtyType::List(Box::new(t));
    assert_eq!(ty("ssh_port"), CtyType::Number);
    assert_eq!(ty("publish_request_ttl_sec"), CtyType::Number);
    assert_eq!(ty("packer_debug"), CtyType::Bool);
    assert_eq!(ty("ssh_timeout"), CtyType::String);
    assert_eq!(ty("ssh_ciphers"), list(CtyType::String));
    assert_eq!(ty("ssh_local_tunnels"), list(CtyType::String));
    assert_eq!(ty("ssh_private_key"), list(CtyType::Number));
    assert_eq!(ty("packer_sensitive_variables"), list(CtyType::String));
    assert_eq!(
        ty("packer_user_variables"),
        CtyType::Map(Box::new(CtyType::String))
    );
}

#[test]
fn paths_with_tilde_expand_to_home() {
    let f = Fixture::new();
    let home = f.path("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    std::fs::write(home.join("key"), super::files::tests::SSH_KEY).expect("write");
    let p = f.ok(&f.with(&[("ssh_private_key_file", json!("~/key"))]));
    assert_eq!(
        p.config.comm.ssh.private_key_file.as_deref(),
        Some(Path::new(&home.join("key")))
    );
}
