//! The SSH communicator provisioners use: [`ssh_comm::Session`] behind Packer's
//! [`Communicator`] trait, and the mapping from the builder's `ssh_*` options.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use packer_rpc::api::{
    BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, RemoteCommand,
};
use ssh_comm::{
    Auth, ConnectOptions, KeySource, Session, Socks5Proxy, SshError, TransferMethod, Tunnel,
};
use tokio_util::sync::CancellationToken;

use crate::config::{BastionConfig, FileTransfer, ProxyConfig, SshConfig};

/// Problems with the SSH options found before connecting.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("ssh options: {0} is empty")]
    Missing(&'static str),
    #[error("ssh options: {key}: {why}")]
    Tunnel { key: &'static str, why: String },
    #[error("ssh options: no way to authenticate as {user} (no private key, temporary key, password or agent)")]
    NoAuth { user: String },
}

/// Mode for uploads whose `FileInfo` carries no permission bits (content given inline).
const DEFAULT_FILE_MODE: u32 = 0o644;

/// Maps the builder's SSH options onto connection options for `host` (the address the build
/// resolved: `ssh_host` or the VM's ingress). The options are taken as prepared: Prepare has
/// applied every default (port 22, `ssh_timeout` 5m, 10 handshake attempts, ...). `temp_key` is the temporary private key (OpenSSH
/// text) the build generated and installed, used when the user brought no key of their own.
pub fn connect_options_from(
    ssh: &SshConfig,
    host: &str,
    temp_key: Option<&str>,
) -> Result<ConnectOptions, CommError> {
    if host.trim().is_empty() {
        return Err(CommError::Missing("the host"));
    }
    if ssh.username.is_empty() {
        return Err(CommError::Missing("ssh_username"));
    }
    let mut o = ConnectOptions::new(host.trim(), ssh.port, ssh.username.clone());
    match (&ssh.private_key_file, temp_key) {
        (Some(file), _) => o.auth.push(Auth::PrivateKey {
            key: KeySource::File(file.clone()),
            passphrase: None,
            certificate: ssh.certificate_file.clone().map(KeySource::File),
        }),
        (None, Some(key)) => o.auth.push(Auth::PrivateKey {
            key: KeySource::Inline(key.to_string()),
            passphrase: None,
            certificate: None,
        }),
        (None, None) => {}
    }
    if let Some(p) = &ssh.password {
        o.auth.push(Auth::Password(p.clone()));
    }
    if ssh.agent_auth {
        o.auth.push(Auth::Agent);
    }
    if o.auth.is_empty() {
        return Err(CommError::NoAuth {
            user: ssh.username.clone(),
        });
    }
    o.ssh_timeout = ssh.timeout;
    o.handshake_attempts = ssh.handshake_attempts;
    // Zero disables keepalives.
    o.keepalive_interval = (!ssh.keep_alive_interval.is_zero()).then_some(ssh.keep_alive_interval);
    o.read_write_timeout = (!ssh.read_write_timeout.is_zero()).then_some(ssh.read_write_timeout);
    o.ciphers = ssh.ciphers.clone();
    o.kex_algorithms = ssh.key_exchange_algorithms.clone();
    o.pty = ssh.pty;
    o.transfer = match ssh.file_transfer_method {
        FileTransfer::Scp => TransferMethod::Scp,
        FileTransfer::Sftp => TransferMethod::Sftp,
    };
    if let Some(b) = &ssh.bastion {
        o.bastion = Some(Box::new(bastion_options(b, &o)?));
    }
    o.proxy = ssh.proxy.as_ref().map(proxy_options);
    o.local_tunnels = tunnels("ssh_local_tunnels", &ssh.local_tunnels)?;
    o.remote_tunnels = tunnels("ssh_remote_tunnels", &ssh.remote_tunnels)?;
    o.forward_agent = agent_to_forward(
        ssh.disable_agent_forwarding,
        std::env::var_os("SSH_AUTH_SOCK"),
    );
    Ok(o)
}

fn bastion_options(
    b: &BastionConfig,
    target: &ConnectOptions,
) -> Result<ConnectOptions, CommError> {
    if b.host.trim().is_empty() {
        return Err(CommError::Missing("ssh_bastion_host"));
    }
    if b.username.is_empty() {
        return Err(CommError::Missing("ssh_bastion_username"));
    }
    let mut o = ConnectOptions::new(b.host.trim(), b.port, b.username.clone());
    if let Some(file) = &b.private_key_file {
        o.auth.push(Auth::PrivateKey {
            key: KeySource::File(file.clone()),
            passphrase: None,
            certificate: b.certificate_file.clone().map(KeySource::File),
        });
    }
    if let Some(p) = &b.password {
        o.auth.push(Auth::Password(p.clone()));
    }
    if b.agent_auth {
        o.auth.push(Auth::Agent);
    }
    if o.auth.is_empty() {
        return Err(CommError::NoAuth {
            user: b.username.clone(),
        });
    }
    // The bastion shares the target's patience and algorithm choices.
    o.ssh_timeout = target.ssh_timeout;
    o.handshake_attempts = target.handshake_attempts;
    o.keepalive_interval = target.keepalive_interval;
    o.read_write_timeout = target.read_write_timeout;
    o.ciphers = target.ciphers.clone();
    o.kex_algorithms = target.kex_algorithms.clone();
    Ok(o)
}

/// The agent socket forwarded to the guest: `$SSH_AUTH_SOCK` unless
/// `ssh_disable_agent_forwarding`, as the SDK does.
fn agent_to_forward(disabled: bool, auth_sock: Option<OsString>) -> Option<PathBuf> {
    auth_sock
        .filter(|s| !disabled && !s.is_empty())
        .map(PathBuf::from)
}

/// Parses tunnel specs (Prepare has checked them; a Config built otherwise may not be).
fn tunnels(key: &'static str, specs: &[String]) -> Result<Vec<Tunnel>, CommError> {
    specs
        .iter()
        .map(|t| Tunnel::parse(t).map_err(|why| CommError::Tunnel { key, why }))
        .collect()
}

/// `ssh_proxy_*` as the SDK reads them: credentials are offered when a username is set.
fn proxy_options(p: &ProxyConfig) -> Socks5Proxy {
    Socks5Proxy {
        host: p.host.trim().to_string(),
        port: p.port,
        credentials: p
            .username
            .clone()
            .map(|u| (u, p.password.clone().unwrap_or_default())),
    }
}

/// A connected SSH communicator.
#[derive(Clone)]
pub struct SshCommunicator {
    session: Session,
}

impl SshCommunicator {
    /// Connects (retrying until the options' `ssh_timeout`); `cancel` aborts the wait.
    pub async fn connect(
        opts: ConnectOptions,
        cancel: CancellationToken,
    ) -> Result<SshCommunicator, SshError> {
        let session = Session::connect(&opts, &cancel).await?;
        Ok(SshCommunicator { session })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }
}

fn boxed(e: SshError) -> BoxError {
    Box::new(e)
}

#[async_trait]
impl Communicator for SshCommunicator {
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        // Unwired streams are drained, so the remote side never blocks on a full window.
        let stdout: BoxWrite = cmd.stdout.unwrap_or_else(|| Box::new(tokio::io::sink()));
        let stderr: BoxWrite = cmd.stderr.unwrap_or_else(|| Box::new(tokio::io::sink()));
        let running = self
            .session
            .start(&cmd.command, cmd.stdin, stdout, stderr)
            .await
            .map_err(boxed)?;
        Ok(Box::pin(async move { running.wait().await.map_err(boxed) }))
    }

    async fn upload(
        &self,
        path: &str,
        data: BoxRead,
        info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        // A known size lets scp stream straight from the source instead of spooling.
        let size = info.as_ref().and_then(|i| u64::try_from(i.size).ok());
        let mode = match info.as_ref().map(|i| i.mode & 0o777) {
            Some(m) if m != 0 => m,
            _ => DEFAULT_FILE_MODE,
        };
        self.session
            .upload(path, data, size, mode)
            .await
            .map_err(boxed)
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), BoxError> {
        self.session
            .upload_dir(dst, src, exclude)
            .await
            .map_err(boxed)
    }

    async fn download(&self, path: &str, sink: BoxWrite) -> Result<(), BoxError> {
        let mut sink = sink;
        self.session
            .download(path, &mut sink)
            .await
            .map_err(boxed)?;
        // The sink is usually a broker stream: closing it tells the other side we are done.
        tokio::io::AsyncWriteExt::shutdown(&mut sink)
            .await
            .map_err(|e| -> BoxError {
                format!("download {path}: closing the destination: {e}").into()
            })
    }

    async fn download_dir(
        &self,
        src: &str,
        dst: &Path,
        exclude: &[String],
    ) -> Result<(), BoxError> {
        // Packer's file provisioner always asks with a trailing `/` ("dl/"), and its Go
        // communicator then creates `dst/dl` (remote `scp -rf` names the directory itself);
        // ssh-comm reads a trailing slash as "contents only", so drop it to match Packer.
        let trimmed = src.trim_end_matches('/');
        let src = if trimmed.is_empty() { src } else { trimmed };
        self.session
            .download_dir(src, dst, exclude)
            .await
            .map_err(boxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn base() -> SshConfig {
        SshConfig {
            port: 2222,
            username: "packer".into(),
            timeout: Duration::from_secs(60),
            handshake_attempts: 3,
            keep_alive_interval: Duration::from_secs(5),
            ..SshConfig::default()
        }
    }

    #[test]
    fn maps_the_options() {
        let mut c = base();
        c.password = Some("pw".into());
        c.ciphers = vec!["aes128-ctr".into()];
        c.key_exchange_algorithms = vec!["curve25519-sha256".into()];
        c.pty = true;
        c.file_transfer_method = FileTransfer::Sftp;
        c.read_write_timeout = Duration::from_secs(7);
        let o = connect_options_from(&c, "10.0.0.5", Some("KEY")).unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.username.as_str()),
            ("10.0.0.5", 2222, "packer")
        );
        assert_eq!(o.ssh_timeout, Duration::from_secs(60));
        assert_eq!(o.handshake_attempts, 3);
        assert_eq!(o.keepalive_interval, Some(Duration::from_secs(5)));
        assert_eq!(o.read_write_timeout, Some(Duration::from_secs(7)));
        assert_eq!(o.ciphers, vec!["aes128-ctr".to_string()]);
        assert_eq!(o.kex_algorithms, vec!["curve25519-sha256".to_string()]);
        assert!(o.pty);
        assert_eq!(o.transfer, TransferMethod::Sftp);
        assert_eq!(
            o.auth,
            vec![
                Auth::PrivateKey {
                    key: KeySource::Inline("KEY".into()),
                    passphrase: None,
                    certificate: None
                },
                Auth::Password("pw".into())
            ]
        );
        assert!(o.bastion.is_none());
        assert!(o.local_tunnels.is_empty() && o.remote_tunnels.is_empty());
    }

    #[test]
    fn the_agent_is_forwarded_unless_disabled() {
        let sock = || Some(OsString::from("/run/agent.sock"));
        assert_eq!(
            agent_to_forward(false, sock()),
            Some(PathBuf::from("/run/agent.sock"))
        );
        assert_eq!(agent_to_forward(true, sock()), None);
        assert_eq!(agent_to_forward(false, None), None);
        assert_eq!(agent_to_forward(false, Some(OsString::new())), None);
    }

    #[test]
    fn tunnels_are_mapped() {
        let mut c = base();
        c.password = Some("pw".into());
        c.local_tunnels = vec!["127.0.0.1:9090:db:5432".into()];
        c.remote_tunnels = vec!["8080:localhost:80".into()];
        let o = connect_options_from(&c, "h", None).unwrap();
        assert_eq!(o.local_tunnels[0].describe(), "127.0.0.1:9090 -> db:5432");
        assert_eq!(
            o.remote_tunnels[0].describe(),
            "localhost:8080 -> localhost:80"
        );
        c.local_tunnels = vec!["9090".into()];
        let e = connect_options_from(&c, "h", None).unwrap_err().to_string();
        assert!(
            e.starts_with("ssh options: ssh_local_tunnels: \"9090\""),
            "{e}"
        );
    }

    #[test]
    fn user_key_wins_over_temporary_key_and_zero_disables_keepalives() {
        let mut c = base();
        c.keep_alive_interval = Duration::ZERO;
        c.private_key_file = Some(PathBuf::from("/k"));
        c.certificate_file = Some(PathBuf::from("/k-cert.pub"));
        c.agent_auth = true;
        let o = connect_options_from(&c, "h", Some("TEMP")).unwrap();
        assert_eq!(o.keepalive_interval, None);
        assert_eq!(o.read_write_timeout, None);
        assert_eq!(o.transfer, TransferMethod::Scp);
        assert_eq!(
            o.auth,
            vec![
                Auth::PrivateKey {
                    key: KeySource::File("/k".into()),
                    passphrase: None,
                    certificate: Some(KeySource::File("/k-cert.pub".into()))
                },
                Auth::Agent
            ]
        );
    }

    #[test]
    fn bastion_is_mapped() {
        let mut c = base();
        c.password = Some("pw".into());
        c.bastion = Some(BastionConfig {
            host: "jump".into(),
            port: 2200,
            username: "j".into(),
            password: Some("jp".into()),
            ..BastionConfig::default()
        });
        let o = connect_options_from(&c, "10.0.0.5", None).unwrap();
        let b = o.bastion.as_deref().unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.username.as_str()),
            ("jump", 2200, "j")
        );
        assert_eq!(b.auth, vec![Auth::Password("jp".into())]);
        assert_eq!(b.ssh_timeout, o.ssh_timeout);
    }

    #[test]
    fn proxy_is_mapped() {
        let mut c = base();
        c.password = Some("pw".into());
        assert!(connect_options_from(&c, "h", None).unwrap().proxy.is_none());
        c.proxy = Some(ProxyConfig {
            host: "socks".into(),
            port: 1080,
            username: Some("pu".into()),
            password: None,
        });
        let o = connect_options_from(&c, "10.0.0.5", None).unwrap();
        assert_eq!(
            o.proxy,
            Some(Socks5Proxy {
                host: "socks".into(),
                port: 1080,
                credentials: Some(("pu".into(), String::new())),
            })
        );
        c.proxy = Some(ProxyConfig {
            host: "socks".into(),
            port: 1081,
            ..ProxyConfig::default()
        });
        let o = connect_options_from(&c, "10.0.0.5", None).unwrap();
        assert_eq!(o.proxy.map(|p| (p.port, p.credentials)), Some((1081, None)));
    }

    #[test]
    fn missing_pieces_are_errors() {
        let c = base();
        assert!(matches!(
            connect_options_from(&c, "h", None),
            Err(CommError::NoAuth { .. })
        ));
        assert!(matches!(
            connect_options_from(&c, " ", Some("k")),
            Err(CommError::Missing(_))
        ));
        let mut c = base();
        c.username.clear();
        assert!(connect_options_from(&c, "h", Some("k")).is_err());
        let mut c = base();
        c.bastion = Some(BastionConfig {
            host: "jump".into(),
            username: "j".into(),
            ..BastionConfig::default()
        });
        let e = connect_options_from(&c, "h", Some("k"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("j"), "{e}");
    }
}
