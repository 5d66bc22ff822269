//! How a controller runs: store watches of its own kind and of the kinds it depends on feed a
//! de-duplicating work queue; reconciles of different objects run concurrently, never two of
//! the same object; a failed reconcile is tried again after a second.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{key_of, CtlError, Key};
use crate::catalog::Gr;
use crate::store::{Store, WatchEvent};

#[derive(Default)]
struct QueueState {
    pending: HashSet<Key>,
    active: HashSet<Key>,
    dirty: HashSet<Key>,
}

/// De-duplicating work queue.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: mpsc::UnboundedSender<Key>,
    state: Arc<Mutex<QueueState>>,
    stop: CancellationToken,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add(&self, key: Key) {
        if self.lock().pending.insert(key.clone()) {
            let _ = self.tx.send(key);
        }
    }

    pub(crate) fn add_after(&self, key: Key, after: Duration) {
        let q = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = q.stop.cancelled() => {}
                _ = tokio::time::sleep(after) => q.add(key),
            }
        });
    }
}

/// Which keys of the primary kind an event on a watched kind should enqueue.
pub(crate) enum Trigger {
    /// The event's own object.
    Own,
    /// Every primary object in the event's namespace (all namespaces for cluster-scoped kinds).
    AllInNamespace,
}

fn lock_state(s: &Mutex<QueueState>) -> std::sync::MutexGuard<'_, QueueState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs one controller until `stop` fires.
pub(crate) async fn run_controller(
    store: Store,
    name: &'static str,
    primary: Gr,
    watched: Vec<(Gr, Trigger)>,
    rec: Arc<dyn ReconcilerDyn>,
    stop: CancellationToken,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queue = Queue {
        tx,
        state: Arc::new(Mutex::new(QueueState::default())),
        stop: stop.clone(),
    };
    let mut watchers = JoinSet::new();
    for (gr, trigger) in watched {
        // A kind the Supervisor does not serve (the web console request has no v1alpha1): the
        // controller has nothing to watch there.
        if store.catalog().get(&gr).is_none() {
            tracing::info!(controller = name, resource = %gr, "not served: not watched");
            continue;
        }
        watchers.spawn(watch_loop(
            store.clone(),
            gr,
            primary.clone(),
            trigger,
            queue.clone(),
            stop.clone(),
        ));
    }
    let mut work = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(key) = rx.recv() => {
                {
                    let mut st = lock_state(&queue.state);
                    st.pending.remove(&key);
                    if st.active.contains(&key) {
                        st.dirty.insert(key);
                        continue;
                    }
                    st.active.insert(key.clone());
                }
                let rec = rec.clone();
                let q = queue.clone();
                work.spawn(async move {
                    let result = rec.reconcile_dyn(key.clone()).await;
                    let again = {
                        let mut st = lock_state(&q.state);
                        st.active.remove(&key);
                        st.dirty.remove(&key)
                    };
                    if again {
                        q.add(key.clone());
                    }
                    match result {
                        Ok(Some(after)) => q.add_after(key, after),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(controller = name, error = %e, "reconcile failed; retrying");
                            q.add_after(key, Duration::from_secs(1));
                        }
                    }
                });
            }
            Some(_) = work.join_next(), if !work.is_empty() => {}
        }
    }
    watchers.abort_all();
    work.abort_all();
    rec.shutdown_dyn().await;
}

/// A controller's per-object logic; `Ok(Some(d))` asks to be called again after `d`.
pub(crate) trait ReconcilerDyn: Send + Sync + 'static {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>>;
    /// Called once at shutdown (tear down listeners/guests).
    fn shutdown_dyn(&self) -> BoxFuture<'static, ()>;
}

async fn watch_loop(
    store: Store,
    gr: Gr,
    primary: Gr,
    trigger: Trigger,
    queue: Queue,
    stop: CancellationToken,
) {
    loop {
        // Every (re)start replays the current objects as ADDED, so nothing is missed.
        let mut w = match store.watch(&gr, None, None) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(resource = %gr, error = %e, "controller watch failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                }
            }
        };
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => return,
                ev = w.next() => ev,
            };
            match ev {
                Some(Ok(ev)) => {
                    dispatch(&store, &primary, &trigger, &queue, &ev);
                }
                // Expired: start over with a fresh synthetic ADDED of everything.
                Some(Err(_)) => break,
                None => return,
            }
        }
    }
}

fn dispatch(store: &Store, primary: &Gr, trigger: &Trigger, queue: &Queue, ev: &WatchEvent) {
    match trigger {
        Trigger::Own => queue.add(key_of(&ev.object)),
        Trigger::AllInNamespace => {
            let ns = ev
                .object
                .pointer("/metadata/namespace")
                .and_then(|v| v.as_str());
            if let Ok((items, _)) = store.list_arc(primary, ns, &Default::default()) {
                for o in items {
                    queue.add(key_of(&o));
                }
            }
        }
    }
}
