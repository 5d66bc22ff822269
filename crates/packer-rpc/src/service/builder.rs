//! `Builder`: the component the plugin serves on broker id 0.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use tokio_util::sync::CancellationToken;

use super::artifact::{ArtifactClient, ArtifactServer};
use super::hook::{serve_on_accept, HookClient, HookServer};
use super::link::StreamBroker;
use super::ui::{UiClient, UiServer};
use crate::api::{error_chain, Builder, Hook, PrepareOutcome, Ui};
use crate::netrpc::{CallError, CallResult, Client, RpcError, Server, Service};
use crate::val;

/// How `Builder.ConfigSpec` encodes the spec: gob (Packer 1.6, and ≥1.7 without `--protobuf`)
/// or protobuf (`start builder --protobuf …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecEncoding {
    Gob,
    Protobuf,
}

/// Serves a [`Builder`] as the `Builder` service.
pub struct BuilderServer {
    builder: Arc<dyn Builder>,
    broker: Arc<dyn StreamBroker>,
    encoding: SpecEncoding,
    /// One per server, like the Go SDK: a Cancel that arrives before Run still cancels it.
    cancel: CancellationToken,
    /// Held while a Run is in progress, so the end of the session can wait for it.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl BuilderServer {
    pub fn new(
        builder: Arc<dyn Builder>,
        broker: Arc<dyn StreamBroker>,
        encoding: SpecEncoding,
    ) -> Self {
        BuilderServer {
            builder,
            broker,
            encoding,
            cancel: CancellationToken::new(),
            running: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The session with core ended: tells the builder, cancels a running build and waits up
    /// to `linger` for its Run to return (its cleanup included). Returns whether it did.
    pub async fn session_lost(&self, linger: Duration) -> bool {
        let idle = self.running.try_lock().is_ok();
        if idle {
            return true;
        }
        tracing::warn!("the connection to Packer ended during a build; cancelling it and waiting up to {linger:?} for its cleanup");
        self.builder.session_lost();
        self.cancel.cancel();
        match tokio::time::timeout(linger, self.running.lock()).await {
            Ok(_) => true,
            Err(_) => {
                tracing::error!("the build did not finish within {linger:?} after the connection to Packer ended");
                false
            }
        }
    }

    fn config_spec(&self) -> CallResult {
        let spec = self.builder.config_spec();
        let bytes = match self.encoding {
            SpecEncoding::Gob => spec.to_gob(),
            SpecEncoding::Protobuf => spec.to_protobuf(),
        };
        Ok(val::map([("ConfigSpec", Value::Bin(bytes))]))
    }

    async fn prepare(&self, args: Value) -> CallResult {
        let configs = match val::get(&args, "Configs") {
            None | Some(Value::Nil) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                return Err(CallError::bad_args(
                    "Builder.Prepare",
                    format!("Configs: expected an array, got {}", val::kind(other)),
                ))
            }
        };
        let out = self.builder.prepare(configs).await;
        Ok(prepare_reply(&out))
    }

    async fn run(&self, args: Value) -> CallResult {
        let id = val::as_u32(&args).ok_or_else(|| {
            CallError::bad_args(
                "Builder.Run",
                format!("expected a uint32, got {}", val::kind(&args)),
            )
        })?;
        let stream = self.broker.dial(id).await.map_err(|e| {
            CallError::Failed(format!(
                "dial core's ui/hook stream {id}: {}",
                error_chain(e.as_ref())
            ))
        })?;
        let client = Client::new(stream);
        let ui: Arc<dyn Ui> = Arc::new(UiClient::new(client.clone()));
        let hook: Arc<dyn Hook> = Arc::new(HookClient::new(client.clone(), self.broker.clone()));
        let running = self.running.clone().lock_owned().await;
        let result = self.builder.run(ui, hook, self.cancel.clone()).await;
        drop(running);
        client.close().await;
        match result {
            Err(e) => Err(CallError::Failed(error_chain(e.as_ref()))),
            Ok(None) => Ok(Value::Uint(0)),
            Ok(Some(artifact)) => {
                let aid = self.broker.next_id();
                let server = Server::new();
                server.register("Artifact", Arc::new(ArtifactServer::new(artifact)));
                serve_on_accept(self.broker.clone(), aid, server, "artifact");
                Ok(Value::Uint(u64::from(aid)))
            }
        }
    }
}

/// `{"GeneratedVars","Warnings","Error"}` with Go's nil-vs-empty distinctions.
pub fn prepare_reply(out: &PrepareOutcome) -> Value {
    let error = match &out.error {
        None => Value::Nil,
        Some(msg) => val::map([("Message", val::str(msg.clone()))]),
    };
    val::map([
        (
            "GeneratedVars",
            val::opt_str_list(out.generated_vars.as_deref()),
        ),
        ("Warnings", val::opt_str_list(out.warnings.as_deref())),
        ("Error", error),
    ])
}

pub fn parse_prepare_reply(v: &Value) -> Result<PrepareOutcome, RpcError> {
    let bad = |d: &str| RpcError::bad_reply("Builder.Prepare", d);
    let list = |key: &str| {
        val::get(v, key)
            .map_or(Some(None), val::as_opt_string_list)
            .ok_or_else(|| bad(&format!("{key} is not a list of strings")))
    };
    let error = match val::get(v, "Error") {
        None | Some(Value::Nil) => None,
        Some(e) => Some(
            val::field_string(e, "Message").ok_or_else(|| bad("Error.Message is not a string"))?,
        ),
    };
    Ok(PrepareOutcome {
        generated_vars: list("GeneratedVars")?,
        warnings: list("Warnings")?,
        error,
    })
}

#[async_trait]
impl Service for BuilderServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "ConfigSpec" => self.config_spec(),
            "Prepare" => self.prepare(args).await,
            "Run" => self.run(args).await,
            "Cancel" => {
                tracing::info!("build cancelled by core");
                self.cancel.cancel();
                Ok(Value::Nil)
            }
            _ => Err(CallError::UnknownMethod),
        }
    }
}

/// Drives a plugin's `Builder` the way core does (used by the harness).
#[derive(Clone)]
pub struct BuilderClient {
    client: Client,
    broker: Arc<dyn StreamBroker>,
}

impl BuilderClient {
    pub fn new(client: Client, broker: Arc<dyn StreamBroker>) -> Self {
        BuilderClient { client, broker }
    }

    /// The raw `ConfigSpec` bytes (gob or protobuf, depending on how the plugin was started).
    pub async fn config_spec(&self) -> Result<Vec<u8>, RpcError> {
        let v = self.client.call("Builder.ConfigSpec", &Value::Nil).await?;
        match val::get(&v, "ConfigSpec") {
            Some(Value::Bin(b)) => Ok(b.clone()),
            Some(other) => Err(RpcError::bad_reply(
                "Builder.ConfigSpec",
                format!("ConfigSpec is {}", val::kind(other)),
            )),
            None => Err(RpcError::bad_reply(
                "Builder.ConfigSpec",
                "no ConfigSpec field",
            )),
        }
    }

    pub async fn prepare(&self, configs: Vec<Value>) -> Result<PrepareOutcome, RpcError> {
        let v = self
            .client
            .call(
                "Builder.Prepare",
                &val::map([("Configs", Value::Array(configs))]),
            )
            .await?;
        parse_prepare_reply(&v)
    }

    /// Serves `ui` and `hook` on a fresh id, runs the build and connects to its artifact.
    pub async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
    ) -> Result<Option<ArtifactClient>, RpcError> {
        let id = self.broker.next_id();
        let server = Server::new();
        UiServer::register(&server, ui);
        server.register("Hook", Arc::new(HookServer::new(hook, self.broker.clone())));
        serve_on_accept(self.broker.clone(), id, server, "core ui/hook");
        let v = self
            .client
            .call("Builder.Run", &Value::Uint(u64::from(id)))
            .await?;
        let aid = val::as_u32(&v).ok_or_else(|| {
            RpcError::bad_reply(
                "Builder.Run",
                format!("expected a uint32, got {}", val::kind(&v)),
            )
        })?;
        if aid == 0 {
            return Ok(None);
        }
        let stream = self.broker.dial(aid).await.map_err(|e| {
            RpcError::bad_reply(
                "Builder.Run",
                format!("dial artifact stream {aid}: {}", error_chain(e.as_ref())),
            )
        })?;
        Ok(Some(ArtifactClient::new(Client::new(stream))))
    }

    pub async fn cancel(&self) -> Result<(), RpcError> {
        self.client
            .call("Builder.Cancel", &Value::Nil)
            .await
            .map(|_| ())
    }

    /// The underlying connection, for raw calls.
    pub fn rpc(&self) -> &Client {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Artifact, BoxError};
    use crate::service::progress::tests::Recorder;
    use crate::service::MemBroker;
    use packer_wire::hclspec::Spec;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A build that runs until cancelled, then "cleans up" for 200 ms.
    #[derive(Default)]
    struct Slow {
        lost: AtomicBool,
        cleaned: AtomicBool,
    }

    #[async_trait]
    impl Builder for Slow {
        fn config_spec(&self) -> Spec {
            Spec::Object(Default::default())
        }
        async fn prepare(&self, _: Vec<Value>) -> PrepareOutcome {
            PrepareOutcome::default()
        }
        async fn run(
            &self,
            _: Arc<dyn Ui>,
            _: Arc<dyn Hook>,
            cancel: CancellationToken,
        ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
            cancel.cancelled().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.cleaned.store(true, Ordering::SeqCst);
            Ok(None)
        }
        fn session_lost(&self) {
            self.lost.store(true, Ordering::SeqCst);
        }
    }

    fn server(b: Arc<Slow>) -> Arc<BuilderServer> {
        let (mine, _peer) = MemBroker::pair(1024);
        Arc::new(BuilderServer::new(b, mine, SpecEncoding::Gob))
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_session_cancels_the_running_build_and_waits_for_its_cleanup() {
        let b = Arc::new(Slow::default());
        let s = server(b.clone());
        // What `run` does around the builder's Run, without the streams to core.
        let running = s.running.clone().lock_owned().await;
        let (sb, cancel) = (b.clone(), s.cancel.clone());
        tokio::spawn(async move {
            let ui: Arc<dyn Ui> = Arc::new(Recorder::default());
            let _ = sb.run(ui, Arc::new(NoHook), cancel).await;
            drop(running);
        });
        assert!(s.session_lost(Duration::from_secs(5)).await);
        assert!(b.lost.load(Ordering::SeqCst));
        assert!(
            b.cleaned.load(Ordering::SeqCst),
            "returned before the cleanup"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_session_without_a_build_is_nothing_to_wait_for() {
        let b = Arc::new(Slow::default());
        let s = server(b.clone());
        assert!(s.session_lost(Duration::from_secs(5)).await);
        assert!(!b.lost.load(Ordering::SeqCst));
        assert!(!s.cancel.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn a_build_that_does_not_end_is_waited_for_a_bounded_time() {
        let b = Arc::new(Slow::default());
        let s = server(b);
        let _held = s.running.clone().lock_owned().await;
        assert!(!s.session_lost(Duration::from_secs(1)).await);
    }

    struct NoHook;
    #[async_trait]
    impl Hook for NoHook {
        async fn run(
            &self,
            _: &str,
            _: Value,
            _: Arc<dyn Ui>,
            _: Arc<dyn crate::api::Communicator>,
            _: CancellationToken,
        ) -> Result<(), BoxError> {
            Ok(())
        }
    }
}
