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
//!
//! # Rooms
//!
//! `mod.rs` holds the types, the shared state, admission and the commit of an event;
//! `list.rs` reads (get, list); `create.rs`, `replace.rs` (update, status, modify) and
//! `delete.rs` write, each as a sequence of named phases; `watch.rs` the watches; `meta.rs`
//! the metadata helpers (names, timestamps, Secrets, finalizers). Each has its unit tests.

mod create;
mod delete;
mod list;
mod meta;
mod mirror;
mod replace;
mod watch;

pub use meta::{now_rfc3339, validate_dns1123_subdomain};
pub use mirror::without_volatile;
pub use watch::Watch;

use crate::catalog::{Catalog, Gr, ResourceInfo};
use crate::error::{ApiError, Target};
use crate::selector::{FieldSelector, LabelSelector};
use meta::meta_str;
use serde_json::Value;
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

    /// Path of the persistence directory, if any.
    pub fn state_dir(&self) -> Option<&Path> {
        self.inner.opts.state_dir.as_deref()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A store over the built-in catalogue with a namespace `demo`, for the unit tests.
    use super::*;
    use serde_json::json;

    pub(crate) fn store() -> Store {
        store_with(StoreOptions::default())
    }

    pub(crate) fn store_with(opts: StoreOptions) -> Store {
        let s = Store::new(Arc::new(Catalog::builtin()), opts).expect("store");
        let ns = json!({"metadata": {"name": "demo"}});
        s.create(&namespaces(), None, ns, &WriteOptions::default())
            .expect("namespace");
        s
    }

    pub(crate) fn namespaces() -> Gr {
        Gr::new("", "namespaces")
    }

    pub(crate) fn config_maps() -> Gr {
        Gr::new("", "configmaps")
    }

    pub(crate) fn vms() -> Gr {
        Gr::from(&vmop_types::api::VIRTUAL_MACHINE)
    }

    pub(crate) fn rv(o: &Value) -> u64 {
        o.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .expect("resourceVersion")
    }
}
