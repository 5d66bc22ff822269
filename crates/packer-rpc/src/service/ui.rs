//! `Ui`: core serves it to the builder; the builder serves it back to core inside Hook.Run
//! (provisioners print through it) and forwards everything to core's.
use std::sync::Arc;

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use rand::distributions::Alphanumeric;
use rand::Rng;

use super::progress::{ProgressHandoff, Tracker};
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
    /// Refuse `NewTrackProgress` and hand the request to the communicator server.
    handoff: Option<Arc<ProgressHandoff>>,
}

/// Why the Ui served to provisioners refuses progress trackers (core logs it and goes on
/// without one).
pub const PROGRESS_REFUSED: &str = "no progress tracker here: the plugin's communicator \
     reports transfer progress itself, so that a provisioner's reads do not each wait for a \
     round trip through Packer core";

impl UiServer {
    /// Registers `ui` on `server` under the name `Ui`.
    pub fn register(server: &Server, ui: Arc<dyn Ui>) {
        Self::register_with(server, ui, None);
    }

    /// Registers `ui` as the Ui that core hands to provisioners next to a
    /// [`CommunicatorServer`](super::CommunicatorServer) built
    /// [`with_progress`](super::CommunicatorServer::with_progress) on the same `handoff`.
    ///
    /// A provisioner's progress tracker (the file provisioner wraps every upload in one) calls
    /// `Add` after each 32 KiB it reads and waits for the answer, which core can only give
    /// after a round trip to this server: thousands of round trips through three processes per
    /// 100 MiB, which more than halved upload speed. So `NewTrackProgress` is refused (Packer's
    /// client then uses the plain stream, as documented) and noted in `handoff`; the
    /// communicator server opens that bar on core's Ui when the upload arrives and feeds it
    /// from the bytes it actually sends.
    pub fn register_for_provisioners(
        server: &Server,
        ui: Arc<dyn Ui>,
        handoff: Arc<ProgressHandoff>,
    ) {
        Self::register_with(server, ui, Some(handoff));
    }

    fn register_with(server: &Server, ui: Arc<dyn Ui>, handoff: Option<Arc<ProgressHandoff>>) {
        server.register(
            "Ui",
            Arc::new(UiServer {
                ui,
                server: server.clone(),
                handoff,
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
                if let Some(h) = &self.handoff {
                    h.want(&src, total);
                    return Err(CallError::Failed(PROGRESS_REFUSED.to_string()));
                }
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
                        tracker: Tracker::new(self.ui.clone(), inner),
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

/// `Ui<id>.Add` / `Ui<id>.Close` for one tracker opened through [`UiServer`]'s forwarding
/// mode: `Add` is answered at once and its count forwarded to core in the background
/// ([`Tracker`]), since whoever calls it waits for the answer before reading on.
struct ProgressServer {
    tracker: Arc<Tracker>,
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
                self.tracker.add(n);
            }
            "Close" => {
                self.tracker.close().await;
                self.server.unregister(&self.name);
            }
            _ => return Err(CallError::UnknownMethod),
        }
        Ok(Value::Nil)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::service::progress::tests::Recorder;
    use std::time::Duration;

    /// What the file provisioner asks for before uploading a 1000-byte `f.bin`.
    pub(super) async fn open_bar(server: &Server) -> Result<Value, String> {
        server
            .dispatch(
                "Ui.NewTrackProgress",
                val::map([
                    ("Src", val::str("f.bin")),
                    ("TotalSize", Value::Int(1000)),
                    ("CurrentSize", Value::Int(0)),
                ]),
            )
            .await
    }

    #[tokio::test]
    async fn adds_are_answered_at_once_and_forwarded_before_close() {
        let rec = Arc::new(Recorder::default());
        let server = Server::new();
        UiServer::register(&server, rec.clone());
        let id = open_bar(&server).await.unwrap();
        let id = val::as_string(&id).unwrap();
        assert!(
            id.starts_with("f.bin") && id.len() == "f.bin".len() + 6,
            "{id}"
        );
        let t0 = std::time::Instant::now();
        for _ in 0..100 {
            server
                .dispatch(&format!("Ui{id}.Add"), Value::Int(10))
                .await
                .unwrap();
        }
        // 100 forwarded one by one would take 500 ms.
        assert!(
            t0.elapsed() < Duration::from_millis(250),
            "{:?}",
            t0.elapsed()
        );
        server
            .dispatch(&format!("Ui{id}.Close"), Value::Nil)
            .await
            .unwrap();
        let calls = rec.calls();
        assert_eq!(calls.last().map(String::as_str), Some("inner-f.bin close"));
        assert_eq!(rec.total("inner-f.bin"), 1000, "{calls:?}");
        // Coalesced: far fewer calls than Adds.
        assert!(calls.len() < 50, "{calls:?}");
        // The tracker is gone after Close.
        assert!(server
            .dispatch(&format!("Ui{id}.Add"), Value::Int(1))
            .await
            .is_err());
    }
}

#[cfg(test)]
mod refusing {
    use super::tests::open_bar;
    use super::*;
    use crate::service::progress::tests::Recorder;

    #[tokio::test]
    async fn the_provisioners_ui_refuses_trackers_and_serves_the_rest() {
        let rec = Arc::new(Recorder::default());
        let server = Server::new();
        let handoff = ProgressHandoff::new();
        UiServer::register_for_provisioners(&server, rec.clone(), handoff.clone());
        let err = open_bar(&server).await.unwrap_err();
        assert!(
            format!("{err:?}").contains("reports transfer progress itself"),
            "{err:?}"
        );
        assert!(rec.calls().is_empty());
        // Handed over to the communicator server: an upload of f.bin, 1000 bytes, gets the bar.
        assert!(handoff.take("f.bin", 1000));
        server
            .dispatch("Ui.Say", val::str("still here"))
            .await
            .unwrap();
    }
}
