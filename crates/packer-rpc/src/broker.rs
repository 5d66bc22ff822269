//! Packer's MuxBroker on top of a yamux [`Session`] (`packer-plugin-protocol.md` §2.2).
//!
//! Every broker stream starts with the broker id as a u32 little-endian; the accepting side
//! answers with the same 4 bytes. Ids are independent per side: each side's [`Broker::next_id`]
//! hands out 1, 2, 3, … and the id travels to the other side inside an RPC argument. Id 0 is
//! the main RPC stream (core dials it, the plugin accepts it).

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::mux::{MuxError, Session, Stream};

/// How long an incoming stream stays parked, and how long `accept` waits (Packer's value).
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of broker operations; each names the broker id.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// Nobody dialled the id in time.
    #[error("broker: no stream for id {id} within {timeout:?}")]
    AcceptTimeout {
        /// Broker id.
        id: u32,
        /// How long we waited.
        timeout: Duration,
    },
    /// Another `accept` for the same id is already waiting.
    #[error("broker: id {id} is already being accepted")]
    AlreadyAccepting {
        /// Broker id.
        id: u32,
    },
    /// The yamux session refused a new stream.
    #[error("broker: opening a stream for id {id}: {source}")]
    Open {
        /// Broker id.
        id: u32,
        /// Why.
        #[source]
        source: MuxError,
    },
    /// Reading or writing the id/ack failed.
    #[error("broker: {op} for id {id}: {source}")]
    Io {
        /// Broker id.
        id: u32,
        /// What we were doing.
        op: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The dialled side acknowledged another id.
    #[error("broker: dialled id {id} but the peer acknowledged id {got}")]
    AckMismatch {
        /// Broker id dialled.
        id: u32,
        /// Id in the ack.
        got: u32,
    },
    /// The ack did not arrive in time.
    #[error("broker: dialled id {id}, no ack within {timeout:?}")]
    DialTimeout {
        /// Broker id.
        id: u32,
        /// How long we waited.
        timeout: Duration,
    },
    /// The session ended while waiting.
    #[error("broker: session ended while waiting for id {id}")]
    SessionClosed {
        /// Broker id.
        id: u32,
    },
}

enum Slot {
    /// A stream arrived before anyone asked for it.
    Parked { stream: Stream, gen: u64 },
    /// An `accept` is waiting for the stream.
    Waiting {
        tx: oneshot::Sender<Stream>,
        gen: u64,
    },
}

/// The MuxBroker. Create one per session with [`Broker::new`]; it runs the session's accept
/// loop, so nothing else may call [`Session::accept`] on that session.
pub struct Broker {
    session: Session,
    next_id: AtomicU32,
    gen: AtomicU64,
    slots: Mutex<HashMap<u32, Slot>>,
    timeout: Duration,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("next_id", &self.next_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Broker {
    /// Starts the broker (and its accept loop) on `session` with Packer's 5 s timeouts.
    pub fn new(session: Session) -> Arc<Broker> {
        Self::with_timeout(session, BROKER_TIMEOUT)
    }

    /// Like [`Broker::new`] with another park/accept timeout (tests).
    pub fn with_timeout(session: Session, timeout: Duration) -> Arc<Broker> {
        let broker = Arc::new(Broker {
            session: session.clone(),
            next_id: AtomicU32::new(0),
            gen: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
            timeout,
        });
        tokio::spawn(accept_loop(Arc::downgrade(&broker), session));
        broker
    }

    /// The session underneath.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// A fresh broker id: 1, 2, 3, … (0 is the main RPC stream).
    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// Waits up to the timeout for the peer to dial `id`, then acknowledges it.
    pub async fn accept(&self, id: u32) -> Result<Stream, BrokerError> {
        let gen = self.gen.fetch_add(1, Ordering::Relaxed);
        let rx = {
            let mut slots = lock(&self.slots);
            match slots.remove(&id) {
                Some(Slot::Parked { stream, .. }) => Ok(stream),
                Some(waiting @ Slot::Waiting { .. }) => {
                    slots.insert(id, waiting);
                    return Err(BrokerError::AlreadyAccepting { id });
                }
                None => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting { tx, gen });
                    Err(rx)
                }
            }
        };
        let rx = match rx {
            Ok(parked) => return self.ack(id, parked).await,
            Err(rx) => rx,
        };
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(stream)) => self.ack(id, stream).await,
            Ok(Err(_)) => Err(BrokerError::SessionClosed { id }),
            Err(_) => {
                // A stream delivered after the deadline finds the receiver gone and is parked
                // instead, so removing our entry here loses nothing.
                let mut slots = lock(&self.slots);
                if matches!(slots.get(&id), Some(Slot::Waiting { gen: g, .. }) if *g == gen) {
                    slots.remove(&id);
                }
                Err(BrokerError::AcceptTimeout {
                    id,
                    timeout: self.timeout,
                })
            }
        }
    }

    async fn ack(&self, id: u32, mut stream: Stream) -> Result<Stream, BrokerError> {
        let bytes = id.to_le_bytes();
        let write = stream.write_all(&bytes);
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(source)) => Err(BrokerError::Io {
                id,
                op: "writing the ack",
                source,
            }),
            Err(_) => Err(BrokerError::Io {
                id,
                op: "writing the ack",
                source: io::Error::new(io::ErrorKind::TimedOut, "no send window"),
            }),
        }
    }

    /// Opens a stream to the peer's `accept(id)` and checks its ack.
    pub async fn dial(&self, id: u32) -> Result<Stream, BrokerError> {
        let mut stream = self
            .session
            .open()
            .await
            .map_err(|source| BrokerError::Open { id, source })?;
        stream
            .write_all(&id.to_le_bytes())
            .await
            .map_err(|source| BrokerError::Io {
                id,
                op: "writing the id",
                source,
            })?;
        // The peer parks our stream for up to its own timeout before its accept acks it.
        let wait = self.timeout.saturating_mul(2);
        let mut ack = [0u8; 4];
        match tokio::time::timeout(wait, stream.read_exact(&mut ack)).await {
            Ok(Ok(_)) => {}
            Ok(Err(source)) => {
                return Err(BrokerError::Io {
                    id,
                    op: "reading the ack",
                    source,
                })
            }
            Err(_) => return Err(BrokerError::DialTimeout { id, timeout: wait }),
        }
        let got = u32::from_le_bytes(ack);
        if got != id {
            stream.reset();
            return Err(BrokerError::AckMismatch { id, got });
        }
        Ok(stream)
    }

    /// Hands an incoming stream to its waiting `accept`, or parks it for the timeout.
    fn deliver(self: &Arc<Self>, id: u32, stream: Stream) {
        let mut slots = lock(&self.slots);
        let stream = match slots.remove(&id) {
            Some(Slot::Waiting { tx, .. }) => match tx.send(stream) {
                Ok(()) => return,
                Err(stream) => stream,
            },
            Some(parked @ Slot::Parked { .. }) => {
                slots.insert(id, parked);
                tracing::warn!(id, "broker: second stream for a parked id; closing it");
                return;
            }
            None => stream,
        };
        let gen = self.gen.fetch_add(1, Ordering::Relaxed);
        slots.insert(id, Slot::Parked { stream, gen });
        drop(slots);
        let weak = Arc::downgrade(self);
        let timeout = self.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(b) = weak.upgrade() else { return };
            let expired = {
                let mut slots = lock(&b.slots);
                if matches!(slots.get(&id), Some(Slot::Parked { gen: g, .. }) if *g == gen) {
                    slots.remove(&id)
                } else {
                    None
                }
            };
            if expired.is_some() {
                tracing::debug!(id, "broker: nobody accepted the stream in time; closing it");
            }
        });
    }
}

async fn accept_loop(broker: Weak<Broker>, session: Session) {
    loop {
        let stream = match session.accept().await {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "broker: session ended");
                break;
            }
        };
        let Some(b) = broker.upgrade() else { return };
        let timeout = b.timeout;
        drop(b);
        let weak = broker.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let mut idb = [0u8; 4];
            match tokio::time::timeout(timeout, stream.read_exact(&mut idb)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(stream = stream.id(), error = %e, "broker: reading the id failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(stream = stream.id(), "broker: no id within the timeout");
                    return;
                }
            }
            if let Some(b) = weak.upgrade() {
                b.deliver(u32::from_le_bytes(idb), stream);
            }
        });
    }
    // Wake every waiting accept with "session closed" and close parked streams.
    if let Some(b) = broker.upgrade() {
        lock(&b.slots).clear();
    }
}
