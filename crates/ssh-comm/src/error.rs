//! Errors of every operation, each naming the connection (`user@host:port`), the phase and the
//! object involved, so a failed build log says what went wrong without a debugger.
use std::time::Duration;

/// Every failure of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The options cannot work (bad algorithm name, unreadable key...); never retried.
    #[error("ssh {target}: invalid options: {msg}")]
    Config { target: String, msg: String },

    /// A private key or certificate could not be loaded or parsed.
    #[error("ssh {target}: load {what}: {msg}")]
    Key {
        target: String,
        what: String,
        msg: String,
    },

    /// `ssh_timeout` elapsed before a connection could be made.
    #[error("ssh {target}: timeout after {waited:?} waiting for SSH to become available (last error: {last})")]
    Timeout {
        target: String,
        waited: Duration,
        last: String,
    },

    /// The TCP connection (or the bastion's direct-tcpip channel) could not be opened.
    #[error("ssh {target}: tcp connect: {msg}")]
    Tcp { target: String, msg: String },

    /// The SOCKS5 proxy (`ssh_proxy_host`) could not be reached or refused the connection.
    #[error("ssh {target}: through {source}")]
    Proxy {
        target: String,
        #[source]
        source: crate::socks5::ProxyError,
    },

    /// A port forward (`ssh_local_tunnels` / `ssh_remote_tunnels`) could not be opened.
    #[error("ssh {target}: tunnel {tunnel}: {msg}")]
    Tunnel {
        target: String,
        tunnel: String,
        msg: String,
    },

    /// The SSH handshake (version exchange, key exchange) failed.
    #[error("ssh {target}: handshake failed: {source}")]
    Handshake {
        target: String,
        #[source]
        source: Box<russh::Error>,
    },

    /// The server refused every configured authentication method.
    #[error("ssh {target}: authentication failed (tried: {tried}; server allows: {allowed})")]
    Auth {
        target: String,
        tried: String,
        allowed: String,
    },

    /// Connecting to the bastion (jump host) failed.
    #[error("ssh {target}: via bastion: {source}")]
    Bastion {
        target: String,
        #[source]
        source: Box<SshError>,
    },

    /// The caller cancelled the operation.
    #[error("ssh {target}: {op}: cancelled")]
    Cancelled { target: String, op: String },

    /// An SSH-level failure after connecting (opening a channel, sending a request...).
    #[error("ssh {target}: {op}: {source}")]
    Channel {
        target: String,
        op: String,
        #[source]
        source: Box<russh::Error>,
    },

    /// The server refused a request (exec, subsystem, pty).
    #[error("ssh {target}: {op}: refused by the server")]
    Refused { target: String, op: String },

    /// Local I/O failed (reading the source, writing the sink, temp files).
    #[error("{op} {path}: {source}")]
    Io {
        op: String,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The remote scp process reported an error or broke the protocol.
    #[error("scp {op} {path}: {msg}")]
    Scp {
        op: String,
        path: String,
        msg: String,
    },

    /// An SFTP request failed.
    #[error("sftp {op} {path}: {msg}")]
    Sftp {
        op: String,
        path: String,
        msg: String,
    },

    /// No data moved within `read_write_timeout`.
    #[error("ssh {target}: {op}: no progress within {timeout:?}")]
    Stalled {
        target: String,
        op: String,
        timeout: Duration,
    },

    /// Key generation failed.
    #[error("generate {kind} key: {msg}")]
    Keygen { kind: String, msg: String },
}

impl SshError {
    pub(crate) fn io(op: &str, path: impl std::fmt::Display, source: std::io::Error) -> Self {
        SshError::Io {
            op: op.to_string(),
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn scp(op: &str, path: &str, msg: impl Into<String>) -> Self {
        SshError::Scp {
            op: op.to_string(),
            path: path.to_string(),
            msg: msg.into(),
        }
    }

    pub(crate) fn sftp(op: &str, path: &str, err: impl std::fmt::Display) -> Self {
        SshError::Sftp {
            op: op.to_string(),
            path: path.to_string(),
            msg: err.to_string(),
        }
    }

    /// Whether retrying the connection may help (the server is not up yet).
    pub fn is_transient(&self) -> bool {
        match self {
            SshError::Proxy { source, .. } => !source.fatal,
            SshError::Tcp { .. } | SshError::Handshake { .. } | SshError::Auth { .. } => true,
            _ => false,
        }
    }
}
