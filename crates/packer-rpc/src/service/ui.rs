//! `Ui`: core serves it to the builder; the builder serves it back to core inside Hook.Run
//! (provisioners print through it) and forwards everything to core's.
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use rand::distributions::Alphanumeric;
use rand::Rng;
use tokio::sync::Notify;

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
                        fwd: Arc::new(ProgressForward {
                            ui: self.ui.clone(),
                            inner,
                            pending: Mutex::new(Pending::default()),
                            idle: Notify::new(),
                        }),
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

/// How long `Close` waits for the counts still being forwarded before closing anyway.
const PROGRESS_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// `Ui<id>.Add` / `Ui<id>.Close` for one tracker.
///
/// The provisioner calls `Add` after every read of the data it uploads (32 KiB each) and
/// waits for the answer before reading on, so every hop of that call chain adds to the
/// upload's time. `Add` is therefore answered at once and its count forwarded to core in the
/// background, one call in flight at a time with the counts that arrived meanwhile summed
/// up: the bar still sees every byte, in order, and `Close` goes out after the last count.
struct ProgressServer {
    fwd: Arc<ProgressForward>,
    name: String,
    server: Server,
}

#[derive(Default)]
struct Pending {
    /// Bytes reported but not yet forwarded.
    add: i64,
    /// A forwarding task is running.
    busy: bool,
}

struct ProgressForward {
    ui: Arc<dyn Ui>,
    inner: String,
    pending: Mutex<Pending>,
    /// Signalled when the forwarding task finishes.
    idle: Notify,
}

impl ProgressForward {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(self: &Arc<Self>, n: i64) {
        let start = {
            let mut p = self.lock();
            p.add = p.add.saturating_add(n);
            !std::mem::replace(&mut p.busy, true)
        };
        if start {
            tokio::spawn(self.clone().forward());
        }
    }

    async fn forward(self: Arc<Self>) {
        loop {
            let n = {
                let mut p = self.lock();
                if p.add == 0 {
                    p.busy = false;
                    self.idle.notify_waiters();
                    return;
                }
                std::mem::take(&mut p.add)
            };
            self.ui.progress_add(&self.inner, n).await;
        }
    }

    /// Waits (bounded) until every count has been forwarded.
    async fn drained(&self) {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if !self.lock().busy {
                    return;
                }
                idle.await;
            }
        };
        if tokio::time::timeout(PROGRESS_DRAIN_TIMEOUT, wait)
            .await
            .is_err()
        {
            tracing::debug!(tracker = %self.inner, "progress counts still in flight at close");
        }
    }
}

#[async_trait]
impl Service for ProgressServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Add" => {
                let n = val::as_i64(&args)
                    .ok_or_else(|| CallError::bad_args(method, "expected an integer"))?;
                self.fwd.add(n);
            }
            "Close" => {
                self.fwd.drained().await;
                self.fwd.ui.progress_close(&self.fwd.inner).await;
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

    /// Records progress calls; each `Add` takes a while, as a round trip to core does.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Ui for Recorder {
        async fn say(&self, _: &str) {}
        async fn message(&self, _: &str) {}
        async fn error(&self, _: &str) {}
        async fn machine(&self, _: &str, _: &[String]) {}
        async fn ask(&self, _: &str) -> Result<String, BoxError> {
            Ok(String::new())
        }
        async fn new_track_progress(&self, src: &str, _: i64, _: i64) -> Result<String, BoxError> {
            Ok(format!("inner-{src}"))
        }
        async fn progress_add(&self, id: &str, n: i64) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.calls.lock().unwrap().push(format!("{id} add {n}"));
        }
        async fn progress_close(&self, id: &str) {
            self.calls.lock().unwrap().push(format!("{id} close"));
        }
    }

    #[tokio::test]
    async fn adds_are_answered_at_once_and_forwarded_before_close() {
        let rec = Arc::new(Recorder::default());
        let server = Server::new();
        UiServer::register(&server, rec.clone());
        let id = server
            .dispatch(
                "Ui.NewTrackProgress",
                val::map([
                    ("Src", val::str("f.bin")),
                    ("TotalSize", Value::Int(1000)),
                    ("CurrentSize", Value::Int(0)),
                ]),
            )
            .await
            .unwrap();
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
        let calls = rec.calls.lock().unwrap().clone();
        assert_eq!(calls.last().map(String::as_str), Some("inner-f.bin close"));
        let total: i64 = calls
            .iter()
            .filter_map(|c| c.strip_prefix("inner-f.bin add "))
            .map(|n| n.parse::<i64>().unwrap())
            .sum();
        assert_eq!(total, 1000, "{calls:?}");
        // Coalesced: far fewer calls than Adds.
        assert!(calls.len() < 50, "{calls:?}");
        // The tracker is gone after Close.
        assert!(server
            .dispatch(&format!("Ui{id}.Add"), Value::Int(1))
            .await
            .is_err());
    }
}
