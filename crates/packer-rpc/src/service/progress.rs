//! Forwarding transfer progress to core's progress bar without slowing the transfer down.
//!
//! Counts are recorded at once and sent to core in the background: one `Add` in flight at a
//! time, the counts that arrived meanwhile summed up, and at most one call per
//! [`FORWARD_INTERVAL`]. The bar still sees every byte, in order, and `Close` goes out after
//! the last count.
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;

use crate::api::{error_chain, Ui};

/// The shortest time between two forwarded counts (a terminal bar redraws about this often).
pub(crate) const FORWARD_INTERVAL: Duration = Duration::from_millis(100);

/// How long [`Tracker::open`] waits for core to open a bar.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Tracker::close`] waits for counts still being forwarded before closing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Pending {
    /// Bytes reported but not yet forwarded.
    add: i64,
    /// A forwarding task is running.
    busy: bool,
    /// Close was asked for: forward what is left without pausing.
    closing: bool,
}

/// Progress bars a provisioner asked for and the Ui served to it declined
/// ([`UiServer::register_for_provisioners`](super::UiServer::register_for_provisioners)):
/// the [`CommunicatorServer`](super::CommunicatorServer) shows each one instead when the upload
/// it was meant for arrives (same name, same size), so exactly the uploads that would have had
/// a bar with Packer's Go plugins have one, and nothing else does.
#[derive(Default)]
pub struct ProgressHandoff {
    wanted: Mutex<VecDeque<(String, i64)>>,
}

/// Requests remembered at most; older ones (their upload never came) are forgotten.
const HANDOFF_CAP: usize = 64;

impl ProgressHandoff {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn list(&self) -> MutexGuard<'_, VecDeque<(String, i64)>> {
        self.wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A provisioner asked for a bar over `total` bytes of `src`.
    pub(crate) fn want(&self, src: &str, total: i64) {
        let mut l = self.list();
        if l.len() >= HANDOFF_CAP {
            l.pop_front();
        }
        l.push_back((src.to_string(), total));
    }

    /// Whether an upload of `size` bytes named `name` was asked to have a bar (forgets it).
    pub(crate) fn take(&self, name: &str, size: i64) -> bool {
        let mut l = self.list();
        match l.iter().position(|(n, s)| n == name && *s == size) {
            Some(i) => {
                l.remove(i);
                true
            }
            None => false,
        }
    }
}

/// One progress bar of core's, fed in the background.
pub(crate) struct Tracker {
    ui: Arc<dyn Ui>,
    /// Core's id for the bar.
    id: String,
    pending: Mutex<Pending>,
    /// Signalled when the forwarding task finishes.
    idle: Notify,
    /// Cuts the pause between two forwards short when closing.
    hurry: Notify,
}

impl Tracker {
    /// Wraps a bar core already opened (its id is `id`).
    pub(crate) fn new(ui: Arc<dyn Ui>, id: String) -> Arc<Self> {
        Arc::new(Tracker {
            ui,
            id,
            pending: Mutex::new(Pending::default()),
            idle: Notify::new(),
            hurry: Notify::new(),
        })
    }

    /// Opens a bar on core's `ui` for `total` bytes of `src`; `None` (logged) if core refuses
    /// or does not answer within [`OPEN_TIMEOUT`]: a bar is never worth holding up a transfer.
    pub(crate) async fn open(ui: Arc<dyn Ui>, src: &str, total: i64) -> Option<Arc<Self>> {
        match tokio::time::timeout(OPEN_TIMEOUT, ui.new_track_progress(src, total, 0)).await {
            Ok(Ok(id)) => Some(Tracker::new(ui, id)),
            Ok(Err(e)) => {
                tracing::debug!(src, error = %error_chain(e.as_ref()), "no progress bar");
                None
            }
            Err(_) => {
                tracing::debug!(src, "no progress bar: core did not answer NewTrackProgress");
                None
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `n` more bytes; never waits.
    pub(crate) fn add(self: &Arc<Self>, n: i64) {
        if n == 0 {
            return;
        }
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
            self.ui.progress_add(&self.id, n).await;
            if !self.lock().closing {
                tokio::select! {
                    _ = tokio::time::sleep(FORWARD_INTERVAL) => {}
                    _ = self.hurry.notified() => {}
                }
            }
        }
    }

    /// Waits (bounded) until every count has been forwarded, then closes core's bar.
    pub(crate) async fn close(&self) {
        self.lock().closing = true;
        // A stored permit: the forwarding task sees it even if it is not pausing yet.
        self.hurry.notify_one();
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
        if tokio::time::timeout(DRAIN_TIMEOUT, wait).await.is_err() {
            tracing::debug!(tracker = %self.id, "progress counts still in flight at close");
        }
        self.ui.progress_close(&self.id).await;
    }
}

/// A reader that reports every byte read to a [`Tracker`].
pub(crate) struct ProgressReader<R> {
    inner: R,
    tracker: Arc<Tracker>,
}

impl<R> ProgressReader<R> {
    pub(crate) fn new(inner: R, tracker: Arc<Tracker>) -> Self {
        ProgressReader { inner, tracker }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for ProgressReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len().saturating_sub(before);
            self.tracker.add(i64::try_from(n).unwrap_or(i64::MAX));
        }
        r
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::BoxError;
    use async_trait::async_trait;
    use tokio::io::AsyncReadExt;

    /// Records progress calls; each `Add` takes a while, as a round trip to core does.
    #[derive(Default)]
    pub(crate) struct Recorder {
        pub(crate) calls: Mutex<Vec<String>>,
        pub(crate) refuse: bool,
        /// `NewTrackProgress` never answers.
        pub(crate) hang: bool,
    }

    impl Recorder {
        pub(crate) fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        /// The sum of the counts forwarded to bar `id`.
        pub(crate) fn total(&self, id: &str) -> i64 {
            let prefix = format!("{id} add ");
            self.calls()
                .iter()
                .filter_map(|c| c.strip_prefix(&prefix))
                .map(|n| n.parse::<i64>().unwrap())
                .sum()
        }
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
        async fn new_track_progress(
            &self,
            src: &str,
            total: i64,
            current: i64,
        ) -> Result<String, BoxError> {
            if self.refuse {
                return Err("no bars here".into());
            }
            if self.hang {
                std::future::pending::<()>().await;
            }
            self.calls
                .lock()
                .unwrap()
                .push(format!("open {src} {current}/{total}"));
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
    async fn a_reader_reports_every_byte_coalesced_and_closes_last() {
        let rec = Arc::new(Recorder::default());
        let t = Tracker::open(rec.clone(), "f.bin", 300_000).await.unwrap();
        let data = vec![7u8; 300_000];
        let mut r = ProgressReader::new(&data[..], t.clone());
        let mut buf = [0u8; 1000];
        let mut got = 0;
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
            tokio::task::yield_now().await;
        }
        assert_eq!(got, 300_000);
        t.close().await;
        let calls = rec.calls();
        assert_eq!(
            calls.first().map(String::as_str),
            Some("open f.bin 0/300000")
        );
        assert_eq!(calls.last().map(String::as_str), Some("inner-f.bin close"));
        assert_eq!(rec.total("inner-f.bin"), 300_000, "{calls:?}");
        // 300 reads, but counts are coalesced.
        assert!(calls.len() < 20, "{calls:?}");
    }

    #[tokio::test]
    async fn close_does_not_wait_out_the_pause() {
        let rec = Arc::new(Recorder::default());
        let t = Tracker::open(rec.clone(), "g", 10).await.unwrap();
        t.add(4);
        tokio::time::sleep(Duration::from_millis(20)).await;
        t.add(6);
        let t0 = std::time::Instant::now();
        t.close().await;
        assert!(t0.elapsed() < FORWARD_INTERVAL, "{:?}", t0.elapsed());
        assert_eq!(rec.total("inner-g"), 10);
        assert_eq!(
            rec.calls().last().map(String::as_str),
            Some("inner-g close")
        );
    }

    #[test]
    fn the_handoff_matches_name_and_size_once() {
        let h = ProgressHandoff::new();
        h.want("a.bin", 10);
        h.want("a.bin", 20);
        assert!(!h.take("a.bin", 11));
        assert!(!h.take("b.bin", 10));
        assert!(h.take("a.bin", 20));
        assert!(!h.take("a.bin", 20));
        assert!(h.take("a.bin", 10));
        for i in 0..100 {
            h.want("many", i);
        }
        assert!(!h.take("many", 0), "the oldest are forgotten");
        assert!(h.take("many", 99));
    }

    #[tokio::test]
    async fn a_refused_bar_is_no_error() {
        let rec = Arc::new(Recorder {
            refuse: true,
            ..Recorder::default()
        });
        assert!(Tracker::open(rec.clone(), "h", 10).await.is_none());
        assert!(rec.calls().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_bar_core_never_opens_does_not_hold_up_the_transfer() {
        let rec = Arc::new(Recorder {
            hang: true,
            ..Recorder::default()
        });
        let t0 = tokio::time::Instant::now();
        assert!(Tracker::open(rec.clone(), "h", 10).await.is_none());
        assert_eq!(t0.elapsed(), OPEN_TIMEOUT);
    }
}
