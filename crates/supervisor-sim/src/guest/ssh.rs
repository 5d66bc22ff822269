//! The SSH endpoint of a simulated guest (russh server). Authentication is checked against the
//! guest's bootstrap data only; every session command (exec, shell, the `sftp` subsystem, and
//! therefore `scp` in both its legacy and SFTP modes) runs inside the VM's bubblewrap sandbox.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::bootstrap::BootstrapPlan;
use super::sandbox::{RunAs, Sandbox};

/// What a guest needs to serve sessions.
pub(crate) struct GuestCtx {
    pub plan: BootstrapPlan,
    pub sandbox: Sandbox,
    pub host_key: PrivateKey,
}

impl GuestCtx {
    fn run_as(&self, user: &str) -> RunAs {
        let u = self.plan.user(user);
        let home = if user == "root" {
            "/root".to_string()
        } else {
            format!("/home/{user}")
        };
        RunAs {
            user: user.to_string(),
            home,
            shell: u
                .and_then(|u| u.shell.clone())
                .unwrap_or_else(|| "/bin/sh".to_string()),
            // An account the bootstrap does not know has no uid of its own: nobody's.
            uid: super::identity::uid_of(&self.plan, user).unwrap_or(65534),
            sudo: user == "root" || u.is_some_and(|u| u.sudo.is_some()),
        }
    }

    fn key_authorized(&self, user: &str, key: &PublicKey) -> bool {
        let Some(u) = self.plan.user(user) else {
            return false;
        };
        u.authorized_keys
            .iter()
            .filter_map(|line| parse_authorized_key(line))
            .any(|k| k.key_data() == key.key_data())
    }

    fn password_ok(&self, user: &str, password: &str) -> bool {
        if !self.plan.ssh_pwauth {
            return false;
        }
        self.plan
            .user(user)
            .and_then(|u| u.password.as_deref())
            .is_some_and(|p| !p.is_empty() && p == password)
    }
}

/// Parses an `authorized_keys` line, skipping a leading options field.
fn parse_authorized_key(line: &str) -> Option<PublicKey> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if let Ok(k) = PublicKey::from_openssh(line) {
        return Some(k);
    }
    let start = line.find(|c: char| c.is_whitespace())?;
    PublicKey::from_openssh(line[start..].trim()).ok()
}

/// Accepts connections on `listener` until `shutdown` fires, then disconnects every session
/// (their commands are killed when their handlers drop).
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<GuestCtx>, shutdown: CancellationToken) {
    let config = Arc::new(russh::server::Config {
        keys: vec![ctx.host_key.clone()],
        methods: MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..]),
        auth_rejection_time: Duration::from_millis(100),
        auth_rejection_time_initial: Some(Duration::ZERO),
        inactivity_timeout: Some(Duration::from_secs(3600)),
        nodelay: true,
        ..Default::default()
    });
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let handler = Conn::new(ctx.clone(), peer);
                    let cfg = config.clone();
                    let stop = shutdown.clone();
                    conns.spawn(async move {
                        let running = match russh::server::run_stream(cfg, sock, handler).await {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::debug!(%peer, error = %e, "guest ssh handshake failed");
                                return;
                            }
                        };
                        let handle = running.handle();
                        tokio::pin!(running);
                        tokio::select! {
                            r = &mut running => {
                                if let Err(e) = r {
                                    tracing::debug!(%peer, error = %e, "guest ssh session ended with error");
                                }
                            }
                            _ = stop.cancelled() => {
                                let _ = handle.disconnect(russh::Disconnect::ByApplication, "virtual machine powered off".into(), String::new()).await;
                                let _ = tokio::time::timeout(Duration::from_secs(2), running).await;
                            }
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "guest ssh accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

enum Launch {
    Exec(String),
    Shell,
    Sftp,
}

/// One SSH connection.
struct Conn {
    ctx: Arc<GuestCtx>,
    peer: SocketAddr,
    user: Option<String>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    env: Vec<(String, String)>,
    pty: bool,
    /// Dropping the connection aborts these, which drops (and so kills) the sandboxed processes.
    tasks: JoinSet<()>,
}

impl Conn {
    fn new(ctx: Arc<GuestCtx>, peer: SocketAddr) -> Self {
        Conn {
            ctx,
            peer,
            user: None,
            channels: HashMap::new(),
            env: Vec::new(),
            pty: false,
            tasks: JoinSet::new(),
        }
    }

    fn launch(
        &mut self,
        id: ChannelId,
        what: Launch,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let (Some(chan), Some(user)) = (self.channels.remove(&id), self.user.clone()) else {
            return session.channel_failure(id);
        };
        let run_as = self.ctx.run_as(&user);
        let argv = match what {
            Launch::Exec(cmd) => vec![run_as.shell.clone(), "-c".to_string(), cmd],
            Launch::Shell => vec![run_as.shell.clone(), "-i".to_string()],
            Launch::Sftp => vec!["/usr/lib/openssh/sftp-server".to_string()],
        };
        let mut cmd = self.ctx.sandbox.command(&run_as, &self.env, &argv);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        match cmd.spawn() {
            Ok(child) => {
                tracing::debug!(peer = %self.peer, %user, ?argv, "guest command started");
                session.channel_success(id)?;
                self.tasks.spawn(pump(chan, child, self.pty));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "starting sandboxed guest command failed");
                session.channel_failure(id)
            }
        }
    }
}

/// Connects a sandboxed process to an SSH channel: channel data → stdin (EOF closes stdin),
/// stdout → data, stderr → extended data 1 (merged into data under a pty, like sshd), then the
/// exit status, EOF and close.
async fn pump(chan: Channel<Msg>, mut child: tokio::process::Child, pty: bool) {
    let (mut rd, wr) = chan.split();
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = async move {
        while let Some(msg) = rd.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    if let Some(s) = stdin.as_mut() {
                        if s.write_all(&data).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                ChannelMsg::Eof | ChannelMsg::Close => break,
                _ => {}
            }
        }
        drop(stdin);
        // Keep the read half alive so the session can still deliver (and we ignore) messages.
        std::future::pending::<()>().await;
    };
    let wr_ref = &wr;
    let output = async move {
        let out = async {
            if let Some(o) = stdout {
                let _ = wr_ref.data(o).await;
            }
        };
        let err = async {
            if let Some(e) = stderr {
                if pty {
                    let _ = wr_ref.data(e).await;
                } else {
                    let _ = wr_ref.extended_data(1, e).await;
                }
            }
        };
        tokio::join!(out, err);
        child.wait().await
    };
    tokio::pin!(input);
    tokio::pin!(output);
    let status = loop {
        tokio::select! {
            _ = &mut input => {}
            s = &mut output => break s,
        }
    };
    let code = match status {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            st.code()
                .map(|c| c as u32)
                .or_else(|| st.signal().map(|s| 128 + s as u32))
                .unwrap_or(255)
        }
        Err(_) => 255,
    };
    let _ = wr.exit_status(code).await;
    let _ = wr.eof().await;
    let _ = wr.close().await;
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.ctx.password_ok(user, password) {
            self.user = Some(user.to_string());
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.ctx.key_authorized(user, offer.public_key) {
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        if self.ctx.key_authorized(user, key.public_key) {
            self.user = Some(user.to_string());
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.pty = true;
        self.env.push(("TERM".into(), term.to_string()));
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.env
            .push((variable_name.to_string(), variable_value.to_string()));
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.launch(channel, Launch::Shell, session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let cmd = String::from_utf8_lossy(data).to_string();
        self.launch(channel, Launch::Exec(cmd), session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" {
            self.launch(channel, Launch::Sftp, session)
        } else {
            session.channel_failure(channel)
        }
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }
}
