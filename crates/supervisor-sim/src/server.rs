//! Starting and stopping a whole simulator: store (with `--state`), CRD catalogue, seed, TLS,
//! kubeconfig, controllers and the HTTP accept loop. [`run`] is the mini-redis style entry point
//! (`run(opts, listener, shutdown)`); [`Sim::start`] gives tests a handle on the running parts.

use crate::api::{handle, Api};
use crate::auth::Auth;
use crate::controllers::{self, ControllerConfig, Controllers, FaultSource};
use crate::faults::{FaultConfig, Faults};
use crate::store::{Store, StoreOptions};
use crate::tls::TlsMaterial;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for open connections to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// TLS handshake deadline per connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Tunes the controller configuration (delays etc.) before the controllers start.
pub type ControllerTuning = Arc<dyn Fn(&mut ControllerConfig) + Send + Sync>;

/// Everything `supervisor-sim serve` can be told.
#[derive(Clone)]
pub struct RunOptions {
    /// Where to write the kubeconfig (none: do not write one).
    pub kubeconfig: Option<PathBuf>,
    /// Extra objects (`--seed FILE`).
    pub seed_file: Option<PathBuf>,
    /// Create the default seed objects.
    pub default_seed: bool,
    /// Persistence directory (`--state DIR`); a temporary directory otherwise.
    pub state_dir: Option<PathBuf>,
    /// CRD directory overriding the embedded CRDs (`--crds DIR`).
    pub crds_dir: Option<PathBuf>,
    /// vmoperator versions to serve (`--vmop-versions`).
    pub vmop_versions: Vec<String>,
    /// Initial faults (`--faults FILE`).
    pub faults: FaultConfig,
    /// Serve plain HTTP instead of HTTPS (`--insecure-http`).
    pub insecure_http: bool,
    /// Fixed admin token (random otherwise).
    pub admin_token: Option<String>,
    /// Fixed demo-user token (random otherwise).
    pub demo_token: Option<String>,
    /// Run the simulated vm-operator (admission webhook and controllers).
    pub controllers: bool,
    /// Adjusts the controller configuration.
    pub controller_tuning: Option<ControllerTuning>,
    /// Watch history per resource.
    pub history_limit: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            kubeconfig: None,
            seed_file: None,
            default_seed: true,
            state_dir: None,
            crds_dir: None,
            vmop_versions: vmop_types::api::VMOP_DEFAULT_VERSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            faults: FaultConfig::default(),
            insecure_http: false,
            admin_token: None,
            demo_token: None,
            controllers: true,
            controller_tuning: None,
            history_limit: 1000,
        }
    }
}

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// CRDs missing or invalid.
    #[error(transparent)]
    Crds(#[from] crate::crds::CrdError),
    /// State directory problems.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Seed problems.
    #[error(transparent)]
    Seed(#[from] crate::seed::SeedError),
    /// Certificate problems.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Listener / kubeconfig I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running simulator.
pub struct Sim {
    /// The store (hub objects).
    pub store: Store,
    /// Tokens.
    pub auth: Auth,
    /// Faults (runtime-changeable).
    pub faults: Faults,
    /// TLS material (None with `insecure_http`).
    pub tls: Option<TlsMaterial>,
    /// Listening address.
    pub addr: SocketAddr,
    /// `https://addr` (or `http://`).
    pub url: String,
    /// The kubeconfig text.
    pub kubeconfig: String,
    /// State directory in use.
    pub state_dir: PathBuf,
    /// The controllers, when running.
    pub controllers: Option<Controllers>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    temp_state: bool,
}

pub(crate) fn map_controller_faults(
    f: &crate::faults::ControllerFaults,
) -> controllers::ControllerFaults {
    controllers::ControllerFaults {
        no_ip: f.vm_no_ip,
        publish_failure: f
            .publish_failure
            .as_ref()
            .map(|p| controllers::PublishFailure {
                reason: p.reason.clone(),
                message: p.message.clone(),
            }),
        library_capacity_bytes: f.library_capacity_bytes,
    }
}

impl Sim {
    /// Starts everything on `listener`: the store, the seed, TLS and the kubeconfig, the
    /// controllers, then the accept loop.
    pub async fn start(opts: RunOptions, listener: TcpListener) -> Result<Sim, RunError> {
        let addr = listener.local_addr().map_err(|source| RunError::Io {
            what: "reading the listen address".into(),
            source,
        })?;
        let (state_dir, temp_state) = state_dir(&opts);
        let store = open_store(&opts)?;
        seed_store(&store, &opts)?;
        let auth = Auth::new(
            opts.admin_token
                .as_deref()
                .unwrap_or(&crate::auth::random_token()),
            opts.demo_token
                .as_deref()
                .unwrap_or(&crate::auth::random_token()),
        );
        let tls = tls_material(&opts, addr)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let kubeconfig =
            crate::kubeconfig::render(&url, tls.as_ref().map(|t| t.ca_pem.as_str()), &auth);
        if let Some(path) = &opts.kubeconfig {
            write_kubeconfig(path, &kubeconfig)?;
        }
        let faults = Faults::new(opts.faults.clone());
        let controllers = match opts.controllers {
            true => Some(start_controllers(&opts, &store, &faults, &state_dir)?),
            false => None,
        };
        let shutdown = CancellationToken::new();
        let api = Arc::new(Api::new(
            store.clone(),
            auth.clone(),
            faults.clone(),
            addr.to_string(),
            shutdown.clone(),
        ));
        let acceptor = match &tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(t.server_config()?)),
            None => None,
        };
        let server = tokio::spawn(accept_loop(listener, api, acceptor, shutdown.clone()));
        Ok(Sim {
            store,
            auth,
            faults,
            tls,
            addr,
            url,
            kubeconfig,
            state_dir,
            controllers,
            shutdown,
            server,
            temp_state,
        })
    }

    /// Stops accepting, ends watches, drains connections, stops the controllers. Every store
    /// write is already on disk when it returns, so nothing else needs flushing.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let _ =
            tokio::time::timeout(DRAIN_TIMEOUT + Duration::from_secs(1), &mut self.server).await;
        if let Some(c) = self.controllers.take() {
            c.shutdown().await;
        }
        if self.temp_state {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

/// `--state DIR`, or a temporary directory removed at stop (the second value).
fn state_dir(opts: &RunOptions) -> (PathBuf, bool) {
    match &opts.state_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("supervisor-sim-{}", uuid::Uuid::new_v4().simple())),
            true,
        ),
    }
}

/// The store over the CRDs' catalogue (loaded from `--state` when it holds a previous run),
/// with vm-operator's admission hooks when the controllers run.
fn open_store(opts: &RunOptions) -> Result<Store, RunError> {
    let crds = crate::crds::load(opts.crds_dir.as_deref())?;
    let catalog = Arc::new(crate::crds::build_catalog(&crds, &opts.vmop_versions)?);
    let store = Store::new(
        catalog,
        StoreOptions {
            history_limit: opts.history_limit,
            state_dir: opts.state_dir.as_ref().map(|d| d.join("store")),
            ..Default::default()
        },
    )?;
    if opts.controllers {
        controllers::install_admission(&store);
    }
    Ok(store)
}

/// The default seed (what the served kinds can hold: a Supervisor without VM Service,
/// `--vmop-versions ''`, has only its content libraries and classes' storage), then the seed
/// file, which must fit what is served.
fn seed_store(store: &Store, opts: &RunOptions) -> Result<(), RunError> {
    if opts.default_seed {
        let served: Vec<serde_json::Value> = crate::seed::default_objects()
            .into_iter()
            .filter(|o| crate::seed::is_served(store, o))
            .collect();
        crate::seed::apply(store, &served)?;
    }
    if let Some(f) = &opts.seed_file {
        crate::seed::apply(store, &crate::seed::load_file(f)?)?;
    }
    Ok(())
}

/// The serving certificate (kept in `--state` across restarts); none with `--insecure-http`.
fn tls_material(opts: &RunOptions, addr: SocketAddr) -> Result<Option<TlsMaterial>, RunError> {
    if opts.insecure_http {
        return Ok(None);
    }
    Ok(Some(match &opts.state_dir {
        Some(d) => TlsMaterial::load_or_generate(&d.join("tls"), &[addr.ip()])?,
        None => TlsMaterial::generate(&[addr.ip()])?,
    }))
}

fn write_kubeconfig(path: &std::path::Path, text: &str) -> Result<(), RunError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| RunError::Io {
            what: format!("creating {}", parent.display()),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| RunError::Io {
        what: format!("writing kubeconfig {}", path.display()),
        source,
    })
}

/// The controllers, reading their faults from the runtime-changeable fault switch.
fn start_controllers(
    opts: &RunOptions,
    store: &Store,
    faults: &Faults,
    state_dir: &std::path::Path,
) -> Result<Controllers, RunError> {
    std::fs::create_dir_all(state_dir).map_err(|source| RunError::Io {
        what: format!("creating {}", state_dir.display()),
        source,
    })?;
    let mut cfg = ControllerConfig::new(state_dir.to_path_buf());
    let f = faults.clone();
    cfg.fault_source = Some(FaultSource(Arc::new(move || {
        map_controller_faults(&f.controllers())
    })));
    if let Some(t) = &opts.controller_tuning {
        t(&mut cfg);
    }
    Ok(Controllers::start(store.clone(), cfg))
}

async fn serve_conn<I>(io: I, api: Arc<Api>, token: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| handle(api.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = token.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    api: Arc<Api>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    token: CancellationToken,
) {
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => break,
            acc = listener.accept() => match acc {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let api = api.clone();
        let tls = tls.clone();
        let token = token.clone();
        tracker.spawn(async move {
            let _ = stream.set_nodelay(true);
            match tls {
                Some(acc) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(stream)).await {
                        Ok(Ok(s)) => serve_conn(TokioIo::new(s), api, token).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_conn(TokioIo::new(stream), api, token).await,
            }
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait()).await;
}

/// Runs a simulator on `listener` until `shutdown` completes.
pub async fn run(
    opts: RunOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let sim = Sim::start(opts, listener).await?;
    shutdown.await;
    sim.stop().await;
    Ok(())
}
