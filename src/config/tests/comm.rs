//! Prepare tests: The communicator options: SSH, its jump host, and `communicator = "none"`.
use super::*;

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
fn winrm_options_are_said_to_be_ignored() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("winrm_username", json!("admin")),
        ("winrm_use_ssl", json!(true)),
    ]));
    assert_eq!(
        p.warnings,
        ["winrm_username, winrm_use_ssl ignored: this plugin has no WinRM communicator"],
    );
}
