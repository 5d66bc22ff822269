//! `Communicator`: the builder serves it (inside Hook.Run) and core calls it for provisioners.
//!
//! Byte streams never pass through the RPC connection: each one gets its own broker stream.
//! The side that owns the reader/writer (core) accepts; the communicator side dials. Data is
//! handed to the communicator as the stream itself, so nothing is buffered here beyond what
//! yamux keeps in flight.
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use packer_wire::msgpack::Value;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::link::{BoxStream, StreamBroker};
use super::progress::{ProgressHandoff, ProgressReader, Tracker};
use crate::api::{
    error_chain, BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, RemoteCommand, Ui,
};
use crate::netrpc::{CallError, CallResult, Client, Service};
use crate::val;

/// Buffer used when this side copies a caller's reader into a stream (client proxy).
const COPY_BUF: usize = 256 << 10;
/// After a command exits (or a download replies), how long its output streams may take to
/// drain before we stop waiting.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// msgpack extension type of timestamps (ugorji writes `time.Time` with it).
const TIMESTAMP_EXT: i8 = -1;
/// Go's zero `time.Time` (year 1) in Unix seconds.
const GO_ZERO_TIME: i64 = -62_135_596_800;

// ---------------------------------------------------------------------------------------------
// FileInfo and timestamps

/// Decodes a msgpack timestamp extension (4, 8 or 12 bytes) to Unix seconds and nanoseconds.
pub fn decode_timestamp(data: &[u8]) -> Option<(i64, u32)> {
    match data.len() {
        4 => Some((i64::from(u32::from_be_bytes(data.try_into().ok()?)), 0)),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            Some(((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32))
        }
        12 => {
            let nsec = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
            let sec = i64::from_be_bytes(data.get(4..)?.try_into().ok()?);
            Some((sec, nsec))
        }
        _ => None,
    }
}

/// Encodes like ugorji: the 8-byte form when it fits (observed `d7 ff`), else 12 bytes.
pub fn encode_timestamp(sec: i64, nsec: u32) -> Vec<u8> {
    if (0..1 << 34).contains(&sec) {
        let v = (u64::from(nsec) << 34) | sec as u64;
        v.to_be_bytes().to_vec()
    } else {
        let mut out = nsec.to_be_bytes().to_vec();
        out.extend_from_slice(&sec.to_be_bytes());
        out
    }
}

fn system_time_to_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (mut s, mut n) = (-(d.as_secs() as i64), d.subsec_nanos());
            if n > 0 {
                s -= 1;
                n = 1_000_000_000 - n;
            }
            (s, n)
        }
    }
}

fn parts_to_system_time(sec: i64, nsec: u32) -> Option<SystemTime> {
    if sec == GO_ZERO_TIME && nsec == 0 {
        return None;
    }
    let base = if sec >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(sec as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(sec.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nsec)))
}

/// `{"N","S","M","T"}` (Go's fileInfo struct) or nil.
pub fn file_info_to_value(info: Option<&FileInfo>) -> Value {
    let Some(fi) = info else { return Value::Nil };
    let (s, n) = fi.mtime.map_or((GO_ZERO_TIME, 0), system_time_to_parts);
    val::map([
        ("N", val::str(fi.name.clone())),
        ("S", Value::Int(fi.size)),
        ("M", Value::Uint(u64::from(fi.mode))),
        ("T", Value::Ext(TIMESTAMP_EXT, encode_timestamp(s, n))),
    ])
}

pub fn file_info_from_value(v: &Value) -> Result<Option<FileInfo>, String> {
    if matches!(v, Value::Nil) {
        return Ok(None);
    }
    if !matches!(v, Value::Map(_)) {
        return Err(format!(
            "FileInfo: expected a map or nil, got {}",
            val::kind(v)
        ));
    }
    let name = val::field_string(v, "N").ok_or("FileInfo.N is not a string")?;
    let size = val::field_i64(v, "S").ok_or("FileInfo.S is not an integer")?;
    let mode = val::field_u32(v, "M").ok_or("FileInfo.M is not a uint32")?;
    let mtime = match val::get(v, "T") {
        None | Some(Value::Nil) => None,
        Some(Value::Ext(TIMESTAMP_EXT, data)) => {
            let (s, n) = decode_timestamp(data).ok_or("FileInfo.T: bad timestamp length")?;
            parts_to_system_time(s, n)
        }
        Some(other) => {
            return Err(format!(
                "FileInfo.T: expected a timestamp, got {}",
                val::kind(other)
            ))
        }
    };
    Ok(Some(FileInfo {
        name,
        size,
        mode,
        mtime,
    }))
}

// ---------------------------------------------------------------------------------------------
// Server (plugin side)

/// A writer handed to the communicator while we keep the stream: once the operation is done
/// we take the stream back and half-close it ourselves, whether or not the communicator has
/// dropped its handle, so core always sees the end of the data.
struct SharedWriter(Arc<Mutex<Option<BoxStream>>>);

fn gone() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "output stream already finished",
    )
}

impl SharedWriter {
    fn with<T>(
        &self,
        f: impl FnOnce(Pin<&mut BoxStream>) -> Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match self.0.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(s) => f(Pin::new(s)),
                None => Poll::Ready(Err(gone())),
            },
            Err(_) => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for SharedWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.with(|s| s.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.with(|s| s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.with(|s| s.poll_shutdown(cx))
    }
}

type Slot = Arc<Mutex<Option<BoxStream>>>;

async fn finish(slot: &Slot) {
    let stream = slot.lock().ok().and_then(|mut g| g.take());
    if let Some(mut s) = stream {
        if let Err(e) = s.shutdown().await {
            tracing::debug!(error = %e, "half-close output stream");
        }
    }
}

/// Serves an [`api::Communicator`](Communicator) as the `Communicator` service.
pub struct CommunicatorServer {
    comm: Arc<dyn Communicator>,
    broker: Arc<dyn StreamBroker>,
    /// Core's Ui, to show upload progress on, and which uploads want a bar.
    progress: Option<(Arc<dyn Ui>, Arc<ProgressHandoff>)>,
}

impl CommunicatorServer {
    pub fn new(comm: Arc<dyn Communicator>, broker: Arc<dyn StreamBroker>) -> Self {
        CommunicatorServer {
            comm,
            broker,
            progress: None,
        }
    }

    /// Shows on `ui` the progress bars that provisioners asked the Ui served next to this
    /// server for (see [`UiServer::register_for_provisioners`]), fed from the bytes each
    /// upload consumes.
    ///
    /// [`UiServer::register_for_provisioners`]: super::UiServer::register_for_provisioners
    pub fn with_progress(mut self, ui: Arc<dyn Ui>, handoff: Arc<ProgressHandoff>) -> Self {
        self.progress = Some((ui, handoff));
        self
    }

    async fn dial(&self, what: &str, id: u32) -> Result<BoxStream, CallError> {
        self.broker.dial(id).await.map_err(|e| {
            CallError::Failed(format!(
                "dial {what} stream {id}: {}",
                error_chain(e.as_ref())
            ))
        })
    }

    async fn dial_output(&self, what: &str, id: u32) -> Result<Option<Slot>, CallError> {
        if id == 0 {
            return Ok(None);
        }
        let s = self.dial(what, id).await?;
        Ok(Some(Arc::new(Mutex::new(Some(s)))))
    }

    async fn start(&self, args: &Value) -> CallResult {
        let bad = |d: &str| CallError::bad_args("Communicator.Start", d);
        let command =
            val::field_string(args, "Command").ok_or_else(|| bad("Command is not a string"))?;
        let stdin_id = val::field_u32(args, "StdinStreamId").ok_or_else(|| bad("StdinStreamId"))?;
        let stdout_id =
            val::field_u32(args, "StdoutStreamId").ok_or_else(|| bad("StdoutStreamId"))?;
        let stderr_id =
            val::field_u32(args, "StderrStreamId").ok_or_else(|| bad("StderrStreamId"))?;
        let response_id =
            val::field_u32(args, "ResponseStreamId").ok_or_else(|| bad("ResponseStreamId"))?;

        let stdin: Option<BoxRead> = if stdin_id == 0 {
            None
        } else {
            Some(Box::new(self.dial("stdin", stdin_id).await?))
        };
        let stdout = self.dial_output("stdout", stdout_id).await?;
        let stderr = self.dial_output("stderr", stderr_id).await?;
        let mut response = if response_id == 0 {
            None
        } else {
            Some(self.dial("response", response_id).await?)
        };

        let cmd = RemoteCommand {
            command: command.clone(),
            stdin,
            stdout: stdout
                .clone()
                .map(|s| Box::new(SharedWriter(s)) as BoxWrite),
            stderr: stderr
                .clone()
                .map(|s| Box::new(SharedWriter(s)) as BoxWrite),
        };
        let exit = match self.comm.start(cmd).await {
            Ok(exit) => exit,
            Err(e) => {
                for s in [&stdout, &stderr].into_iter().flatten() {
                    finish(s).await;
                }
                if let Some(r) = response.as_mut() {
                    let _ = r.shutdown().await;
                }
                return Err(CallError::Failed(error_chain(e.as_ref())));
            }
        };
        tokio::spawn(async move {
            let status = exit.await;
            for s in [&stdout, &stderr].into_iter().flatten() {
                finish(s).await;
            }
            let Some(mut response) = response else { return };
            match status {
                Ok(code) => {
                    let bytes = packer_wire::gob::encode_command_finished(i64::from(code));
                    if let Err(e) = response.write_all(&bytes).await {
                        tracing::warn!(error = %e, command = %command, "send command exit status");
                    }
                }
                // Closing without a status makes core report exit status 123 and log it.
                Err(e) => {
                    tracing::error!(error = %error_chain(e.as_ref()), command = %command, "remote command failed")
                }
            }
            let _ = response.shutdown().await;
        });
        Ok(Value::Nil)
    }

    async fn upload(&self, args: &Value) -> CallResult {
        let bad = |d: String| CallError::bad_args("Communicator.Upload", d);
        let path =
            val::field_string(args, "Path").ok_or_else(|| bad("Path is not a string".into()))?;
        let id =
            val::field_u32(args, "ReaderStreamId").ok_or_else(|| bad("ReaderStreamId".into()))?;
        let info =
            file_info_from_value(val::get(args, "FileInfo").unwrap_or(&Value::Nil)).map_err(bad)?;
        let stream = self.dial("upload", id).await?;
        let tracker = match (&self.progress, &info) {
            (Some((ui, handoff)), Some(fi)) if handoff.take(&fi.name, fi.size) => {
                Tracker::open(ui.clone(), &fi.name, fi.size).await
            }
            _ => None,
        };
        let data: BoxRead = match &tracker {
            Some(t) => Box::new(ProgressReader::new(stream, t.clone())),
            None => Box::new(stream),
        };
        let res = self.comm.upload(&path, data, info).await;
        if let Some(t) = tracker {
            t.close().await;
        }
        res.map_err(|e| CallError::Failed(error_chain(e.as_ref())))?;
        Ok(Value::Nil)
    }

    async fn download(&self, args: &Value) -> CallResult {
        let bad = |d: &str| CallError::bad_args("Communicator.Download", d);
        let path = val::field_string(args, "Path").ok_or_else(|| bad("Path is not a string"))?;
        let id = val::field_u32(args, "WriterStreamId").ok_or_else(|| bad("WriterStreamId"))?;
        let slot: Slot = Arc::new(Mutex::new(Some(self.dial("download", id).await?)));
        let res = self
            .comm
            .download(&path, Box::new(SharedWriter(slot.clone())))
            .await;
        finish(&slot).await;
        res.map_err(|e| CallError::Failed(error_chain(e.as_ref())))?;
        Ok(Value::Nil)
    }

    fn dir_args(method: &str, args: &Value) -> Result<(String, String, Vec<String>), CallError> {
        let dst = val::field_string(args, "Dst")
            .ok_or_else(|| CallError::bad_args(method, "Dst is not a string"))?;
        let src = val::field_string(args, "Src")
            .ok_or_else(|| CallError::bad_args(method, "Src is not a string"))?;
        let ex = val::field_string_list(args, "Exclude")
            .ok_or_else(|| CallError::bad_args(method, "Exclude is not a list of strings"))?;
        Ok((dst, src, ex))
    }
}

#[async_trait]
impl Service for CommunicatorServer {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Start" => self.start(&args).await,
            "Upload" => self.upload(&args).await,
            "Download" => self.download(&args).await,
            "UploadDir" => {
                let (dst, src, ex) = Self::dir_args("Communicator.UploadDir", &args)?;
                self.comm
                    .upload_dir(&dst, Path::new(&src), &ex)
                    .await
                    .map_err(|e| CallError::Failed(error_chain(e.as_ref())))?;
                Ok(Value::Nil)
            }
            "DownloadDir" => {
                let (dst, src, ex) = Self::dir_args("Communicator.DownloadDir", &args)?;
                self.comm
                    .download_dir(&src, Path::new(&dst), &ex)
                    .await
                    .map_err(|e| CallError::Failed(error_chain(e.as_ref())))?;
                Ok(Value::Nil)
            }
            _ => Err(CallError::UnknownMethod),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client (core side, for the test harness)

#[derive(Debug, thiserror::Error)]
pub enum CommClientError {
    #[error("{what} stream {id}: {detail}")]
    Stream {
        what: &'static str,
        id: u32,
        detail: String,
    },
    #[error("decode CommandFinished: {0}")]
    ExitStatus(String),
}

/// Reads `CommandFinished{ExitStatus int}` from a gob stream (type definitions skipped).
pub fn decode_command_finished(bytes: &[u8]) -> Result<i64, CommClientError> {
    fn uint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let first = *b.get(*pos)?;
        *pos += 1;
        if first < 0x80 {
            return Some(u64::from(first));
        }
        let n = usize::from(first.wrapping_neg());
        if n > 8 {
            return None;
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | u64::from(*b.get(*pos)?);
            *pos += 1;
        }
        Some(v)
    }
    fn int(b: &[u8], pos: &mut usize) -> Option<i64> {
        let u = uint(b, pos)?;
        Some(if u & 1 == 1 {
            !((u >> 1) as i64)
        } else {
            (u >> 1) as i64
        })
    }
    let err = |d: &str| CommClientError::ExitStatus(d.to_string());
    let mut pos = 0;
    while pos < bytes.len() {
        let len = uint(bytes, &mut pos).ok_or_else(|| err("bad message length"))? as usize;
        let end = pos
            .checked_add(len)
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| err("truncated message"))?;
        let msg = bytes
            .get(pos..end)
            .ok_or_else(|| err("truncated message"))?;
        pos = end;
        let mut p = 0;
        let id = int(msg, &mut p).ok_or_else(|| err("bad type id"))?;
        if id < 0 {
            continue; // a type definition
        }
        // Struct value: field deltas; ExitStatus is field 0 (delta 1); absent = 0.
        let delta = uint(msg, &mut p).ok_or_else(|| err("bad field"))?;
        return match delta {
            0 => Ok(0),
            1 => int(msg, &mut p).ok_or_else(|| err("bad ExitStatus")),
            _ => Err(err("unexpected field")),
        };
    }
    Err(err("no value in stream"))
}

/// Calls a plugin's `Communicator` service the way core does: every byte stream is served
/// here on a fresh broker id that the plugin dials.
pub struct CommunicatorClient {
    client: Client,
    broker: Arc<dyn StreamBroker>,
}

impl CommunicatorClient {
    pub fn new(client: Client, broker: Arc<dyn StreamBroker>) -> Self {
        CommunicatorClient { client, broker }
    }

    async fn accept(
        broker: &Arc<dyn StreamBroker>,
        what: &'static str,
        id: u32,
    ) -> Result<BoxStream, CommClientError> {
        broker
            .accept(id)
            .await
            .map_err(|e| CommClientError::Stream {
                what,
                id,
                detail: error_chain(e.as_ref()),
            })
    }

    /// Accepts `id` and copies `src` into it, then half-closes.
    fn spawn_source(
        &self,
        what: &'static str,
        id: u32,
        src: BoxRead,
    ) -> tokio::task::JoinHandle<Result<u64, CommClientError>> {
        let broker = self.broker.clone();
        tokio::spawn(async move {
            let mut s = Self::accept(&broker, what, id).await?;
            let io = |e: std::io::Error| CommClientError::Stream {
                what,
                id,
                detail: e.to_string(),
            };
            let mut src = BufReader::with_capacity(COPY_BUF, src);
            let n = tokio::io::copy_buf(&mut src, &mut s).await.map_err(io)?;
            s.shutdown().await.map_err(io)?;
            Ok(n)
        })
    }

    /// Accepts `id` and copies everything from it into `dst`.
    fn spawn_sink(
        &self,
        what: &'static str,
        id: u32,
        mut dst: BoxWrite,
    ) -> tokio::task::JoinHandle<Result<u64, CommClientError>> {
        let broker = self.broker.clone();
        tokio::spawn(async move {
            let s = Self::accept(&broker, what, id).await?;
            let io = |e: std::io::Error| CommClientError::Stream {
                what,
                id,
                detail: e.to_string(),
            };
            let mut s = BufReader::with_capacity(COPY_BUF, s);
            let n = tokio::io::copy_buf(&mut s, &mut dst).await.map_err(io)?;
            dst.flush().await.map_err(io)?;
            let _ = dst.shutdown().await;
            Ok(n)
        })
    }
}

async fn join_bounded(
    task: tokio::task::JoinHandle<Result<u64, CommClientError>>,
    what: &'static str,
) -> Result<u64, BoxError> {
    match tokio::time::timeout(DRAIN_TIMEOUT, task).await {
        Ok(Ok(r)) => Ok(r?),
        Ok(Err(e)) => Err(format!("{what} copy task failed: {e}").into()),
        Err(_) => Err(format!("{what} stream did not finish within {DRAIN_TIMEOUT:?}").into()),
    }
}

#[async_trait]
impl Communicator for CommunicatorClient {
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        let mut tasks = Vec::new();
        let mut ids = [0u32; 3];
        if let Some(stdin) = cmd.stdin {
            ids[0] = self.broker.next_id();
            // stdin is best effort: a command need not read it all.
            let t = self.spawn_source("stdin", ids[0], stdin);
            tokio::spawn(async move {
                let _ = t.await;
            });
        }
        if let Some(out) = cmd.stdout {
            ids[1] = self.broker.next_id();
            tasks.push(("stdout", self.spawn_sink("stdout", ids[1], out)));
        }
        if let Some(err) = cmd.stderr {
            ids[2] = self.broker.next_id();
            tasks.push(("stderr", self.spawn_sink("stderr", ids[2], err)));
        }
        let response_id = self.broker.next_id();
        let broker = self.broker.clone();
        let response = tokio::spawn(async move {
            let s = Self::accept(&broker, "response", response_id).await?;
            let mut buf = Vec::new();
            // CommandFinished is a few dozen bytes; the cap only guards against garbage.
            s.take(64 << 10)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| CommClientError::Stream {
                    what: "response",
                    id: response_id,
                    detail: e.to_string(),
                })?;
            decode_command_finished(&buf)
        });
        let args = val::map([
            ("Command", val::str(cmd.command)),
            ("StdinStreamId", Value::Uint(u64::from(ids[0]))),
            ("StdoutStreamId", Value::Uint(u64::from(ids[1]))),
            ("StderrStreamId", Value::Uint(u64::from(ids[2]))),
            ("ResponseStreamId", Value::Uint(u64::from(response_id))),
        ]);
        if let Err(e) = self.client.call("Communicator.Start", &args).await {
            response.abort();
            for (_, t) in &tasks {
                t.abort();
            }
            return Err(e.into());
        }
        Ok(Box::pin(async move {
            let status = match response.await {
                Ok(r) => r?,
                Err(e) => return Err(format!("response task failed: {e}").into()),
            };
            for (what, t) in tasks {
                join_bounded(t, what).await?;
            }
            i32::try_from(status).map_err(|_| format!("exit status {status} out of range").into())
        }))
    }

    async fn upload(
        &self,
        path: &str,
        data: BoxRead,
        info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        let id = self.broker.next_id();
        let copy = self.spawn_source("upload", id, data);
        let args = val::map([
            ("Path", val::str(path)),
            ("ReaderStreamId", Value::Uint(u64::from(id))),
            ("FileInfo", file_info_to_value(info.as_ref())),
        ]);
        if let Err(e) = self.client.call("Communicator.Upload", &args).await {
            copy.abort();
            return Err(e.into());
        }
        join_bounded(copy, "upload").await?;
        Ok(())
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<(), BoxError> {
        let args = val::map([
            ("Dst", val::str(dst)),
            ("Src", val::str(src.to_string_lossy())),
            ("Exclude", val::str_list(exclude)),
        ]);
        self.client.call("Communicator.UploadDir", &args).await?;
        Ok(())
    }

    async fn download(&self, path: &str, sink: BoxWrite) -> Result<(), BoxError> {
        let id = self.broker.next_id();
        let copy = self.spawn_sink("download", id, sink);
        let args = val::map([
            ("Path", val::str(path)),
            ("WriterStreamId", Value::Uint(u64::from(id))),
        ]);
        if let Err(e) = self.client.call("Communicator.Download", &args).await {
            copy.abort();
            return Err(e.into());
        }
        join_bounded(copy, "download").await?;
        Ok(())
    }

    async fn download_dir(
        &self,
        src: &str,
        dst: &Path,
        exclude: &[String],
    ) -> Result<(), BoxError> {
        let args = val::map([
            ("Dst", val::str(dst.to_string_lossy())),
            ("Src", val::str(src)),
            ("Exclude", val::str_list(exclude)),
        ]);
        self.client.call("Communicator.DownloadDir", &args).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netrpc::Server;
    use crate::service::progress::tests::Recorder;
    use crate::service::MemBroker;

    /// Keeps what is uploaded to it.
    #[derive(Default)]
    struct Sink {
        got: Mutex<Vec<(String, usize)>>,
    }

    #[async_trait]
    impl Communicator for Sink {
        async fn start(&self, _: RemoteCommand) -> Result<ExitFuture, BoxError> {
            Err("no commands".into())
        }
        async fn upload(
            &self,
            path: &str,
            mut data: BoxRead,
            _: Option<FileInfo>,
        ) -> Result<(), BoxError> {
            let mut buf = Vec::new();
            data.read_to_end(&mut buf).await?;
            self.got.lock().unwrap().push((path.to_string(), buf.len()));
            Ok(())
        }
        async fn upload_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<(), BoxError> {
            Ok(())
        }
        async fn download(&self, _: &str, _: BoxWrite) -> Result<(), BoxError> {
            Ok(())
        }
        async fn download_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn uploads_show_a_bar_named_and_sized_like_the_file_provisioners() {
        let (core_side, plugin_side) = MemBroker::pair(64 * 1024);
        let sink = Arc::new(Sink::default());
        let rec = Arc::new(Recorder::default());
        let server = Server::new();
        let handoff = ProgressHandoff::new();
        server.register(
            "Communicator",
            Arc::new(
                CommunicatorServer::new(sink.clone(), plugin_side)
                    .with_progress(rec.clone(), handoff.clone()),
            ),
        );
        // What the file provisioner's TrackProgress left with the Ui server.
        handoff.want("big.bin", 1_000_000);
        let (a, b) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move { server.serve(b).await });
        let comm = CommunicatorClient::new(Client::new(a), core_side);
        let data = vec![1u8; 1_000_000];
        let info = FileInfo {
            name: "big.bin".into(),
            size: data.len() as i64,
            mode: 0o644,
            mtime: None,
        };
        comm.upload(
            "/tmp/x/big.bin",
            Box::new(std::io::Cursor::new(data)),
            Some(info),
        )
        .await
        .unwrap();
        // No bar asked for (the shell provisioner's scripts): none shown.
        let info = FileInfo {
            name: "script.sh".into(),
            size: 3,
            mode: 0o755,
            mtime: None,
        };
        comm.upload("/tmp/x/small", Box::new(&b"abc"[..]), Some(info))
            .await
            .unwrap();
        assert_eq!(
            *sink.got.lock().unwrap(),
            vec![
                ("/tmp/x/big.bin".to_string(), 1_000_000),
                ("/tmp/x/small".to_string(), 3)
            ]
        );
        let calls = rec.calls();
        assert_eq!(
            calls.first().map(String::as_str),
            Some("open big.bin 0/1000000")
        );
        assert_eq!(
            calls.last().map(String::as_str),
            Some("inner-big.bin close")
        );
        assert_eq!(rec.total("inner-big.bin"), 1_000_000, "{calls:?}");
        assert_eq!(calls.iter().filter(|c| c.starts_with("open")).count(), 1);
    }

    #[test]
    fn timestamp_forms() {
        // Observed FileInfo.T: seconds=1795299783, nanoseconds=582943701 in the 8-byte form.
        let b = encode_timestamp(1_795_299_783, 582_943_701);
        assert_eq!(b.len(), 8);
        assert_eq!(decode_timestamp(&b), Some((1_795_299_783, 582_943_701)));
        let b = encode_timestamp(GO_ZERO_TIME, 0);
        assert_eq!(b.len(), 12);
        assert_eq!(decode_timestamp(&b), Some((GO_ZERO_TIME, 0)));
        assert_eq!(decode_timestamp(&7u32.to_be_bytes()), Some((7, 0)));
        assert_eq!(decode_timestamp(&[1, 2, 3]), None);
    }

    #[test]
    fn file_info_roundtrip() {
        let t = UNIX_EPOCH + Duration::new(1_795_299_783, 582_943_701);
        let fi = FileInfo {
            name: "upfile.txt".into(),
            size: 13,
            mode: 0o644,
            mtime: Some(t),
        };
        let v = file_info_to_value(Some(&fi));
        assert_eq!(file_info_from_value(&v).unwrap(), Some(fi.clone()));
        let none = FileInfo { mtime: None, ..fi };
        assert_eq!(
            file_info_from_value(&file_info_to_value(Some(&none))).unwrap(),
            Some(none)
        );
        assert_eq!(file_info_from_value(&Value::Nil).unwrap(), None);
        assert!(file_info_from_value(&Value::Uint(1)).is_err());
    }

    #[test]
    fn command_finished_from_capture() {
        // captures/out_hcl_packer-builder-null, stream 6 (exit status 0, Go type id 72).
        let mut b = vec![0x2c, 0xff, 0x8f, 0x03, 0x01, 0x01, 0x0f];
        b.extend_from_slice(b"CommandFinished");
        b.extend_from_slice(&[0x01, 0xff, 0x90, 0x00, 0x01, 0x01, 0x01, 0x0a]);
        b.extend_from_slice(b"ExitStatus");
        b.extend_from_slice(&[0x01, 0x04, 0x00, 0x00, 0x00]);
        assert_eq!(b.len(), 45);
        let mut zero = b.clone();
        zero.extend_from_slice(&[0x03, 0xff, 0x90, 0x00]);
        assert_eq!(decode_command_finished(&zero).unwrap(), 0);
        let mut one = b.clone();
        one.extend_from_slice(&[0x04, 0xff, 0x90, 0x01, 0x02, 0x00]);
        assert_eq!(decode_command_finished(&one).unwrap(), 1);
        let mut neg = b;
        neg.extend_from_slice(&[0x04, 0xff, 0x90, 0x01, 0x03, 0x00]);
        assert_eq!(decode_command_finished(&neg).unwrap(), -2);
        assert!(decode_command_finished(&[0x05, 0x01]).is_err());
    }
}
