//! What to connect to and how.
use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::SshError;

/// Where private key or certificate material comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The text itself (OpenSSH / PEM private key, or an `ssh-…-cert-v01` line).
    Inline(String),
    /// A file holding it.
    File(PathBuf),
}

impl std::fmt::Debug for KeySource {
    // Never print key material into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Inline(_) => f.write_str("Inline(<redacted>)"),
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// One authentication method; [`ConnectOptions::auth`] is tried in order until one succeeds.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Offered by the `password` method, then by `keyboard-interactive` answering every prompt
    /// with it (as Packer's SDK does), for servers that take passwords only through PAM.
    Password(String),
    PrivateKey {
        key: KeySource,
        passphrase: Option<String>,
        /// An OpenSSH certificate for `key`; when set, certificate auth is used.
        certificate: Option<KeySource>,
    },
    /// Every identity of the agent at `$SSH_AUTH_SOCK`.
    Agent,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::PrivateKey {
                key, certificate, ..
            } => f
                .debug_struct("PrivateKey")
                .field("key", key)
                .field("certificate", certificate)
                .finish_non_exhaustive(),
            Auth::Agent => f.write_str("Agent"),
        }
    }
}

/// How the server's host key is checked.
///
/// The machines this communicator talks to were created seconds ago by the build itself: their
/// host keys are generated on first boot and cannot be known in advance, so there is nothing to
/// pin them against (Packer's own communicator accepts any host key for the same reason). The
/// fingerprint is logged so that a build log still records which key was seen. `Sha256` exists
/// for callers that do know the key (a long-lived bastion, for instance).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HostKeyPolicy {
    #[default]
    AcceptAny,
    /// Accept only this `SHA256:…` fingerprint (as `ssh-keygen -lf` prints it).
    Sha256(String),
}

/// How files are moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransferMethod {
    /// The remote `scp -t`/`scp -f` protocol, as Packer's Go communicator does by default.
    #[default]
    Scp,
    /// The `sftp` subsystem.
    Sftp,
}

/// Everything needed to reach one SSH server.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// Tried in order; the first success wins.
    pub auth: Vec<Auth>,
    /// Limit for one TCP connect attempt.
    pub connect_timeout: Duration,
    /// How long to keep retrying, in all (`ssh_timeout`): a new VM's sshd comes up late.
    pub ssh_timeout: Duration,
    /// Pause between attempts.
    pub retry_interval: Duration,
    /// How many handshake/authentication failures (after TCP connected) are tolerated before
    /// giving up, as the SDK's `ssh_handshake_attempts`. Zero counts as one.
    pub handshake_attempts: u32,
    /// Send a keepalive when the server has been silent this long; `None` disables.
    pub keepalive_interval: Option<Duration>,
    /// Fail a transfer or command whose connection moves no data for this long; `None` = never.
    pub read_write_timeout: Option<Duration>,
    /// Cipher names in preference order; empty = this crate's defaults.
    pub ciphers: Vec<String>,
    /// Key-exchange algorithm names in preference order; empty = defaults.
    pub kex_algorithms: Vec<String>,
    /// Request a pseudo-terminal for commands.
    pub pty: bool,
    /// Reach `host:port` through this jump host (a direct-tcpip channel).
    pub bastion: Option<Box<ConnectOptions>>,
    /// Open the TCP connection through this SOCKS5 proxy (ignored when `bastion` is set: the
    /// bastion's own options say how to reach it).
    pub proxy: Option<crate::socks5::Socks5Proxy>,
    /// `ssh -L` forwards opened once connected (`ssh_local_tunnels`).
    pub local_tunnels: Vec<crate::tunnel::Tunnel>,
    /// `ssh -R` forwards opened once connected (`ssh_remote_tunnels`).
    pub remote_tunnels: Vec<crate::tunnel::Tunnel>,
    /// Forward this local agent socket (usually `$SSH_AUTH_SOCK`) to every command, as `ssh -A`;
    /// `None` forwards nothing.
    pub forward_agent: Option<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub transfer: TransferMethod,
}

impl ConnectOptions {
    /// Options with the SDK's defaults (5 minutes to connect, 10 handshake attempts, 5 s
    /// keepalive, scp).
    pub fn new(host: impl Into<String>, port: u16, username: impl Into<String>) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            username: username.into(),
            auth: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            ssh_timeout: Duration::from_secs(300),
            retry_interval: Duration::from_secs(2),
            handshake_attempts: 10,
            keepalive_interval: Some(Duration::from_secs(5)),
            read_write_timeout: None,
            ciphers: Vec::new(),
            kex_algorithms: Vec::new(),
            pty: false,
            bastion: None,
            proxy: None,
            local_tunnels: Vec::new(),
            remote_tunnels: Vec::new(),
            forward_agent: None,
            host_key_policy: HostKeyPolicy::AcceptAny,
            transfer: TransferMethod::Scp,
        }
    }

    /// `user@host:port`, used in every error and log line.
    pub fn target(&self) -> String {
        format!("{}@{}", self.username, host_port(&self.host, self.port))
    }

    /// The russh client configuration these options call for.
    pub(crate) fn russh_config(&self) -> Result<russh::client::Config, SshError> {
        let mut preferred = russh::Preferred::default();
        if self.ciphers.is_empty() {
            // AES-GCM first: with the `ring` backend it uses AES-NI and runs several times faster
            // than chacha20-poly1305 (russh's first choice), which bounds upload throughput.
            let mut order = vec![russh::cipher::AES_128_GCM, russh::cipher::AES_256_GCM];
            order.extend(
                preferred
                    .cipher
                    .iter()
                    .filter(|c| !order.contains(c))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            preferred.cipher = Cow::Owned(order);
        } else {
            let mut names = Vec::new();
            for c in &self.ciphers {
                let name =
                    russh::cipher::Name::try_from(c.as_str()).map_err(|_| SshError::Config {
                        target: self.target(),
                        msg: format!("unsupported cipher {c:?}"),
                    })?;
                names.push(name);
            }
            preferred.cipher = Cow::Owned(names);
        }
        if !self.kex_algorithms.is_empty() {
            let mut names = Vec::new();
            for k in &self.kex_algorithms {
                let name =
                    russh::kex::Name::try_from(k.as_str()).map_err(|_| SshError::Config {
                        target: self.target(),
                        msg: format!("unsupported key exchange algorithm {k:?}"),
                    })?;
                names.push(name);
            }
            // The extension markers are not algorithms but must stay advertised, or strict kex
            // and ext-info (needed for rsa-sha2 user keys) are lost.
            for ext in [
                russh::kex::EXTENSION_SUPPORT_AS_CLIENT,
                russh::kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
            ] {
                if !names.contains(&ext) {
                    names.push(ext);
                }
            }
            preferred.kex = Cow::Owned(names);
        }
        Ok(russh::client::Config {
            // Large windows let a whole burst of upload data be in flight; the server's window
            // (2 MiB for OpenSSH) bounds what we send, this bounds what the server sends us.
            window_size: 16 * 1024 * 1024,
            maximum_packet_size: 65535,
            channel_buffer_size: 256,
            preferred,
            keepalive_interval: self.keepalive_interval,
            keepalive_max: 3,
            // Bulk transfers dominate; Nagle would only delay the small protocol replies
            // (scp acks) that each step of a transfer waits for.
            nodelay: true,
            ..Default::default()
        })
    }
}

/// `host:port`, bracketing IPv6 literals.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ciphers_prefer_aes_gcm_and_keep_the_rest() {
        let o = ConnectOptions::new("h", 22, "u");
        let cfg = o.russh_config().unwrap();
        assert_eq!(cfg.preferred.cipher[0], russh::cipher::AES_128_GCM);
        assert!(cfg
            .preferred
            .cipher
            .contains(&russh::cipher::CHACHA20_POLY1305));
    }

    #[test]
    fn unknown_algorithms_are_config_errors() {
        let mut o = ConnectOptions::new("h", 22, "u");
        o.ciphers = vec!["rot13".into()];
        let e = o.russh_config().unwrap_err().to_string();
        assert!(e.contains("rot13") && e.contains("u@h:22"), "{e}");
        let mut o = ConnectOptions::new("h", 22, "u");
        o.kex_algorithms = vec!["curve25519-sha256".into(), "magic".into()];
        assert!(o.russh_config().unwrap_err().to_string().contains("magic"));
    }

    #[test]
    fn explicit_kex_keeps_extension_markers() {
        let mut o = ConnectOptions::new("h", 22, "u");
        o.kex_algorithms = vec!["curve25519-sha256".into()];
        let cfg = o.russh_config().unwrap();
        assert_eq!(cfg.preferred.kex[0], russh::kex::CURVE25519);
        assert!(cfg
            .preferred
            .kex
            .contains(&russh::kex::EXTENSION_SUPPORT_AS_CLIENT));
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let a = Auth::Password("hunter2".into());
        assert!(!format!("{a:?}").contains("hunter2"));
        let k = Auth::PrivateKey {
            key: KeySource::Inline("-----BEGIN secret".into()),
            passphrase: Some("pp".into()),
            certificate: None,
        };
        let s = format!("{k:?}");
        assert!(!s.contains("secret") && !s.contains("pp\""), "{s}");
    }

    #[test]
    fn ipv6_targets_are_bracketed() {
        assert_eq!(host_port("::1", 22), "[::1]:22");
        assert_eq!(host_port("10.0.0.1", 2222), "10.0.0.1:2222");
    }
}
