//! Fake implementations of the plugin-boundary traits, for tests (the test builder itself is
//! [`crate::builder::FakeBuilder`]).
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::future::BoxFuture;
use packer_rpc::api::{
    Artifact, BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, Hook, RemoteCommand,
    Ui,
};
use packer_wire::msgpack::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// One thing a [`RecordingUi`] was told.
#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    Say(String),
    Message(String),
    Error(String),
    Machine(String, Vec<String>),
    Ask(String),
    TrackProgress {
        src: String,
        total: i64,
        current: i64,
        id: String,
    },
    ProgressAdd(String, i64),
    ProgressClose(String),
}

/// A Ui that records everything; `ask` answers with `answer`.
#[derive(Default)]
pub struct RecordingUi {
    events: Mutex<Vec<UiEvent>>,
    pub answer: String,
}

impl RecordingUi {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// A Ui whose `ask` answers `answer`.
    pub fn with_answer(answer: &str) -> Arc<Self> {
        Arc::new(RecordingUi {
            answer: answer.into(),
            ..Self::default()
        })
    }
    pub fn events(&self) -> Vec<UiEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
    fn push(&self, e: UiEvent) {
        if let Ok(mut ev) = self.events.lock() {
            ev.push(e);
        }
    }
}

#[async_trait]
impl Ui for RecordingUi {
    async fn say(&self, msg: &str) {
        self.push(UiEvent::Say(msg.into()))
    }
    async fn message(&self, msg: &str) {
        self.push(UiEvent::Message(msg.into()))
    }
    async fn error(&self, msg: &str) {
        self.push(UiEvent::Error(msg.into()))
    }
    async fn machine(&self, category: &str, args: &[String]) {
        self.push(UiEvent::Machine(category.into(), args.to_vec()))
    }
    async fn ask(&self, query: &str) -> Result<String, BoxError> {
        self.push(UiEvent::Ask(query.into()));
        Ok(self.answer.clone())
    }
    async fn new_track_progress(
        &self,
        src: &str,
        total: i64,
        current: i64,
    ) -> Result<String, BoxError> {
        let id = format!("{src}-track");
        self.push(UiEvent::TrackProgress {
            src: src.into(),
            total,
            current,
            id: id.clone(),
        });
        Ok(id)
    }
    async fn progress_add(&self, id: &str, n: i64) {
        self.push(UiEvent::ProgressAdd(id.into(), n))
    }
    async fn progress_close(&self, id: &str) {
        self.push(UiEvent::ProgressClose(id.into()))
    }
}

/// What a [`ScriptHook`] runs: it gets the plugin's Ui and Communicator (over RPC when used
/// as core's hook) and the cancellation token.
pub type HookScript = Arc<
    dyn Fn(
            String,
            Value,
            Arc<dyn Ui>,
            Arc<dyn Communicator>,
            CancellationToken,
        ) -> BoxFuture<'static, Result<(), BoxError>>
        + Send
        + Sync,
>;

/// A Hook whose behaviour is a closure; records the names and data it was run with.
pub struct ScriptHook {
    script: HookScript,
    pub calls: Mutex<Vec<(String, Value)>>,
}

impl ScriptHook {
    pub fn new(script: HookScript) -> Arc<Self> {
        Arc::new(ScriptHook {
            script,
            calls: Mutex::new(Vec::new()),
        })
    }
    /// A hook that does nothing.
    pub fn noop() -> Arc<Self> {
        Self::new(Arc::new(|_, _, _, _, _| Box::pin(async { Ok(()) })))
    }
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Hook for ScriptHook {
    async fn run(
        &self,
        name: &str,
        data: Value,
        ui: Arc<dyn Ui>,
        comm: Arc<dyn Communicator>,
        cancel: CancellationToken,
    ) -> Result<(), BoxError> {
        if let Ok(mut c) = self.calls.lock() {
            c.push((name.to_string(), data.clone()));
        }
        (self.script)(name.to_string(), data, ui, comm, cancel).await
    }
}

/// A Communicator on the local machine: commands run under `sh -c`, files are local paths.
/// Streams everything (no whole-file buffers).
#[derive(Default)]
pub struct LocalCommunicator;

#[async_trait]
impl Communicator for LocalCommunicator {
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        use std::process::Stdio;
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(&cmd.command).kill_on_drop(true);
        c.stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(if cmd.stdout.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stderr(if cmd.stderr.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = c.spawn()?;
        let mut pumps = Vec::new();
        if let (Some(mut src), Some(mut dst)) = (cmd.stdin, child.stdin.take()) {
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut src, &mut dst).await;
                let _ = dst.shutdown().await;
            });
        }
        if let (Some(mut dst), Some(mut src)) = (cmd.stdout, child.stdout.take()) {
            pumps.push(tokio::spawn(async move {
                let _ = tokio::io::copy(&mut src, &mut dst).await;
                let _ = dst.flush().await;
            }));
        }
        if let (Some(mut dst), Some(mut src)) = (cmd.stderr, child.stderr.take()) {
            pumps.push(tokio::spawn(async move {
                let _ = tokio::io::copy(&mut src, &mut dst).await;
                let _ = dst.flush().await;
            }));
        }
        Ok(Box::pin(async move {
            let status = child.wait().await?;
            for p in pumps {
                let _ = p.await;
            }
            Ok(status.code().unwrap_or(-1))
        }))
    }

    async fn upload(
        &self,
        path: &str,
        mut data: BoxRead,
        _info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        let mut f = tokio::fs::File::create(path).await?;
        tokio::io::copy(&mut data, &mut f).await?;
        f.flush().await?;
        Ok(())
    }

    async fn upload_dir(&self, dst: &str, src: &Path, _exclude: &[String]) -> Result<(), BoxError> {
        copy_tree(src, Path::new(dst))
    }

    async fn download(&self, path: &str, mut sink: BoxWrite) -> Result<(), BoxError> {
        let mut f = tokio::fs::File::open(path).await?;
        tokio::io::copy(&mut f, &mut sink).await?;
        sink.flush().await?;
        Ok(())
    }

    async fn download_dir(
        &self,
        src: &str,
        dst: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        copy_tree(Path::new(src), dst)
    }
}

/// `cp -r src dst`.
fn copy_tree(src: &Path, dst: &Path) -> Result<(), BoxError> {
    let st = std::process::Command::new("cp")
        .arg("-r")
        .arg(src)
        .arg(dst)
        .status()?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("cp -r {} {} failed", src.display(), dst.display()).into())
    }
}

/// A fixed artifact.
#[derive(Debug, Clone)]
pub struct FakeArtifact {
    pub builder_id: String,
    pub id: String,
    pub files: Vec<String>,
    pub text: String,
    pub state: Vec<(String, Value)>,
    pub destroy_error: Option<String>,
}

impl FakeArtifact {
    /// The null builder's artifact as seen in the captures.
    pub fn null_like() -> Self {
        FakeArtifact {
            builder_id: "fnoeding.null".into(),
            id: "Null".into(),
            files: Vec::new(),
            text: "Did not export anything. This is the null builder".into(),
            state: vec![(
                "generated_data".into(),
                Value::Map(vec![(Value::Str("ID".into()), Value::Str("Null".into()))]),
            )],
            destroy_error: None,
        }
    }
}

#[async_trait]
impl Artifact for FakeArtifact {
    fn builder_id(&self) -> String {
        self.builder_id.clone()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn string(&self) -> String {
        self.text.clone()
    }
    fn state(&self, name: &str) -> Value {
        self.state
            .iter()
            .find(|(k, _)| k == name)
            .map_or(Value::Nil, |(_, v)| v.clone())
    }
    async fn destroy(&self) -> Result<(), BoxError> {
        match &self.destroy_error {
            None => Ok(()),
            Some(m) => Err(m.clone().into()),
        }
    }
}

/// Reads a whole stream (tests only).
pub async fn read_all(mut r: BoxRead) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).await?;
    Ok(v)
}
