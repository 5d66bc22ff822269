//! Errors of the yamux layer.
use std::io;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// A violation of the yamux protocol by the peer (or a GoAway error from it).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// Header version byte was not 0.
    #[error("unsupported yamux version {0}")]
    UnsupportedVersion(u8),
    /// Header type byte was not 0..=3.
    #[error("unknown yamux frame type {0}")]
    UnknownFrameType(u8),
    /// Data or WindowUpdate frame on stream 0.
    #[error("stream frame on session stream 0")]
    StreamZero,
    /// Peer sent more data than the window we granted.
    #[error("stream {stream}: {len} bytes exceed the receive window of {window}")]
    RecvWindowExceeded {
        /// Stream id.
        stream: u32,
        /// Payload length of the frame.
        len: u32,
        /// Window left at that point.
        window: u32,
    },
    /// Data frame for a stream we no longer track, larger than any window we could have granted.
    #[error("stream {stream}: frame of {len} bytes is larger than any window we grant")]
    FrameTooLarge {
        /// Stream id.
        stream: u32,
        /// Payload length of the frame.
        len: u32,
    },
    /// A frame without SYN for a stream id that was never opened.
    #[error("frame for stream {0}, which was never opened")]
    UnknownStream(u32),
    /// SYN for an id already used.
    #[error("SYN for stream {0}, which already exists or was used before")]
    DuplicateStream(u32),
    /// SYN with an id of our own parity (both sides think they are the client, or the server).
    #[error("SYN for stream {0}, an id of our own parity")]
    WrongStreamParity(u32),
    /// A WindowUpdate pushed the send window past 2^32-1.
    #[error("stream {stream}: window update of {delta} overflows the send window")]
    WindowOverflow {
        /// Stream id.
        stream: u32,
        /// The delta received.
        delta: u32,
    },
    /// Peer sent GoAway with code 1.
    #[error("peer reported a yamux protocol error (GoAway 1)")]
    PeerProtocolError,
    /// Peer sent GoAway with code 2.
    #[error("peer reported a yamux internal error (GoAway 2)")]
    PeerInternalError,
    /// Peer sent GoAway with another code.
    #[error("peer sent GoAway with unknown code {0}")]
    UnknownGoAway(u32),
}

/// Errors of a yamux session or a session operation.
#[derive(Debug, Error, Clone)]
pub enum MuxError {
    /// The peer broke the protocol; we sent GoAway (protocol error) and ended the session.
    #[error("yamux protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The underlying connection failed.
    #[error("yamux connection {op} failed: {source}")]
    Io {
        /// "read" or "write".
        op: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Writing to the connection made no progress for this long.
    #[error("yamux connection write timed out after {0:?}")]
    WriteTimeout(Duration),
    /// A keepalive ping got no answer in time.
    #[error("yamux keepalive ping not answered within {0:?}")]
    KeepaliveTimeout(Duration),
    /// The session has ended (closed locally or by the peer).
    #[error("yamux session closed")]
    SessionClosed,
    /// The peer sent GoAway: it accepts no new streams.
    #[error("yamux peer sent GoAway; it accepts no new streams")]
    RemoteGoAway,
    /// We sent GoAway ourselves, so we open no new streams either.
    #[error("yamux session is going away; no new streams")]
    LocalGoAway,
    /// All stream ids of our parity are used.
    #[error("yamux stream ids exhausted")]
    StreamIdsExhausted,
}

impl MuxError {
    pub(crate) fn io(op: &'static str, e: io::Error) -> Self {
        MuxError::Io {
            op,
            source: Arc::new(e),
        }
    }

    /// The `io::Error` a stream operation reports when the session has ended with this error.
    pub(crate) fn to_io(&self) -> io::Error {
        io::Error::new(io::ErrorKind::ConnectionAborted, self.clone())
    }
}
