//! The simulator's vm-operator: controllers for VirtualMachine, VirtualMachineService and
//! VirtualMachinePublishRequest, plus the VirtualMachine admission webhook.
//!
//! Each controller is a task driven by store watches (its own kind plus the kinds it depends
//! on), feeding a de-duplicating work queue; reconciles of different objects run concurrently,
//! never two of the same object. [`Controllers::shutdown`] stops the tasks and tears down every
//! guest endpoint and load-balancer listener.
//!
//! Usage (from the simulator's `run`):
//! ```no_run
//! # use supervisor_sim::controllers::*;
//! # async fn demo(store: supervisor_sim::store::Store, state: std::path::PathBuf) {
//! install_admission(&store);
//! let ctl = Controllers::start(store, ControllerConfig::new(state));
//! // ...
//! ctl.shutdown().await;
//! # }
//! ```

mod conditions;
pub mod import;
pub mod iso;
pub mod publish;
pub mod service;
pub mod vm;
pub mod webconsole;
mod webhook;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::catalog::Gr;
use crate::error::ApiError;
use crate::guest::GuestConfig;
use crate::store::{Store, WatchEvent};

pub use webhook::{PublishWebhook, VmWebhook};

/// Per-object fault annotation: the VM never gets an IP (`"true"`).
pub const ANNOTATION_NO_IP: &str = "sim.supervisor.vmware.com/no-ip";
/// Per-object fault annotation on a VirtualMachinePublishRequest: fail with this reason.
pub const ANNOTATION_PUBLISH_FAILURE_REASON: &str =
    "sim.supervisor.vmware.com/publish-failure-reason";
/// Message accompanying [`ANNOTATION_PUBLISH_FAILURE_REASON`].
pub const ANNOTATION_PUBLISH_FAILURE_MESSAGE: &str =
    "sim.supervisor.vmware.com/publish-failure-message";
/// Per-library annotation: capacity in bytes (publishing beyond it fails "insufficient storage").
pub const ANNOTATION_LIBRARY_CAPACITY: &str = "sim.supervisor.vmware.com/capacity-bytes";

/// A publish failure to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishFailure {
    /// Condition reason, e.g. `UploadFailure`, `TargetContentLibraryFailedQuotaCheck`.
    pub reason: String,
    pub message: String,
}

/// Controller-level faults for the whole run (per-object annotations add to these).
#[derive(Debug, Clone, Default)]
pub struct ControllerFaults {
    /// No VM ever gets `status.network.primaryIP4`.
    pub no_ip: bool,
    /// Every publish fails like this.
    pub publish_failure: Option<PublishFailure>,
    /// Capacity of every content library in bytes (`None` = unlimited).
    pub library_capacity_bytes: Option<u64>,
}

/// Timing and environment of the controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The simulator's state directory (VM roots, library storage).
    pub state_dir: PathBuf,
    pub guest: GuestConfig,
    /// From VM creation to `status.powerState: PoweredOn`.
    pub power_on_delay: Duration,
    /// From power-on to `status.network.primaryIP4`.
    pub ip_delay: Duration,
    /// Pause between publish conditions, so a watcher sees each one turn true.
    pub publish_step_delay: Duration,
    /// Port the guests' SSH endpoint uses on their own IP (falls back to an ephemeral port).
    pub guest_ssh_port: u16,
    /// Faults for the whole run, used when [`ControllerConfig::fault_source`] is unset.
    pub faults: ControllerFaults,
    /// Runtime-changeable faults (e.g. the simulator's `/sim/v1/faults`), read on every
    /// reconcile; overrides [`ControllerConfig::faults`].
    pub fault_source: Option<FaultSource>,
}

/// A function returning the current controller faults.
#[derive(Clone)]
pub struct FaultSource(pub Arc<dyn Fn() -> ControllerFaults + Send + Sync>);

impl std::fmt::Debug for FaultSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultSource(..)")
    }
}

impl ControllerConfig {
    /// The faults in force now.
    pub fn current_faults(&self) -> ControllerFaults {
        match &self.fault_source {
            Some(src) => (src.0)(),
            None => self.faults.clone(),
        }
    }
}

impl ControllerConfig {
    /// Defaults suitable for interactive use (short delays).
    pub fn new(state_dir: PathBuf) -> Self {
        ControllerConfig {
            state_dir,
            guest: GuestConfig::default(),
            power_on_delay: Duration::from_millis(500),
            ip_delay: Duration::from_millis(500),
            publish_step_delay: Duration::from_millis(200),
            guest_ssh_port: 22,
            faults: ControllerFaults::default(),
            fault_source: None,
        }
    }
}

/// Errors of a reconcile, naming the operation and the object.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{op} {object}: {source}")]
    Api {
        op: &'static str,
        object: String,
        #[source]
        source: Box<ApiError>,
    },
    #[error(transparent)]
    Guest(#[from] crate::guest::GuestError),
    #[error(transparent)]
    Library(#[from] crate::library::LibraryError),
}

/// Updates the status subresource of the namespaced object `ns/name` of `kind` with `f`
/// (`status` is an object by the time `f` runs).
pub(crate) fn update_status(
    store: &crate::store::Store,
    kind: &vmop_types::api::ApiKind,
    ns: &str,
    name: &str,
    f: impl Fn(&mut serde_json::Value),
) -> Result<serde_json::Value, CtlError> {
    store
        .modify(
            &Gr::from(kind),
            Some(ns),
            name,
            crate::store::Subresource::Status,
            |o| {
                if !o["status"].is_object() {
                    o["status"] = serde_json::json!({});
                }
                f(o);
                Ok(())
            },
        )
        .map_err(api_err(
            "updating status of",
            format!("{} {ns}/{name}", kind.kind),
        ))
}

pub(crate) fn api_err(
    op: &'static str,
    object: impl Into<String>,
) -> impl FnOnce(ApiError) -> CtlError {
    let object = object.into();
    move |source| CtlError::Api {
        op,
        object,
        source: Box::new(source),
    }
}

/// A ContentLibraryItem a controller adds to a library (publish and import both do).
pub(crate) struct NewLibraryItem<'a> {
    pub ns: &'a str,
    /// Resource name (`clitem-…`).
    pub res: &'a str,
    pub uuid: &'a str,
    pub library: &'a str,
    /// Display name.
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// `OVF` or `ISO`.
    pub item_type: &'a str,
    pub size: u64,
}

/// Creates the item, ready, the way the image-registry operator reports a synced item.
pub(crate) fn create_library_item(
    store: &Store,
    item: &NewLibraryItem<'_>,
) -> Result<(), CtlError> {
    use vmop_types::api as k;
    let now = crate::store::now_rfc3339();
    let mut status = serde_json::json!({
        "name": item.name,
        "type": item.item_type,
        "contentLibraryRef": {"kind": "ContentLibrary", "name": item.library},
        "sizeInBytes": item.size.to_string(),
        "cached": true,
        "contentVersion": "1",
        "metadataVersion": "1",
        "creationTime": now,
        "lastModifiedTime": now,
        "securityCompliance": true,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}],
    });
    if let Some(d) = item.description {
        status["description"] = serde_json::json!(d);
    }
    let obj = serde_json::json!({
        "apiVersion": k::CONTENT_LIBRARY_ITEM.api_version(k::CONTENT_LIBRARY_ITEM.hub_version()),
        "kind": "ContentLibraryItem",
        "metadata": {"name": item.res, "namespace": item.ns},
        "spec": {"id": item.uuid, "libraryName": item.library},
        "status": status,
    });
    store
        .create(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(item.ns),
            obj,
            &crate::store::WriteOptions::default(),
        )
        .map_err(api_err(
            "creating ContentLibraryItem",
            format!("{}/{}", item.ns, item.res),
        ))?;
    Ok(())
}

/// The VirtualMachineImage a controller makes for a new library item (publish and import both
/// do): named by the `vmi-` rule, owned by and pointing at the item.
pub(crate) struct NewItemImage<'a> {
    pub ns: &'a str,
    /// The ContentLibraryItem's resource name (`clitem-…`).
    pub item_res: &'a str,
    /// The item's id, which names the image.
    pub uuid: &'a str,
    /// Display name.
    pub name: &'a str,
    /// `OVF` or `ISO`.
    pub item_type: &'a str,
    /// Annotations besides the display name.
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// Status fields that replace or add to the defaults (`firmware`, `osInfo`, ...).
    pub status: serde_json::Map<String, serde_json::Value>,
}

/// Creates the image, ready; one that exists already (a library sync made it) is fine.
/// Returns its name.
pub(crate) fn create_item_image(store: &Store, img: NewItemImage<'_>) -> Result<String, CtlError> {
    use serde_json::json;
    use vmop_types::api as k;
    let vmi = vmop_types::naming::vmi_name_for_item(img.uuid);
    let item_uid = store
        .get_arc(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(img.ns),
            img.item_res,
        )
        .ok()
        .and_then(|i| {
            i.pointer("/metadata/uid")
                .and_then(|u| u.as_str())
                .map(String::from)
        })
        .unwrap_or_default();
    let now = crate::store::now_rfc3339();
    let mut annotations = img.annotations;
    annotations.insert(
        vmop_types::naming::ANNOTATION_DISPLAY_NAME.to_string(),
        json!(img.name),
    );
    let mut status = json!({
        "name": img.name,
        "type": img.item_type,
        "providerItemID": img.uuid,
        "providerContentVersion": "1",
        "firmware": "efi",
        "hardwareVersion": 19,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}],
    });
    for (key, v) in img.status {
        status[key] = v;
    }
    let item_api = k::CONTENT_LIBRARY_ITEM.api_version(k::CONTENT_LIBRARY_ITEM.hub_version());
    let obj = json!({
        "apiVersion": k::VIRTUAL_MACHINE_IMAGE.api_version(k::VIRTUAL_MACHINE_IMAGE.hub_version()),
        "kind": "VirtualMachineImage",
        "metadata": {
            "name": vmi,
            "namespace": img.ns,
            "labels": {vmop_types::naming::LABEL_IMAGE_TYPE: img.item_type},
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": item_api,
                "kind": "ContentLibraryItem",
                "name": img.item_res,
                "uid": item_uid,
                "controller": true,
            }],
        },
        "spec": {"providerRef": {"apiVersion": item_api, "kind": "ContentLibraryItem", "name": img.item_res}},
        "status": status,
    });
    match store.create(
        &Gr::from(&k::VIRTUAL_MACHINE_IMAGE),
        Some(img.ns),
        obj,
        &crate::store::WriteOptions::default(),
    ) {
        Ok(_) | Err(ApiError { code: 409, .. }) => Ok(vmi),
        Err(e) => Err(api_err(
            "creating VirtualMachineImage",
            format!("{}/{vmi}", img.ns),
        )(e)),
    }
}

/// Where a running guest can be reached (shared between the VM and VMService controllers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestEndpoint {
    pub ip: Ipv4Addr,
    /// The guest's SSH server (on `ip`, port 22 when it could bind it).
    pub ssh: SocketAddr,
}

/// Running guests by (namespace, name).
pub type GuestRegistry = Arc<Mutex<HashMap<(String, String), GuestEndpoint>>>;

/// Object key: (namespace, name).
pub(crate) type Key = (Option<String>, String);

pub(crate) fn key_of(obj: &serde_json::Value) -> Key {
    (
        obj.pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        obj.pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
    )
}

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

/// The running controllers.
pub struct Controllers {
    stop: CancellationToken,
    tasks: JoinSet<()>,
    /// Running guests, for tests and the VMService forwarder.
    pub guests: GuestRegistry,
}

/// Registers the VirtualMachine and VirtualMachinePublishRequest webhooks on the store.
pub fn install_admission(store: &Store) {
    store.add_admission(Arc::new(VmWebhook));
    store.add_admission(Arc::new(PublishWebhook));
}

impl Controllers {
    /// Starts every controller.
    pub fn start(store: Store, cfg: ControllerConfig) -> Controllers {
        let stop = CancellationToken::new();
        let guests: GuestRegistry = Arc::default();
        let cfg = Arc::new(cfg);
        let mut tasks = JoinSet::new();
        use vmop_types::api as k;
        let vm_rec: Arc<dyn ReconcilerDyn> = Arc::new(vm::VmController::new(
            store.clone(),
            cfg.clone(),
            guests.clone(),
        ));
        tasks.spawn(run_controller(
            store.clone(),
            "virtualmachine",
            Gr::from(&k::VIRTUAL_MACHINE),
            vec![
                (Gr::from(&k::VIRTUAL_MACHINE), Trigger::Own),
                (Gr::from(&k::SECRET), Trigger::AllInNamespace),
                (Gr::from(&k::VIRTUAL_MACHINE_CLASS), Trigger::AllInNamespace),
                (Gr::from(&k::VIRTUAL_MACHINE_IMAGE), Trigger::AllInNamespace),
                (
                    Gr::from(&k::CLUSTER_VIRTUAL_MACHINE_IMAGE),
                    Trigger::AllInNamespace,
                ),
                (Gr::from(&k::STORAGE_CLASS), Trigger::AllInNamespace),
            ],
            vm_rec,
            stop.clone(),
        ));
        let svc_rec: Arc<dyn ReconcilerDyn> = Arc::new(service::ServiceController::new(
            store.clone(),
            guests.clone(),
        ));
        tasks.spawn(run_controller(
            store.clone(),
            "virtualmachineservice",
            Gr::from(&k::VIRTUAL_MACHINE_SERVICE),
            vec![(Gr::from(&k::VIRTUAL_MACHINE_SERVICE), Trigger::Own)],
            svc_rec,
            stop.clone(),
        ));
        let pub_rec: Arc<dyn ReconcilerDyn> =
            Arc::new(publish::PublishController::new(store.clone(), cfg.clone()));
        tasks.spawn(run_controller(
            store.clone(),
            "virtualmachinepublishrequest",
            Gr::from(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST),
            vec![
                (Gr::from(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST), Trigger::Own),
                (Gr::from(&k::VIRTUAL_MACHINE), Trigger::AllInNamespace),
                (Gr::from(&k::CONTENT_LIBRARY), Trigger::AllInNamespace),
            ],
            pub_rec,
            stop.clone(),
        ));
        let import_rec: Arc<dyn ReconcilerDyn> =
            Arc::new(import::ImportController::new(store.clone(), cfg.clone()));
        tasks.spawn(run_controller(
            store.clone(),
            "contentlibraryitemimportrequest",
            Gr::from(&k::CONTENT_LIBRARY_ITEM_IMPORT_REQUEST),
            vec![(
                Gr::from(&k::CONTENT_LIBRARY_ITEM_IMPORT_REQUEST),
                Trigger::Own,
            )],
            import_rec,
            stop.clone(),
        ));
        let item_gc: Arc<dyn ReconcilerDyn> =
            Arc::new(import::ItemGcController::new(store.clone()));
        tasks.spawn(run_controller(
            store.clone(),
            "contentlibraryitem-gc",
            Gr::from(&k::CONTENT_LIBRARY_ITEM),
            vec![(Gr::from(&k::CONTENT_LIBRARY_ITEM), Trigger::Own)],
            item_gc,
            stop.clone(),
        ));
        let console_rec: Arc<dyn ReconcilerDyn> = Arc::new(webconsole::WebConsoleController::new(
            store.clone(),
            cfg.clone(),
        ));
        tasks.spawn(run_controller(
            store.clone(),
            "virtualmachinewebconsolerequest",
            Gr::from(&k::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST),
            vec![
                (
                    Gr::from(&k::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST),
                    Trigger::Own,
                ),
                (Gr::from(&k::VIRTUAL_MACHINE), Trigger::AllInNamespace),
            ],
            console_rec,
            stop.clone(),
        ));
        Controllers {
            stop,
            tasks,
            guests,
        }
    }

    /// Stops the controllers and tears down guests and listeners (bounded wait).
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
