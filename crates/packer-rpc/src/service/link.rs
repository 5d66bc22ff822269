//! What the services need from the MuxBroker, as a trait, so they can be exercised over
//! in-memory pipes (`MemBroker`, with the `testing` feature) as well as real yamux
//! streams.
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::api::BoxError;

/// A bidirectional byte stream (a yamux stream); `shutdown` half-closes.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncStream for T {}

pub type BoxStream = Box<dyn AsyncStream>;

/// How long a side waits for its peer to dial an id it handed out (the MuxBroker's window).
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Packer's MuxBroker, as the services use it.
#[async_trait]
pub trait StreamBroker: Send + Sync {
    /// A fresh id for a stream this side will accept (1, 2, 3…).
    fn next_id(&self) -> u32;
    /// Waits (bounded, see [`ACCEPT_TIMEOUT`]) for the peer to dial `id`.
    async fn accept(&self, id: u32) -> Result<BoxStream, BoxError>;
    /// Opens a stream to an id the peer handed out.
    async fn dial(&self, id: u32) -> Result<BoxStream, BoxError>;
}
