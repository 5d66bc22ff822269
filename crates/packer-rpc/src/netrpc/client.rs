//! net/rpc client: concurrent calls over one stream, replies matched by `Seq`.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use packer_wire::msgpack::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::codec::{encode_request, ValueReader};

type BoxWriter = Box<dyn AsyncWrite + Send + Unpin>;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The server's method returned an error; this is its text (Go's `rpc.ServerError`).
    #[error("{0}")]
    Remote(String),
    #[error("rpc {method}: connection lost: {reason}")]
    ConnectionLost { method: String, reason: String },
    #[error("rpc {method}: send request: {source}")]
    Send {
        method: String,
        source: std::io::Error,
    },
    #[error("rpc {method}: unexpected reply: {detail}")]
    BadReply { method: String, detail: String },
}

impl RpcError {
    pub fn bad_reply(method: &str, detail: impl Into<String>) -> Self {
        RpcError::BadReply {
            method: method.to_string(),
            detail: detail.into(),
        }
    }
}

type Reply = Result<Value, RpcError>;

struct Pending {
    next_seq: u64,
    waiting: HashMap<u64, (String, oneshot::Sender<Reply>)>,
    /// Why the connection is unusable, once it is.
    closed: Option<String>,
}

struct Inner {
    writer: tokio::sync::Mutex<Option<BoxWriter>>,
    pending: Arc<Mutex<Pending>>,
    reader: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A cheap-to-clone handle; the connection lives until the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

fn fail_all(pending: &Mutex<Pending>, reason: String) {
    let waiting = match pending.lock() {
        Ok(mut p) => {
            p.closed.get_or_insert(reason.clone());
            std::mem::take(&mut p.waiting)
        }
        Err(_) => return,
    };
    for (_, (method, tx)) in waiting {
        let _ = tx.send(Err(RpcError::ConnectionLost {
            method,
            reason: reason.clone(),
        }));
    }
}

impl Client {
    /// Starts a client on `io`; a background task reads replies until the stream ends.
    pub fn new<S>(io: S) -> Client
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(io);
        let pending = Arc::new(Mutex::new(Pending {
            next_seq: 0,
            waiting: HashMap::new(),
            closed: None,
        }));
        let reader_pending = pending.clone();
        let reader = tokio::spawn(async move {
            let mut reader = ValueReader::new(rd);
            let reason = loop {
                match reader.read_response().await {
                    Ok(Some((h, body))) => {
                        let slot = reader_pending.lock().ok().and_then(|mut p| p.waiting.remove(&h.seq));
                        match slot {
                            Some((_, tx)) => {
                                let reply = if h.error.is_empty() { Ok(body) } else { Err(RpcError::Remote(h.error)) };
                                let _ = tx.send(reply);
                            }
                            None => tracing::debug!(seq = h.seq, method = %h.service_method, "rpc reply for no pending call"),
                        }
                    }
                    Ok(None) => break "closed by peer".to_string(),
                    Err(e) => break e.to_string(),
                }
            };
            fail_all(&reader_pending, reason);
        })
        .abort_handle();
        Client {
            inner: Arc::new(Inner {
                writer: tokio::sync::Mutex::new(Some(Box::new(wr))),
                pending,
                reader,
            }),
        }
    }

    /// Calls `service_method` (e.g. `"Ui.Say"`) and waits for its reply.
    ///
    /// There is deliberately no timeout: `Builder.Run` and `Hook.Run` last as long as a build.
    /// The call ends when the reply arrives or the connection is lost.
    pub async fn call(&self, service_method: &str, args: &Value) -> Result<Value, RpcError> {
        let (tx, rx) = oneshot::channel();
        let seq = {
            let mut p = self
                .inner
                .pending
                .lock()
                .map_err(|_| RpcError::ConnectionLost {
                    method: service_method.into(),
                    reason: "client state poisoned".into(),
                })?;
            if let Some(reason) = &p.closed {
                return Err(RpcError::ConnectionLost {
                    method: service_method.into(),
                    reason: reason.clone(),
                });
            }
            let seq = p.next_seq;
            p.next_seq += 1;
            p.waiting.insert(seq, (service_method.to_string(), tx));
            seq
        };
        let mut buf = Vec::with_capacity(64);
        encode_request(&mut buf, service_method, seq, args);
        if let Err(source) = self.write(&buf).await {
            if let Ok(mut p) = self.inner.pending.lock() {
                p.waiting.remove(&seq);
            }
            return Err(RpcError::Send {
                method: service_method.into(),
                source,
            });
        }
        match rx.await {
            Ok(reply) => reply,
            Err(_) => Err(RpcError::ConnectionLost {
                method: service_method.into(),
                reason: "client shut down".into(),
            }),
        }
    }

    async fn write(&self, buf: &[u8]) -> std::io::Result<()> {
        let mut guard = self.inner.writer.lock().await;
        let w = guard.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotConnected, "rpc client closed")
        })?;
        w.write_all(buf).await?;
        w.flush().await
    }

    /// Half-closes the stream (no more requests); pending calls still get their replies.
    pub async fn close(&self) {
        let w = self.inner.writer.lock().await.take();
        if let Some(mut w) = w {
            let _ = w.shutdown().await;
        }
    }
}
