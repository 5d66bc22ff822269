//! Prepare tests. Every config is built twice from the same values, as Packer sends them for
//! an HCL2 template (packer_* map + cty JSON bin) and for a legacy JSON template (one msgpack
//! map with native types), and both must give the same result.
use std::path::{Path, PathBuf};
use std::time::Duration;

use packer_wire::hclspec::{CtyType, Spec};
use packer_wire::msgpack::Value;
use serde_json::{json, Value as Json};

use super::options::{self, Kind};
use super::*;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: https://127.0.0.1:1\n    certificate-authority: ca.pem\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: dev\n    namespace: demo\n- name: bare\n  context:\n    cluster: sim\n    user: dev\nusers:\n- name: dev\n  user:\n    token: abc\n";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kubeconfig"), KUBECONFIG).expect("write kubeconfig");
        std::fs::write(dir.path().join("ca.pem"), super::files::tests::CERT).expect("write CA");
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    }

    fn env(&self) -> Environment {
        Environment {
            kubeconfig: None,
            home: Some(self.dir.path().join("home")),
        }
    }

    /// The smallest valid set of user options.
    fn base(&self) -> Vec<(&'static str, Json)> {
        vec![
            (
                "kubeconfig_path",
                json!(self.path("kubeconfig").display().to_string()),
            ),
            ("class_name", json!("best-effort-small")),
            ("storage_class", json!("wcpglobal-storage-profile")),
            ("image_name", json!("vmi-0123456789abcdef0")),
        ]
    }

    fn with(&self, extra: &[(&'static str, Json)]) -> Vec<(&'static str, Json)> {
        let mut v = self.base();
        for (k, val) in extra {
            v.retain(|(key, _)| key != k);
            if !val.is_null() {
                v.push((k, val.clone()));
            }
        }
        v
    }

    /// Prepares the values through both paths; asserts they agree and returns the result.
    fn prepare(&self, values: &[(&'static str, Json)]) -> Result<Prepared, ConfigErrors> {
        let env = self.env();
        let via_hcl = prepare_with(&hcl_configs(values), &env);
        let via_json = prepare_with(&json_configs(values), &env);
        match (&via_hcl, &via_json) {
            (Ok(a), Ok(b)) => {
                let mut b = b.clone();
                // The JSON path also carries packer_template_path and user variables.
                b.config.packer.template_path.clear();
                b.config.packer.core_version.clear();
                b.config.packer.user_variables.clear();
                let mut a = a.clone();
                a.config.packer.user_variables.clear();
                // Random defaults differ between the two runs.
                b.config.source_name = a.config.source_name.clone();
                if let (Some(ai), Some(bi)) = (&a.config.import, &mut b.config.import) {
                    bi.request_name = ai.request_name.clone();
                }
                assert_eq!(a, b, "HCL2 and JSON templates disagree");
            }
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "HCL2 and JSON templates report different problems")
            }
            _ => panic!("HCL2 gave {via_hcl:?} but JSON gave {via_json:?}"),
        }
        via_hcl
    }

    fn ok(&self, values: &[(&'static str, Json)]) -> Prepared {
        self.prepare(values)
            .unwrap_or_else(|e| panic!("unexpected errors:\n{e}"))
    }

    fn errs(&self, values: &[(&'static str, Json)]) -> Vec<String> {
        match self.prepare(values) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(e) => e.lines(),
        }
    }

    /// Asserts exactly one problem, equal to `expected`.
    fn one(&self, extra: &[(&'static str, Json)], expected: &str) {
        let e = self.errs(&self.with(extra));
        assert_eq!(e, vec![expected.to_string()], "for {extra:?}");
    }
}

fn json_to_msgpack(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map_or(Value::F64(n.as_f64().unwrap_or(0.0)), Value::Int),
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_msgpack).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Str(k.clone()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

/// `(name, wire type)` of every option of the HCL2 spec.
fn spec_options() -> Vec<(&'static str, Kind)> {
    options::all()
        .filter(|o| !o.json_only)
        .map(|o| (o.name, o.kind()))
        .collect()
}

fn cty_type(kind: Kind) -> Json {
    match kind {
        Kind::Str => json!("string"),
        Kind::Int => json!("number"),
        Kind::Bool => json!("bool"),
        Kind::StrList => json!(["list", "string"]),
        Kind::StrMap => json!(["map", "string"]),
        Kind::Bytes => json!(["list", "number"]),
    }
}

/// As Packer 1.6.6 sends an HCL2 source: the packer_* strings, then the cty object with every
/// spec key (null when unset).
fn hcl_configs(values: &[(&str, Json)]) -> Vec<Value> {
    let packer = json!({"packer_build_name": "x", "packer_builder_type": "vsphere-supervisor",
        "packer_debug": "false", "packer_force": "true", "packer_on_error": ""});
    let mut value = serde_json::Map::new();
    let mut types = serde_json::Map::new();
    for (name, kind) in spec_options() {
        value.insert(name.to_string(), Json::Null);
        types.insert(name.to_string(), cty_type(kind));
    }
    for (k, v) in values {
        value.insert((*k).to_string(), v.clone());
    }
    let cty = json!({"value": value, "type": ["object", types]});
    vec![
        json_to_msgpack(&packer),
        Value::Bin(serde_json::to_vec(&cty).expect("json")),
    ]
}

/// As Packer 1.6.6 sends a legacy JSON builder: the builder block, then the packer_* map.
fn json_configs(values: &[(&str, Json)]) -> Vec<Value> {
    let block: serde_json::Map<String, Json> = values
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    let packer = json!({"packer_debug": false, "packer_force": true, "packer_on_error": "",
        "packer_template_path": "/t/tpl.json", "packer_user_variables": {"": ""},
        "packer_build_name": "x", "packer_builder_type": "vsphere-supervisor", "packer_core_version": "1.6.6"});
    vec![
        json_to_msgpack(&Json::Object(block)),
        json_to_msgpack(&packer),
    ]
}

fn cfg(p: &Prepared) -> &Config {
    &p.config
}

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
fn one_clear_line_per_problem() {
    let f = Fixture::new();
    let k = f.path("kubeconfig").display().to_string();
    let cases: Vec<(Vec<(&'static str, Json)>, String)> = vec![
        (vec![("class_name", Json::Null)], "class_name: required (the VirtualMachineClass of the source VM)".into()),
        (vec![("storage_class", json!(""))], "storage_class: required (the Kubernetes StorageClass for the source VM)".into()),
        (vec![("image_name", Json::Null)], "image_name: required unless import_source_url is set (the VirtualMachineImage or ClusterVirtualMachineImage to deploy)".into()),
        (vec![("source_name", json!("source-abcdefghi"))], "source_name: \"source-abcdefghi\" is 16 characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)".into()),
        (vec![("source_name", json!("Golden"))], "source_name: \"Golden\" is not a valid name: 'G' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("source_name", json!("golden-"))], "source_name: \"golden-\" is not a valid name: it must start and end with a letter or digit".into()),
        (vec![("bootstrap_provider", json!("Ignition"))], "bootstrap_provider: unknown provider \"Ignition\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"".into()),
        (vec![("bootstrap_provider", json!("cloudinit"))], "bootstrap_provider: unknown provider \"cloudinit\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"; did you mean \"CloudInit\"? (values are case-sensitive)".into()),
        (vec![("bootstrap_provider", json!("Sysprep"))], "bootstrap_data_file: required when bootstrap_provider is \"Sysprep\"".into()),
        (vec![("bootstrap_provider", json!("vAppConfig"))], "bootstrap_data_file: required when bootstrap_provider is \"vAppConfig\"".into()),
        (vec![("ssh_timeout", json!("5 minutes"))], "ssh_timeout: invalid duration \"5 minutes\": unknown unit \" minutes\" (use ns, us, ms, s, m or h)".into()),
        (vec![("ssh_timeout", json!("-5m"))], "ssh_timeout: must not be negative, got \"-5m\"".into()),
        (vec![("pause_before_connecting", json!("5"))], "pause_before_connecting: invalid duration \"5\": missing unit (use ns, us, ms, s, m or h)".into()),
        (vec![("watch_source_timeout_sec", json!(-1))], "watch_source_timeout_sec: must not be negative, got -1 (0 means the default, 3600)".into()),
        (vec![("watch_publish_timeout_sec", json!(-5)), ("publish_location_name", json!("golden-images"))], "watch_publish_timeout_sec: must not be negative, got -5 (0 means the default, 600)".into()),
        (vec![("publish_request_ttl_sec", json!(-1)), ("publish_location_name", json!("golden-images"))], "publish_request_ttl_sec: must not be negative, got -1".into()),
        (vec![("iso_boot_disk_size", json!("20GB"))], "iso_boot_disk_size: \"20GB\" is not a valid Kubernetes quantity (unknown suffix \"GB\"); use e.g. \"20Gi\" or \"40G\"".into()),
        (vec![("iso_boot_disk_size", json!("0"))], "iso_boot_disk_size: \"0\" must be a positive size".into()),
        (vec![("communicator", json!("telnet"))], "communicator: unknown communicator \"telnet\"; use \"ssh\", \"winrm\" or \"none\"".into()),
        (vec![("communicator", json!("winrm"))], "communicator: \"winrm\" is not supported yet by this plugin (WinRM connections are not implemented); use \"ssh\", or \"none\" to skip provisioning".into()),
        (vec![("ssh_port", json!(70000))], "ssh_port: must be a port number between 1 and 65535, got 70000".into()),
        (vec![("ssh_port", json!(-1))], "ssh_port: must be a port number between 1 and 65535, got -1".into()),
        (vec![("ssh_port", json!(22.5))], "ssh_port: expected a whole number, got 22.5".into()),
        (vec![("temporary_key_pair_type", json!("dsa"))], "temporary_key_pair_type: \"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"".into()),
        (vec![("temporary_key_pair_type", json!("RSA"))], "temporary_key_pair_type: unknown type \"RSA\"; use \"ed25519\", \"rsa\" or \"ecdsa\"; did you mean \"rsa\"? (values are case-sensitive)".into()),
        (vec![("temporary_key_pair_type", json!("rsa")), ("temporary_key_pair_bits", json!(1024))], "temporary_key_pair_bits: RSA keys must have between 2048 and 16384 bits, got 1024".into()),
        (vec![("temporary_key_pair_type", json!("ecdsa")), ("temporary_key_pair_bits", json!(512))], "temporary_key_pair_bits: ECDSA keys have 256, 384 or 521 bits, got 512".into()),
        (vec![("temporary_key_pair_bits", json!(2048))], "temporary_key_pair_bits: ed25519 keys always have 256 bits, got 2048; remove it or choose temporary_key_pair_type \"rsa\" or \"ecdsa\"".into()),
        (vec![("ssh_file_transfer_method", json!("rsync"))], "ssh_file_transfer_method: unknown method \"rsync\"; use \"scp\" or \"sftp\"".into()),
        (vec![("ssh_private_key_file", json!(f.path("nokey").display().to_string()))], format!("ssh_private_key_file: file {} not found", f.path("nokey").display())),
        (vec![("ssh_bastion_username", json!("jump"))], "ssh_bastion_host: required by ssh_bastion_username".into()),
        (vec![("ssh_bastion_host", json!("jump"))], "ssh_bastion_host: the bastion needs a way to log in: set ssh_bastion_password, ssh_bastion_private_key_file (or ssh_private_key_file, which it inherits) or ssh_bastion_agent_auth".into()),
        (vec![("ssh_bastion_host", json!("jump")), ("ssh_bastion_agent_auth", json!(true)), ("ssh_proxy_host", json!("socks"))], "ssh_proxy_host: cannot be combined with ssh_bastion_host; use one of them".into()),
        (vec![("ssh_proxy_password", json!("pw"))], "ssh_proxy_host: required by ssh_proxy_password".into()),
        (vec![("ssh_local_tunnels", json!(["8080"]))], "ssh_local_tunnels: \"8080\" is not of the form [bind_address:]port:host:hostport".into()),
        (vec![("ssh_remote_tunnels", json!(["0:localhost:80"]))], "ssh_remote_tunnels: \"0:localhost:80\" is not of the form [bind_address:]port:host:hostport (ports 1-65535)".into()),
        (vec![("ssh_bastion_host", json!("jump")), ("ssh_bastion_password", json!("pw")), ("ssh_bastion_interactive", json!(true))], "ssh_bastion_interactive: not supported: keyboard-interactive prompts need a terminal, and a Packer plugin has none; use ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth".into()),
        (vec![("kubeconfig_path", json!(f.path("missing").display().to_string()))], format!("kubeconfig_path: kubeconfig file {} not found", f.path("missing").display())),
        (vec![("kubeconfig_context", json!("prod"))], "kubeconfig_context: context \"prod\" not found in the kubeconfig (available: sim, bare)".into()),
        (vec![("supervisor_namespace", json!("Demo"))], "supervisor_namespace: \"Demo\" is not a valid name: 'D' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("import_source_url", json!("https://h/x.ova")), ("import_target_location_name", json!("golden-images")) ], "import_source_ssl_certificate: required when import_source_url is an https:// URL (the PEM certificate of the server)".into()),
        (vec![("import_source_url", json!("ftp://h/x.ova")), ("import_target_location_name", json!("golden-images")) ], "import_source_url: \"ftp://h/x.ova\" must be an http:// or https:// URL".into()),
        (vec![("import_source_url", json!("http://h/x.ova")) ], "import_target_location_name: required when import_source_url is set (a writable ContentLibrary that allows imports)".into()),
        (vec![("import_source_url", json!("http://h/x.vmdk")), ("import_target_location_name", json!("l")) ], "import_target_image_type: cannot infer the image type from import_source_url (it does not end in .ovf, .ova or .iso); set \"ovf\" or \"iso\"".into()),
        (vec![("import_source_url", json!("http://h/x")), ("import_target_image_type", json!("OVF")), ("import_target_location_name", json!("l")) ], "import_target_image_type: unknown type \"OVF\"; use \"ovf\" or \"iso\"; did you mean \"ovf\"? (values are case-sensitive)".into()),
        (vec![("import_source_url", json!("http://h/x.iso")), ("import_request_name", json!("Bad_Name")), ("import_target_location_name", json!("l")) ], "import_request_name: \"Bad_Name\" is not a valid name: 'B' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("bootstrap_data_file", json!(f.path("nodata").display().to_string())), ("ssh_password", json!("pw"))], format!("bootstrap_data_file: file {} not found", f.path("nodata").display())),
        (vec![("ssh_port", json!([22]))], "ssh_port: expected a number, got a list of 1 element(s)".into()),
        (vec![("keep_input_artifact", json!(["x"]))], "keep_input_artifact: expected a bool, got a list of 1 element(s)".into()),
        (vec![("ssh_ciphers", json!([["x"]]))], "ssh_ciphers: element 0 must be a string, got a list of 1 element(s)".into()),
        (vec![("class_name", json!({"a": "b"}))], "class_name: expected a string, got a map".into()),
    ];
    let _ = k;
    for (extra, expected) in &cases {
        f.one(extra, expected);
    }
}

#[test]
fn sysprep_and_vappconfig_data_files_are_checked_in_prepare() {
    let f = Fixture::new();
    let unattend = f.file("unattend.yaml", "unattend: |\n  <unattend/>\n");
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("Sysprep")),
        ("bootstrap_data_file", json!(unattend)),
        ("communicator", json!("none")),
    ]));
    assert_eq!(p.config.bootstrap_provider, BootstrapProvider::Sysprep);
    assert_eq!(
        p.config
            .bootstrap_data
            .as_ref()
            .map(|d| d["unattend"].clone()),
        Some("<unattend/>\n".to_string())
    );

    let props = f.file("props.yaml", "hostname: vm1\nport: 8080\nenabled: true\n");
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("vAppConfig")),
        ("bootstrap_data_file", json!(props)),
        ("communicator", json!("none")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert_eq!(
        (data["port"].as_str(), data["enabled"].as_str()),
        ("8080", "true")
    );

    let wrong_key = f.file("wrong.yaml", "user-data: x\n");
    f.one(
        &[("bootstrap_provider", json!("Sysprep")), ("bootstrap_data_file", json!(wrong_key.clone())), ("communicator", json!("none"))],
        &format!("bootstrap_data_file: {wrong_key} has no \"unattend\" key, which the bootstrap reads (or give the document itself)"),
    );
    let nested = f.file("nested.yaml", "a:\n  b: c\n");
    f.one(
        &[
            ("bootstrap_provider", json!("vAppConfig")),
            ("bootstrap_data_file", json!(nested.clone())),
            ("communicator", json!("none")),
        ],
        &format!(
            "bootstrap_data_file: {nested} must be a YAML map of vApp property names to string values: value of \"a\" is not a string"
        ),
    );
    let list = f.file("list.yaml", "- a\n");
    f.one(
        &[
            ("bootstrap_provider", json!("vAppConfig")),
            ("bootstrap_data_file", json!(list.clone())),
            ("communicator", json!("none")),
        ],
        &format!(
            "bootstrap_data_file: {list} must be a YAML map of vApp property names to string values: not a map"
        ),
    );
    // With SSH, user bootstrap data means the temporary key is not installed.
    let ci = f.file("ci.yaml", "user-data: '#cloud-config'\n");
    f.one(
        &[("bootstrap_data_file", json!(ci.clone()))],
        "ssh_password: no way to log in over SSH: bootstrap_data_file replaces the built-in cloud-config that installs the temporary key, so set ssh_password, ssh_private_key_file or ssh_agent_auth to match your bootstrap data",
    );
    f.ok(&f.with(&[
        ("bootstrap_data_file", json!(ci)),
        ("ssh_password", json!("pw")),
    ]));
}

#[test]
fn all_problems_are_reported_together() {
    let f = Fixture::new();
    let values = vec![
        (
            "kubeconfig_path",
            json!(f.path("kubeconfig").display().to_string()),
        ),
        ("source_name", json!("this-name-is-way-too-long")),
        ("bootstrap_provider", json!("sysprep")),
        ("ssh_timeout", json!("soon")),
        ("watch_source_timeout_sec", json!(-3)),
    ];
    let e = f.errs(&values);
    assert_eq!(e.len(), 7, "{e:#?}");
    for prefix in [
        "watch_source_timeout_sec:",
        "class_name:",
        "storage_class:",
        "source_name:",
        "bootstrap_provider:",
        "image_name:",
        "ssh_timeout:",
    ] {
        assert!(
            e.iter().any(|p| p.starts_with(prefix)),
            "missing {prefix} in {e:#?}"
        );
    }
    let shown = f.prepare(&values).expect_err("problems").to_string();
    assert!(shown.starts_with("7 error(s) occurred:\n\n* "), "{shown}");
    assert_eq!(shown.lines().filter(|l| l.starts_with("* ")).count(), 7);
}

#[test]
fn display_matches_go_multierror() {
    let e = ConfigErrors {
        problems: vec![Problem::invalid("a", "x"), Problem::invalid("b", "y\nmore")],
    };
    // A problem is always one line: a newline in a value is shown escaped.
    assert_eq!(
        e.to_string(),
        "2 error(s) occurred:\n\n* a: x\n* b: y\\nmore"
    );
}

#[test]
fn json_templates_get_weak_typing_hcl_does_not() {
    let f = Fixture::new();
    let weak = f.with(&[
        ("ssh_port", json!("2222")),
        ("keep_input_artifact", json!("true")),
        ("watch_source_timeout_sec", json!("60")),
        ("ssh_ciphers", json!("aes128-ctr")),
        ("ssh_username", json!(42)),
    ]);
    let p = prepare_with(&json_configs(&weak), &f.env()).expect("weak JSON values decode");
    assert_eq!(p.config.comm.ssh.port, 2222);
    assert!(p.config.keep_input_artifact);
    assert_eq!(p.config.watch_source_timeout, Duration::from_secs(60));
    assert_eq!(p.config.comm.ssh.ciphers, vec!["aes128-ctr".to_string()]);
    assert_eq!(p.config.comm.ssh.username, "42");
    // Packer converts HCL2 values to the spec's types before sending them, so a string where a
    // number belongs can only come from a broken peer: reject it.
    let e = prepare_with(&hcl_configs(&weak), &f.env())
        .unwrap_err()
        .lines();
    assert!(
        e.contains(&"ssh_port: expected a number, got string \"2222\"".to_string()),
        "{e:?}"
    );
    let bad = f.with(&[("ssh_port", json!("abc")), ("ssh_pty", json!("maybe"))]);
    let e = prepare_with(&json_configs(&bad), &f.env())
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![
            "ssh_port: expected a number, got string \"abc\"",
            "ssh_pty: expected a bool, got string \"maybe\""
        ]
    );
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    let f = Fixture::new();
    let mut values = f.base();
    values.push(("foo", json!(1)));
    values.push(("ssh_usernme", json!("x")));
    let e = prepare_with(&json_configs(&values), &f.env())
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![
            "unknown configuration key: \"foo\"",
            "unknown configuration key: \"ssh_usernme\"; did you mean \"ssh_username\"?"
        ]
    );
}

#[test]
fn json_template_interpolation() {
    let f = Fixture::new();
    let mut configs = json_configs(&f.with(&[
        ("kubeconfig_path", json!("{{user `kc`}}")),
        ("publish_location_name", json!("golden-images")),
        ("publish_image_name", json!("img-{{build_name}}")),
    ]));
    configs.push(json_to_msgpack(
        &json!({"packer_user_variables": {"kc": f.path("kubeconfig").display().to_string()}}),
    ));
    let p = prepare_with(&configs, &f.env()).expect("valid");
    assert_eq!(p.config.kubeconfig_paths, vec![f.path("kubeconfig")]);
    assert_eq!(p.config.publish_image_name.as_deref(), Some("img-x"));
    let configs = json_configs(&f.with(&[("image_name", json!("{{env `HOME`}}"))]));
    let e = prepare_with(&configs, &f.env()).unwrap_err().lines();
    assert_eq!(
        e,
        vec!["image_name: template function \"env\" can only be used in the variables section"]
    );
}

#[test]
fn kubeconfig_from_environment_list_and_home() {
    let f = Fixture::new();
    let mut values = f.base();
    values.retain(|(k, _)| *k != "kubeconfig_path");
    let missing = f.path("missing");
    let env = Environment {
        kubeconfig: Some(format!(
            "{}::{}",
            missing.display(),
            f.path("kubeconfig").display()
        )),
        home: None,
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("second KUBECONFIG entry is used");
    assert_eq!(p.config.kubeconfig_paths, vec![f.path("kubeconfig")]);

    let env = Environment {
        kubeconfig: Some(missing.display().to_string()),
        home: None,
    };
    let e = prepare_with(&hcl_configs(&values), &env)
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![format!(
            "kubeconfig_path: kubeconfig file {} not found",
            missing.display()
        )]
    );

    let home = f.path("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    std::fs::copy(f.path("kubeconfig"), home.join(".kube/config")).expect("copy");
    std::fs::copy(f.path("ca.pem"), home.join(".kube/ca.pem")).expect("copy");
    let env = Environment {
        kubeconfig: None,
        home: Some(home.clone()),
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("~/.kube/config is the default");
    assert_eq!(p.config.kubeconfig_paths, vec![home.join(".kube/config")]);

    let mut values = values.clone();
    values.push(("kubeconfig_path", json!("~/.kube/config")));
    let p = prepare_with(&hcl_configs(&values), &env).expect("~ expands");
    assert_eq!(p.config.kubeconfig_paths, vec![home.join(".kube/config")]);
}

#[test]
fn context_without_namespace_warns() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[("kubeconfig_context", json!("bare"))]));
    assert_eq!(p.config.namespace(), "default");
    assert_eq!(
        p.warnings,
        vec!["supervisor_namespace is not set and kubeconfig context \"bare\" sets no namespace: using \"default\"".to_string()]
    );
}

#[test]
fn import_configuration() {
    let f = Fixture::new();
    let import = |extra: &[(&'static str, Json)]| {
        let mut v = f.with(&[
            ("image_name", Json::Null),
            (
                "import_source_url",
                json!("http://files/images/photon.OVA?x=1"),
            ),
            ("import_target_location_name", json!("golden-images")),
            ("keep_import_request", json!(true)),
        ]);
        v.extend(extra.iter().cloned());
        v
    };
    let i = f.ok(&import(&[])).config.import.expect("import");
    assert_eq!(i.target_image_type, "OVF");
    assert!(i.keep_import_request && !i.clean_imported_image);
    let suffix = i
        .request_name
        .strip_prefix("packer-vsphere-supervisor-import-req-")
        .expect("default name");
    assert!(
        suffix.len() == 5 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{suffix}"
    );
    // The import options are checked either way.
    let e = f.errs(&import(&[("import_target_image_type", json!("vmdk"))]));
    assert_eq!(
        e[0],
        "import_target_image_type: unknown type \"vmdk\"; use \"ovf\" or \"iso\""
    );

    let p = f.ok(&f.with(&[("keep_import_request", json!(true))]));
    assert_eq!(
        p.warnings,
        vec!["keep_import_request ignored because import_source_url is not set".to_string()]
    );
}

#[test]
fn implemented_ssh_options_do_not_warn_and_rejected_ones_only_matter_for_ssh() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("ssh_clear_authorized_keys", json!(true)),
        ("ssh_disable_agent_forwarding", json!(true)),
        ("ssh_proxy_host", json!("127.0.0.1")),
        ("ssh_proxy_username", json!("pu")),
        ("ssh_proxy_password", json!("pp")),
    ]));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let ssh = &p.config.comm.ssh;
    assert!(ssh.clear_authorized_keys && ssh.disable_agent_forwarding);
    assert_eq!(
        ssh.proxy,
        Some(ProxyConfig {
            host: "127.0.0.1".into(),
            port: 1080,
            username: Some("pu".into()),
            password: Some("pp".into()),
        })
    );
    let p = f.ok(&f.with(&[
        ("ssh_local_tunnels", json!(["8080:db:5432"])),
        ("communicator", json!("none")),
    ]));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn the_bastion_inherits_ssh_private_key_file_without_credentials_of_its_own() {
    let f = Fixture::new();
    let key = f.file("id_ed25519", super::files::tests::SSH_KEY);
    let p = f.ok(&f.with(&[
        ("ssh_private_key_file", json!(key)),
        ("ssh_bastion_host", json!("jump")),
    ]));
    let b = p.config.comm.ssh.bastion.as_ref().expect("bastion");
    assert_eq!(
        b.private_key_file.as_deref(),
        Some(std::path::Path::new(&key))
    );
    // A password of its own: nothing inherited.
    let p = f.ok(&f.with(&[
        ("ssh_private_key_file", json!(key)),
        ("ssh_bastion_host", json!("jump")),
        ("ssh_bastion_password", json!("bpw")),
    ]));
    let b = p.config.comm.ssh.bastion.as_ref().expect("bastion");
    assert_eq!(b.private_key_file, None);
}

#[test]
fn publish_options_without_a_location_warn() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("publish_image_name", json!("x")),
        ("publish_request_ttl_sec", json!(60)),
    ]));
    assert_eq!(
        p.warnings,
        vec!["publish_image_name, publish_request_ttl_sec ignored because neither publish_location_name nor publish_to_default_location is set (the image is not published)".to_string()]
    );
}

#[test]
fn default_publish_location_is_exclusive_with_a_named_one() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("publish_to_default_location", json!(true)),
        ("publish_image_name", json!("x")),
    ]));
    assert!(p.config.publish_to_default_location);
    assert!(p.config.publishes());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let errs = f.errs(&f.with(&[
        ("publish_to_default_location", json!(true)),
        ("publish_location_name", json!("golden-images")),
    ]));
    assert_eq!(
        errs,
        ["publish_location_name: cannot be set together with publish_to_default_location = true: set exactly one of them (a named library, or the namespace's default library)"]
    );
    let p = f.ok(&f.with(&[]));
    assert!(!p.config.publish_to_default_location);
    assert!(!p.config.publishes());
}

#[test]
fn communicator_none_skips_ssh_checks() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("communicator", json!("none")),
        ("ssh_private_key_file", json!("/nonexistent/key")),
        ("ssh_bastion_username", json!("x")),
    ]));
    assert_eq!(p.config.comm.kind, CommKind::None);
    assert!(!p.config.uses_temporary_key());
}

#[test]
fn malformed_configs_are_reported_not_panicked_on() {
    let f = Fixture::new();
    let env = f.env();
    let e = prepare_with(&[Value::Bin(b"{".to_vec()), Value::Array(vec![])], &env)
        .unwrap_err()
        .lines();
    assert!(e[0].starts_with("configuration #0:"), "{e:?}");
    assert!(e[1].starts_with("configuration #1:"), "{e:?}");
    let odd = Value::Map(vec![(Value::Int(1), Value::Nil)]);
    assert!(prepare_with(&[odd], &env).is_err());
    let ext = Value::Map(vec![(
        Value::Str("class_name".into()),
        Value::Ext(-1, vec![0; 8]),
    )]);
    assert!(prepare_with(&[ext], &env).is_err());
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

/// Random values of random types under real option names: Prepare must answer, never panic.
#[test]
fn random_configs_never_panic() {
    use rand::{Rng, SeedableRng};
    fn random_value(rng: &mut rand::rngs::StdRng, depth: u32) -> Value {
        let strings = [
            "",
            "0",
            "-1",
            "22",
            "abc",
            "5m",
            "-5m",
            "1e400",
            "~",
            "~/x",
            "{{",
            "{{user `a`}}",
            "{{ x }}",
            "ssh",
            "none",
            "Sysprep",
            "ecdsa",
            "20Gi",
            "https://x/y.iso",
            "\u{e9}\u{1f600}",
            "a:b:c:d",
        ];
        match rng.gen_range(0..if depth > 2 { 7 } else { 9 }) {
            0 => Value::Nil,
            1 => Value::Bool(rng.gen()),
            2 => Value::Int(rng.gen_range(-100_000..100_000)),
            3 => Value::Uint(rng.gen()),
            4 => Value::F64(rng.gen_range(-1e20..1e20)),
            5 => Value::Str(strings[rng.gen_range(0..strings.len())].to_string()),
            6 => Value::Bin((0..rng.gen_range(0..8)).map(|_| rng.gen()).collect()),
            7 => Value::Array(
                (0..rng.gen_range(0..4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Map(
                (0..rng.gen_range(0..4))
                    .map(|_| {
                        (
                            Value::Str(strings[rng.gen_range(0..strings.len())].to_string()),
                            random_value(rng, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }
    let f = Fixture::new();
    let env = f.env();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    for _ in 0..1500 {
        let pairs: Vec<(Value, Value)> = (0..rng.gen_range(0..12))
            .map(|_| {
                let all = spec_options();
                let (name, _) = all[rng.gen_range(0..all.len())];
                (Value::Str(name.to_string()), random_value(&mut rng, 0))
            })
            .collect();
        let mut configs = vec![Value::Map(pairs)];
        if rng.gen_bool(0.3) {
            configs.push(random_value(&mut rng, 0));
        }
        let _ = prepare_with(&configs, &env);
    }
}

#[test]
fn raw_cloud_config_and_unattend_xml_are_accepted_as_the_document() {
    let f = Fixture::new();
    let ci = f.file(
        "user-data",
        "#cloud-config\nusers:\n  - name: packer\n    plain_text_passwd: pw\n",
    );
    let p = f.ok(&f.with(&[
        ("bootstrap_data_file", json!(ci)),
        ("ssh_password", json!("pw")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert_eq!(data.len(), 1);
    assert!(data["user-data"].starts_with("#cloud-config\nusers:"));

    let xml = f.file(
        "unattend.xml",
        "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"/>\n",
    );
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("Sysprep")),
        ("bootstrap_data_file", json!(xml)),
        ("communicator", json!("none")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert!(data["unattend"].starts_with("<?xml"));
}

mod checks;
mod defaults;
mod reference_table;
mod ssh_docs;
