//! The middle tier's one setup: an in-process supervisor-sim with fast controllers, configs
//! prepared through the public `prepare_with`, and `run_build` with testkit's recording Ui and a
//! scriptable Hook. No Packer, no plugin process.

use std::path::PathBuf;
use std::sync::{Arc, Once};
use std::time::Duration;

use ::kube::api::{ApiResource, DynamicObject, ListParams};
use packer_rpc::api::{Artifact, BoxError, Hook};
use packer_wire::msgpack::Value;
use supervisor_sim::controllers::ControllerConfig;
use supervisor_sim::faults::FaultConfig;
use supervisor_sim::{RunOptions, Sim};
use testkit::fakes::{RecordingUi, ScriptHook, UiEvent};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use vsphere_supervisor::config::{prepare_with, Config, Environment};
use vsphere_supervisor::kube::Cluster;
use vsphere_supervisor::steps::cleanup::CLEANUP_TIMEOUT_ENV;

pub const NAMESPACE: &str = "demo";
/// Cleanup's deadline in this binary, in seconds: every clean cleanup here takes well under
/// it (with room for a loaded 2-core CI machine), and the test of a delete that keeps failing
/// waits for it.
pub const CLEANUP_SECS: &str = "8";

/// A running simulator and the kubeconfig it wrote.
pub struct Tier {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// What one `run_build` ended with and what it said.
pub struct Build {
    pub result: Result<Option<Arc<dyn Artifact>>, BoxError>,
    pub ui: Arc<RecordingUi>,
}

impl Build {
    /// The Ui's `say` lines.
    pub fn says(&self) -> Vec<String> {
        self.ui
            .events()
            .into_iter()
            .filter_map(|e| match e {
                UiEvent::Say(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Whether some line said starts with `prefix`.
    pub fn said(&self, prefix: &str) -> bool {
        self.says().iter().any(|l| l.starts_with(prefix))
    }

    /// The error's text (panics when the build succeeded).
    pub fn error(&self) -> String {
        match &self.result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("the build succeeded; it said:\n{}", self.says().join("\n")),
        }
    }

    /// The artifact's id (panics when the build failed or made none).
    pub fn artifact_id(&self) -> String {
        match &self.result {
            Ok(Some(a)) => a.id(),
            Ok(None) => panic!("no artifact"),
            Err(e) => panic!("the build failed: {e}\n{}", self.says().join("\n")),
        }
    }
}

/// Shortens cleanup's deadline once, before any test has a thread reading the environment.
fn shorten_cleanup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var(CLEANUP_TIMEOUT_ENV, CLEANUP_SECS));
}

fn fast_controllers(c: &mut ControllerConfig) {
    c.power_on_delay = Duration::from_millis(50);
    c.ip_delay = Duration::from_millis(50);
    c.publish_step_delay = Duration::from_millis(20);
}

impl Tier {
    /// Starts the simulator on 127.0.0.1 with `faults` and fast controllers.
    pub async fn start(faults: FaultConfig) -> Tier {
        shorten_cleanup();
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let opts = RunOptions {
            kubeconfig: Some(kubeconfig.clone()),
            state_dir: Some(dir.path().join("sim-state")),
            faults,
            controller_tuning: Some(Arc::new(fast_controllers)),
            ..RunOptions::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sim = Sim::start(opts, listener)
            .await
            .expect("starting supervisor-sim");
        Tier {
            sim,
            dir,
            kubeconfig,
        }
    }

    /// A prepared config for source `name`: the seed's image, class and storage class,
    /// communicator `none`, then `extra` options (later keys win).
    pub fn config(&self, name: &str, extra: &[(&str, Value)]) -> Arc<Config> {
        let s = |v: &str| Value::Str(v.into());
        let mut opts: Vec<(&str, Value)> = vec![
            ("kubeconfig_path", s(&self.kubeconfig.display().to_string())),
            ("supervisor_namespace", s(NAMESPACE)),
            ("class_name", s("best-effort-small")),
            ("storage_class", s("wcpglobal-storage-profile")),
            ("image_name", s("ubuntu-24.04")),
            ("source_name", s(name)),
            ("communicator", s("none")),
        ];
        for (k, v) in extra {
            opts.retain(|(o, _)| o != k);
            opts.push((k, v.clone()));
        }
        let map = Value::Map(opts.into_iter().map(|(k, v)| (s(k), v)).collect());
        let env = Environment {
            kubeconfig: None,
            home: Some(self.dir.path().to_path_buf()),
        };
        match prepare_with(&[map], &env) {
            Ok(p) => Arc::new(p.config),
            Err(e) => panic!("config for {name}: {:?}", e.problems),
        }
    }

    /// Runs the whole build with `hook` and a token of its own.
    pub async fn build(&self, config: Arc<Config>, hook: Arc<dyn Hook>) -> Build {
        self.build_cancellable(config, hook, CancellationToken::new())
            .await
    }

    /// Runs the whole build with `hook`, cancelled through `cancel`.
    pub async fn build_cancellable(
        &self,
        config: Arc<Config>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Build {
        let ui = RecordingUi::new();
        let run = vsphere_supervisor::runner::run_build(config, ui.clone(), hook, cancel);
        let result = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("run_build finishes within 20 s");
        Build { result, ui }
    }

    /// A client of the simulator, as the builder connects.
    pub async fn cluster(&self) -> Cluster {
        Cluster::connect(
            std::slice::from_ref(&self.kubeconfig),
            None,
            Some(NAMESPACE),
        )
        .await
        .expect("connecting to the simulator")
    }

    /// Objects of source `name` in the namespace (by label or by name), as `Kind/name`.
    pub async fn leftovers(&self, name: &str) -> Vec<String> {
        let c = self.cluster().await;
        let k = &c.kinds;
        let kinds: [&ApiResource; 5] =
            [&k.vm, &k.secret, &k.vm_service, &k.publish_request, &k.pvc];
        let mut left = Vec::new();
        for res in kinds {
            let lp = ListParams::default().labels(&format!("packer.io/source-name={name}"));
            let list = c.api(res).list(&lp).await.expect("listing leftovers");
            let by_name = c.api(res).get_opt(name).await.expect("reading by name");
            for o in list.items.iter().chain(by_name.iter()) {
                let s = format!("{}/{}", res.kind, object_name(o));
                if !left.contains(&s) {
                    left.push(s);
                }
            }
        }
        left.sort();
        left
    }

    pub async fn stop(self) {
        self.sim.stop().await;
    }
}

fn object_name(o: &DynamicObject) -> String {
    o.metadata.name.clone().unwrap_or_default()
}

/// A provisioning hook that succeeds without using the communicator.
pub fn ok_hook() -> Arc<ScriptHook> {
    ScriptHook::noop()
}

/// A provisioning hook that fails with `msg`.
pub fn failing_hook(msg: &'static str) -> Arc<ScriptHook> {
    ScriptHook::new(Arc::new(move |_, _, _, _, _| {
        Box::pin(async move { Err(msg.into()) })
    }))
}

/// A provisioning hook that tells `started` it runs, then waits for its token's cancellation
/// (as Packer core's hook does when the user presses Ctrl-C).
pub fn waiting_hook(started: Arc<tokio::sync::Notify>) -> Arc<ScriptHook> {
    ScriptHook::new(Arc::new(move |_, _, _, _, cancel| {
        let started = started.clone();
        Box::pin(async move {
            started.notify_one();
            cancel.cancelled().await;
            Err("context canceled".into())
        })
    }))
}

/// A string option.
pub fn s(v: &str) -> Value {
    Value::Str(v.into())
}

/// Fails unless each of `prefixes` starts a line of `lines`, in this order.
pub fn assert_in_order(lines: &[String], prefixes: &[&str]) {
    let mut rest = lines.iter();
    for p in prefixes {
        assert!(
            rest.any(|l| l.starts_with(p)),
            "no line starting {p:?} (in order) in:\n{}",
            lines.join("\n")
        );
    }
}
