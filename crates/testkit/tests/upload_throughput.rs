//! `Communicator.Upload` / `Download` through the whole stack (net/rpc, broker, yamux over a
//! unix socket pair): the bytes must arrive intact and stream with bounded memory. Prints the
//! throughput; `UPLOAD_MB` sets the size (256 for the performance target, in release).
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use packer_rpc::api::{
    BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, PrepareOutcome, RemoteCommand,
};
use packer_rpc::service::SpecEncoding;
use packer_wire::msgpack::Value;
use testkit::builder::{FakeBuilder, RunScript};
use testkit::fakes::{RecordingUi, ScriptHook};
use testkit::inproc::serve_builder_over_yamux;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

fn size() -> u64 {
    std::env::var("UPLOAD_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
        << 20
}

fn byte_at(i: u64) -> u8 {
    (i % 251) as u8
}

/// The pattern repeated enough to slice any window of up to 1 MiB from any phase, so the
/// generator and checker cost little next to the transport being measured.
fn table() -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    T.get_or_init(|| (0..(1u64 << 20) + 251).map(byte_at).collect())
}

fn expected(pos: u64, n: usize) -> &'static [u8] {
    let start = (pos % 251) as usize;
    &table()[start..start + n]
}

/// Produces `left` pattern bytes without holding them.
struct Pattern {
    left: u64,
    pos: u64,
}
impl AsyncRead for Pattern {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(1 << 20) as usize;
        buf.put_slice(expected(self.pos, n));
        self.left -= n as u64;
        self.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Checks pattern bytes as they arrive.
struct Checker {
    pos: u64,
    bad: bool,
}
impl AsyncWrite for Checker {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = buf.len().min(1 << 20);
        if buf[..n] != *expected(self.pos, n) {
            self.bad = true;
        }
        self.pos += n as u64;
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A communicator that verifies uploads on the fly and serves pattern downloads.
#[derive(Default)]
struct PatternComm {
    uploaded: AtomicU64,
    largest_read: AtomicU64,
}

#[async_trait]
impl Communicator for PatternComm {
    async fn start(&self, _cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        Err("not supported".into())
    }
    async fn upload(
        &self,
        _path: &str,
        mut data: BoxRead,
        _info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0u64;
        loop {
            let n = data.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            self.largest_read.fetch_max(n as u64, Ordering::Relaxed);
            if buf[..n] != *expected(pos, n) {
                return Err(format!("corrupt upload near byte {pos}").into());
            }
            pos += n as u64;
        }
        self.uploaded.store(pos, Ordering::Relaxed);
        Ok(())
    }
    async fn upload_dir(
        &self,
        _dst: &str,
        _src: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        Ok(())
    }
    async fn download(&self, _path: &str, mut sink: BoxWrite) -> Result<(), BoxError> {
        tokio::io::copy(
            &mut Pattern {
                left: size(),
                pos: 0,
            },
            &mut sink,
        )
        .await?;
        sink.flush().await?;
        Ok(())
    }
    async fn download_dir(
        &self,
        _src: &str,
        _dst: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_stream_through_yamux() {
    let len = size();
    let comm = Arc::new(PatternComm::default());
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::Provision {
            data: Value::Nil,
            comm: comm.clone(),
            artifact: None,
        },
    );
    let core = serve_builder_over_yamux(builder, SpecEncoding::Gob)
        .await
        .unwrap();
    let timings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let t2 = timings.clone();
    let hook = ScriptHook::new(Arc::new(move |_, _, _, comm: Arc<dyn Communicator>, _| {
        let timings = t2.clone();
        Box::pin(async move {
            let t = Instant::now();
            comm.upload("/dev/null", Box::new(Pattern { left: len, pos: 0 }), None)
                .await?;
            let up = t.elapsed();
            let (w, r) = tokio::io::duplex(1 << 16);
            let check = tokio::spawn(async move {
                let mut c = Checker { pos: 0, bad: false };
                let mut r = r;
                tokio::io::copy(&mut r, &mut c).await.map(|_| c)
            });
            let t = Instant::now();
            comm.download("/pattern", Box::new(w)).await?;
            let c = check.await??;
            let down = t.elapsed();
            assert!(!c.bad, "download corrupted");
            assert_eq!(c.pos, len);
            timings.lock().unwrap().extend([up, down]);
            Ok(())
        })
    }));
    tokio::time::timeout(Duration::from_secs(600), core.run(RecordingUi::new(), hook))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(comm.uploaded.load(Ordering::Relaxed), len);
    let t = timings.lock().unwrap().clone();
    let mb = len as f64 / (1 << 20) as f64;
    eprintln!(
        "{mb} MiB: upload {:?} ({:.0} MiB/s), download {:?} ({:.0} MiB/s); largest single read {} bytes",
        t[0],
        mb / t[0].as_secs_f64(),
        t[1],
        mb / t[1].as_secs_f64(),
        comm.largest_read.load(Ordering::Relaxed)
    );
}
