//! A small russh server that takes passwords only by `keyboard-interactive`, as PAM-based sshd
//! configurations do (`PasswordAuthentication no`, `KbdInteractiveAuthentication yes`).
//!
//! Each exchange has two rounds, like a PAM stack with a banner: first a message with no
//! prompts, then two prompts (`Password: ` and `Password again: `), both to be answered with
//! the password. Exec requests print `ran: COMMAND` and exit 0 (no process is started), and
//! `direct-tcpip` channels are forwarded, so the server can also stand as a bastion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::{Auth, Msg, Response, Session};
use russh::{Channel, ChannelId, ChannelMsg, MethodKind, MethodSet};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use ssh_comm::{Auth as ClientAuth, ConnectOptions};

const PROMPTS: &[(Cow<'static, str>, bool)] = &[
    (Cow::Borrowed("Password: "), false),
    (Cow::Borrowed("Password again: "), false),
];

/// A running server on a loopback port; stopped on drop.
pub struct KbdSshd {
    pub port: u16,
    pub user: String,
    pub pass: String,
    /// Every answer set received in the final round, over all connections.
    answers: Arc<Mutex<Vec<Vec<String>>>>,
    stop: CancellationToken,
}

impl KbdSshd {
    /// Starts a server accepting `user` with `pass`.
    pub async fn start(user: &str, pass: &str) -> KbdSshd {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let host_key =
            PrivateKey::random(&mut rand_core_rng::rng(), russh::keys::Algorithm::Ed25519)
                .expect("host key");
        let config = Arc::new(russh::server::Config {
            keys: vec![host_key],
            methods: MethodSet::from(&[MethodKind::KeyboardInteractive][..]),
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::ZERO),
            ..Default::default()
        });
        let server = KbdSshd {
            port,
            user: user.to_string(),
            pass: pass.to_string(),
            answers: Arc::default(),
            stop: CancellationToken::new(),
        };
        let creds = (server.user.clone(), server.pass.clone());
        tokio::spawn(serve(
            listener,
            config,
            creds,
            server.answers.clone(),
            server.stop.clone(),
        ));
        server
    }

    /// Options for this server, authenticating with `pass`.
    pub fn password_opts(&self, pass: &str) -> ConnectOptions {
        let mut o = ConnectOptions::new("127.0.0.1", self.port, self.user.clone());
        o.auth = vec![ClientAuth::Password(pass.to_string())];
        o.ssh_timeout = Duration::from_secs(10);
        o.retry_interval = Duration::from_millis(100);
        o
    }

    /// The answers the clients gave to the two prompts, one entry per completed exchange.
    pub fn answers(&self) -> Vec<Vec<String>> {
        self.answers.lock().unwrap().clone()
    }
}

impl Drop for KbdSshd {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

type Creds = (String, String);

async fn serve(
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    creds: Creds,
    answers: Arc<Mutex<Vec<Vec<String>>>>,
    stop: CancellationToken,
) {
    loop {
        let sock = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => sock,
                Err(_) => continue,
            },
        };
        let conn = Conn {
            creds: creds.clone(),
            answers: answers.clone(),
            round: 0,
        };
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move {
            if let Ok(running) = russh::server::run_stream(config, sock, conn).await {
                tokio::select! {
                    _ = running => {}
                    _ = stop.cancelled() => {}
                }
            }
        });
    }
}

struct Conn {
    creds: Creds,
    answers: Arc<Mutex<Vec<Vec<String>>>>,
    /// 0: nothing asked yet; 1: the banner round was sent; 2: the prompts were sent.
    round: u8,
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        let (round, answers) = match response {
            None => (0, Vec::new()),
            Some(r) => (
                self.round,
                r.map(|b| String::from_utf8_lossy(&b).into_owned())
                    .collect::<Vec<_>>(),
            ),
        };
        match round {
            0 => {
                self.round = 1;
                Ok(Auth::Partial {
                    name: "".into(),
                    instructions: "Authorized use only.".into(),
                    prompts: Cow::Borrowed(&[]),
                })
            }
            1 => {
                self.round = 2;
                Ok(Auth::Partial {
                    name: "".into(),
                    instructions: "".into(),
                    prompts: Cow::Borrowed(PROMPTS),
                })
            }
            _ => {
                self.round = 0;
                let ok = user == self.creds.0
                    && answers.len() == PROMPTS.len()
                    && answers.iter().all(|a| *a == self.creds.1);
                self.answers.lock().unwrap().push(answers);
                Ok(if ok { Auth::Accept } else { Auth::reject() })
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        tokio::spawn(echo_command(channel));
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _command: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The reply goes out before the output: the session writes it while handling the
        // request, and only then the messages `echo_command` queued.
        session.channel_success(channel)
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let addr = format!("{host_to_connect}:{port_to_connect}");
        let Ok(mut tcp) = tokio::net::TcpStream::connect(&addr).await else {
            reply.reject(russh::ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            let mut stream = channel.into_stream();
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await;
        });
        Ok(())
    }
}

/// Answers a session's exec request with `ran: COMMAND` and exit status 0.
async fn echo_command(mut chan: Channel<Msg>) {
    while let Some(msg) = chan.wait().await {
        if let ChannelMsg::Exec { command, .. } = msg {
            let out = format!("ran: {}\n", String::from_utf8_lossy(&command));
            let _ = chan.data_bytes(out.into_bytes()).await;
            let _ = chan.exit_status(0).await;
            let _ = chan.eof().await;
            let _ = chan.close().await;
            return;
        }
    }
}
