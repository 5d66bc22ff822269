//! A SOCKS5 client (RFC 1928) for the SSH connection's TCP stream, with no authentication or
//! username/password authentication (RFC 1929), as Packer's SDK dials through `ssh_proxy_*`.
//!
//! Only `CONNECT` is needed. A target given as an IP literal is sent as an address, anything
//! else as a domain name the proxy resolves (so names that only the proxy can resolve work).
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::options::host_port;

const VERSION: u8 = 5;
const METHOD_NONE: u8 = 0x00;
const METHOD_USER_PASS: u8 = 0x02;
const METHOD_REFUSED: u8 = 0xff;
const USER_PASS_VERSION: u8 = 1;
const CMD_CONNECT: u8 = 1;
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// A SOCKS5 proxy to reach the SSH server through (`ssh_proxy_host`/`_port`).
#[derive(Clone, PartialEq, Eq)]
pub struct Socks5Proxy {
    pub host: String,
    pub port: u16,
    /// `ssh_proxy_username`/`_password`: offered as RFC 1929 credentials when set.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Socks5Proxy {
    // Never print the proxy password into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socks5Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl Socks5Proxy {
    /// `host:port` of the proxy, as errors name it.
    pub fn address(&self) -> String {
        host_port(&self.host, self.port)
    }
}

/// Why going through the proxy failed; renders as one line naming the proxy and the phase.
#[derive(Debug, thiserror::Error)]
#[error("socks5 proxy {proxy}: {phase}: {msg}")]
pub struct ProxyError {
    pub proxy: String,
    pub phase: &'static str,
    pub msg: String,
    /// The proxy refused our credentials or every method we offered: retrying cannot help.
    pub fatal: bool,
}

/// Opens a TCP connection to the proxy and asks it to `CONNECT` to `host:port`.
pub(crate) async fn connect(
    proxy: &Socks5Proxy,
    host: &str,
    port: u16,
) -> Result<TcpStream, ProxyError> {
    let mut tcp = TcpStream::connect(proxy.address())
        .await
        .map_err(|e| fail(proxy, "tcp connect", e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    handshake(&mut tcp, proxy, host, port).await?;
    Ok(tcp)
}

/// The SOCKS5 exchange on an open stream: method negotiation, authentication, `CONNECT`.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    proxy: &Socks5Proxy,
    host: &str,
    port: u16,
) -> Result<(), ProxyError> {
    let request = connect_request(host, port).map_err(|m| fatal(proxy, "connect request", m))?;
    let method = negotiate_method(s, proxy).await?;
    if method == METHOD_USER_PASS {
        authenticate(s, proxy).await?;
    }
    s.write_all(&request)
        .await
        .map_err(|e| fail(proxy, "connect request", e.to_string()))?;
    read_connect_reply(s, proxy, &host_port(host, port)).await
}

fn fail(proxy: &Socks5Proxy, phase: &'static str, msg: String) -> ProxyError {
    ProxyError {
        proxy: proxy.address(),
        phase,
        msg,
        fatal: false,
    }
}

fn fatal(proxy: &Socks5Proxy, phase: &'static str, msg: String) -> ProxyError {
    ProxyError {
        fatal: true,
        ..fail(proxy, phase, msg)
    }
}

async fn negotiate_method<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    proxy: &Socks5Proxy,
) -> Result<u8, ProxyError> {
    let greeting: &[u8] = if proxy.credentials.is_some() {
        &[VERSION, 2, METHOD_NONE, METHOD_USER_PASS]
    } else {
        &[VERSION, 1, METHOD_NONE]
    };
    let io = |e: std::io::Error| fail(proxy, "method negotiation", e.to_string());
    s.write_all(greeting).await.map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(io)?;
    match reply {
        [VERSION, METHOD_NONE] => Ok(METHOD_NONE),
        [VERSION, METHOD_USER_PASS] if proxy.credentials.is_some() => Ok(METHOD_USER_PASS),
        [VERSION, METHOD_REFUSED] if proxy.credentials.is_some() => Err(fatal(
            proxy,
            "method negotiation",
            "the proxy accepts neither no authentication nor username/password".into(),
        )),
        [VERSION, METHOD_REFUSED] => Err(fatal(
            proxy,
            "method negotiation",
            "the proxy requires authentication; set ssh_proxy_username and ssh_proxy_password"
                .into(),
        )),
        [VERSION, m] => Err(fatal(
            proxy,
            "method negotiation",
            format!("the proxy chose method {m:#04x}, which was not offered"),
        )),
        [v, _] => Err(fail(
            proxy,
            "method negotiation",
            format!("not a SOCKS5 proxy (version byte {v})"),
        )),
    }
}

async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    proxy: &Socks5Proxy,
) -> Result<(), ProxyError> {
    let (user, pass) = proxy.credentials.clone().unwrap_or_default();
    let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
        return Err(fatal(
            proxy,
            "authentication",
            "username and password must each be at most 255 bytes".into(),
        ));
    };
    let mut msg = vec![USER_PASS_VERSION, ulen];
    msg.extend_from_slice(user.as_bytes());
    msg.push(plen);
    msg.extend_from_slice(pass.as_bytes());
    let io = |e: std::io::Error| fail(proxy, "authentication", e.to_string());
    s.write_all(&msg).await.map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(io)?;
    if reply[1] != 0 {
        return Err(fatal(
            proxy,
            "authentication",
            format!("the proxy rejected username {user:?} (status {})", reply[1]),
        ));
    }
    Ok(())
}

/// The `CONNECT` request for `host:port`.
fn connect_request(host: &str, port: u16) -> Result<Vec<u8>, String> {
    let mut req = vec![VERSION, CMD_CONNECT, 0];
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.push(ATYP_IPV4);
            req.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            req.push(ATYP_IPV6);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .ok()
                .filter(|l| *l > 0)
                .ok_or_else(|| format!("host name {host:?} must be 1 to 255 bytes"))?;
            req.push(ATYP_DOMAIN);
            req.push(len);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    Ok(req)
}

async fn read_connect_reply<S: AsyncRead + Unpin>(
    s: &mut S,
    proxy: &Socks5Proxy,
    target: &str,
) -> Result<(), ProxyError> {
    let io = |e: std::io::Error| fail(proxy, "connect reply", e.to_string());
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[0] != VERSION {
        return Err(fail(
            proxy,
            "connect reply",
            format!("not a SOCKS5 reply (version byte {})", head[0]),
        ));
    }
    if head[1] != 0 {
        return Err(fail(
            proxy,
            "connect",
            format!("{target}: {}", reply_text(head[1])),
        ));
    }
    // The bound address is of no use to us, but must be consumed before SSH starts.
    let addr_len = match head[3] {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => {
            let mut len = [0u8; 1];
            s.read_exact(&mut len).await.map_err(io)?;
            usize::from(len[0])
        }
        other => {
            return Err(fail(
                proxy,
                "connect reply",
                format!("unknown address type {other}"),
            ))
        }
    };
    let mut rest = vec![0u8; addr_len + 2];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(())
}

/// RFC 1928 §6 reply codes.
fn reply_text(code: u8) -> String {
    match code {
        1 => "general SOCKS server failure".into(),
        2 => "connection not allowed by ruleset".into(),
        3 => "network unreachable".into(),
        4 => "host unreachable".into(),
        5 => "connection refused".into(),
        6 => "TTL expired".into(),
        7 => "command not supported".into(),
        8 => "address type not supported".into(),
        other => format!("reply code {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(creds: Option<(&str, &str)>) -> Socks5Proxy {
        Socks5Proxy {
            host: "127.0.0.1".into(),
            port: 1080,
            credentials: creds.map(|(u, p)| (u.into(), p.into())),
        }
    }

    #[test]
    fn requests_carry_ips_as_addresses_and_names_as_domains() {
        assert_eq!(
            connect_request("10.0.0.5", 22).unwrap(),
            vec![5, 1, 0, 1, 10, 0, 0, 5, 0, 22]
        );
        let v6 = connect_request("[::1]", 2222).unwrap();
        assert_eq!(v6[3], ATYP_IPV6);
        assert_eq!(v6.len(), 4 + 16 + 2);
        assert_eq!(
            connect_request("vm.local", 22).unwrap(),
            [&[5u8, 1, 0, 3, 8][..], b"vm.local", &[0, 22]].concat()
        );
        assert!(connect_request(&"a".repeat(256), 22).is_err());
    }

    /// Runs the client against a scripted server answer and returns what the client sent.
    async fn exchange(p: &Socks5Proxy, answer: &[u8]) -> (Result<(), ProxyError>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(4096);
        server.write_all(answer).await.unwrap();
        let r = handshake(&mut client, p, "10.0.0.5", 22).await;
        drop(client);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.unwrap();
        (r, sent)
    }

    #[tokio::test]
    async fn no_auth_connect() {
        let answer = [5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
        let (r, sent) = exchange(&proxy(None), &answer).await;
        r.unwrap();
        assert_eq!(sent, vec![5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 5, 0, 22]);
    }

    #[tokio::test]
    async fn user_pass_connect() {
        let answer = [5, 2, 1, 0, 5, 0, 0, 3, 1, b'x', 0, 80];
        let (r, sent) = exchange(&proxy(Some(("u", "pw"))), &answer).await;
        r.unwrap();
        assert_eq!(&sent[..4], &[5, 2, 0, 2]);
        assert_eq!(&sent[4..10], &[1, 1, b'u', 2, b'p', b'w']);
    }

    #[tokio::test]
    async fn refusals_are_one_line_and_fatal_only_when_retrying_cannot_help() {
        let (r, _) = exchange(&proxy(Some(("u", "bad"))), &[5, 2, 1, 1]).await;
        let e = r.unwrap_err();
        assert!(e.fatal);
        assert_eq!(
            e.to_string(),
            "socks5 proxy 127.0.0.1:1080: authentication: the proxy rejected username \"u\" (status 1)"
        );
        let (r, _) = exchange(&proxy(None), &[5, 0xff]).await;
        let e = r.unwrap_err();
        assert!(
            e.fatal && e.to_string().contains("ssh_proxy_username"),
            "{e}"
        );
        let (r, _) = exchange(&proxy(None), &[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        let e = r.unwrap_err();
        assert!(!e.fatal, "the VM's sshd may not be up yet");
        assert_eq!(
            e.to_string(),
            "socks5 proxy 127.0.0.1:1080: connect: 10.0.0.5:22: connection refused"
        );
        let (r, _) = exchange(&proxy(None), b"HTTP/1.1 400").await;
        assert!(r.unwrap_err().to_string().contains("not a SOCKS5 proxy"));
    }

    #[test]
    fn the_password_is_not_debug_printed() {
        let s = format!("{:?}", proxy(Some(("u", "hunter2"))));
        assert!(!s.contains("hunter2") && s.contains("\"u\""), "{s}");
    }
}
