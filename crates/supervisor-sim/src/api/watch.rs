//! Watches: the query read into [`WatchParams`], then a task that turns the store's events into
//! newline-delimited JSON (or Table) events on a streamed response, with bookmarks, the
//! initial-events-end bookmark, label-selector entry/exit and the fault limits.

use super::respond::wants_table;
use super::route::Req;
use super::target::{label_field_opts, obj_key, Target};
use super::{table, Api, Body};
use crate::catalog::ResourceInfo;
use crate::convert::from_hub;
use crate::error::ApiError;
use crate::faults::WatchLimits;
use crate::store::{EventType, ListOptions, Watch, WatchEvent};
use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Default watch duration when the client gives no `timeoutSeconds`.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// Bookmark period for watches with `allowWatchBookmarks=true`.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// Objects (namespace, name) currently inside a label selector.
type Inside = HashSet<(String, String)>;

/// What a watch request asks for.
struct WatchParams {
    opts: ListOptions,
    since: Option<u64>,
    timeout: Duration,
    bookmarks: bool,
    table_mode: Option<table::IncludeObject>,
    send_initial: bool,
}

impl WatchParams {
    fn parse(name: Option<&String>, r: &Req) -> Result<Self, ApiError> {
        let mut opts = label_field_opts(r)?;
        if let Some(n) = name {
            // `/namespaces/x/things/name?watch=1` and the legacy `/watch/.../name`.
            let mut f = opts.fields.take().unwrap_or_default();
            f.0.push(("metadata.name".into(), true, n.clone()));
            opts.fields = Some(f);
        }
        let since = match r.query.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(s) => Some(
                s.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
            ),
        };
        let timeout = r
            .query
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_WATCH_TIMEOUT);
        let bookmarks = r
            .query
            .get("allowWatchBookmarks")
            .is_some_and(|v| v == "true" || v == "1");
        let table_mode = wants_table(&r.accept)
            .then(|| table::IncludeObject::parse(r.query.get("includeObject").map(String::as_str)));
        let send_initial = r
            .query
            .get("sendInitialEvents")
            .is_some_and(|v| v == "true");
        let since = if send_initial { None } else { since };
        Ok(WatchParams {
            opts,
            since,
            timeout,
            bookmarks,
            table_mode,
            send_initial,
        })
    }
}

impl Target<'_> {
    pub(super) fn watch(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let p = WatchParams::parse(self.name.as_ref(), r)?;
        let limits = self.api.faults.on_watch(&self.info);
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let ns = self.ns.clone();
        // Objects currently inside a label selector, so label changes become ADDED/DELETED
        // for this watcher as the API server does.
        let inside: Option<Inside> = match (&p.opts.labels, p.since) {
            (None, _) => None,
            (Some(_), None) => Some(HashSet::new()),
            (Some(_), Some(_)) => Some(
                self.store()
                    .list_arc(&self.info.gr, ns.as_deref(), &p.opts)
                    .map(|(items, _)| items.iter().map(|o| obj_key(o)).collect())
                    .unwrap_or_default(),
            ),
        };
        let start = self.store().watch(&self.info.gr, ns.as_deref(), p.since);
        let pump = Pump {
            tx,
            api: self.api.clone(),
            info: self.info.clone(),
            version: self.version.clone(),
            p,
            inside,
            limits,
        };
        tokio::spawn(pump.run(start));
        Ok(stream_response(rx))
    }
}

/// The task behind one watch: store events in, JSON lines out.
struct Pump {
    tx: mpsc::Sender<Bytes>,
    api: Arc<Api>,
    info: ResourceInfo,
    version: String,
    p: WatchParams,
    inside: Option<Inside>,
    limits: WatchLimits,
}

/// One event as a JSON line.
fn line(v: Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}

fn error_event(e: &ApiError) -> Value {
    json!({"type": "ERROR", "object": e.to_status()})
}

impl Pump {
    async fn run(mut self, start: Result<Watch, ApiError>) {
        let mut w = match start {
            Ok(w) => w,
            Err(e) => {
                let _ = self.tx.send(line(error_event(&e))).await;
                return;
            }
        };
        let timeout = self.p.timeout;
        let deadline =
            tokio::time::sleep(self.limits.max_duration.map_or(timeout, |d| d.min(timeout)));
        tokio::pin!(deadline);
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let mut sent: u32 = 0;
        let mut first_table = true;
        let mut initial_left = self.p.send_initial.then(|| w.pending_initial());
        loop {
            if initial_left == Some(0) {
                initial_left = None;
                if self
                    .tx
                    .send(line(self.initial_events_end(&w)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let msg = tokio::select! {
                _ = &mut deadline => break,
                _ = self.api.shutdown.cancelled() => break,
                _ = self.tx.closed() => break,
                _ = tick.tick(), if self.p.bookmarks => self.bookmark(&w),
                ev = w.next() => match ev {
                    None => break,
                    Some(Err(e)) => {
                        let _ = self.tx.send(line(error_event(&e))).await;
                        break;
                    }
                    Some(Ok(ev)) => {
                        if let Some(n) = initial_left.as_mut() {
                            *n = n.saturating_sub(1);
                        }
                        let Some(msg) = self.event(ev, &mut first_table) else {
                            continue;
                        };
                        sent += 1;
                        msg
                    }
                }
            };
            if self.tx.send(line(msg)).await.is_err() {
                break;
            }
            if self.limits.max_events.is_some_and(|m| sent >= m) {
                break;
            }
        }
    }

    /// The bookmark that ends the initial events (`sendInitialEvents=true`).
    fn initial_events_end(&self, w: &Watch) -> Value {
        json!({"type": "BOOKMARK", "object": {"kind": self.info.kind, "apiVersion": self.info.api_version(&self.version),
            "metadata": {"resourceVersion": w.last_rv().to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}}})
    }

    /// A periodic bookmark (`allowWatchBookmarks=true`).
    fn bookmark(&self, w: &Watch) -> Value {
        json!({"type": "BOOKMARK", "object": {"kind": self.info.kind, "apiVersion": self.info.api_version(&self.version), "metadata": {"resourceVersion": w.last_rv().to_string()}}})
    }

    /// The event this watcher sees for a store event, or `None` when it sees nothing.
    fn event(&mut self, ev: WatchEvent, first_table: &mut bool) -> Option<Value> {
        let kind = visible_kind(&self.p.opts, self.inside.as_mut(), ev.kind, &ev.object)?;
        let mut o = (*ev.object).clone();
        from_hub(&self.info, &self.version, &mut o);
        let object = match self.p.table_mode {
            Some(include) => {
                let rv = o
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let t = table::table(&self.info, &self.version, &[o], include, rv, *first_table);
                *first_table = false;
                t
            }
            None => o,
        };
        let kind = match kind {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        };
        Some(json!({"type": kind, "object": object}))
    }
}

/// The event type a watcher with `opts` sees, or `None` to skip the event. With a label
/// selector (`inside` is then the set of objects inside it), an object entering the selector
/// is ADDED and one leaving it is DELETED, as the API server reports them.
fn visible_kind(
    opts: &ListOptions,
    inside: Option<&mut Inside>,
    kind: EventType,
    object: &Value,
) -> Option<EventType> {
    let fields_ok = opts.fields.as_ref().is_none_or(|f| f.matches(object));
    let labels_ok = opts.labels.as_ref().is_none_or(|l| l.matches(object));
    match inside {
        _ if !fields_ok => None,
        None => Some(kind),
        Some(set) => {
            let key = obj_key(object);
            let was = set.contains(&key);
            match (labels_ok, kind) {
                (true, EventType::Deleted) | (false, EventType::Modified) if was => {
                    set.remove(&key);
                    Some(EventType::Deleted)
                }
                (true, EventType::Deleted) | (false, _) => None,
                (true, _) => {
                    set.insert(key);
                    Some(if was {
                        EventType::Modified
                    } else {
                        EventType::Added
                    })
                }
            }
        }
    }
}

/// The streamed response carrying the watch's lines.
fn stream_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}
