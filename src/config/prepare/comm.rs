//! The communicator options: `communicator`, the SDK's `ssh_*` (with bastion, proxy and
//! tunnels) and `winrm_*`. Options of a communicator that is not selected are type-checked and
//! defaulted but not validated further.
use std::path::PathBuf;

use super::super::bounds::quote;
use super::super::options::{self, Group, Kind};
use super::super::{
    files, BastionConfig, CommConfig, CommKind, Config, KeyType, ProxyConfig, SshConfig,
    WinRmConfig,
};
use super::Preparer;

/// How the build logs in over SSH, as given.
struct Login {
    username: String,
    password: Option<String>,
    private_key_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    agent_auth: bool,
}

impl Preparer<'_> {
    pub(super) fn communicator_kind(&mut self) -> CommKind {
        let kind = self.keyword("communicator", "communicator");
        if kind == CommKind::WinRm {
            self.unsupported("communicator", "\"winrm\" is not supported yet by this plugin (WinRM connections are not implemented); use \"ssh\", or \"none\" to skip provisioning");
        }
        kind
    }

    pub(super) fn comm(&mut self, kind: CommKind, config: &Config) -> CommConfig {
        let pause = self.duration("pause_before_connecting", false);
        let ssh = self.ssh(kind == CommKind::Ssh, config);
        let winrm = self.winrm(kind == CommKind::WinRm);
        self.warn_winrm_options();
        CommConfig {
            kind,
            pause_before_connecting: pause,
            ssh,
            winrm,
        }
    }

    /// WinRM options change nothing (this plugin has no WinRM communicator): set, the build
    /// says so. (SSH options with `communicator = "none"` stay quiet, as in Packer's SDK, so a
    /// template can switch communicators with one variable.)
    fn warn_winrm_options(&mut self) {
        let set: Vec<&str> = options::group(Group::WinRm)
            .map(|o| o.name)
            .filter(|k| self.d.is_set(k))
            .collect();
        if !set.is_empty() {
            self.warnings.push(format!(
                "{} ignored: this plugin has no WinRM communicator",
                set.join(", ")
            ));
        }
    }

    fn ssh(&mut self, active: bool, config: &Config) -> SshConfig {
        let login = self.login(active);
        let keypair_name = self.d.non_empty("ssh_keypair_name");
        if keypair_name.is_some() {
            self.warnings.push("ssh_keypair_name names a cloud key pair; vSphere Supervisor has none, so it is ignored".into());
        }
        let (key_type, key_bits) = self.temporary_key_pair();
        let file_transfer_method = self.keyword("ssh_file_transfer_method", "method");
        let timeout = self.duration("ssh_wait_timeout", false);
        let handshake_attempts = self.count("ssh_handshake_attempts");
        self.rejected(active);
        let temporary_key_pair_name = self.temporary_key_pair_name();
        let remote_tunnels = self.tunnels("ssh_remote_tunnels", active);
        let local_tunnels = self.tunnels("ssh_local_tunnels", active);
        let bastion = self.bastion(active, &login);
        let proxy = self.proxy(active);
        if active && bastion.is_some() && proxy.is_some() {
            self.conflict(
                "ssh_proxy_host",
                "cannot be combined with ssh_bastion_host; use one of them",
            );
        }
        if active && config.bootstrap_data_file.is_some() {
            self.bootstrap_login(&login);
        }
        SshConfig {
            host: self.d.non_empty("ssh_host"),
            port: self.port("ssh_port"),
            username: login.username,
            password: login.password,
            private_key_file: login.private_key_file,
            certificate_file: login.certificate_file,
            keypair_name,
            temporary_key_pair_name: Some(temporary_key_pair_name),
            temporary_key_pair_type: key_type,
            temporary_key_pair_bits: key_bits,
            ciphers: self.d.str_list("ssh_ciphers").unwrap_or_default(),
            key_exchange_algorithms: self
                .d
                .str_list("ssh_key_exchange_algorithms")
                .unwrap_or_default(),
            // On by default: the published image must not trust the build's temporary key (only a
            // key the builder generated is ever removed; `false` keeps it).
            clear_authorized_keys: self.flag("ssh_clear_authorized_keys"),
            pty: self.flag("ssh_pty"),
            timeout,
            handshake_attempts,
            agent_auth: login.agent_auth,
            disable_agent_forwarding: self.flag("ssh_disable_agent_forwarding"),
            bastion,
            proxy,
            file_transfer_method,
            keep_alive_interval: self.duration("ssh_keep_alive_interval", true),
            read_write_timeout: self.duration("ssh_read_write_timeout", false),
            remote_tunnels,
            local_tunnels,
        }
    }

    /// The user and the credentials of the SSH login; the key files must load.
    fn login(&mut self, active: bool) -> Login {
        let username = self.text("ssh_username");
        let password = self.d.non_empty("ssh_password");
        let private_key_file =
            self.existing_file("ssh_private_key_file", active, files::ssh_private_key);
        let certificate_file =
            self.existing_file("ssh_certificate_file", active, files::ssh_certificate);
        if active && certificate_file.is_some() && private_key_file.is_none() {
            self.required(
                "ssh_certificate_file",
                "needs ssh_private_key_file (the key the certificate signs)",
            );
        }
        Login {
            username,
            password,
            private_key_file,
            certificate_file,
            agent_auth: self.flag("ssh_agent_auth"),
        }
    }

    /// User bootstrap data replaces the cloud-config that installs the temporary key: the
    /// login must then come from the options.
    fn bootstrap_login(&mut self, login: &Login) {
        if login.password.is_none() && login.private_key_file.is_none() && !login.agent_auth {
            self.required("ssh_password", "no way to log in over SSH: bootstrap_data_file replaces the built-in cloud-config that installs the temporary key, so set ssh_password, ssh_private_key_file or ssh_agent_auth to match your bootstrap data");
        }
    }

    /// `temporary_key_pair_type` and `_bits`, the bits defaulted per type.
    fn temporary_key_pair(&mut self) -> (KeyType, u32) {
        const TYPE: &str = "temporary_key_pair_type";
        let key_type = if self.d.non_empty(TYPE).as_deref() == Some("dsa") {
            self.unsupported(TYPE, "\"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"");
            KeyType::default()
        } else {
            self.keyword(TYPE, "type")
        };
        const BITS: &str = "temporary_key_pair_bits";
        let bits = self.d.int(BITS).unwrap_or(0);
        let shown = self.d.shown(BITS);
        let (default, valid, why) = match key_type {
            KeyType::Rsa => (4096, (2048..=16384).contains(&bits), format!("RSA keys must have between 2048 and 16384 bits, got {shown}")),
            KeyType::Ecdsa => (521, [256, 384, 521].contains(&bits), format!("ECDSA keys have 256, 384 or 521 bits, got {shown}")),
            KeyType::Ed25519 => (256, bits == 256, format!("ed25519 keys always have 256 bits, got {shown}; remove it or choose temporary_key_pair_type \"rsa\" or \"ecdsa\"")),
        };
        let bits = match bits {
            0 => default,
            b if valid => b,
            _ => {
                self.invalid(BITS, why);
                default
            }
        };
        (key_type, u32::try_from(bits).unwrap_or(0))
    }

    /// The comment of the temporary public key: one line of `authorized_keys`.
    fn temporary_key_pair_name(&mut self) -> String {
        const KEY: &str = "temporary_key_pair_name";
        let name = self.text(KEY);
        if name.chars().any(char::is_control) {
            self.invalid(KEY, format!(
                "{} must not contain control characters (it is the comment of the key's authorized_keys line)",
                quote(&name)
            ));
        }
        name
    }

    /// `ssh_local_tunnels` / `ssh_remote_tunnels`, each `[bind_address:]port:host:hostport`.
    fn tunnels(&mut self, key: &str, active: bool) -> Vec<String> {
        let list = self.d.str_list(key).unwrap_or_default();
        if active {
            for t in &list {
                if let Err(why) = ssh_comm::Tunnel::parse(t) {
                    self.invalid(key, why);
                }
            }
        }
        list
    }

    /// Refuses the rejected options of the table that are set to anything but their off value.
    fn rejected(&mut self, active: bool) {
        if !active {
            return;
        }
        for (option, why) in options::rejected() {
            let on = if option.kind() == Kind::StrList {
                self.d.str_list(option.name).is_some_and(|l| !l.is_empty())
            } else {
                self.d.bool(option.name).unwrap_or(false)
            };
            if on {
                self.unsupported(option.name, format!("not supported: {why}"));
            }
        }
    }

    /// Options of a jump host or proxy (`prefix`) that are set without its host.
    fn orphans(&self, prefix: &str, host: &str) -> Vec<&'static str> {
        options::group(Group::Ssh)
            .map(|o| o.name)
            .filter(|k| k.starts_with(prefix) && *k != host && self.d.is_set(k))
            .collect()
    }

    fn bastion(&mut self, active: bool, login: &Login) -> Option<BastionConfig> {
        let host = self.d.non_empty("ssh_bastion_host");
        let port = self.port("ssh_bastion_port");
        let username = self.d.non_empty("ssh_bastion_username");
        let password = self.d.non_empty("ssh_bastion_password");
        let check = active && host.is_some();
        let private_key_file = self.existing_file(
            "ssh_bastion_private_key_file",
            check,
            files::ssh_private_key,
        );
        let certificate_file = self.existing_file(
            "ssh_bastion_certificate_file",
            check,
            files::ssh_certificate,
        );
        let agent_auth = self.flag("ssh_bastion_agent_auth");
        let Some(host) = host else {
            let orphans = self.orphans("ssh_bastion_", "ssh_bastion_host");
            if active && !orphans.is_empty() {
                self.required(
                    "ssh_bastion_host",
                    format!("required by {}", orphans.join(", ")),
                );
            }
            return None;
        };
        // As the SDK: a bastion with neither password nor key of its own uses ssh_private_key_file.
        let private_key_file = match (&password, private_key_file) {
            (None, None) => login.private_key_file.clone(),
            (_, own) => own,
        };
        if active && password.is_none() && private_key_file.is_none() && !agent_auth {
            self.required("ssh_bastion_host", "the bastion needs a way to log in: set ssh_bastion_password, ssh_bastion_private_key_file (or ssh_private_key_file, which it inherits) or ssh_bastion_agent_auth");
        }
        if active && certificate_file.is_some() && private_key_file.is_none() {
            self.required(
                "ssh_bastion_certificate_file",
                "needs ssh_bastion_private_key_file",
            );
        }
        Some(BastionConfig {
            host,
            port,
            username: username.unwrap_or_else(|| login.username.clone()),
            password,
            private_key_file,
            certificate_file,
            agent_auth,
        })
    }

    fn proxy(&mut self, active: bool) -> Option<ProxyConfig> {
        let host = self.d.non_empty("ssh_proxy_host");
        let port = self.port("ssh_proxy_port");
        let username = self.d.non_empty("ssh_proxy_username");
        let password = self.d.non_empty("ssh_proxy_password");
        let Some(host) = host else {
            let orphans = self.orphans("ssh_proxy_", "ssh_proxy_host");
            if active && !orphans.is_empty() {
                self.required(
                    "ssh_proxy_host",
                    format!("required by {}", orphans.join(", ")),
                );
            }
            return None;
        };
        if active && password.is_some() && username.is_none() {
            self.required(
                "ssh_proxy_username",
                "required when ssh_proxy_password is set",
            );
        }
        Some(ProxyConfig {
            host,
            port,
            username,
            password,
        })
    }

    fn winrm(&mut self, active: bool) -> WinRmConfig {
        let use_ssl = self.flag("winrm_use_ssl");
        WinRmConfig {
            host: self.d.non_empty("winrm_host"),
            port: self.port_or("winrm_port", if use_ssl { 5986 } else { 5985 }),
            username: self.d.non_empty("winrm_username").unwrap_or_else(|| {
                if active {
                    "packer".into()
                } else {
                    String::new()
                }
            }),
            password: self.d.non_empty("winrm_password"),
            timeout: self.duration("winrm_timeout", false),
            use_ssl,
            insecure: self.flag("winrm_insecure"),
            use_ntlm: self.flag("winrm_use_ntlm"),
            no_proxy: self.flag("winrm_no_proxy"),
        }
    }
}
