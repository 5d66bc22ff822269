//! An in-process [`StreamBroker`] pair over `tokio::io::duplex` pipes, for tests of the
//! services without yamux underneath. Test-only: compiled for this crate's unit tests and with
//! the `testing` feature (which testkit, a dev-dependency only, turns on).
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::link::{BoxStream, StreamBroker, ACCEPT_TIMEOUT};
use crate::api::BoxError;

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

/// Two connected in-memory brokers. Like the real broker, the two id counters are independent.
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
