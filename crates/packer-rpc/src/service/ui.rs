//! `Ui`: core serves it to the builder; the builder serves it back to core inside Hook.Run
//! (provisioners print through it) and forwards everything to core's.
use std::sync::Arc;

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::api::{BoxError, Ui};
use crate::netrpc::{CallError, CallResult, Client, Server, Service};
use crate::val;

/// Calls core's `Ui` service.
#[derive(Clone)]
pub struct UiClient {
    client: Client,
}

impl UiClient {
    pub fn new(client: Client) -> Self {
        UiClient { client }
    }

    /// Output methods have no error to return; a lost connection shows up elsewhere.
    async fn fire(&self, method: &str, args: Value) {
        if let Err(e) = self.client.call(method, &args).await {
            tracing::debug!(error = %e, method, "ui call failed");
        }
    }
}

#[async_trait]
impl Ui for UiClient {
    async fn say(&self, msg: &str) {
        self.fire("Ui.Say", val::str(msg)).await
    }
    async fn message(&self, msg: &str) {
        self.fire("Ui.Message", val::str(msg)).await
    }
    async fn error(&self, msg: &str) {
        self.fire("Ui.Error", val::str(msg)).await
    }
    async fn machine(&self, category: &str, args: &[String]) {
        let a = val::map([
            ("Category", val::str(category)),
            ("Args", val::str_list(args)),
        ]);
        self.fire("Ui.Machine", a).await
    }
    async fn ask(&self, query: &str) -> Result<String, BoxError> {
        let reply = self.client.call("Ui.Ask", &val::str(query)).await?;
        val::as_string(&reply).ok_or_else(|| bad_reply("Ui.Ask", &reply))
    }
    async fn new_track_progress(
        &self,
        src: &str,
        total: i64,
        current: i64,
    ) -> Result<String, BoxError> {
        let a = val::map([
            ("Src", val::str(src)),
            ("TotalSize", Value::Int(total)),
            ("CurrentSize", Value::Int(current)),
        ]);
        let reply = self.client.call("Ui.NewTrackProgress", &a).await?;
        val::as_string(&reply).ok_or_else(|| bad_reply("Ui.NewTrackProgress", &reply))
    }
    async fn progress_add(&self, id: &str, n: i64) {
        self.fire(&format!("Ui{id}.Add"), Value::Int(n)).await
    }
    async fn progress_close(&self, id: &str) {
        self.fire(&format!("Ui{id}.Close"), Value::Nil).await
    }
}

fn bad_reply(method: &str, v: &Value) -> BoxError {
    Box::new(crate::netrpc::RpcError::bad_reply(
        method,
        format!("expected a string, got {}", val::kind(v)),
    ))
}

/// Serves an [`Ui`] as the `Ui` service of `server`, plus one `Ui<id>` service per open
/// progress tracker.
pub struct UiServer {
    ui: Arc<dyn Ui>,
    server: Server,
}

impl UiServer {
    /// Registers `ui` on `server` under the name `Ui`.
    pub fn register(server: &Server, ui: Arc<dyn Ui>) {
        server.register(
            "Ui",
            Arc::new(UiServer {
                ui,
                server: server.clone(),
            }),
        );
    }
}

fn str_arg(method: &str, args: &Value) -> Result<String, CallError> {
    val::as_string(args).ok_or_else(|| {
        CallError::bad_args(
            method,
            format!("expected a string, got {}", val::kind(args)),
        )
    })
}

#[async_trait]
impl Service for UiServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Say" => self.ui.say(&str_arg(method, &args)?).await,
            "Message" => self.ui.message(&str_arg(method, &args)?).await,
            "Error" => self.ui.error(&str_arg(method, &args)?).await,
            "Machine" => {
                let category = val::field_string(&args, "Category")
                    .ok_or_else(|| CallError::bad_args(method, "Category is not a string"))?;
                let list = val::field_string_list(&args, "Args")
                    .ok_or_else(|| CallError::bad_args(method, "Args is not a list of strings"))?;
                self.ui.machine(&category, &list).await
            }
            "Ask" => {
                let answer = self
                    .ui
                    .ask(&str_arg(method, &args)?)
                    .await
                    .map_err(|e| CallError::Failed(crate::api::error_chain(e.as_ref())))?;
                return Ok(val::str(answer));
            }
            "NewTrackProgress" => {
                let src = val::field_string(&args, "Src")
                    .ok_or_else(|| CallError::bad_args(method, "Src is not a string"))?;
                let total = val::field_i64(&args, "TotalSize")
                    .ok_or_else(|| CallError::bad_args(method, "TotalSize is not an integer"))?;
                let current = val::field_i64(&args, "CurrentSize")
                    .ok_or_else(|| CallError::bad_args(method, "CurrentSize is not an integer"))?;
                let inner = self
                    .ui
                    .new_track_progress(&src, total, current)
                    .await
                    .map_err(|e| CallError::Failed(crate::api::error_chain(e.as_ref())))?;
                // Our own id, as the Go server does: the inner one belongs to another
                // connection and need not be unique on this server.
                let suffix: String = rand::thread_rng()
                    .sample_iter(&Alphanumeric)
                    .take(6)
                    .map(char::from)
                    .collect();
                let id = format!("{src}{suffix}");
                let name = format!("Ui{id}");
                self.server.register(
                    name.clone(),
                    Arc::new(ProgressServer {
                        ui: self.ui.clone(),
                        inner,
                        name,
                        server: self.server.clone(),
                    }),
                );
                return Ok(val::str(id));
            }
            _ => return Err(CallError::UnknownMethod),
        }
        Ok(Value::Nil)
    }
}

/// `Ui<id>.Add` / `Ui<id>.Close` for one tracker.
struct ProgressServer {
    ui: Arc<dyn Ui>,
    inner: String,
    name: String,
    server: Server,
}

#[async_trait]
impl Service for ProgressServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Add" => {
                let n = val::as_i64(&args)
                    .ok_or_else(|| CallError::bad_args(method, "expected an integer"))?;
                self.ui.progress_add(&self.inner, n).await;
            }
            "Close" => {
                self.ui.progress_close(&self.inner).await;
                self.server.unregister(&self.name);
            }
            _ => return Err(CallError::UnknownMethod),
        }
        Ok(Value::Nil)
    }
}
