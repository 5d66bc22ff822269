//! Waiting for an object to reach a state, by watching it (list + watch from the list's
//! resourceVersion, resumed after drops, relisted after 410 Gone). Every wait has a deadline and
//! a cancellation token; neither is hidden inside.
use std::fmt::Debug;
use std::time::Duration;

use ::kube::api::{Api, ListParams, ObjectList, WatchEvent, WatchParams};
use ::kube::Resource;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::retry::Backoff;
use super::ApiError;

/// What a judge function says about the latest version of the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<T> {
    Done(T),
    /// The object reached a state it will not recover from; the text says why.
    Failed(String),
    /// Not there yet; the text (if any) describes the state, for the timeout message.
    Pending(Option<String>),
}

/// Why a wait ended without reaching its goal.
#[derive(Debug, Error)]
pub enum WaitError {
    #[error("timed out after {} waiting for {what}{}", human(*after), last.as_deref().map(|l| format!(" (last state: {l})")).unwrap_or_default())]
    Timeout {
        what: String,
        after: Duration,
        last: Option<String>,
    },
    #[error("cancelled while waiting for {what}")]
    Cancelled { what: String },
    #[error("{object} failed: {reason}")]
    Failed { object: String, reason: String },
    #[error("{object} disappeared while waiting for {what}")]
    Gone { what: String, object: String },
    #[error("watching {object}: {source}")]
    Api { object: String, source: ApiError },
}

/// `90s` → `1m30s`, the way Packer users write durations.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The latest deadline any wait uses: a timeout past it (a huge value that got through, or
/// `Duration::MAX`) waits this long instead of overflowing the clock.
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `now + d`, saturating at [`FAR_FUTURE`] from now: never panics, whatever `d`.
pub fn instant_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d.min(FAR_FUTURE))
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// One timeout shared by several waits in a row: each gets what is left of it, and a timeout
/// reports the whole, not the remainder the last wait was given.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    total: Duration,
    end: Instant,
}

impl Deadline {
    /// Starts now and ends `total` from now.
    pub fn after(total: Duration) -> Self {
        Deadline {
            total,
            end: instant_after(total),
        }
    }

    /// What is left (at least 1 ms, so a wait past the end still looks once and times out).
    pub fn remaining(&self) -> Duration {
        self.end
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    /// Rewrites a timeout to name the whole deadline.
    pub fn whole(&self, e: WaitError) -> WaitError {
        match e {
            WaitError::Timeout { what, last, .. } => WaitError::Timeout {
                what,
                after: self.total,
                last,
            },
            other => other,
        }
    }
}

/// Longest single watch request; the server ends it and we resume from the last version.
const WATCH_CHUNK_SECS: u64 = 290;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a wait can watch: any kube resource that deserializes (the typed kinds of vmop-types,
/// core kinds, or `DynamicObject`).
pub trait Watchable: Resource + Clone + DeserializeOwned + Debug + Send + 'static {}
impl<K: Resource + Clone + DeserializeOwned + Debug + Send + 'static> Watchable for K {}

/// One object to wait on.
pub struct Target<'a, K> {
    pub api: &'a Api<K>,
    /// `VirtualMachine demo/source-abcde`, for messages.
    pub object: String,
    pub name: &'a str,
    /// What we are waiting for, e.g. `VirtualMachine demo/x to power on and get an IPv4 address`.
    pub what: String,
}

/// How a wait went: how often it had to list, watch, and start over after 410 Gone (public
/// with the `testing` feature, for the end-to-end tests of resumed watches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    pub lists: u32,
    pub watches: u32,
    pub expired: u32,
}

/// Watches `target` until `judge` returns `Done` or `Failed`, the deadline passes, or `cancel`
/// fires.
pub async fn wait_for<K: Watchable, T>(
    target: Target<'_, K>,
    timeout: Duration,
    cancel: &CancellationToken,
    judge: impl FnMut(&K) -> Verdict<T>,
) -> Result<T, WaitError> {
    wait_counted(target, timeout, cancel, judge, &mut WaitStats::default()).await
}

/// [`wait_for`], counting lists, watches and expiries into `stats` (test-only API).
#[cfg(feature = "testing")]
pub async fn wait_for_with_stats<K: Watchable, T>(
    target: Target<'_, K>,
    timeout: Duration,
    cancel: &CancellationToken,
    judge: impl FnMut(&K) -> Verdict<T>,
    stats: &mut WaitStats,
) -> Result<T, WaitError> {
    wait_counted(target, timeout, cancel, judge, stats).await
}

async fn wait_counted<K: Watchable, T>(
    target: Target<'_, K>,
    timeout: Duration,
    cancel: &CancellationToken,
    mut judge: impl FnMut(&K) -> Verdict<T>,
    stats: &mut WaitStats,
) -> Result<T, WaitError> {
    let mut last: Option<String> = None;
    let deadline = instant_after(timeout);
    let outcome = {
        let watcher = Watcher {
            target: &target,
            judge: &mut judge,
            last: &mut last,
            stats,
            rv: None,
            backoff: Backoff::new(Duration::from_millis(50), MAX_BACKOFF, true),
        };
        let fut = watcher.run(deadline);
        tokio::select! {
            r = tokio::time::timeout_at(deadline, fut) => r,
            _ = cancel.cancelled() => return Err(WaitError::Cancelled { what: target.what }),
        }
    };
    match outcome {
        Ok(r) => r,
        Err(_) => Err(WaitError::Timeout {
            what: target.what,
            after: timeout,
            last,
        }),
    }
}

/// Waits until the object no longer exists (finalizers done). Not cancellable on purpose:
/// cleanup runs after cancellation, under its own deadline.
pub async fn wait_gone<K: Watchable>(
    target: Target<'_, K>,
    timeout: Duration,
) -> Result<(), WaitError> {
    let never = CancellationToken::new();
    let r = wait_for::<K, ()>(target, timeout, &never, |obj| {
        let finalizers = obj.meta().finalizers.clone().unwrap_or_default();
        Verdict::Pending(Some(if finalizers.is_empty() {
            "still present".to_string()
        } else {
            format!("still present, finalizers: {}", finalizers.join(", "))
        }))
    })
    .await;
    match r {
        Ok(()) | Err(WaitError::Gone { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

enum Step<T> {
    Finished(Result<T, WaitError>),
    Continue,
}

/// What one watch event means for the watch it came on.
enum Flow<T> {
    /// Read the next event.
    Next,
    /// The watch ended; resume (or relist, when the version expired).
    Stop,
    Finished(Result<T, WaitError>),
}

/// A wait between its requests: where to resume from, how long to pause, what it saw last.
struct Watcher<'w, 'a, K, J> {
    target: &'w Target<'a, K>,
    judge: &'w mut J,
    last: &'w mut Option<String>,
    stats: &'w mut WaitStats,
    /// The resourceVersion to watch from; `None`: list first.
    rv: Option<String>,
    backoff: Backoff,
}

impl<K: Watchable, T, J: FnMut(&K) -> Verdict<T>> Watcher<'_, '_, K, J> {
    /// List, then watch from the list's version, until the judge decides or the object goes.
    async fn run(mut self, deadline: Instant) -> Result<T, WaitError> {
        loop {
            let step = if self.rv.is_none() {
                self.list().await
            } else {
                self.watch(deadline).await
            };
            if let Step::Finished(r) = step {
                return r;
            }
        }
    }

    fn selector(&self) -> String {
        format!("metadata.name={}", self.target.name)
    }

    fn is_target(&self, obj: &K) -> bool {
        obj.meta().name.as_deref() == Some(self.target.name)
    }

    fn gone(&self) -> WaitError {
        WaitError::Gone {
            what: self.target.what.clone(),
            object: self.target.object.clone(),
        }
    }

    /// Lists the object and judges it; remembers the list's version to watch from.
    async fn list(&mut self) -> Step<T> {
        self.stats.lists += 1;
        let lp = ListParams::default().fields(&self.selector());
        match self.target.api.list(&lp).await {
            Ok(list) => self.judge_list(list),
            Err(e) => self.failed_request("listing", e).await,
        }
    }

    fn judge_list(&mut self, list: ObjectList<K>) -> Step<T> {
        let mut found = false;
        for obj in &list.items {
            found |= self.is_target(obj);
            if let Step::Finished(r) = self.judge(obj) {
                return Step::Finished(r);
            }
        }
        if !found {
            return Step::Finished(Err(self.gone()));
        }
        self.rv = Some(list.metadata.resource_version.unwrap_or_default());
        Step::Continue
    }

    /// Watches from the last version until the server ends the watch, judging every change.
    async fn watch(&mut self, deadline: Instant) -> Step<T> {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .clamp(1, WATCH_CHUNK_SECS);
        let wp = WatchParams::default()
            .fields(&self.selector())
            .timeout(remaining as u32);
        let version = self.rv.clone().unwrap_or_default();
        self.stats.watches += 1;
        let stream = match self.target.api.watch(&wp, &version).await {
            Ok(s) => s,
            Err(e) if ApiError::code_is(&e, 410) => {
                self.expired();
                return Step::Continue;
            }
            Err(e) => return self.failed_request("watching", e).await,
        };
        let mut stream = std::pin::pin!(stream);
        let mut events = 0usize;
        while let Some(ev) = stream.next().await {
            match self.event(ev, &mut events) {
                Flow::Next => {}
                Flow::Stop => break,
                Flow::Finished(r) => return Step::Finished(r),
            }
        }
        self.pause_if_silent(events).await;
        Step::Continue
    }

    fn event(&mut self, ev: Result<WatchEvent<K>, ::kube::Error>, events: &mut usize) -> Flow<T> {
        match ev {
            Ok(WatchEvent::Added(obj)) | Ok(WatchEvent::Modified(obj)) => {
                *events += 1;
                if let Some(v) = obj.meta().resource_version.clone() {
                    self.rv = Some(v);
                }
                match self.judge(&obj) {
                    Step::Finished(r) => Flow::Finished(r),
                    Step::Continue => Flow::Next,
                }
            }
            Ok(WatchEvent::Deleted(obj)) if self.is_target(&obj) => {
                Flow::Finished(Err(self.gone()))
            }
            Ok(WatchEvent::Deleted(_)) => Flow::Next,
            Ok(WatchEvent::Bookmark(b)) => {
                *events += 1;
                self.rv = Some(b.metadata.resource_version);
                Flow::Next
            }
            Ok(WatchEvent::Error(status)) => {
                // 410: our version fell out of the server's window; start over from a list.
                if status.code == 410 {
                    self.expired();
                }
                let object = &self.target.object;
                tracing::debug!(
                    "watch of {object} ended with status {}: {}",
                    status.code,
                    status.message
                );
                Flow::Stop
            }
            Err(e) => {
                let e = ApiError(e);
                if e.is_unreadable() {
                    return Flow::Finished(Err(WaitError::Api {
                        object: self.target.object.clone(),
                        source: e,
                    }));
                }
                tracing::debug!("watch of {} broke: {e}", self.target.object);
                Flow::Stop
            }
        }
    }

    fn judge(&mut self, obj: &K) -> Step<T> {
        if !self.is_target(obj) {
            return Step::Continue;
        }
        match (self.judge)(obj) {
            Verdict::Done(v) => Step::Finished(Ok(v)),
            Verdict::Failed(reason) => Step::Finished(Err(WaitError::Failed {
                object: self.target.object.clone(),
                reason,
            })),
            Verdict::Pending(state) => {
                if state.is_some() {
                    *self.last = state;
                }
                Step::Continue
            }
        }
    }

    /// The watch position expired (410 Gone): relist.
    fn expired(&mut self) {
        tracing::debug!(
            "watching {}: resourceVersion expired (410 Gone); relisting",
            self.target.object
        );
        self.stats.expired += 1;
        self.rv = None;
    }

    /// A request that failed: the end of the wait, unless another try may succeed (then pause).
    async fn failed_request(&mut self, verb: &str, e: ::kube::Error) -> Step<T> {
        let e = ApiError(e);
        if !e.is_transient() {
            return Step::Finished(Err(WaitError::Api {
                object: self.target.object.clone(),
                source: e,
            }));
        }
        tracing::debug!("{verb} {}: {e}; retrying", self.target.object);
        tokio::time::sleep(self.backoff.next_delay()).await;
        Step::Continue
    }

    /// The server closed the watch (timeout, restart, dropped connection). Resume from the
    /// last version; pause only when it closed without telling us anything, so a server that
    /// drops every watch at once cannot make us spin.
    async fn pause_if_silent(&mut self, events: usize) {
        if events == 0 {
            tokio::time::sleep(self.backoff.next_delay()).await;
        } else {
            self.backoff.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn huge_timeouts_saturate_instead_of_panicking() {
        for d in [
            Duration::MAX,
            Duration::from_secs(i64::MAX.unsigned_abs()),
            FAR_FUTURE,
        ] {
            let end = instant_after(d);
            assert!(end > Instant::now() + Duration::from_secs(50 * 365 * 86_400));
            let deadline = Deadline::after(d);
            assert!(deadline.remaining() > Duration::from_secs(86_400));
        }
        assert!(instant_after(Duration::ZERO) <= Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn a_shared_deadline_shrinks_and_reports_the_whole() {
        let d = Deadline::after(Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(d.remaining(), Duration::from_secs(6));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(d.remaining(), Duration::from_millis(1));
        let e = d.whole(WaitError::Timeout {
            what: "x".into(),
            after: Duration::from_millis(1),
            last: None,
        });
        assert!(matches!(e, WaitError::Timeout { after, .. } if after == Duration::from_secs(10)));
    }

    #[test]
    fn durations_read_like_packer() {
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_secs(3600)), "1h");
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn timeout_message_names_the_wait_and_last_state() {
        let e = WaitError::Timeout {
            what: "VirtualMachine demo/x to get an IPv4 address".into(),
            after: Duration::from_secs(5),
            last: Some("PoweredOn, no IP yet".into()),
        };
        assert_eq!(
            e.to_string(),
            "timed out after 5s waiting for VirtualMachine demo/x to get an IPv4 address (last state: PoweredOn, no IP yet)"
        );
    }
}
