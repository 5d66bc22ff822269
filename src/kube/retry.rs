//! Retrying requests that may be retried: which failures are worth another try (connection
//! errors, 500/502/503/504, 429), how long to pause between tries (exponential, capped,
//! jittered), and a loop that gives up at a deadline or when the build is cancelled.
//!
//! Only idempotent requests go through [`retry`]: reads, deletes, and creates of objects with a
//! fixed name whose 409 the caller answers by reading the object.
use std::future::Future;
use std::time::Duration;

use thiserror::Error;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ApiError;

/// Statuses a request may be retried after: the server (or a proxy in front of it) had trouble,
/// or asked us to slow down.
pub const RETRY_STATUSES: &[u16] = &[429, 500, 502, 503, 504];

/// Whether another try of the same request may succeed.
pub fn is_retryable(e: &::kube::Error) -> bool {
    match e {
        ::kube::Error::Api(s) => RETRY_STATUSES.contains(&s.code),
        // The request never got a complete answer: refused, reset, timed out, stream broken.
        ::kube::Error::HyperError(_) | ::kube::Error::Service(_) | ::kube::Error::ReadEvents(_) => {
            true
        }
        _ => false,
    }
}

/// Exponential backoff: `initial`, doubling, capped at `max`; with `jitter` each pause is drawn
/// from the upper half of its step, so many clients do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: bool,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, jitter: bool) -> Self {
        Backoff {
            initial,
            max,
            jitter,
            next: initial,
        }
    }

    /// What requests use: 100 ms, 200 ms, … up to 2 s, jittered.
    pub fn requests() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(2), true)
    }

    /// The pause before the next try.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        if self.jitter && step > Duration::from_millis(1) {
            let half = step / 2;
            half + half.mul_f64(rand::random::<f64>())
        } else {
            step
        }
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Why a retried request did not succeed.
#[derive(Debug, Error)]
pub enum RetryError {
    /// A failure that another try would not fix, or the last one when the deadline came.
    #[error("{source}")]
    Api { source: ApiError, attempts: u32 },
    #[error("cancelled")]
    Cancelled,
    /// The deadline passed before any answer came.
    #[error("no answer before the deadline")]
    Deadline,
}

impl RetryError {
    /// As the `kube::Error` a caller without retries would have seen: the last answer, or a
    /// transport-level "no answer" / "cancelled".
    pub fn into_kube(self) -> ::kube::Error {
        match self {
            RetryError::Api { source, .. } => source.0,
            RetryError::Cancelled => ::kube::Error::Service("cancelled".into()),
            RetryError::Deadline => ::kube::Error::Service(
                format!("no answer within {}", super::wait::human(REQUEST_DEADLINE)).into(),
            ),
        }
    }

    /// The HTTP status of the last answer, if there was one.
    pub fn code(&self) -> Option<u16> {
        match self {
            RetryError::Api { source, .. } => source.code(),
            _ => None,
        }
    }
}

/// How long one request outside a wait may keep being retried.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// An idempotent request (get, list) retried for up to [`REQUEST_DEADLINE`]. Not cancellable
/// itself: the runner drops the step that awaits it when the build is cancelled.
pub async fn read<T, F, Fut>(what: &str, op: F) -> Result<T, ::kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ::kube::Error>>,
{
    let deadline = Instant::now() + REQUEST_DEADLINE;
    retry(what, deadline, None, Backoff::requests(), op)
        .await
        .map_err(RetryError::into_kube)
}

/// Runs `op` until it succeeds, fails in a way retrying cannot fix, `deadline` passes or
/// `cancel` fires (`None`: not cancellable, e.g. cleanup). Each try races the deadline and the
/// token, so neither waits for a slow answer.
pub async fn retry<T, F, Fut>(
    what: &str,
    deadline: Instant,
    cancel: Option<&CancellationToken>,
    mut backoff: Backoff,
    mut op: F,
) -> Result<T, RetryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ::kube::Error>>,
{
    let never = CancellationToken::new();
    let cancel = cancel.unwrap_or(&never);
    let mut attempts = 0u32;
    let mut last: Option<::kube::Error> = None;
    loop {
        attempts += 1;
        let answer = tokio::select! {
            r = tokio::time::timeout_at(deadline, op()) => r,
            _ = cancel.cancelled() => return Err(RetryError::Cancelled),
        };
        let err = match answer {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(_) => return Err(give_up(last, attempts)),
        };
        if !is_retryable(&err) {
            return Err(RetryError::Api {
                source: ApiError(err),
                attempts,
            });
        }
        let pause = backoff.next_delay();
        tracing::debug!("{what}: {err} (try {attempts}); retrying in {pause:?}");
        last = Some(err);
        if Instant::now() + pause >= deadline {
            return Err(give_up(last, attempts));
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => return Err(RetryError::Cancelled),
        }
    }
}

fn give_up(last: Option<::kube::Error>, attempts: u32) -> RetryError {
    match last {
        Some(e) => RetryError::Api {
            source: ApiError(e),
            attempts,
        },
        None => RetryError::Deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn status(code: u16) -> ::kube::Error {
        ::kube::Error::Api(Box::new(
            ::kube::core::Status::failure("injected", "Fault").with_code(code),
        ))
    }

    fn fixed() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(1), false)
    }

    #[test]
    fn retryable_statuses_and_transport_errors() {
        for c in [429, 500, 502, 503, 504] {
            assert!(is_retryable(&status(c)), "{c}");
        }
        for c in [400, 401, 403, 404, 409, 410, 422, 501] {
            assert!(!is_retryable(&status(c)), "{c}");
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(is_retryable(&::kube::Error::ReadEvents(io)));
        assert!(is_retryable(&::kube::Error::Service(
            "connection refused".into()
        )));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut b = fixed();
        let steps: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(steps, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_in_the_upper_half_of_each_step() {
        let mut b = Backoff::new(Duration::from_millis(400), Duration::from_millis(400), true);
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_millis(200) && d <= Duration::from_millis(400),
                "{d:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_until_success() {
        let tries = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let r = retry("getting x", deadline, None, fixed(), || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 => Err(status(500)),
                1 => Err(status(429)),
                2 => Err(::kube::Error::Service("connection refused".into())),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(tries.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_are_not_retried() {
        let tries = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(10);
        let r: Result<(), _> = retry("getting x", deadline, None, fixed(), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(status(403))
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Some(403));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_persistent_fault_ends_at_the_deadline_with_the_last_error() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(5);
        let r: Result<(), _> = retry("deleting x", deadline, None, fixed(), || async {
            Err(status(500))
        })
        .await;
        match r {
            Err(RetryError::Api { source, attempts }) => {
                assert_eq!(source.code(), Some(500));
                assert!(attempts > 3, "{attempts}");
            }
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() <= deadline, "gave up after the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_is_cut_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let r: Result<(), _> = retry("getting x", deadline, None, fixed(), || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })
        .await;
        assert!(matches!(r, Err(RetryError::Deadline)), "{r:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_interrupts_a_request_in_flight() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.cancel();
        });
        let started = Instant::now();
        let deadline = started + Duration::from_secs(60);
        let r: Result<(), _> = retry("listing x", deadline, Some(&cancel), fixed(), || async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok(())
        })
        .await;
        assert!(matches!(r, Err(RetryError::Cancelled)), "{r:?}");
        assert!(started.elapsed() < Duration::from_millis(400));
    }
}
