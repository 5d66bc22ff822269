//! `supervisor-sim controllers --kubeconfig FILE`: the simulator's VM Operator on any
//! Kubernetes API server (a real kube-apiserver, kind, k3s...).
//!
//! Start-up is a sequence of named steps: connect with the kubeconfig, apply the CRDs
//! (server-side apply, idempotent) and wait until they are served, create the seed objects that
//! are missing, mirror the cluster's objects into a local store ([`mirror`]), then run the same
//! controllers as `serve` on that store. What the controllers write goes back to the cluster;
//! the cluster's watches (relisting after a 410, retrying while the server is away) bring
//! every change in. `serve` stays the one-binary default; this mode is how the same simulator
//! runs on a real control plane.
//!
//! ```no_run
//! # async fn demo() -> Result<(), supervisor_sim::remote::RemoteError> {
//! use supervisor_sim::remote::{ControllersOptions, RemoteSim};
//! let sim = RemoteSim::start(ControllersOptions::new("kubeconfig".into())).await?;
//! // ... kubectl apply -f vm.yaml: the VM powers on and gets an IP ...
//! sim.stop().await;
//! # Ok(()) }
//! ```

mod diff;
mod install;
mod mirror;
mod webhook;

use crate::controllers::{self, ControllerConfig, Controllers, FaultSource};
use crate::faults::{FaultConfig, Faults};
use crate::server::ControllerTuning;
use crate::store::{Store, StoreOptions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use mirror::Mirror;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use webhook::Webhooks;

/// How long the API server may take to serve newly applied CRDs.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the first listing of every mirrored kind may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything `supervisor-sim controllers` can be told.
#[derive(Clone)]
pub struct ControllersOptions {
    /// The cluster to run on.
    pub kubeconfig: PathBuf,
    /// Context of the kubeconfig (its current context otherwise).
    pub context: Option<String>,
    /// CRD directory overriding the embedded CRDs (`--crds DIR`).
    pub crds_dir: Option<PathBuf>,
    /// Apply the CRDs (off: the cluster has them already).
    pub install_crds: bool,
    /// Create the default seed objects that are missing.
    pub default_seed: bool,
    /// Extra objects (`--seed FILE`).
    pub seed_file: Option<PathBuf>,
    /// Where guests' disks and the content libraries' files live (a temporary directory
    /// otherwise).
    pub state_dir: Option<PathBuf>,
    /// Controller faults (`--faults FILE`; its HTTP faults do not apply here).
    pub faults: FaultConfig,
    /// Serve VM Operator's admission webhooks to the cluster (defaults, image resolution,
    /// validation), registered while running.
    pub webhooks: bool,
    /// Adjusts the controller configuration (delays).
    pub controller_tuning: Option<ControllerTuning>,
}

impl ControllersOptions {
    /// Defaults for `kubeconfig`: CRDs and default seed installed, no faults.
    pub fn new(kubeconfig: PathBuf) -> Self {
        ControllersOptions {
            kubeconfig,
            context: None,
            crds_dir: None,
            install_crds: true,
            default_seed: true,
            seed_file: None,
            state_dir: None,
            faults: FaultConfig::default(),
            webhooks: true,
            controller_tuning: None,
        }
    }
}

/// Start-up failures of the controllers mode, naming the step and the object.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The kubeconfig could not be used.
    #[error("connecting with kubeconfig {path}: {message}")]
    Connect {
        /// The kubeconfig.
        path: String,
        /// Why.
        message: String,
    },
    /// The API server refused or failed a request.
    #[error("{op} {object}: {source}")]
    Api {
        /// What was being done.
        op: String,
        /// The object.
        object: String,
        /// The server's answer.
        #[source]
        source: Box<kube::Error>,
    },
    /// CRDs missing or invalid.
    #[error(transparent)]
    Crds(#[from] crate::crds::CrdError),
    /// The local store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A seed object or file.
    #[error("seeding {0}")]
    Seed(String),
    /// The webhooks' serving certificate.
    #[error("the admission webhooks' certificate: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// Something did not happen in time.
    #[error("{0}")]
    Timeout(String),
    /// Local files.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// How kube-rs addresses `info`'s kind: at its hub version, the one the controllers use.
pub(crate) fn api_resource(info: &crate::catalog::ResourceInfo) -> kube::api::ApiResource {
    kube::api::ApiResource {
        group: info.gr.group.clone(),
        version: info.hub_version.clone(),
        api_version: info.api_version(&info.hub_version),
        kind: info.kind.clone(),
        plural: info.gr.resource.clone(),
    }
}

impl RemoteError {
    pub(crate) fn api(op: &str, object: &str, source: kube::Error) -> RemoteError {
        RemoteError::Api {
            op: op.to_string(),
            object: object.to_string(),
            source: Box::new(source),
        }
    }
}

/// The controllers running on a cluster.
pub struct RemoteSim {
    /// The local mirror the controllers work on (hub objects).
    pub store: Store,
    /// The controllers.
    pub controllers: Option<Controllers>,
    /// The API server's URL.
    pub url: String,
    /// State directory in use.
    pub state_dir: PathBuf,
    mirror: Option<Mirror>,
    webhooks: Option<Webhooks>,
    temp_state: bool,
}

impl RemoteSim {
    /// Connects, installs, seeds, mirrors and starts the controllers.
    pub async fn start(opts: ControllersOptions) -> Result<RemoteSim, RemoteError> {
        let (client, url) = connect(&opts).await?;
        let crds = crate::crds::load(opts.crds_dir.as_deref())?;
        if opts.install_crds {
            install::crds(&client, &crds, CRD_TIMEOUT).await?;
        }
        let versions: Vec<String> = vmop_types::api::VMOP_DEFAULT_VERSIONS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let catalog = Arc::new(crate::crds::build_catalog(&crds, &versions)?);
        let store = Store::new(catalog.clone(), StoreOptions::default())?;
        controllers::install_admission(&store);
        install::seed(&client, &catalog, &seed_objects(&opts, &store)?).await?;
        let kinds = catalog.resources().to_vec();
        let mirror = Mirror::start(client.clone(), store.clone(), kinds, SYNC_TIMEOUT)
            .await
            .map_err(RemoteError::Timeout)?;
        let webhooks = match opts.webhooks {
            true => Some(Webhooks::start(client, store.clone()).await?),
            false => None,
        };
        let (state_dir, temp_state) = state_dir(&opts)?;
        let controllers = Controllers::start(store.clone(), controller_config(&opts, &state_dir));
        Ok(RemoteSim {
            store,
            controllers: Some(controllers),
            url,
            state_dir,
            mirror: Some(mirror),
            webhooks,
            temp_state,
        })
    }

    /// Unregisters the webhooks, stops the controllers (guests and listeners torn down), then
    /// the mirror.
    pub async fn stop(mut self) {
        if let Some(w) = self.webhooks.take() {
            w.stop().await;
        }
        if let Some(c) = self.controllers.take() {
            c.shutdown().await;
        }
        if let Some(m) = self.mirror.take() {
            m.stop().await;
        }
        if self.temp_state {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

async fn connect(opts: &ControllersOptions) -> Result<(Client, String), RemoteError> {
    let path = opts.kubeconfig.display().to_string();
    let fail = |message: String| RemoteError::Connect {
        path: path.clone(),
        message,
    };
    let kc = Kubeconfig::read_from(&opts.kubeconfig).map_err(|e| fail(e.to_string()))?;
    let options = KubeConfigOptions {
        context: opts.context.clone(),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let url = cfg.cluster_url.to_string();
    let client = Client::try_from(cfg).map_err(|e| fail(e.to_string()))?;
    client
        .apiserver_version()
        .await
        .map_err(|e| fail(format!("the API server at {url} does not answer: {e}")))?;
    Ok((client, url))
}

/// The default seed (what the cluster's kinds can hold) and the seed file, hub-shaped.
fn seed_objects(
    opts: &ControllersOptions,
    store: &Store,
) -> Result<Vec<serde_json::Value>, RemoteError> {
    let mut objects = Vec::new();
    if opts.default_seed {
        objects.extend(
            crate::seed::default_objects()
                .into_iter()
                .filter(|o| crate::seed::is_served(store, o)),
        );
    }
    if let Some(f) = &opts.seed_file {
        objects.extend(crate::seed::load_file(f).map_err(|e| RemoteError::Seed(e.to_string()))?);
    }
    Ok(objects)
}

fn state_dir(opts: &ControllersOptions) -> Result<(PathBuf, bool), RemoteError> {
    let (dir, temp) = match &opts.state_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("supervisor-sim-{}", uuid::Uuid::new_v4().simple())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).map_err(|source| RemoteError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    Ok((dir, temp))
}

fn controller_config(opts: &ControllersOptions, state_dir: &std::path::Path) -> ControllerConfig {
    let mut cfg = ControllerConfig::new(state_dir.to_path_buf());
    let faults = Faults::new(opts.faults.clone());
    cfg.fault_source = Some(FaultSource(Arc::new(move || {
        crate::server::map_controller_faults(&faults.controllers())
    })));
    if let Some(t) = &opts.controller_tuning {
        t(&mut cfg);
    }
    cfg
}
