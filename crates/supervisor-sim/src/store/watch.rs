//! Watches: a snapshot or a replay of the retained history, then live events.

use super::meta::meta_str;
use super::{EventType, Store, WatchEvent};
use crate::catalog::Gr;
use crate::error::ApiError;
use serde_json::Value;
use std::collections::VecDeque;
use tokio::sync::broadcast;

/// A watch on one resource (optionally one namespace).
pub struct Watch {
    initial: VecDeque<WatchEvent>,
    rx: broadcast::Receiver<WatchEvent>,
    namespace: Option<String>,
    last_rv: u64,
}

impl Watch {
    /// Next event in resourceVersion order. `Err` (410 Expired) when this watcher fell so far
    /// behind that events were lost; `None` when the store shut down.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, ApiError>> {
        if let Some(ev) = self.initial.pop_front() {
            self.last_rv = self.last_rv.max(ev.rv);
            return Some(Ok(ev));
        }
        loop {
            match self.rx.recv().await {
                Ok(ev) => {
                    if ev.rv <= self.last_rv || !ns_matches(&ev.object, self.namespace.as_deref()) {
                        continue;
                    }
                    self.last_rv = ev.rv;
                    return Some(Ok(ev));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Err(ApiError::gone(format!(
                        "too old resource version: {} (watcher fell behind)",
                        self.last_rv
                    ))))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Events queued at creation (synthetic ADDED or replayed history) not yet delivered.
    pub fn pending_initial(&self) -> usize {
        self.initial.len()
    }

    /// resourceVersion of the last event delivered (or the starting point).
    pub fn last_rv(&self) -> u64 {
        self.last_rv
    }
}

fn ns_matches(obj: &Value, ns: Option<&str>) -> bool {
    match ns {
        None => true,
        Some(ns) => obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns),
    }
}

impl Store {
    /// exist now; `Some(rv)` replays retained events after `rv` (410 if no longer retained).
    pub fn watch(&self, gr: &Gr, ns: Option<&str>, since: Option<u64>) -> Result<Watch, ApiError> {
        self.info(gr)?;
        let mut st = self.lock();
        let current_rv = st.rv;
        let cap = self.inner.opts.channel_capacity;
        let rs = Self::resource_state_mut(&mut st.resources, gr, cap);
        let rx = rs.tx.subscribe();
        let mut initial = VecDeque::new();
        let start = match since {
            None | Some(0) => {
                for ((ons, _), obj) in &rs.objects {
                    if ns.is_none_or(|n| n == ons) {
                        let rv = meta_str(obj, "resourceVersion")
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        initial.push_back(WatchEvent {
                            kind: EventType::Added,
                            object: obj.clone(),
                            rv,
                        });
                    }
                }
                // Synthetic events come in name order (as the API server sends them); live
                // events at or below the snapshot's resourceVersion are already covered.
                return Ok(Watch {
                    initial,
                    rx,
                    namespace: ns.map(str::to_string),
                    last_rv: current_rv,
                });
            }
            Some(rv) => rv,
        };
        if start < rs.compacted {
            return Err(ApiError::gone(format!(
                "too old resource version: {start} ({})",
                rs.compacted + 1
            )));
        }
        if start > current_rv {
            // The API server waits for a future resourceVersion; we have none coming, so
            // treat it as "from now" rather than hanging the client.
            tracing::debug!("watch from future resourceVersion {start} (current {current_rv})");
        }
        for ev in &rs.history {
            if ev.rv > start && ns_matches(&ev.object, ns) {
                initial.push_back(ev.clone());
            }
        }
        Ok(Watch {
            initial,
            rx,
            namespace: ns.map(str::to_string),
            last_rv: start,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config_maps, rv, store, store_with};
    use super::super::{DeleteOptions, StoreOptions, WriteOptions};
    use super::*;
    use serde_json::json;

    fn cm(s: &Store, name: &str) -> Value {
        let o = json!({"metadata": {"name": name}});
        s.create(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap()
    }

    async fn next(w: &mut Watch) -> (EventType, String) {
        let ev = w.next().await.unwrap().unwrap();
        let name = meta_str(&ev.object, "name").unwrap().to_string();
        (ev.kind, name)
    }

    #[tokio::test]
    async fn from_nothing_a_snapshot_then_live_events() {
        let s = store();
        cm(&s, "b");
        cm(&s, "a");
        let mut w = s.watch(&config_maps(), Some("demo"), None).unwrap();
        assert_eq!(w.pending_initial(), 2);
        assert_eq!(next(&mut w).await, (EventType::Added, "a".into()));
        assert_eq!(next(&mut w).await, (EventType::Added, "b".into()));
        s.delete(&config_maps(), Some("demo"), "a", &DeleteOptions::default())
            .unwrap();
        assert_eq!(next(&mut w).await, (EventType::Deleted, "a".into()));
        assert_eq!(w.last_rv(), s.current_rv());
    }

    #[tokio::test]
    async fn from_a_resource_version_the_events_after_it() {
        let s = store();
        let a = cm(&s, "a");
        cm(&s, "b");
        let mut o = a.clone();
        o["data"] = json!({"k": "v"});
        s.update(&config_maps(), Some("demo"), o, &WriteOptions::default())
            .unwrap();
        let mut w = s.watch(&config_maps(), Some("demo"), Some(rv(&a))).unwrap();
        assert_eq!(next(&mut w).await, (EventType::Added, "b".into()));
        assert_eq!(next(&mut w).await, (EventType::Modified, "a".into()));
        let other = s
            .watch(&config_maps(), Some("other"), Some(rv(&a)))
            .unwrap();
        assert_eq!(
            other.pending_initial(),
            0,
            "other namespaces' events are filtered"
        );
    }

    #[tokio::test]
    async fn a_compacted_resource_version_is_gone() {
        let s = store_with(StoreOptions {
            history_limit: 2,
            ..Default::default()
        });
        let a = cm(&s, "a");
        for n in ["b", "c", "d"] {
            cm(&s, n);
        }
        let e = s.watch(&config_maps(), Some("demo"), Some(rv(&a))).err();
        assert_eq!(e.map(|e| e.code), Some(410));
    }
}
