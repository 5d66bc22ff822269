//! What the services need from the MuxBroker, as a trait, so they can be exercised over
//! in-memory pipes as well as real yamux streams.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

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

#[derive(Debug, thiserror::Error)]
pub enum MemBrokerError {
    #[error("accept broker stream {0}: timed out")]
    AcceptTimeout(u32),
    #[error("accept broker stream {0}: already being accepted")]
    Duplicate(u32),
    #[error("dial broker stream {0}: peer is gone")]
    PeerGone(u32),
}

enum Slot {
    Parked(tokio::io::DuplexStream),
    Waiting(oneshot::Sender<tokio::io::DuplexStream>),
}

#[derive(Default)]
struct Inbox {
    slots: Mutex<HashMap<u32, Slot>>,
}

/// An in-process broker pair over `tokio::io::duplex` pipes, for tests of the services
/// without yamux underneath. Like the real broker, the two id counters are independent.
pub struct MemBroker {
    next: AtomicU32,
    mine: Arc<Inbox>,
    peer: std::sync::Weak<Inbox>,
    pipe_size: usize,
}

impl MemBroker {
    /// Two connected ends; `pipe_size` is each stream's in-flight buffer.
    pub fn pair(pipe_size: usize) -> (Arc<MemBroker>, Arc<MemBroker>) {
        let a = Arc::new(Inbox::default());
        let b = Arc::new(Inbox::default());
        let left = MemBroker {
            next: AtomicU32::new(0),
            mine: a.clone(),
            peer: Arc::downgrade(&b),
            pipe_size,
        };
        let right = MemBroker {
            next: AtomicU32::new(0),
            mine: b,
            peer: Arc::downgrade(&a),
            pipe_size,
        };
        (Arc::new(left), Arc::new(right))
    }
}

#[async_trait]
impl StreamBroker for MemBroker {
    fn next_id(&self) -> u32 {
        self.next.fetch_add(1, Ordering::SeqCst).wrapping_add(1)
    }

    async fn accept(&self, id: u32) -> Result<BoxStream, BoxError> {
        let rx = {
            let mut slots = self
                .mine
                .slots
                .lock()
                .map_err(|_| MemBrokerError::PeerGone(id))?;
            match slots.remove(&id) {
                Some(Slot::Parked(s)) => return Ok(Box::new(s)),
                Some(w @ Slot::Waiting(_)) => {
                    slots.insert(id, w);
                    return Err(MemBrokerError::Duplicate(id).into());
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting(tx));
                    rx
                }
            }
        };
        match tokio::time::timeout(ACCEPT_TIMEOUT, rx).await {
            Ok(Ok(s)) => Ok(Box::new(s)),
            _ => {
                if let Ok(mut slots) = self.mine.slots.lock() {
                    slots.remove(&id);
                }
                Err(MemBrokerError::AcceptTimeout(id).into())
            }
        }
    }

    async fn dial(&self, id: u32) -> Result<BoxStream, BoxError> {
        let peer = self.peer.upgrade().ok_or(MemBrokerError::PeerGone(id))?;
        let (mine, theirs) = tokio::io::duplex(self.pipe_size);
        let mut slots = peer
            .slots
            .lock()
            .map_err(|_| MemBrokerError::PeerGone(id))?;
        match slots.remove(&id) {
            Some(Slot::Waiting(tx)) => {
                if let Err(theirs) = tx.send(theirs) {
                    slots.insert(id, Slot::Parked(theirs));
                }
            }
            _ => {
                slots.insert(id, Slot::Parked(theirs));
            }
        }
        Ok(Box::new(mine))
    }
}
