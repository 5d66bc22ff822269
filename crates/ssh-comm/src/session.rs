//! Connecting (with retries, through an optional bastion or SOCKS5 proxy) and running commands.
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use russh::client::{self, Handle, Msg};
use russh::keys::{HashAlg, PublicKeyOrCertificate};
use russh::{Channel, ChannelMsg, Sig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::auth::{authenticate, prepare_auth};
use crate::error::SshError;
use crate::options::{host_port, ConnectOptions, HostKeyPolicy, TransferMethod};
use crate::transport;
use crate::tunnel::{self, RemoteMap, Tunnels};

/// Exit status reported when the command ended without an exit status or signal (the
/// connection dropped); the value of Packer's `CmdDisconnect`.
pub const EXIT_DISCONNECTED: i32 = 2300218;

/// Chunk size for forwarding stdin and file data: one allocation serves many SSH packets.
pub(crate) const CHUNK: usize = 256 * 1024;

/// The russh event handler: host-key policy, and the connections of remote tunnels.
pub(crate) struct ClientHandler {
    target: String,
    policy: HostKeyPolicy,
    seen: Arc<Mutex<Option<String>>>,
    remote: RemoteMap,
    agent: Option<PathBuf>,
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        match self.remote.get(&connected_port).cloned() {
            Some(dest) => {
                reply.accept().await;
                tokio::spawn(tunnel::serve_forwarded(channel, dest));
            }
            None => {
                reply
                    .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                    .await
            }
        }
        Ok(())
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        match self.agent.clone() {
            Some(socket) => {
                reply.accept().await;
                tokio::spawn(tunnel::serve_agent(channel, socket));
            }
            None => {
                reply
                    .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                    .await
            }
        }
        Ok(())
    }

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let (kind, fp) = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => (
                key.algorithm().to_string(),
                key.fingerprint(HashAlg::Sha256).to_string(),
            ),
            PublicKeyOrCertificate::Certificate(c) => (
                format!("{} certificate", c.algorithm()),
                c.public_key().fingerprint(HashAlg::Sha256).to_string(),
            ),
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fp.clone());
        }
        match &self.policy {
            HostKeyPolicy::AcceptAny => {
                info!(target = %self.target, "host key {kind} {fp} (accepted: new machine, nothing to pin)");
                Ok(true)
            }
            HostKeyPolicy::Sha256(want) => {
                let ok = want.trim() == fp;
                if !ok {
                    warn!(target = %self.target, "host key {kind} {fp} does not match expected {want}");
                }
                Ok(ok)
            }
        }
    }
}

struct Inner {
    handle: Handle<ClientHandler>,
    target: String,
    pty: bool,
    transfer: TransferMethod,
    rw_timeout: Option<Duration>,
    host_key: Option<String>,
    forward_agent: bool,
    /// Keeps the jump-host connection (which carries ours) alive as long as we are.
    _bastion: Option<Session>,
    /// The local tunnels' listeners, stopped with the session.
    tunnels: Mutex<Tunnels>,
}

/// A session reference that does not keep the connection open (for tunnel listeners).
pub(crate) struct WeakSession(std::sync::Weak<Inner>);

impl WeakSession {
    pub(crate) fn upgrade(&self) -> Option<Session> {
        self.0.upgrade().map(|inner| Session { inner })
    }
}

/// An authenticated SSH connection. Cheap to clone; every clone shares the connection.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// Why one attempt failed, deciding whether to retry.
pub(crate) enum AttemptError {
    /// TCP not up yet: retry until `ssh_timeout`.
    Tcp(SshError),
    /// Connected but handshake/auth failed: counts against `handshake_attempts`.
    Handshake(SshError),
    /// Retrying cannot help.
    Fatal(SshError),
}

pub(crate) type BoxIo = Box<dyn Io>;
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// `now + d`, saturating at a century: a huge `ssh_timeout` never overflows the clock.
fn deadline_after(d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    let now = Instant::now();
    now.checked_add(d.min(CENTURY))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

impl Session {
    /// Connects and authenticates, retrying until `opts.ssh_timeout` elapses: TCP failures are
    /// retried for the whole time, handshake/auth failures `handshake_attempts` times.
    pub async fn connect(
        opts: &ConnectOptions,
        cancel: &CancellationToken,
    ) -> Result<Session, SshError> {
        let deadline = deadline_after(opts.ssh_timeout);
        Self::connect_until(opts, cancel, deadline).await
    }

    fn connect_until<'a>(
        opts: &'a ConnectOptions,
        cancel: &'a CancellationToken,
        deadline: Instant,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Session, SshError>> + Send + 'a>> {
        Box::pin(async move {
            let target = opts.target();
            let config = Arc::new(opts.russh_config()?);
            let auth = prepare_auth(opts)?;
            if auth.is_empty() {
                return Err(SshError::Config {
                    target,
                    msg: "no authentication method configured".into(),
                });
            }
            let started = Instant::now();
            let mut handshake_failures = 0u32;
            let mut bastion: Option<Session> = None;
            let mut last = String::from("none yet");
            loop {
                if let Some(b) = &opts.bastion {
                    if bastion.as_ref().is_none_or(|s| s.is_closed()) {
                        let s = Self::connect_until(b, cancel, deadline)
                            .await
                            .map_err(|e| SshError::Bastion {
                                target: target.clone(),
                                source: Box::new(e),
                            })?;
                        bastion = Some(s);
                    }
                }
                let attempt = attempt(opts, &config, &auth, bastion.as_ref());
                let res = tokio::select! {
                    _ = cancel.cancelled() => return Err(SshError::Cancelled { target, op: "connect".into() }),
                    r = tokio::time::timeout_at(deadline, attempt) => r,
                };
                match res {
                    Ok(Ok((handle, host_key))) => {
                        info!(%target, "connected");
                        let session = Session {
                            inner: Arc::new(Inner {
                                handle,
                                target,
                                pty: opts.pty,
                                transfer: opts.transfer,
                                rw_timeout: opts.read_write_timeout,
                                host_key,
                                forward_agent: opts.forward_agent.is_some(),
                                _bastion: bastion,
                                tunnels: Mutex::new(Tunnels::default()),
                            }),
                        };
                        session.open_tunnels(opts).await?;
                        return Ok(session);
                    }
                    Ok(Err(AttemptError::Fatal(e))) => return Err(e),
                    Ok(Err(AttemptError::Tcp(e))) => {
                        debug!(%target, "waiting for ssh: {e}");
                        last = e.to_string();
                    }
                    Ok(Err(AttemptError::Handshake(e))) => {
                        handshake_failures += 1;
                        if handshake_failures >= opts.handshake_attempts.max(1) {
                            return Err(e);
                        }
                        debug!(%target, "handshake attempt {handshake_failures} failed: {e}");
                        last = e.to_string();
                    }
                    Err(_) => {}
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(SshError::Timeout {
                        target,
                        waited: now - started,
                        last,
                    });
                }
                let pause = opts.retry_interval.min(deadline - now);
                tokio::select! {
                    _ = cancel.cancelled() => return Err(SshError::Cancelled { target, op: "connect".into() }),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        })
    }

    /// Opens the options' tunnels on this (new) session.
    async fn open_tunnels(&self, opts: &ConnectOptions) -> Result<(), SshError> {
        if opts.local_tunnels.is_empty() && opts.remote_tunnels.is_empty() {
            return Ok(());
        }
        let running = tunnel::start(self, &opts.local_tunnels, &opts.remote_tunnels).await?;
        if let Ok(mut t) = self.inner.tunnels.lock() {
            *t = running;
        }
        Ok(())
    }

    pub(crate) fn handle(&self) -> &Handle<ClientHandler> {
        &self.inner.handle
    }

    pub(crate) fn downgrade(&self) -> WeakSession {
        WeakSession(Arc::downgrade(&self.inner))
    }

    /// A `direct-tcpip` channel from the server to `host:port`.
    pub(crate) async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u16,
        originator: &str,
        originator_port: u16,
    ) -> Result<Channel<Msg>, SshError> {
        self.inner
            .handle
            .channel_open_direct_tcpip(
                host,
                u32::from(port),
                originator,
                u32::from(originator_port),
            )
            .await
            .map_err(|e| self.channel_err(&format!("direct-tcpip to {}", host_port(host, port)), e))
    }

    /// Asks the server to listen on `address:port` and forward its connections to us.
    pub(crate) async fn tcpip_forward(&self, address: &str, port: u16) -> Result<(), String> {
        self.inner
            .handle
            .tcpip_forward(address, u32::from(port))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                russh::Error::RequestDenied => "refused by the server".to_string(),
                e => e.to_string(),
            })
    }

    /// `user@host:port` of this connection.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The server's `SHA256:` host key fingerprint.
    pub fn host_key_fingerprint(&self) -> Option<&str> {
        self.inner.host_key.as_deref()
    }

    /// The default transfer method from the options.
    pub fn transfer_method(&self) -> TransferMethod {
        self.inner.transfer
    }

    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// Sends a disconnect; later calls on any clone fail.
    pub async fn close(&self) -> Result<(), SshError> {
        self.inner
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await
            .map_err(|e| self.channel_err("disconnect", e))
    }

    pub(crate) fn channel_err(&self, op: &str, source: russh::Error) -> SshError {
        SshError::Channel {
            target: self.inner.target.clone(),
            op: op.to_string(),
            source: Box::new(source),
        }
    }

    /// Awaits `fut`, failing when no progress happens within `read_write_timeout`.
    pub(crate) async fn within<T>(
        &self,
        op: &str,
        fut: impl Future<Output = T>,
    ) -> Result<T, SshError> {
        match self.inner.rw_timeout {
            None => Ok(fut.await),
            Some(t) => tokio::time::timeout(t, fut)
                .await
                .map_err(|_| SshError::Stalled {
                    target: self.inner.target.clone(),
                    op: op.to_string(),
                    timeout: t,
                }),
        }
    }

    pub(crate) async fn open_channel(&self, op: &str) -> Result<Channel<Msg>, SshError> {
        self.within(op, self.inner.handle.channel_open_session())
            .await?
            .map_err(|e| self.channel_err(op, e))
    }

    /// Opens a channel running `command` and waits until the server has accepted it.
    pub(crate) async fn exec_channel(
        &self,
        command: &str,
        pty: bool,
    ) -> Result<Channel<Msg>, SshError> {
        let op = format!("exec {command:?}");
        let mut ch = self.open_channel(&op).await?;
        if pty {
            ch.request_pty(true, "xterm", 80, 40, 0, 0, &[])
                .await
                .map_err(|e| self.channel_err("request pty", e))?;
            self.await_reply(&mut ch, "request pty").await?;
        }
        if self.inner.forward_agent {
            // No reply wanted: a server that refuses forwarding still runs the command.
            ch.agent_forward(false)
                .await
                .map_err(|e| self.channel_err("request agent forwarding", e))?;
        }
        ch.exec(true, command.as_bytes())
            .await
            .map_err(|e| self.channel_err(&op, e))?;
        self.await_reply(&mut ch, &op).await?;
        Ok(ch)
    }

    /// Waits for the reply to a `want_reply` channel request. Servers answer requests in order
    /// and before any output of the started program, so nothing else of interest comes first.
    pub(crate) async fn await_reply(
        &self,
        ch: &mut Channel<Msg>,
        op: &str,
    ) -> Result<(), SshError> {
        loop {
            match self.within(op, ch.wait()).await? {
                Some(ChannelMsg::Success) => return Ok(()),
                Some(ChannelMsg::Failure) => {
                    return Err(SshError::Refused {
                        target: self.inner.target.clone(),
                        op: op.to_string(),
                    })
                }
                Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) | None => {
                    return Err(self.channel_err(
                        op,
                        russh::Error::ChannelOpenFailure(russh::ChannelOpenFailure::ConnectFailed),
                    ))
                }
                Some(_) => {}
            }
        }
    }

    /// Starts `command`. Returns once the server has accepted the exec request; the returned
    /// [`Running`] yields the exit status after all output has been written to `stdout` and
    /// `stderr` (each chunk is written and flushed as it arrives; both are shut down at the end,
    /// which is how stream-backed sinks learn the output is complete). `stdin` is forwarded and
    /// then closed with EOF; `None` sends EOF at once so readers of stdin do not hang.
    pub async fn start<I, O, E>(
        &self,
        command: &str,
        stdin: Option<I>,
        stdout: O,
        stderr: E,
    ) -> Result<Running, SshError>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin + Send + 'static,
        E: AsyncWrite + Unpin + Send + 'static,
    {
        let ch = self.exec_channel(command, self.inner.pty).await?;
        debug!(target = %self.inner.target, "started {command:?}");
        let session = self.clone();
        let command = command.to_string();
        let task = tokio::spawn(async move {
            session
                .run_command(ch, &command, stdin, stdout, stderr)
                .await
        });
        Ok(Running { task })
    }

    /// [`start`](Self::start) and wait.
    pub async fn exec<I, O, E>(
        &self,
        command: &str,
        stdin: Option<I>,
        stdout: O,
        stderr: E,
    ) -> Result<i32, SshError>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin + Send + 'static,
        E: AsyncWrite + Unpin + Send + 'static,
    {
        self.start(command, stdin, stdout, stderr)
            .await?
            .wait()
            .await
    }

    async fn run_command<I, O, E>(
        &self,
        ch: Channel<Msg>,
        command: &str,
        stdin: Option<I>,
        mut stdout: O,
        mut stderr: E,
    ) -> Result<i32, SshError>
    where
        I: AsyncRead + Unpin + Send + 'static,
        O: AsyncWrite + Unpin + Send + 'static,
        E: AsyncWrite + Unpin + Send + 'static,
    {
        let op = format!("exec {command:?}");
        let (mut rx, tx) = ch.split();
        let feeder = {
            let session = self.clone();
            let op = op.clone();
            tokio::spawn(async move {
                if let Some(mut input) = stdin {
                    let mut buf = BytesMut::with_capacity(CHUNK);
                    loop {
                        buf.reserve(CHUNK);
                        match input.read_buf(&mut buf).await {
                            Ok(0) => break,
                            Ok(_) => {
                                if let Err(e) = tx.data_bytes(buf.split().freeze()).await {
                                    debug!("{op}: stdin not delivered: {e}");
                                    return;
                                }
                            }
                            Err(e) => {
                                warn!(target = %session.target(), "{op}: reading stdin: {e}");
                                break;
                            }
                        }
                    }
                }
                if let Err(e) = tx.eof().await {
                    debug!("{op}: eof not delivered: {e}");
                }
            })
        };
        let mut status: Option<i32> = None;
        let mut failure: Option<SshError> = None;
        // A remote program may outlive our interest in its output only if the sink fails; we
        // keep draining so the exit status is still learned.
        while let Some(msg) = rx.wait().await {
            match msg {
                ChannelMsg::Data { data } if failure.is_none() => {
                    if let Err(e) = write_flush(&mut stdout, &data).await {
                        failure = Some(SshError::io("write stdout of", command, e));
                    }
                }
                ChannelMsg::ExtendedData { data, ext: 1 } if failure.is_none() => {
                    if let Err(e) = write_flush(&mut stderr, &data).await {
                        failure = Some(SshError::io("write stderr of", command, e));
                    }
                }
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                ChannelMsg::ExitSignal {
                    signal_name,
                    error_message,
                    ..
                } => {
                    debug!("{op}: killed by signal {signal_name:?} {error_message}");
                    status = Some(128 + signal_number(&signal_name));
                }
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        feeder.abort();
        let _ = stdout.shutdown().await;
        let _ = stderr.shutdown().await;
        if let Some(e) = failure {
            return Err(e);
        }
        let status = status.unwrap_or(EXIT_DISCONNECTED);
        debug!(target = %self.inner.target, "{op} exited with {status}");
        Ok(status)
    }
}

/// A started command.
pub struct Running {
    task: JoinHandle<Result<i32, SshError>>,
}

impl Running {
    /// The exit status: the program's, `128 + signal number` when a signal ended it, or
    /// [`EXIT_DISCONNECTED`] when the server reported neither.
    pub async fn wait(self) -> Result<i32, SshError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(SshError::io(
                "wait for",
                "remote command",
                std::io::Error::other(e.to_string()),
            )),
        }
    }

    /// The same as [`wait`](Self::wait), boxed and `'static` for trait objects.
    pub fn into_future(self) -> impl Future<Output = Result<i32, SshError>> + Send + 'static {
        self.wait()
    }
}

async fn write_flush<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    w.write_all(data).await?;
    w.flush().await
}

/// Linux signal numbers, as Go's ssh package maps exit-signal names.
fn signal_number(sig: &Sig) -> i32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(name) => match name.as_str() {
            "USR2" => 12,
            _ => 0,
        },
    }
}

/// One connection attempt: transport, handshake, authentication.
async fn attempt(
    opts: &ConnectOptions,
    config: &Arc<client::Config>,
    auth: &[crate::auth::Prepared],
    bastion: Option<&Session>,
) -> Result<(Handle<ClientHandler>, Option<String>), AttemptError> {
    let target = opts.target();
    let stream: BoxIo = match (bastion, &opts.proxy) {
        (Some(b), _) => transport::through_bastion(opts, b).await?,
        (None, Some(proxy)) => transport::through_proxy(opts, proxy).await?,
        (None, None) => transport::direct(opts).await?,
    };
    let seen = Arc::new(Mutex::new(None));
    let handler = ClientHandler {
        target: target.clone(),
        policy: opts.host_key_policy.clone(),
        seen: seen.clone(),
        remote: tunnel::remote_map(&opts.remote_tunnels),
        agent: opts.forward_agent.clone(),
    };
    let mut handle = client::connect_stream(config.clone(), stream, handler)
        .await
        .map_err(|e| {
            let rejected = matches!(e, russh::Error::UnknownKey);
            let e = SshError::Handshake {
                target: target.clone(),
                source: Box::new(e),
            };
            // A host key that fails the policy will not change by retrying.
            if rejected {
                AttemptError::Fatal(e)
            } else {
                AttemptError::Handshake(e)
            }
        })?;
    let host_key = seen.lock().ok().and_then(|s| s.clone());
    authenticate(&mut handle, opts, auth).await?;
    Ok((handle, host_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Auth, KeySource};

    #[tokio::test]
    async fn a_huge_ssh_timeout_saturates() {
        let end = deadline_after(Duration::MAX);
        assert!(end > Instant::now() + Duration::from_secs(50 * 365 * 86_400));
    }

    #[test]
    fn signals_map_like_go() {
        assert_eq!(128 + signal_number(&Sig::KILL), 137);
        assert_eq!(128 + signal_number(&Sig::TERM), 143);
        assert_eq!(signal_number(&Sig::Custom("WEIRD".into())), 0);
    }

    #[tokio::test]
    async fn no_auth_is_a_config_error() {
        let o = ConnectOptions::new("127.0.0.1", 1, "u");
        let e = Session::connect(&o, &CancellationToken::new())
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("no authentication method"));
    }

    #[tokio::test]
    async fn bad_inline_key_is_reported_before_connecting() {
        let mut o = ConnectOptions::new("127.0.0.1", 1, "u");
        o.auth = vec![Auth::PrivateKey {
            key: KeySource::Inline("not a key".into()),
            passphrase: None,
            certificate: None,
        }];
        let e = Session::connect(&o, &CancellationToken::new())
            .await
            .err()
            .map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("load private key"));
    }

    #[tokio::test]
    async fn closed_port_times_out_with_last_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut o = ConnectOptions::new("127.0.0.1", port, "u");
        o.auth = vec![Auth::Password("x".into())];
        o.ssh_timeout = Duration::from_millis(300);
        o.retry_interval = Duration::from_millis(50);
        let e = Session::connect(&o, &CancellationToken::new())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("timeout")
                && e.contains(&format!("u@127.0.0.1:{port}"))
                && e.contains("refused"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn cancel_stops_connecting() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut o = ConnectOptions::new("127.0.0.1", port, "u");
        o.auth = vec![Auth::Password("x".into())];
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c2.cancel();
        });
        let e = tokio::time::timeout(Duration::from_secs(5), Session::connect(&o, &cancel))
            .await
            .unwrap()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cancelled"), "{e}");
    }
}
