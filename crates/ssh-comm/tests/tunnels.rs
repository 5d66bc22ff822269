//! `ssh -L` / `ssh -R` style tunnels against a real OpenSSH server (`sshd-local.sh`).
mod common;

use std::time::Duration;

use common::{Capture, Sshd};
use ssh_comm::{CancellationToken, Session, SshError, Tunnel};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A loopback echo server that prefixes each line; returns its port.
async fn echo_server(prefix: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = w.write_all(format!("{prefix}{line}\n").as_bytes()).await;
                }
            });
        }
    });
    port
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn ask(port: u16, line: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        BufReader::new(r).read_line(&mut reply),
    )
    .await
    .expect("reply through the tunnel")
    .unwrap();
    reply
}

#[tokio::test]
async fn a_local_tunnel_reaches_a_port_through_the_server() {
    let sshd = Sshd::start();
    let echo = echo_server("echo:").await;
    let local = free_port();
    let mut o = sshd.opts();
    o.local_tunnels = vec![Tunnel::parse(&format!("127.0.0.1:{local}:127.0.0.1:{echo}")).unwrap()];
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(ask(local, "one").await, "echo:one\n");
    assert_eq!(ask(local, "two").await, "echo:two\n");
    // The listener goes away with the session.
    drop(s);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(TcpStream::connect(("127.0.0.1", local)).await.is_err());
}

#[tokio::test]
async fn a_remote_tunnel_brings_a_local_port_to_the_server() {
    let sshd = Sshd::start();
    let echo = echo_server("local:").await;
    let remote = free_port();
    let mut o = sshd.opts();
    o.remote_tunnels = vec![Tunnel::parse(&format!("{remote}:127.0.0.1:{echo}")).unwrap()];
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let out = Capture::default();
    let cmd =
        format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{remote}; echo from-remote >&3; head -1 <&3'");
    let code = s
        .exec(
            &cmd,
            None::<tokio::io::Empty>,
            out.clone(),
            Capture::default(),
        )
        .await
        .unwrap();
    assert_eq!((code, out.text().as_str()), (0, "local:from-remote\n"));
}

#[tokio::test]
async fn a_local_port_in_use_fails_the_connection_naming_the_tunnel() {
    let sshd = Sshd::start();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut o = sshd.opts();
    o.local_tunnels = vec![Tunnel::parse(&format!("127.0.0.1:{port}:127.0.0.1:22")).unwrap()];
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SshError::Tunnel { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "tunnel local 127.0.0.1:{port} -> 127.0.0.1:22: listen:"
        )),
        "{msg}"
    );
}
