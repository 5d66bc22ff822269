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
mod items;
pub mod publish;
mod runner;
pub mod service;
pub mod vm;
pub mod webconsole;
mod webhook;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::catalog::Gr;
use crate::error::ApiError;
use crate::guest::GuestConfig;
use crate::store::Store;

pub(crate) use items::{create_item_image, create_library_item, NewItemImage, NewLibraryItem};
pub(crate) use runner::{run_controller, ReconcilerDyn, Trigger};
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

/// One controller of [`Controllers::start`].
struct Spec {
    name: &'static str,
    primary: &'static vmop_types::api::ApiKind,
    watched: Vec<(&'static vmop_types::api::ApiKind, Trigger)>,
    reconciler: Arc<dyn ReconcilerDyn>,
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
        let mut tasks = JoinSet::new();
        for c in Self::catalogue(&store, Arc::new(cfg), &guests) {
            tasks.spawn(run_controller(
                store.clone(),
                c.name,
                Gr::from(c.primary),
                c.watched
                    .into_iter()
                    .map(|(k, t)| (Gr::from(k), t))
                    .collect(),
                c.reconciler,
                stop.clone(),
            ));
        }
        Controllers {
            stop,
            tasks,
            guests,
        }
    }

    /// Each controller: its name, its kind, what it watches (and whom a change there
    /// enqueues), and its reconciler.
    fn catalogue(store: &Store, cfg: Arc<ControllerConfig>, guests: &GuestRegistry) -> Vec<Spec> {
        use vmop_types::api as k;
        use Trigger::{AllInNamespace as All, Own};
        let s = || store.clone();
        vec![
            Spec {
                name: "virtualmachine",
                primary: &k::VIRTUAL_MACHINE,
                watched: vec![
                    (&k::VIRTUAL_MACHINE, Own),
                    (&k::SECRET, All),
                    (&k::VIRTUAL_MACHINE_CLASS, All),
                    (&k::VIRTUAL_MACHINE_IMAGE, All),
                    (&k::CLUSTER_VIRTUAL_MACHINE_IMAGE, All),
                    (&k::STORAGE_CLASS, All),
                ],
                reconciler: Arc::new(vm::VmController::new(s(), cfg.clone(), guests.clone())),
            },
            Spec {
                name: "virtualmachineservice",
                primary: &k::VIRTUAL_MACHINE_SERVICE,
                watched: vec![(&k::VIRTUAL_MACHINE_SERVICE, Own)],
                reconciler: Arc::new(service::ServiceController::new(s(), guests.clone())),
            },
            Spec {
                name: "virtualmachinepublishrequest",
                primary: &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
                watched: vec![
                    (&k::VIRTUAL_MACHINE_PUBLISH_REQUEST, Own),
                    (&k::VIRTUAL_MACHINE, All),
                    (&k::CONTENT_LIBRARY, All),
                ],
                reconciler: Arc::new(publish::PublishController::new(s(), cfg.clone())),
            },
            Spec {
                name: "contentlibraryitemimportrequest",
                primary: &k::CONTENT_LIBRARY_ITEM_IMPORT_REQUEST,
                watched: vec![(&k::CONTENT_LIBRARY_ITEM_IMPORT_REQUEST, Own)],
                reconciler: Arc::new(import::ImportController::new(s(), cfg.clone())),
            },
            Spec {
                name: "contentlibraryitem-gc",
                primary: &k::CONTENT_LIBRARY_ITEM,
                watched: vec![(&k::CONTENT_LIBRARY_ITEM, Own)],
                reconciler: Arc::new(import::ItemGcController::new(s())),
            },
            Spec {
                name: "virtualmachinewebconsolerequest",
                primary: &k::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST,
                watched: vec![
                    (&k::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST, Own),
                    (&k::VIRTUAL_MACHINE, All),
                ],
                reconciler: Arc::new(webconsole::WebConsoleController::new(s(), cfg)),
            },
        ]
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
