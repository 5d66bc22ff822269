//! The object store: every API object as `serde_json::Value`, keyed by (group, resource,
//! namespace, name), one global monotonically increasing resourceVersion, watch fan-out with a
//! bounded per-resource event history, admission hooks, and optional on-disk persistence.
//!
//! # In-process API (for controllers)
//!
//! Objects are kept in their **hub** representation: `vmoperator.vmware.com/v1alpha5`,
//! `imageregistry.vmware.com/v1alpha2`, `v1` for core and `storage.k8s.io/v1`
//! (`vmop_types::api::*_HUB_VERSION`). The HTTP layer converts to and from the version a client
//! speaks; in-process callers always read and write the hub shape. Resources are named by
//! [`Gr`] (`Gr::from(&vmop_types::api::VIRTUAL_MACHINE)`).
//!
//! ```no_run
//! # use supervisor_sim::store::*;
//! # use supervisor_sim::catalog::{Catalog, Gr};
//! # use std::sync::Arc;
//! # async fn demo() -> Result<(), supervisor_sim::error::ApiError> {
//! let store = Store::new(Arc::new(Catalog::builtin()), StoreOptions::default()).expect("store");
//! let vms = Gr::from(&vmop_types::api::VIRTUAL_MACHINE);
//! // read
//! let vm = store.get(&vms, Some("demo"), "my-vm")?;
//! let (items, list_rv) = store.list(&vms, Some("demo"), &ListOptions::default())?;
//! // write status with conflict retry (closure may be called again with a fresh copy)
//! store.modify(&vms, Some("demo"), "my-vm", Subresource::Status, |obj| {
//!     obj["status"]["powerState"] = "PoweredOn".into();
//!     Ok(())
//! })?;
//! // watch from a list's resourceVersion (None = synthetic ADDED events for what exists now)
//! let mut w = store.watch(&vms, Some("demo"), Some(list_rv))?;
//! while let Some(ev) = w.next().await {
//!     let ev = ev?; // Err(ApiError 410) when the history no longer covers our position
//!     println!("{:?} {}", ev.kind, ev.object["metadata"]["name"]);
//! }
//! # Ok(()) }
//! ```
//!
//! * [`Store::create`] — generates `metadata.name` from `generateName`, sets `uid`,
//!   `creationTimestamp`, `generation` (custom kinds), `resourceVersion`; keeps `status` as given
//!   (the HTTP layer strips it for kinds with a status subresource, like the API server).
//! * [`Store::update`] — main resource: `status` is kept from the stored object when the kind
//!   has a status subresource; `generation` is bumped when anything outside metadata/status
//!   changed; a no-op update returns the stored object unchanged (no new resourceVersion).
//!   A `metadata.resourceVersion` in the object is a precondition (409 Conflict on mismatch).
//! * [`Store::update_status`] — only `status` is taken from the object.
//! * [`Store::modify`] — read-modify-write with conflict retry; the usual controller call.
//! * [`Store::delete`] — with finalizers: sets `deletionTimestamp` and returns; the object goes
//!   away when an update empties `metadata.finalizers`. Deleting a Namespace deletes its objects.
//! * [`Store::watch`] — ordered events with `rv > since`; `Err(410)` (Expired) when `since`
//!   predates the retained history or the watcher fell behind.
//! * [`Store::add_admission`] — registers an [`Admission`] hook called (outside the store lock,
//!   so it may read the store) on create, update, status update and delete: `mutate` then
//!   `validate`. An `Err(ApiError)` refuses the request with that status.
//! * Secrets: `stringData` is folded into base64 `data` on every write, as the API server does.

use crate::catalog::{Catalog, Gr, ResourceInfo};
use crate::error::{ApiError, Cause, Target};
use crate::selector::{FieldSelector, LabelSelector};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::broadcast;

/// Store construction options.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Events retained per resource for watch resumption (older positions get 410).
    pub history_limit: usize,
    /// Directory for persistence (`--state`); `None` keeps everything in memory.
    pub state_dir: Option<PathBuf>,
    /// Capacity of each resource's live fan-out channel (a watcher further behind gets 410).
    pub channel_capacity: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            history_limit: 1000,
            state_dir: None,
            channel_capacity: 4096,
        }
    }
}

/// Store-level failures that are not API errors (startup only).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing the state directory failed.
    #[error("state directory {path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A persisted object could not be parsed.
    #[error("state file {path} is not valid JSON: {source}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created (or synthetic initial state).
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// Wire name (`ADDED`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// Type.
    pub kind: EventType,
    /// The object after the change (before deletion for DELETED), hub representation.
    pub object: Arc<Value>,
    /// resourceVersion of the change.
    pub rv: u64,
}

/// List options.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: Option<LabelSelector>,
    /// Field selector.
    pub fields: Option<FieldSelector>,
}

impl ListOptions {
    /// Whether `obj` passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.as_ref().is_none_or(|l| l.matches(obj))
            && self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// Write options.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run admission and return the result without storing it.
    pub dry_run: bool,
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object (status kept from storage when the kind has a status subresource).
    Main,
    /// `/status`.
    Status,
}

/// Delete options.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
}

/// Admission operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Create.
    Create,
    /// Update (incl. patch).
    Update,
    /// Delete.
    Delete,
}

/// What an admission hook is told about a request.
pub struct AdmissionRequest<'a> {
    /// Operation.
    pub operation: Operation,
    /// Resource.
    pub gr: &'a Gr,
    /// Kind.
    pub kind: &'a str,
    /// Namespace (None for cluster-scoped).
    pub namespace: Option<&'a str>,
    /// Object name.
    pub name: &'a str,
    /// Main resource or `/status`.
    pub subresource: Subresource,
    /// Stored object (update/delete).
    pub old: Option<&'a Value>,
    /// dryRun.
    pub dry_run: bool,
    /// The store, for lookups (never call writes on it from a hook).
    pub store: &'a Store,
}

/// Admission webhook equivalent. Both methods default to accepting.
pub trait Admission: Send + Sync + 'static {
    /// Mutating admission: may change `obj` (hub representation).
    fn mutate(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let _ = (req, obj);
        Ok(())
    }
    /// Validating admission: may refuse.
    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        let _ = (req, obj);
        Ok(())
    }
}

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

struct ResourceState {
    objects: BTreeMap<(String, String), Arc<Value>>,
    history: VecDeque<WatchEvent>,
    /// Highest resourceVersion whose event is no longer retained.
    compacted: u64,
    tx: broadcast::Sender<WatchEvent>,
}

struct State {
    rv: u64,
    resources: HashMap<Gr, ResourceState>,
}

struct Inner {
    catalog: Arc<Catalog>,
    state: Mutex<State>,
    admission: RwLock<Vec<Arc<dyn Admission>>>,
    opts: StoreOptions,
}

/// The store; cheap to clone (shared).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// RFC 3339 UTC timestamp with second precision, as Kubernetes writes them.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// DNS-1123 subdomain check used for object names.
pub fn validate_dns1123_subdomain(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_string());
    }
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        None
    } else {
        Some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let id = uuid::Uuid::new_v4();
    id.as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn meta_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let o = obj.as_object_mut().expect("object ensured above");
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut().expect("metadata ensured above")
}

/// Everything but metadata and status: what `generation` tracks.
fn spec_part(obj: &Value) -> Value {
    match obj.as_object() {
        Some(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => Value::Null,
    }
}

fn finalizers_empty(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
}

/// Secrets: fold `stringData` into base64 `data`.
fn normalize_secret(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    let Some(Value::Object(sd)) = o.remove("stringData") else {
        return;
    };
    let data = o.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(d) = data.as_object_mut() {
        for (k, v) in sd {
            let s = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            d.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
            );
        }
    }
}

impl Store {
    /// Creates a store; loads `opts.state_dir` when it holds a previous run's state.
    pub fn new(catalog: Arc<Catalog>, opts: StoreOptions) -> Result<Store, StoreError> {
        let mut state = State {
            rv: 0,
            resources: HashMap::new(),
        };
        if let Some(dir) = &opts.state_dir {
            crate::persist::load(
                dir,
                &catalog,
                |gr, ns, name, obj| {
                    let rs =
                        Self::resource_state_mut(&mut state.resources, gr, opts.channel_capacity);
                    rs.objects.insert((ns, name), Arc::new(obj));
                },
                &mut state.rv,
            )?;
            // Positions before the restart are unknown: resuming from them must yield 410,
            // resuming from the current resourceVersion must work.
            for rs in state.resources.values_mut() {
                rs.compacted = state.rv;
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                catalog,
                state: Mutex::new(state),
                admission: RwLock::new(Vec::new()),
                opts,
            }),
        })
    }

    fn resource_state_mut<'a>(
        resources: &'a mut HashMap<Gr, ResourceState>,
        gr: &Gr,
        capacity: usize,
    ) -> &'a mut ResourceState {
        resources
            .entry(gr.clone())
            .or_insert_with(|| ResourceState {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted: 0,
                tx: broadcast::channel(capacity.max(16)).0,
            })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every mutation is applied
        // fully before any event is sent), so recover the guard instead of poisoning forever.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The catalogue the store was built with.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.inner.catalog
    }

    /// The latest resourceVersion handed out.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Registers an admission hook (called in registration order).
    pub fn add_admission(&self, hook: Arc<dyn Admission>) {
        self.inner
            .admission
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    fn info(&self, gr: &Gr) -> Result<&ResourceInfo, ApiError> {
        self.inner.catalog.get(gr).ok_or_else(|| {
            ApiError::not_found(Target {
                group: &gr.group,
                resource: &gr.resource,
                name: "",
            })
        })
    }

    fn scope_ns<'a>(info: &ResourceInfo, ns: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
        match (info.namespaced, ns) {
            (true, Some(n)) if !n.is_empty() => Ok(Some(n)),
            (true, _) => Err(ApiError::bad_request(
                "the server could not find the requested resource: a namespace is required",
            )),
            (false, _) => Ok(None),
        }
    }

    fn target<'a>(gr: &'a Gr, name: &'a str) -> Target<'a> {
        Target {
            group: &gr.group,
            resource: &gr.resource,
            name,
        }
    }

    fn run_admission(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        let hooks: Vec<Arc<dyn Admission>> = self
            .inner
            .admission
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for h in &hooks {
            h.mutate(req, obj)?;
        }
        for h in &hooks {
            h.validate(req, obj)?;
        }
        Ok(())
    }

    /// Gets one object.
    pub fn get(&self, gr: &Gr, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.get_arc(gr, ns, name).map(|a| (*a).clone())
    }

    /// Gets one object without copying it.
    pub fn get_arc(&self, gr: &Gr, ns: Option<&str>, name: &str) -> Result<Arc<Value>, ApiError> {
        let info = self.info(gr)?;
        let ns = Self::scope_ns(info, ns)?;
        let st = self.lock();
        st.resources
            .get(gr)
            .and_then(|rs| {
                rs.objects
                    .get(&(ns.unwrap_or_default().to_string(), name.to_string()))
            })
            .cloned()
            .ok_or_else(|| ApiError::not_found(Self::target(gr, name)))
    }

    /// Lists objects (all namespaces when `ns` is None) and returns the list resourceVersion.
    pub fn list(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<Value>, u64), ApiError> {
        let (items, rv) = self.list_arc(gr, ns, opts)?;
        Ok((items.into_iter().map(|a| (*a).clone()).collect(), rv))
    }

    /// [`Store::list`] without copying objects.
    pub fn list_arc(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
        self.info(gr)?;
        let st = self.lock();
        let items = st
            .resources
            .get(gr)
            .map(|rs| {
                rs.objects
                    .iter()
                    .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
                    .filter(|(_, o)| opts.matches(o))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok((items, st.rv))
    }

    fn commit(&self, st: &mut State, gr: &Gr, kind: EventType, obj: Value) -> Arc<Value> {
        let ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let rv = st.rv;
        let obj = Arc::new(obj);
        let limit = self.inner.opts.history_limit.max(1);
        let rs = Self::resource_state_mut(&mut st.resources, gr, self.inner.opts.channel_capacity);
        if kind == EventType::Deleted {
            rs.objects.remove(&(ns.clone(), name.clone()));
        } else {
            rs.objects.insert((ns.clone(), name.clone()), obj.clone());
        }
        let ev = WatchEvent {
            kind,
            object: obj.clone(),
            rv,
        };
        rs.history.push_back(ev.clone());
        while rs.history.len() > limit {
            if let Some(old) = rs.history.pop_front() {
                rs.compacted = old.rv;
            }
        }
        // No receivers is normal.
        let _ = rs.tx.send(ev);
        if let Some(dir) = &self.inner.opts.state_dir {
            let res = if kind == EventType::Deleted {
                crate::persist::remove_object(dir, gr, &ns, &name)
            } else {
                crate::persist::write_object(dir, gr, &ns, &name, &obj)
            }
            .and_then(|_| crate::persist::write_rv(dir, rv));
            if let Err(e) = res {
                tracing::error!(error = %e, "persisting {gr} {ns}/{name} failed");
            }
        }
        obj
    }

    fn namespace_exists(st: &State, ns: &str) -> bool {
        st.resources
            .get(&Gr::new("", "namespaces"))
            .is_some_and(|rs| rs.objects.contains_key(&(String::new(), ns.to_string())))
    }

    /// Creates an object (hub representation). `ns` must be given for namespaced kinds and wins
    /// over `metadata.namespace`.
    pub fn create(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the object to create is not a JSON object",
            ));
        }
        {
            let m = meta_mut(&mut obj);
            match ns {
                Some(n) => {
                    if let Some(given) = m.get("namespace").and_then(Value::as_str) {
                        if !given.is_empty() && given != n {
                            return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
                        }
                    }
                    m.insert("namespace".into(), json!(n));
                }
                None => {
                    m.remove("namespace");
                }
            }
            let has_name = m
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !has_name {
                match m.get("generateName").and_then(Value::as_str) {
                    Some(prefix) if !prefix.is_empty() => {
                        let name = format!("{prefix}{}", random_suffix());
                        m.insert("name".into(), json!(name));
                    }
                    _ => {
                        return Err(ApiError::invalid(
                            &info.kind,
                            &info.gr.group,
                            "",
                            vec![crate::error::Cause {
                                field: "metadata.name".into(),
                                reason: "FieldValueRequired".into(),
                                message: "Required value: name or generateName is required".into(),
                            }],
                        ))
                    }
                }
            }
        }
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if let Some(msg) = validate_dns1123_subdomain(&name) {
            return Err(ApiError::invalid(
                &info.kind,
                &info.gr.group,
                &name,
                vec![crate::error::Cause {
                    field: "metadata.name".into(),
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {name:?}: {msg}"),
                }],
            ));
        }
        obj["apiVersion"] = json!(info.hub_api_version());
        obj["kind"] = json!(info.kind);
        if gr.group.is_empty() && gr.resource == "secrets" {
            normalize_secret(&mut obj);
        }
        if ns.is_some() {
            let st = self.lock();
            if !Self::namespace_exists(&st, ns.unwrap_or_default()) {
                return Err(ApiError::not_found(Target {
                    group: "",
                    resource: "namespaces",
                    name: ns.unwrap_or_default(),
                }));
            }
        }
        let req = AdmissionRequest {
            operation: Operation::Create,
            gr,
            kind: &info.kind,
            namespace: ns,
            name: &name,
            subresource: Subresource::Main,
            old: None,
            dry_run: opts.dry_run,
            store: self,
        };
        self.run_admission(&req, &mut obj)?;
        let mut st = self.lock();
        let key = (ns.unwrap_or_default().to_string(), name.clone());
        if st
            .resources
            .get(gr)
            .is_some_and(|rs| rs.objects.contains_key(&key))
        {
            return Err(ApiError::already_exists(Self::target(gr, &name)));
        }
        {
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now_rfc3339()));
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            if info.custom {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        if gr.group.is_empty() && gr.resource == "namespaces" && obj.get("status").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        if opts.dry_run {
            return Ok(obj);
        }
        st.rv += 1;
        let rv = st.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let stored = self.commit(&mut st, gr, EventType::Added, obj);
        Ok((*stored).clone())
    }

    /// Replaces an object (main resource).
    pub fn update(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.replace(gr, ns, obj, Subresource::Main, opts)
    }

    /// Replaces an object's status.
    pub fn update_status(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.replace(gr, ns, obj, Subresource::Status, opts)
    }

    /// Read-modify-write with up to 20 retries on conflict. `f` gets a fresh copy each time.
    pub fn modify<F>(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        mut f: F,
    ) -> Result<Value, ApiError>
    where
        F: FnMut(&mut Value) -> Result<(), ApiError>,
    {
        self.modify_with(gr, ns, name, sub, &WriteOptions::default(), &mut f)
    }

    /// [`Store::modify`] with write options.
    pub fn modify_with(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        sub: Subresource,
        opts: &WriteOptions,
        f: &mut dyn FnMut(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let mut last = None;
        for _ in 0..20 {
            let mut obj = self.get(gr, ns, name)?;
            f(&mut obj)?;
            match self.replace(gr, ns, obj, sub, opts) {
                Err(e) if e.reason == "Conflict" => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| ApiError::conflict(Self::target(gr, name))))
    }

    fn replace(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        mut obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        if !obj.is_object() || obj.get("metadata").is_some_and(|m| !m.is_object()) {
            return Err(ApiError::bad_request(
                "the object to update is not a JSON object with object metadata",
            ));
        }
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(ApiError::bad_request(
                "name is required in the object for an update",
            ));
        }
        if let (Some(n), Some(given)) = (ns, meta_str(&obj, "namespace")) {
            if !given.is_empty() && given != n {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
        }
        let precondition = meta_str(&obj, "resourceVersion")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if gr.group.is_empty() && gr.resource == "secrets" {
            normalize_secret(&mut obj);
        }
        for _ in 0..50 {
            let old = self.get_arc(gr, ns, &name)?;
            let old_rv = meta_str(&old, "resourceVersion")
                .unwrap_or_default()
                .to_string();
            if let Some(p) = &precondition {
                if *p != old_rv {
                    return Err(ApiError::conflict(Self::target(gr, &name)));
                }
            }
            let mut new = match sub {
                Subresource::Status => {
                    let mut n = (*old).clone();
                    match obj.get("status") {
                        Some(s) => n["status"] = s.clone(),
                        None => {
                            if let Some(o) = n.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                    n
                }
                Subresource::Main => {
                    let mut n = obj.clone();
                    if info.has_status {
                        match old.get("status") {
                            Some(s) => n["status"] = s.clone(),
                            None => {
                                if let Some(o) = n.as_object_mut() {
                                    o.remove("status");
                                }
                            }
                        }
                    }
                    n
                }
            };
            new["apiVersion"] = json!(info.hub_api_version());
            new["kind"] = json!(info.kind);
            {
                let m = meta_mut(&mut new);
                for key in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "namespace",
                ] {
                    match old.get("metadata").and_then(|om| om.get(key)) {
                        Some(v) => m.insert(key.to_string(), v.clone()),
                        None => m.remove(key),
                    };
                }
                m.insert("resourceVersion".into(), json!(old_rv));
            }
            refuse_new_finalizers_while_deleting(&info, &name, &old, &new)?;
            let req = AdmissionRequest {
                operation: Operation::Update,
                gr,
                kind: &info.kind,
                namespace: ns,
                name: &name,
                subresource: sub,
                old: Some(&old),
                dry_run: opts.dry_run,
                store: self,
            };
            self.run_admission(&req, &mut new)?;
            let mut st = self.lock();
            let current = st
                .resources
                .get(gr)
                .and_then(|rs| {
                    rs.objects
                        .get(&(ns.unwrap_or_default().to_string(), name.clone()))
                })
                .cloned();
            let Some(current) = current else {
                return Err(ApiError::not_found(Self::target(gr, &name)));
            };
            if !Arc::ptr_eq(&current, &old) {
                if precondition.is_some() {
                    return Err(ApiError::conflict(Self::target(gr, &name)));
                }
                continue;
            }
            if new == *old {
                return Ok((*old).clone());
            }
            if info.custom && spec_part(&new) != spec_part(&old) {
                let g = old
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(&mut new).insert("generation".into(), json!(g + 1));
            }
            if opts.dry_run {
                return Ok(new);
            }
            st.rv += 1;
            let rv = st.rv;
            meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
            let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
            let kind = if deleting && finalizers_empty(&new) {
                EventType::Deleted
            } else {
                EventType::Modified
            };
            let stored = self.commit(&mut st, gr, kind, new);
            return Ok((*stored).clone());
        }
        Err(ApiError::conflict(Self::target(gr, &name)))
    }

    /// Deletes an object. Returns the object as it is after the call: with `deletionTimestamp`
    /// when finalizers hold it, or its final state when it was removed.
    pub fn delete(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let info = self.info(gr)?.clone();
        let ns = Self::scope_ns(&info, ns)?;
        let old = self.get_arc(gr, ns, name)?;
        if let Some(p) = &opts.precondition_rv {
            if meta_str(&old, "resourceVersion") != Some(p.as_str()) {
                return Err(ApiError::conflict_msg(format!(
                    "Operation cannot be fulfilled on {gr} \"{name}\": the ResourceVersion in the precondition ({p}) does not match the ResourceVersion in record ({}). The object might have been modified",
                    meta_str(&old, "resourceVersion").unwrap_or_default()
                )));
            }
        }
        if let Some(p) = &opts.precondition_uid {
            if meta_str(&old, "uid") != Some(p.as_str()) {
                return Err(ApiError::conflict_msg(format!(
                    "Operation cannot be fulfilled on {gr} \"{name}\": the UID in the precondition ({p}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                    meta_str(&old, "uid").unwrap_or_default()
                )));
            }
        }
        let mut scratch = (*old).clone();
        let req = AdmissionRequest {
            operation: Operation::Delete,
            gr,
            kind: &info.kind,
            namespace: ns,
            name,
            subresource: Subresource::Main,
            old: Some(&old),
            dry_run: opts.dry_run,
            store: self,
        };
        self.run_admission(&req, &mut scratch)?;
        if opts.dry_run {
            return Ok((*old).clone());
        }
        let result = {
            let mut st = self.lock();
            let current = st
                .resources
                .get(gr)
                .and_then(|rs| {
                    rs.objects
                        .get(&(ns.unwrap_or_default().to_string(), name.to_string()))
                })
                .cloned()
                .ok_or_else(|| ApiError::not_found(Self::target(gr, name)))?;
            if finalizers_empty(&current) {
                st.rv += 1;
                let mut last = (*current).clone();
                meta_mut(&mut last).insert("resourceVersion".into(), json!(st.rv.to_string()));
                self.commit(&mut st, gr, EventType::Deleted, last)
            } else if current.pointer("/metadata/deletionTimestamp").is_some() {
                current
            } else {
                st.rv += 1;
                let mut marked = (*current).clone();
                let m = meta_mut(&mut marked);
                m.insert("deletionTimestamp".into(), json!(now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                m.insert("resourceVersion".into(), json!(st.rv.to_string()));
                self.commit(&mut st, gr, EventType::Modified, marked)
            }
        };
        if gr.group.is_empty() && gr.resource == "namespaces" {
            self.delete_namespace_contents(name);
        }
        Ok((*result).clone())
    }

    fn delete_namespace_contents(&self, ns: &str) {
        let namespaced: Vec<Gr> = self
            .inner
            .catalog
            .resources()
            .iter()
            .filter(|r| r.namespaced)
            .map(|r| r.gr.clone())
            .collect();
        for gr in namespaced {
            let names: Vec<String> = match self.list_arc(&gr, Some(ns), &ListOptions::default()) {
                Ok((items, _)) => items
                    .iter()
                    .filter_map(|o| meta_str(o, "name").map(str::to_string))
                    .collect(),
                Err(_) => continue,
            };
            for n in names {
                if let Err(e) = self.delete(&gr, Some(ns), &n, &DeleteOptions::default()) {
                    tracing::warn!(error = %e, "deleting {gr} {ns}/{n} with its namespace");
                }
            }
        }
    }

    /// Watches a resource. `since = None` starts with synthetic ADDED events for the objects that
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

    /// Path of the persistence directory, if any.
    pub fn state_dir(&self) -> Option<&Path> {
        self.inner.opts.state_dir.as_deref()
    }
}

/// kube-apiserver refuses to add finalizers to an object that is being deleted.
fn refuse_new_finalizers_while_deleting(
    info: &ResourceInfo,
    name: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    if old.pointer("/metadata/deletionTimestamp").is_none() {
        return Ok(());
    }
    let list = |o: &Value| -> Vec<String> {
        o.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = list(old);
    let added: Vec<String> = list(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    let cause = Cause {
        field: "metadata.finalizers".into(),
        reason: "FieldValueForbidden".into(),
        message: format!(
            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
        ),
    };
    Err(ApiError::invalid(
        &info.kind,
        &info.gr.group,
        name,
        vec![cause],
    ))
}
