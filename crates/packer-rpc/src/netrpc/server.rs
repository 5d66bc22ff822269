//! net/rpc server: calls are dispatched to registered services and run concurrently
//! (core sends `Builder.Cancel` while `Builder.Run` is still pending); replies go out through
//! one writer task so they never interleave.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::codec::{encode_response, FrameError, ValueReader};

/// Why a call produced no reply body.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The service has no such method; the server answers with Go's wording.
    UnknownMethod,
    /// The method failed; the text becomes the reply's `Error`.
    Failed(String),
}

impl CallError {
    pub fn failed(msg: impl Into<String>) -> Self {
        CallError::Failed(msg.into())
    }

    /// The error a Go server gives when an argument does not decode into its type.
    pub fn bad_args(method: &str, detail: impl std::fmt::Display) -> Self {
        CallError::Failed(format!("rpc: {method}: cannot decode arguments: {detail}"))
    }
}

pub type CallResult = Result<Value, CallError>;

/// One registered receiver, like a Go value passed to `rpc.RegisterName`.
#[async_trait]
pub trait Service: Send + Sync {
    /// `method` is the part after the last dot of `ServiceMethod`.
    async fn call(&self, method: &str, args: Value) -> CallResult;
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("serve rpc: {0}")]
    Read(#[from] FrameError),
}

/// A set of services; clones share the registry so services can be added while serving
/// (progress trackers register `Ui<id>` on the fly).
#[derive(Clone, Default)]
pub struct Server {
    services: Arc<RwLock<HashMap<String, Arc<dyn Service>>>>,
}

impl Server {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, name: impl Into<String>, service: Arc<dyn Service>) {
        if let Ok(mut s) = self.services.write() {
            s.insert(name.into(), service);
        }
    }

    pub fn unregister(&self, name: &str) {
        if let Ok(mut s) = self.services.write() {
            s.remove(name);
        }
    }

    fn lookup(&self, name: &str) -> Option<Arc<dyn Service>> {
        self.services.read().ok().and_then(|s| s.get(name).cloned())
    }

    /// Runs one call to completion, with net/rpc's error texts for bad names.
    pub async fn dispatch(&self, service_method: &str, args: Value) -> Result<Value, String> {
        let Some((service, method)) = service_method.rsplit_once('.') else {
            return Err(format!(
                "rpc: service/method request ill-formed: {service_method}"
            ));
        };
        let Some(svc) = self.lookup(service) else {
            return Err(format!("rpc: can't find service {service_method}"));
        };
        match svc.call(method, args).await {
            Ok(v) => Ok(v),
            Err(CallError::UnknownMethod) => {
                Err(format!("rpc: can't find method {service_method}"))
            }
            Err(CallError::Failed(msg)) => Err(msg),
        }
    }

    /// Serves `io` until the peer stops sending. Calls still running then keep going and
    /// their replies are still written; this returns once the read side has ended.
    pub async fn serve<S>(&self, io: S) -> Result<(), ServeError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, mut wr) = tokio::io::split(io);
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(buf) = rx.recv().await {
                let res = async {
                    wr.write_all(&buf).await?;
                    wr.flush().await
                }
                .await;
                if let Err(e) = res {
                    tracing::debug!(error = %e, "rpc server: write reply failed");
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        let mut reader = ValueReader::new(rd);
        loop {
            let Some((header, args)) = reader.read_request().await? else {
                return Ok(());
            };
            let server = self.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A panicking handler must still answer, or core would wait forever.
                let method = header.service_method.clone();
                let call = tokio::spawn(async move { server.dispatch(&method, args).await });
                let result = match call.await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(method = %header.service_method, error = %e, "rpc handler failed");
                        Err(format!(
                            "rpc: {}: internal error in the plugin",
                            header.service_method
                        ))
                    }
                };
                let mut buf = Vec::with_capacity(64);
                match result {
                    Ok(body) => {
                        encode_response(&mut buf, &header.service_method, header.seq, "", &body)
                    }
                    Err(msg) => {
                        // Go's ServerError can't carry an empty text; keep the reply an error.
                        let msg = if msg.is_empty() {
                            "unknown error".to_string()
                        } else {
                            msg
                        };
                        encode_response(
                            &mut buf,
                            &header.service_method,
                            header.seq,
                            &msg,
                            &Value::Nil,
                        )
                    }
                }
                let _ = tx.send(buf);
            });
        }
    }
}
