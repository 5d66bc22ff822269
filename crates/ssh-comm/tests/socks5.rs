//! SSH through a SOCKS5 proxy (a loopback test proxy) to a real OpenSSH server.
mod common;

use std::time::Duration;

use common::{Capture, Sshd};
use ssh_comm::{CancellationToken, Session, Socks5Proxy, SshError};
use testkit::socks5::{Event, Socks5Server};

fn via(proxy: &Socks5Server, creds: Option<(&str, &str)>) -> Socks5Proxy {
    Socks5Proxy {
        host: "127.0.0.1".into(),
        port: proxy.port,
        credentials: creds.map(|(u, p)| (u.into(), p.into())),
    }
}

async fn echo(s: &Session) -> String {
    let out = Capture::default();
    let code = s
        .exec(
            "echo through-proxy",
            None::<tokio::io::Empty>,
            out.clone(),
            Capture::default(),
        )
        .await
        .expect("exec");
    assert_eq!(code, 0);
    out.text()
}

#[tokio::test]
async fn connects_through_a_proxy_without_authentication() {
    let sshd = Sshd::start();
    let proxy = Socks5Server::start(None);
    let mut o = sshd.opts();
    o.proxy = Some(via(&proxy, None));
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .expect("connect through the proxy");
    assert_eq!(echo(&s).await, "through-proxy\n");
    assert_eq!(proxy.relayed(), vec![format!("127.0.0.1:{}", sshd.port)]);
}

#[tokio::test]
async fn connects_through_a_proxy_with_username_and_password() {
    let sshd = Sshd::start();
    let proxy = Socks5Server::start(Some(("puser", "ppass")));
    let mut o = sshd.opts();
    o.proxy = Some(via(&proxy, Some(("puser", "ppass"))));
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .expect("connect through the proxy");
    assert_eq!(echo(&s).await, "through-proxy\n");
    // A host name is passed to the proxy to resolve.
    let mut o = sshd.opts();
    o.host = "localhost".into();
    o.proxy = Some(via(&proxy, Some(("puser", "ppass"))));
    Session::connect(&o, &CancellationToken::new())
        .await
        .expect("connect by name through the proxy");
    assert_eq!(
        proxy.relayed(),
        vec![
            format!("127.0.0.1:{}", sshd.port),
            format!("localhost:{}", sshd.port)
        ]
    );
}

#[tokio::test]
async fn wrong_proxy_credentials_fail_at_once_naming_the_proxy() {
    let sshd = Sshd::start();
    let proxy = Socks5Server::start(Some(("puser", "ppass")));
    let mut o = sshd.opts();
    o.ssh_timeout = Duration::from_secs(30);
    o.proxy = Some(via(&proxy, Some(("puser", "wrong"))));
    let started = std::time::Instant::now();
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .expect("must fail");
    assert!(started.elapsed() < Duration::from_secs(5), "not retried");
    assert!(matches!(e, SshError::Proxy { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "socks5 proxy 127.0.0.1:{}: authentication",
            proxy.port
        )) && !msg.contains('\n'),
        "{msg}"
    );
    // Without credentials, a proxy that needs them says which options to set.
    o.proxy = Some(via(&proxy, None));
    let msg = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .expect("must fail")
        .to_string();
    assert!(msg.contains("ssh_proxy_username"), "{msg}");
    assert_eq!(proxy.events(), vec![Event::AuthRefused, Event::AuthRefused]);
}

#[tokio::test]
async fn a_target_not_up_yet_is_retried_through_the_proxy() {
    let proxy = Socks5Server::start(None);
    // A port nothing listens on: the proxy answers "connection refused" and we keep trying.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut o = ssh_comm::ConnectOptions::new("127.0.0.1", port, "nobody");
    o.auth = vec![ssh_comm::Auth::Password("x".into())];
    o.ssh_timeout = Duration::from_secs(2);
    o.retry_interval = Duration::from_millis(200);
    o.proxy = Some(via(&proxy, None));
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .expect("must time out")
        .to_string();
    assert!(
        e.contains("timeout") && e.contains("connection refused"),
        "{e}"
    );
    let tries = proxy
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Unreachable(_)))
        .count();
    assert!(tries >= 2, "retried through the proxy: {tries}");
}
