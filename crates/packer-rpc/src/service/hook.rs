//! `Hook`: core serves it; the builder calls `Hook.Run("packer_provision", …)` and serves its
//! Communicator and Ui for the provisioners on a fresh broker id for the duration.
use std::sync::Arc;

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use tokio_util::sync::CancellationToken;

use super::communicator::{CommunicatorClient, CommunicatorServer};
use super::link::StreamBroker;
use super::progress::ProgressHandoff;
use super::ui::{UiClient, UiServer};
use crate::api::{error_chain, BoxError, Communicator, Hook, Ui};
use crate::netrpc::{CallError, CallResult, Client, Server, Service};
use crate::val;

/// Serves `server` on the stream the peer will dial as `id`, in the background.
pub(crate) fn serve_on_accept(
    broker: Arc<dyn StreamBroker>,
    id: u32,
    server: Server,
    what: &'static str,
) {
    tokio::spawn(async move {
        match broker.accept(id).await {
            Ok(stream) => {
                if let Err(e) = server.serve(stream).await {
                    tracing::debug!(error = %e, id, what, "rpc server ended");
                }
            }
            Err(e) => {
                tracing::debug!(error = %error_chain(e.as_ref()), id, what, "peer never connected")
            }
        }
    });
}

/// Calls core's `Hook` service (plugin side).
pub struct HookClient {
    client: Client,
    broker: Arc<dyn StreamBroker>,
}

impl HookClient {
    pub fn new(client: Client, broker: Arc<dyn StreamBroker>) -> Self {
        HookClient { client, broker }
    }
}

#[async_trait]
impl Hook for HookClient {
    async fn run(
        &self,
        name: &str,
        data: Value,
        ui: Arc<dyn Ui>,
        comm: Arc<dyn Communicator>,
        cancel: CancellationToken,
    ) -> Result<(), BoxError> {
        let id = self.broker.next_id();
        let server = Server::new();
        // Uploads show their progress from our side: a provisioner's own tracker would make
        // each of its reads wait for a round trip through core (see register_for_provisioners).
        let handoff = ProgressHandoff::new();
        server.register(
            "Communicator",
            Arc::new(
                CommunicatorServer::new(comm, self.broker.clone())
                    .with_progress(ui.clone(), handoff.clone()),
            ),
        );
        UiServer::register_for_provisioners(&server, ui, handoff);
        serve_on_accept(self.broker.clone(), id, server, "hook communicator");

        let args = val::map([
            ("Name", val::str(name)),
            ("Data", data),
            ("StreamId", Value::Uint(u64::from(id))),
        ]);
        let call = self.client.call("Hook.Run", &args);
        tokio::pin!(call);
        tokio::select! {
            r = &mut call => return Ok(r.map(|_| ())?),
            _ = cancel.cancelled() => {}
        }
        tracing::info!("cancelling hook after context cancellation");
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.call("Hook.Cancel", &Value::Nil).await {
                tracing::debug!(error = %e, "Hook.Cancel failed");
            }
        });
        // Core still answers Hook.Run once its provisioners have stopped.
        Ok(call.await.map(|_| ())?)
    }
}

/// Serves a [`Hook`] as the `Hook` service (core side, for the harness).
pub struct HookServer {
    hook: Arc<dyn Hook>,
    broker: Arc<dyn StreamBroker>,
    cancel: CancellationToken,
}

impl HookServer {
    pub fn new(hook: Arc<dyn Hook>, broker: Arc<dyn StreamBroker>) -> Self {
        HookServer {
            hook,
            broker,
            cancel: CancellationToken::new(),
        }
    }
}

#[async_trait]
impl Service for HookServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Run" => {
                let bad = |d: &str| CallError::bad_args("Hook.Run", d);
                let name =
                    val::field_string(&args, "Name").ok_or_else(|| bad("Name is not a string"))?;
                let id = val::field_u32(&args, "StreamId")
                    .ok_or_else(|| bad("StreamId is not a uint32"))?;
                let data = val::get(&args, "Data").cloned().unwrap_or(Value::Nil);
                let stream = self.broker.dial(id).await.map_err(|e| {
                    CallError::Failed(format!(
                        "dial hook stream {id}: {}",
                        error_chain(e.as_ref())
                    ))
                })?;
                let client = Client::new(stream);
                let ui: Arc<dyn Ui> = Arc::new(UiClient::new(client.clone()));
                let comm: Arc<dyn Communicator> =
                    Arc::new(CommunicatorClient::new(client.clone(), self.broker.clone()));
                let res = self
                    .hook
                    .run(&name, data, ui, comm, self.cancel.child_token())
                    .await;
                client.close().await;
                res.map_err(|e| CallError::Failed(error_chain(e.as_ref())))?;
                Ok(Value::Nil)
            }
            "Cancel" => {
                self.cancel.cancel();
                Ok(Value::Nil)
            }
            _ => Err(CallError::UnknownMethod),
        }
    }
}
