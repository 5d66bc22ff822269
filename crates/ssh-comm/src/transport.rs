//! The byte stream an SSH connection attempt runs over: a TCP connection straight to the
//! server, one through a SOCKS5 proxy, or a `direct-tcpip` channel through a bastion session.
use tracing::debug;

use crate::error::SshError;
use crate::options::{host_port, ConnectOptions};
use crate::session::{AttemptError, BoxIo, Session};
use crate::socks5::{self, Socks5Proxy};

/// The TCP connection straight to `host:port`.
pub(crate) async fn direct(opts: &ConnectOptions) -> Result<BoxIo, AttemptError> {
    let target = opts.target();
    let addr = host_port(&opts.host, opts.port);
    let tcp = tokio::time::timeout(
        opts.connect_timeout,
        tokio::net::TcpStream::connect(addr.as_str()),
    )
    .await
    .map_err(|_| {
        AttemptError::Tcp(SshError::Tcp {
            target: target.clone(),
            msg: format!("no answer within {:?}", opts.connect_timeout),
        })
    })?
    .map_err(|e| {
        AttemptError::Tcp(SshError::Tcp {
            target: target.clone(),
            msg: e.to_string(),
        })
    })?;
    let _ = tcp.set_nodelay(true);
    Ok(Box::new(tcp))
}

/// The TCP connection to `host:port` through the SOCKS5 proxy.
pub(crate) async fn through_proxy(
    opts: &ConnectOptions,
    proxy: &Socks5Proxy,
) -> Result<BoxIo, AttemptError> {
    let target = opts.target();
    let tcp = tokio::time::timeout(
        opts.connect_timeout,
        socks5::connect(proxy, &opts.host, opts.port),
    )
    .await
    .map_err(|_| {
        AttemptError::Tcp(SshError::Tcp {
            target: target.clone(),
            msg: format!(
                "socks5 proxy {} did not connect within {:?}",
                proxy.address(),
                opts.connect_timeout
            ),
        })
    })?
    .map_err(|source| {
        let fatal = source.fatal;
        let e = SshError::Proxy {
            target: target.clone(),
            source,
        };
        if fatal {
            AttemptError::Fatal(e)
        } else {
            AttemptError::Tcp(e)
        }
    })?;
    debug!(%target, proxy = %proxy.address(), "connected through socks5 proxy");
    Ok(Box::new(tcp))
}

/// A direct-tcpip channel from the bastion to `host:port`.
pub(crate) async fn through_bastion(
    opts: &ConnectOptions,
    b: &Session,
) -> Result<BoxIo, AttemptError> {
    let target = opts.target();
    let ch = tokio::time::timeout(
        opts.connect_timeout,
        b.handle().channel_open_direct_tcpip(
            opts.host.clone(),
            u32::from(opts.port),
            "127.0.0.1",
            0,
        ),
    )
    .await
    .map_err(|_| {
        AttemptError::Tcp(SshError::Tcp {
            target: target.clone(),
            msg: format!(
                "bastion {} opened no channel within {:?}",
                b.target(),
                opts.connect_timeout
            ),
        })
    })?
    .map_err(|e| {
        AttemptError::Tcp(SshError::Tcp {
            target: target.clone(),
            msg: format!("through bastion {}: {e}", b.target()),
        })
    })?;
    Ok(Box::new(ch.into_stream()))
}
