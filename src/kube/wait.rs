//! Waiting for an object to reach a state, by watching it (list + watch from the list's
//! resourceVersion, resumed after drops, relisted after 410 Gone). Every wait has a deadline and
//! a cancellation token; neither is hidden inside.
use std::time::Duration;

use ::kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use futures::StreamExt;
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

/// One object to wait on.
pub struct Target<'a> {
    pub api: &'a Api<DynamicObject>,
    /// `VirtualMachine demo/source-abcde`, for messages.
    pub object: String,
    pub name: &'a str,
    /// What we are waiting for, e.g. `VirtualMachine demo/x to power on and get an IPv4 address`.
    pub what: String,
}

/// How a wait went: how often it had to list, watch, and start over after 410 Gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    pub lists: u32,
    pub watches: u32,
    pub expired: u32,
}

/// Watches `target` until `judge` returns `Done` or `Failed`, the deadline passes, or `cancel`
/// fires.
pub async fn wait_for<T>(
    target: Target<'_>,
    timeout: Duration,
    cancel: &CancellationToken,
    judge: impl FnMut(&DynamicObject) -> Verdict<T>,
) -> Result<T, WaitError> {
    wait_for_with_stats(target, timeout, cancel, judge, &mut WaitStats::default()).await
}

/// [`wait_for`], counting lists, watches and expiries into `stats`.
pub async fn wait_for_with_stats<T>(
    target: Target<'_>,
    timeout: Duration,
    cancel: &CancellationToken,
    mut judge: impl FnMut(&DynamicObject) -> Verdict<T>,
    stats: &mut WaitStats,
) -> Result<T, WaitError> {
    let mut last: Option<String> = None;
    let deadline = instant_after(timeout);
    let outcome = {
        let fut = watch_loop(&target, deadline, &mut judge, &mut last, stats);
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
pub async fn wait_gone(target: Target<'_>, timeout: Duration) -> Result<(), WaitError> {
    let never = CancellationToken::new();
    let r = wait_for::<()>(target, timeout, &never, |obj| {
        let finalizers = obj.metadata.finalizers.clone().unwrap_or_default();
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

fn judge_obj<T>(
    target: &Target<'_>,
    obj: &DynamicObject,
    judge: &mut impl FnMut(&DynamicObject) -> Verdict<T>,
    last: &mut Option<String>,
) -> Step<T> {
    if obj.metadata.name.as_deref() != Some(target.name) {
        return Step::Continue;
    }
    match judge(obj) {
        Verdict::Done(v) => Step::Finished(Ok(v)),
        Verdict::Failed(reason) => Step::Finished(Err(WaitError::Failed {
            object: target.object.clone(),
            reason,
        })),
        Verdict::Pending(state) => {
            if state.is_some() {
                *last = state;
            }
            Step::Continue
        }
    }
}

async fn watch_loop<T>(
    target: &Target<'_>,
    deadline: Instant,
    judge: &mut impl FnMut(&DynamicObject) -> Verdict<T>,
    last: &mut Option<String>,
    stats: &mut WaitStats,
) -> Result<T, WaitError> {
    let selector = format!("metadata.name={}", target.name);
    let mut rv: Option<String> = None;
    let mut backoff = Backoff::new(Duration::from_millis(50), MAX_BACKOFF, true);
    loop {
        if rv.is_none() {
            stats.lists += 1;
            match target
                .api
                .list(&ListParams::default().fields(&selector))
                .await
            {
                Ok(list) => {
                    let mut found = false;
                    for obj in &list.items {
                        if obj.metadata.name.as_deref() == Some(target.name) {
                            found = true;
                        }
                        if let Step::Finished(r) = judge_obj(target, obj, judge, last) {
                            return r;
                        }
                    }
                    if !found {
                        return Err(WaitError::Gone {
                            what: target.what.clone(),
                            object: target.object.clone(),
                        });
                    }
                    rv = Some(list.metadata.resource_version.unwrap_or_default());
                }
                Err(e) => {
                    let e = ApiError(e);
                    if !e.is_transient() {
                        return Err(WaitError::Api {
                            object: target.object.clone(),
                            source: e,
                        });
                    }
                    tracing::debug!("listing {}: {e}; retrying", target.object);
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            }
        }
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .clamp(1, WATCH_CHUNK_SECS);
        let wp = WatchParams::default()
            .fields(&selector)
            .timeout(remaining as u32);
        let version = rv.clone().unwrap_or_default();
        stats.watches += 1;
        let stream = match target.api.watch(&wp, &version).await {
            Ok(s) => s,
            Err(e) => {
                let e = ApiError(e);
                if e.is_gone() {
                    tracing::debug!(
                        "watching {}: resourceVersion expired (410 Gone); relisting",
                        target.object
                    );
                    stats.expired += 1;
                    rv = None;
                    continue;
                }
                if !e.is_transient() {
                    return Err(WaitError::Api {
                        object: target.object.clone(),
                        source: e,
                    });
                }
                tracing::debug!("watching {}: {e}; retrying", target.object);
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        let mut events = 0usize;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(WatchEvent::Added(obj)) | Ok(WatchEvent::Modified(obj)) => {
                    events += 1;
                    if let Some(v) = obj.metadata.resource_version.clone() {
                        rv = Some(v);
                    }
                    if let Step::Finished(r) = judge_obj(target, &obj, judge, last) {
                        return r;
                    }
                }
                Ok(WatchEvent::Deleted(obj)) => {
                    if obj.metadata.name.as_deref() == Some(target.name) {
                        return Err(WaitError::Gone {
                            what: target.what.clone(),
                            object: target.object.clone(),
                        });
                    }
                }
                Ok(WatchEvent::Bookmark(b)) => {
                    events += 1;
                    rv = Some(b.metadata.resource_version);
                }
                Ok(WatchEvent::Error(status)) => {
                    // 410: our version fell out of the server's window; start over from a list.
                    if status.code == 410 {
                        tracing::debug!(
                            "watching {}: resourceVersion expired (410 Gone); relisting",
                            target.object
                        );
                        stats.expired += 1;
                        rv = None;
                    }
                    tracing::debug!(
                        "watch of {} ended with status {}: {}",
                        target.object,
                        status.code,
                        status.message
                    );
                    break;
                }
                Err(e) => {
                    tracing::debug!("watch of {} broke: {}", target.object, ApiError(e));
                    break;
                }
            }
        }
        // The server closed the watch (timeout, restart, dropped connection). Resume from the
        // last version; pause only when it closed without telling us anything, so a server
        // that drops every watch at once cannot make us spin.
        if events == 0 {
            tokio::time::sleep(backoff.next_delay()).await;
        } else {
            backoff.reset();
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
