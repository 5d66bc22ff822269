//! Port forwarding over the SSH connection, as Packer's `ssh_local_tunnels` (`ssh -L`: a local
//! port whose connections the server makes onwards, `direct-tcpip`) and `ssh_remote_tunnels`
//! (`ssh -R`: a port the server listens on whose connections we make onwards locally,
//! `tcpip-forward`). Tunnels open right after authentication and close with the session.
//! Agent forwarding (`auth-agent@openssh.com` channels to the local agent) is served here too.
use std::collections::HashMap;
use std::sync::Arc;

use russh::client::Msg;
use russh::Channel;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::error::SshError;
use crate::options::host_port;
use crate::session::Session;

/// Where unspecified bind addresses listen: loopback only, as OpenSSH does by default.
const DEFAULT_BIND: &str = "localhost";

/// One forward, `[bind_address:]port:host:hostport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    pub bind_address: String,
    pub port: u16,
    pub host: String,
    pub host_port: u16,
}

impl Tunnel {
    /// Parses `[bind_address:]port:host:hostport` (ports 1–65535; `bind_address` defaults to
    /// `localhost`).
    pub fn parse(spec: &str) -> Result<Tunnel, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (bind, port, host, hport) = match parts.as_slice() {
            [port, host, hport] => (DEFAULT_BIND, *port, *host, *hport),
            [bind, port, host, hport] => (*bind, *port, *host, *hport),
            _ => {
                return Err(format!(
                    "{spec:?} is not of the form [bind_address:]port:host:hostport"
                ))
            }
        };
        let port_of = |p: &str| p.parse::<u16>().ok().filter(|v| *v > 0);
        match (port_of(port), port_of(hport)) {
            (Some(port), Some(host_port)) if !host.is_empty() && !bind.is_empty() => Ok(Tunnel {
                bind_address: bind.to_string(),
                port,
                host: host.to_string(),
                host_port,
            }),
            _ => Err(format!(
                "{spec:?} is not of the form [bind_address:]port:host:hostport (ports 1-65535)"
            )),
        }
    }

    /// `bind:port -> host:hostport`, as errors and logs name the tunnel.
    pub fn describe(&self) -> String {
        format!(
            "{} -> {}",
            host_port(&self.bind_address, self.port),
            host_port(&self.host, self.host_port)
        )
    }
}

/// Where each remote forward's connections go, by the port the server listens on.
pub(crate) type RemoteMap = Arc<HashMap<u32, (String, u16)>>;

pub(crate) fn remote_map(tunnels: &[Tunnel]) -> RemoteMap {
    Arc::new(
        tunnels
            .iter()
            .map(|t| (u32::from(t.port), (t.host.clone(), t.host_port)))
            .collect(),
    )
}

/// The running local listeners; they stop when this is dropped (with the session).
#[derive(Default)]
pub(crate) struct Tunnels(Vec<JoinHandle<()>>);

impl Drop for Tunnels {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Opens every tunnel on a fresh session.
pub(crate) async fn start(
    session: &Session,
    local: &[Tunnel],
    remote: &[Tunnel],
) -> Result<Tunnels, SshError> {
    let mut running = Tunnels::default();
    for t in local {
        running.0.push(start_local(session, t).await?);
    }
    for t in remote {
        start_remote(session, t).await?;
    }
    Ok(running)
}

fn tunnel_err(session: &Session, t: &Tunnel, kind: &str, msg: String) -> SshError {
    SshError::Tunnel {
        target: session.target().to_string(),
        tunnel: format!("{kind} {}", t.describe()),
        msg,
    }
}

/// Listens on `bind:port`; each connection becomes a `direct-tcpip` channel to `host:hostport`.
async fn start_local(session: &Session, t: &Tunnel) -> Result<JoinHandle<()>, SshError> {
    let listener = TcpListener::bind(host_port(&t.bind_address, t.port))
        .await
        .map_err(|e| tunnel_err(session, t, "local", format!("listen: {e}")))?;
    info!(target = %session.target(), "local tunnel {}", t.describe());
    let weak = session.downgrade();
    let t = t.clone();
    Ok(tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let Some(session) = weak.upgrade() else { break };
            let t = t.clone();
            tokio::spawn(async move {
                let channel = session
                    .open_direct_tcpip(&t.host, t.host_port, &peer.ip().to_string(), peer.port())
                    .await;
                match channel {
                    Ok(ch) => relay(ch, tcp).await,
                    Err(e) => debug!("local tunnel {}: {e}", t.describe()),
                }
            });
        }
    }))
}

/// Asks the server to listen on `bind:port`; its connections arrive through the handler.
async fn start_remote(session: &Session, t: &Tunnel) -> Result<(), SshError> {
    session
        .tcpip_forward(&t.bind_address, t.port)
        .await
        .map_err(|e| tunnel_err(session, t, "remote", e))?;
    info!(target = %session.target(), "remote tunnel {}", t.describe());
    Ok(())
}

/// A `forwarded-tcpip` channel the server opened: connect it to its local destination.
pub(crate) async fn serve_forwarded(channel: Channel<Msg>, dest: (String, u16)) {
    match TcpStream::connect(host_port(&dest.0, dest.1)).await {
        Ok(tcp) => relay(channel, tcp).await,
        Err(e) => debug!("remote tunnel to {}: {e}", host_port(&dest.0, dest.1)),
    }
}

/// An `auth-agent@openssh.com` channel the server opened (agent forwarding): connect it to the
/// local agent's socket.
pub(crate) async fn serve_agent(channel: Channel<Msg>, socket: std::path::PathBuf) {
    match tokio::net::UnixStream::connect(&socket).await {
        Ok(mut agent) => {
            let mut stream = channel.into_stream();
            if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut agent).await {
                debug!("forwarded agent connection ended: {e}");
            }
        }
        Err(e) => debug!("forwarded agent {}: {e}", socket.display()),
    }
}

async fn relay(channel: Channel<Msg>, mut tcp: TcpStream) {
    let mut stream = channel.into_stream();
    if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await {
        debug!("tunnel connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_like_the_sdk() {
        assert_eq!(
            Tunnel::parse("8080:db:5432").unwrap(),
            Tunnel {
                bind_address: "localhost".into(),
                port: 8080,
                host: "db".into(),
                host_port: 5432
            }
        );
        let t = Tunnel::parse("127.0.0.1:9090:10.0.0.5:80").unwrap();
        assert_eq!(t.describe(), "127.0.0.1:9090 -> 10.0.0.5:80");
        for bad in ["8080", "0:db:22", "8080::22", "a:b:c:d:e", "8080:db:70000"] {
            assert!(Tunnel::parse(bad).is_err(), "{bad}");
        }
    }
}
