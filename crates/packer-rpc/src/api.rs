//! The interfaces that cross the plugin boundary, as Rust traits.
//!
//! A plugin implements [`Builder`], [`Communicator`] and [`Artifact`]; it calls [`Ui`] and [`Hook`],
//! which Packer core serves. The `service` modules turn each into RPC and back, so the same traits
//! serve both sides (the test harness that plays Packer core uses the client proxies).
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use futures::future::BoxFuture;
use packer_wire::hclspec::Spec;
use packer_wire::msgpack::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

/// Errors crossing a trait boundary; rendered to one line (with causes) on the wire.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// A byte source (file contents, stdin).
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
/// A byte sink (stdout, stderr, download target).
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// Renders an error and its whole `source()` chain as one line: `a: b: c`.
/// Parts already contained in the previous text are skipped, so wrapping never repeats itself.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

/// Packer's user interface (served by core).
#[async_trait]
pub trait Ui: Send + Sync {
    async fn say(&self, msg: &str);
    async fn message(&self, msg: &str);
    async fn error(&self, msg: &str);
    async fn machine(&self, category: &str, args: &[String]);
    async fn ask(&self, query: &str) -> Result<String, BoxError>;
    /// `Ui.NewTrackProgress`: returns the tracker id used by [`Ui::progress_add`]/[`Ui::progress_close`].
    async fn new_track_progress(
        &self,
        src: &str,
        total: i64,
        current: i64,
    ) -> Result<String, BoxError>;
    async fn progress_add(&self, id: &str, n: i64);
    async fn progress_close(&self, id: &str);
}

/// Packer's hook (served by core). `packer_provision` runs every provisioner through `comm`.
#[async_trait]
pub trait Hook: Send + Sync {
    /// Serves `comm` and `ui` to core on a fresh broker stream for the duration of the call.
    /// When `cancel` fires, `Hook.Cancel` is sent and the call still waits for core's answer.
    async fn run(
        &self,
        name: &str,
        data: Value,
        ui: Arc<dyn Ui>,
        comm: Arc<dyn Communicator>,
        cancel: CancellationToken,
    ) -> Result<(), BoxError>;
}

/// Go's `os.FileInfo` subset that `Communicator.Upload` carries.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub name: String,
    pub size: i64,
    /// Go `os.FileMode`: permission bits plus flags (directory = 1 << 31).
    pub mode: u32,
    pub mtime: Option<SystemTime>,
}

/// A command to run remotely; unwired streams are `None`.
pub struct RemoteCommand {
    pub command: String,
    pub stdin: Option<BoxRead>,
    pub stdout: Option<BoxWrite>,
    pub stderr: Option<BoxWrite>,
}

/// Resolves to the command's exit status once it has finished and its output is flushed.
pub type ExitFuture = BoxFuture<'static, Result<i32, BoxError>>;

/// What provisioners use to reach the machine being built.
#[async_trait]
pub trait Communicator: Send + Sync {
    /// Starts `cmd`; `Ok` means it has started. The returned future yields its exit status.
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError>;
    async fn upload(
        &self,
        path: &str,
        data: BoxRead,
        info: Option<FileInfo>,
    ) -> Result<(), BoxError>;
    /// `src` is a local path (Packer core and the plugin share a host).
    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), BoxError>;
    async fn download(&self, path: &str, sink: BoxWrite) -> Result<(), BoxError>;
    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String])
        -> Result<(), BoxError>;
}

/// The result of a build, served to core until the process is killed.
#[async_trait]
pub trait Artifact: Send + Sync {
    fn builder_id(&self) -> String;
    fn files(&self) -> Vec<String>;
    fn id(&self) -> String;
    fn string(&self) -> String;
    /// `Artifact.State(name)`; `Value::Nil` for unknown names.
    fn state(&self, name: &str) -> Value;
    async fn destroy(&self) -> Result<(), BoxError>;
}

/// What `Builder.Prepare` answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrepareOutcome {
    pub generated_vars: Option<Vec<String>>,
    pub warnings: Option<Vec<String>>,
    /// Every configuration problem, one per line.
    pub error: Option<String>,
}

/// A builder plugin.
#[async_trait]
pub trait Builder: Send + Sync {
    /// The HCL2 object spec of the builder's configuration.
    fn config_spec(&self) -> Spec;
    /// `configs` are the raw `Configs` elements: msgpack maps, or `Bin` holding cty JSON.
    async fn prepare(&self, configs: Vec<Value>) -> PrepareOutcome;
    /// Runs the build. `cancel` fires on `Builder.Cancel`; Run must still return.
    async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError>;
    /// The connection to core ended (core exited or was killed) while the plugin still runs.
    /// Called once, just before a running build's `cancel` fires; the plugin then waits (a
    /// bounded time) for that Run to return before it exits, so the builder can clean up.
    /// Core is gone: the build's `Ui` can no longer reach anybody. Default: nothing.
    fn session_lost(&self) {}
}
