//! End-to-end harness: an in-process supervisor-sim on 127.0.0.1 with its own state directory
//! and kubeconfig, our plugin binary installed the way the Packer under test finds it, and that
//! real Packer run against both. `E2E_PACKER` picks the Packer: unset or `1.6` for Debian's
//! 1.6.6 (`/usr/bin/packer`, the plugin as `packer-builder-vsphere-supervisor` in the working
//! directory), `1.9` for 1.9.5 (`packer-1.9.5` on PATH, from `scripts/install-deps.sh`; the
//! plugin in the installed layout that `required_plugins` and `packer init` check).
//! `E2E_SUPERVISOR` picks the Supervisor: unset or `serve` for the in-process simulator,
//! `kube-apiserver` for a real kube-apiserver + etcd (`scripts/kube-up.sh`) with the
//! simulator's controllers on it (`supervisor_sim::remote`, in-process); the scenarios that need
//! nothing of the simulator's own API (faults endpoint, request counts) run on either.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use ::kube::api::{ApiResource, DynamicObject, ListParams};
use supervisor_sim::faults::FaultConfig;
use supervisor_sim::{RunOptions, Sim};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use vsphere_supervisor::kube::Cluster;

/// The Packer the end-to-end tests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackerKind {
    /// Debian's Packer 1.6.6: the single-component plugin protocol.
    V1_6,
    /// Packer 1.9.5: the >= 1.7 protocol, `required_plugins`, `packer init`.
    V1_9,
}

impl PackerKind {
    /// From `E2E_PACKER` (unset: 1.6).
    pub fn under_test() -> PackerKind {
        match std::env::var("E2E_PACKER").as_deref() {
            Ok("1.9") | Ok("1.9.5") => PackerKind::V1_9,
            Ok("") | Ok("1.6") | Ok("1.6.6") | Err(_) => PackerKind::V1_6,
            Ok(other) => panic!("E2E_PACKER={other:?}: use 1.6 or 1.9"),
        }
    }

    /// Fails the test unless the executable is the Packer this kind names (once per process).
    pub fn assert_version(self) {
        static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        CHECKED.get_or_init(|| {
            let want = match self {
                PackerKind::V1_6 => "Packer v1.6.",
                PackerKind::V1_9 => "Packer v1.9.",
            };
            let out = std::process::Command::new(packer_path(self))
                .arg("version")
                .env("CHECKPOINT_DISABLE", "1")
                .output()
                .unwrap_or_else(|e| panic!("running {} version: {e}", self.binary()));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.starts_with(want),
                "{} version says {text:?}, expected {want}x",
                self.binary()
            );
        });
    }

    /// The executable.
    pub fn binary(self) -> &'static str {
        match self {
            PackerKind::V1_6 => "/usr/bin/packer",
            PackerKind::V1_9 => "packer-1.9.5",
        }
    }
}

/// The source address and plugin file names Packer >= 1.7 expects (see scripts/install-plugin.sh).
pub const PLUGIN_SOURCE: &str = vsphere_supervisor::PLUGIN_SOURCE;
const RESET_SIGINT_AND_EXEC: &str =
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])";
pub const NAMESPACE: &str = "demo";
/// Longest a single Packer run may take in these tests.
pub const PACKER_TIMEOUT: Duration = Duration::from_secs(180);

/// The Supervisor the end-to-end tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `supervisor-sim serve`, in-process.
    Serve,
    /// A real kube-apiserver + etcd with the simulator's controllers on it.
    KubeApiserver,
}

impl Backend {
    pub fn under_test() -> Backend {
        match std::env::var("E2E_SUPERVISOR").as_deref() {
            Ok("kube-apiserver") => Backend::KubeApiserver,
            Ok("") | Ok("serve") | Err(_) => Backend::Serve,
            Ok(other) => panic!("E2E_SUPERVISOR={other:?}: use serve or kube-apiserver"),
        }
    }
}

/// The real control plane and the controllers on it.
pub struct RealBackend {
    pub controllers: Option<supervisor_sim::remote::RemoteSim>,
    /// `scripts/kube-up.sh`'s directory.
    pub dir: PathBuf,
}

/// How to start the simulator.
#[derive(Default)]
pub struct SimSetup {
    pub vmop_versions: Option<Vec<String>>,
    pub faults: FaultConfig,
    /// Watch events the simulator retains per resource (older positions get 410).
    pub history_limit: Option<usize>,
    /// Pause between publish conditions (default: the simulator's).
    pub publish_step_delay: Option<Duration>,
}

pub struct SimEnv {
    pub packer: PackerKind,
    pub dir: tempfile::TempDir,
    pub sim: Option<Sim>,
    pub real: Option<RealBackend>,
    pub kubeconfig: PathBuf,
    pub state_dir: PathBuf,
}

/// What one Packer run printed and how it ended.
pub struct PackerRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl PackerRun {
    pub fn output(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

impl SimEnv {
    pub async fn start(setup: SimSetup) -> SimEnv {
        if Backend::under_test() == Backend::KubeApiserver {
            return Self::start_real(setup).await;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let state_dir = dir.path().join("sim-state");
        let mut opts = RunOptions {
            kubeconfig: Some(kubeconfig.clone()),
            state_dir: Some(state_dir.clone()),
            faults: setup.faults,
            ..RunOptions::default()
        };
        if let Some(h) = setup.history_limit {
            opts.history_limit = h;
        }
        if let Some(v) = setup.vmop_versions {
            opts.vmop_versions = v;
        }
        // Small delays keep every build to a few seconds.
        opts.controller_tuning = Some(fast_controllers(setup.publish_step_delay));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sim = Sim::start(opts, listener)
            .await
            .expect("starting supervisor-sim");
        let packer = PackerKind::under_test();
        packer.assert_version();
        install_plugin(packer, dir.path());
        SimEnv {
            packer,
            dir,
            sim: Some(sim),
            real: None,
            kubeconfig,
            state_dir,
        }
    }

    /// kube-up.sh, then the controllers on it. The simulator's watch faults become one real
    /// API server restart once the build's VM is running (every watch is cut, as a drop does).
    async fn start_real(setup: SimSetup) -> SimEnv {
        assert!(
            setup.vmop_versions.is_none() && setup.history_limit.is_none(),
            "this scenario needs the simulator's own API server (E2E_SUPERVISOR=serve)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let kube_dir = dir.path().join("kube");
        let state_dir = dir.path().join("sim-state");
        run_script("kube-up.sh", &kube_dir);
        let kubeconfig = kube_dir.join("kubeconfig");
        let mut opts = supervisor_sim::remote::ControllersOptions::new(kubeconfig.clone());
        opts.state_dir = Some(state_dir.clone());
        opts.faults = setup.faults.clone();
        opts.controller_tuning = Some(fast_controllers(setup.publish_step_delay));
        let controllers = supervisor_sim::remote::RemoteSim::start(opts)
            .await
            .expect("starting the controllers on kube-apiserver");
        if !setup.faults.watch.is_empty() {
            tokio::spawn(restart_when_a_vm_runs(kubeconfig.clone(), kube_dir.clone()));
        }
        let packer = PackerKind::under_test();
        packer.assert_version();
        install_plugin(packer, dir.path());
        SimEnv {
            packer,
            dir,
            sim: None,
            real: Some(RealBackend {
                controllers: Some(controllers),
                dir: kube_dir,
            }),
            kubeconfig,
            state_dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    /// A kubeconfig like the simulator's with `edit` applied to its text.
    pub fn kubeconfig_variant(&self, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        self.write(name, &edit(&text))
    }

    /// Runs `packer <args>` in the test directory; `on_line` sees each stdout line as it comes
    /// and gets Packer's pid (to send signals).
    pub async fn packer(&self, args: &[&str], on_line: impl FnMut(&str, u32)) -> PackerRun {
        self.packer_env(args, &[], on_line).await
    }

    /// [`SimEnv::packer`] with extra environment variables.
    pub async fn packer_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        mut on_line: impl FnMut(&str, u32),
    ) -> PackerRun {
        // Started through python3 to restore SIGINT's default disposition: a test run from a
        // background job inherits SIGINT ignored, and Packer would then never see Ctrl-C.
        let mut child = tokio::process::Command::new("python3")
            .args(["-c", RESET_SIGINT_AND_EXEC, &packer_path(self.packer)])
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("PACKER_PLUGIN_PATH", plugin_dir(self.dir.path()))
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("KUBECONFIG")
            .env_remove("PACKER_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a test can Ctrl-C it like a terminal does.
            .process_group(0)
            .spawn()
            .expect("starting packer");
        let pid = child.id().expect("packer pid");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let err_task = tokio::spawn(async move {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s).await;
            s
        });
        let mut out = String::new();
        let mut lines = BufReader::new(stdout).lines();
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                on_line(&line, pid);
                out.push_str(&line);
                out.push('\n');
            }
        };
        if tokio::time::timeout(PACKER_TIMEOUT, read).await.is_err() {
            let _ = child.kill().await;
            panic!(
                "packer {args:?} did not finish within {PACKER_TIMEOUT:?}; output so far:\n{out}"
            );
        }
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("packer exits after closing stdout")
            .expect("waiting for packer");
        let stderr = err_task.await.unwrap_or_default();
        if std::env::var_os("E2E_SHOW_OUTPUT").is_some() {
            eprintln!(
                "=== packer {args:?} exited {:?}\n{out}{stderr}",
                status.code()
            );
        }
        PackerRun {
            code: status.code(),
            stdout: out,
            stderr,
        }
    }

    pub async fn build(&self, template: &str, extra: &[&str]) -> PackerRun {
        let mut args = vec!["build", "-color=false"];
        args.extend_from_slice(extra);
        args.push(template);
        self.packer(&args, |_, _| {}).await
    }

    pub async fn cluster(&self) -> Cluster {
        Cluster::connect(
            std::slice::from_ref(&self.kubeconfig),
            None,
            Some(NAMESPACE),
        )
        .await
        .expect("connecting to the simulator")
    }

    /// Objects of the build `source_name` still in the namespace, as `Kind/name`.
    pub async fn leftovers(&self, source_name: &str) -> Vec<String> {
        let c = self.cluster().await;
        let k = &c.kinds;
        let kinds: Vec<&ApiResource> =
            vec![&k.vm, &k.secret, &k.vm_service, &k.publish_request, &k.pvc];
        let mut left = Vec::new();
        for res in kinds {
            let lp = ListParams::default().labels(&format!("packer.io/source-name={source_name}"));
            let list = c.api(res).list(&lp).await.expect("listing leftovers");
            left.extend(list.items.iter().map(|o: &DynamicObject| {
                format!(
                    "{}/{}",
                    res.kind,
                    o.metadata.name.clone().unwrap_or_default()
                )
            }));
            // Also by name, in case labels were lost.
            if let Ok(Some(o)) = c.api(res).get_opt(source_name).await {
                let s = format!("{}/{}", res.kind, o.metadata.name.unwrap_or_default());
                if !left.contains(&s) {
                    left.push(s);
                }
            }
        }
        left.sort();
        left
    }

    /// Files captured into content library `library` whose path ends with `suffix`.
    pub fn library_files(&self, library: &str, suffix: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let root = supervisor_sim::library::libraries_dir(&self.state_dir).join(library);
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(p);
                } else if p.to_string_lossy().ends_with(suffix) {
                    found.push(p);
                }
            }
        }
        found
    }

    /// Plugin processes started from this test's directory that are still alive.
    pub fn plugin_processes(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return pids;
        };
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            if !cmd.contains("packer-builder-vsphere-supervisor")
                && !cmd.contains("packer-plugin-vsphere-supervisor")
            {
                continue;
            }
            if std::fs::read_link(format!("/proc/{pid}/cwd"))
                .ok()
                .as_deref()
                == Some(self.dir.path())
            {
                // Zombies are already dead.
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                if stat.split_whitespace().nth(2).is_none_or(|s| s != "Z") {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    pub async fn stop(mut self) {
        if let Some(sim) = self.sim.take() {
            sim.stop().await;
        }
        if let Some(mut real) = self.real.take() {
            if let Some(c) = real.controllers.take() {
                c.stop().await;
            }
            run_script("kube-down.sh", &real.dir);
        }
    }
}

impl Drop for SimEnv {
    fn drop(&mut self) {
        // A failed assertion must not leave a control plane running.
        if let Some(real) = &self.real {
            run_script("kube-down.sh", &real.dir);
        }
    }
}

/// Runs `scripts/NAME DIR`, failing the test with its output when it fails.
pub fn run_script(name: &str, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{name} {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Short controller delays, so every build takes a few seconds.
fn fast_controllers(publish_delay: Option<Duration>) -> supervisor_sim::server::ControllerTuning {
    Arc::new(
        move |c: &mut supervisor_sim::controllers::ControllerConfig| {
            c.power_on_delay = Duration::from_millis(100);
            c.ip_delay = Duration::from_millis(100);
            c.publish_step_delay = publish_delay.unwrap_or(Duration::from_millis(50));
        },
    )
}

/// Restarts the real API server once, when a VM of namespace `demo` has an IP.
async fn restart_when_a_vm_runs(kubeconfig: PathBuf, kube_dir: PathBuf) {
    let deadline = tokio::time::Instant::now() + PACKER_TIMEOUT;
    let mut cluster = None;
    while tokio::time::Instant::now() < deadline {
        if cluster.is_none() {
            cluster = Cluster::connect(std::slice::from_ref(&kubeconfig), None, Some(NAMESPACE))
                .await
                .ok();
        }
        if let Some(c) = &cluster {
            if let Ok(list) = c.api(&c.kinds.vm).list(&ListParams::default()).await {
                let running = list.items.iter().any(|vm| {
                    vm.data["status"]["network"]["primaryIP4"]
                        .as_str()
                        .is_some_and(|ip| !ip.is_empty())
                });
                if running {
                    let dir = kube_dir.clone();
                    match tokio::task::spawn_blocking(move || run_script("kube-restart.sh", &dir))
                        .await
                    {
                        Ok(()) => eprintln!("e2e: restarted kube-apiserver while the build ran"),
                        Err(e) => eprintln!("e2e: restarting kube-apiserver failed: {e}"),
                    }
                    return;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where Packer looks for plugins in a test: `PACKER_PLUGIN_PATH` is set to this directory
/// (Packer 1.6 searches it for `packer-builder-*`, Packer 1.9 for the installed layout).
pub fn plugin_dir(home: &Path) -> PathBuf {
    home.join(".packer.d").join("plugins")
}

/// The Packer executable as an absolute path (python's execv needs one).
fn packer_path(kind: PackerKind) -> String {
    let name = kind.binary();
    if name.starts_with('/') {
        return name.to_string();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH: run scripts/install-deps.sh"))
        .display()
        .to_string()
}

/// Installs the plugin binary where `kind` finds it under [`plugin_dir`]: Packer 1.6's
/// single-component name, or Packer >= 1.7's installed layout with its `_SHA256SUM` file.
pub fn install_plugin(kind: PackerKind, home: &Path) {
    let bin = Path::new(env!("CARGO_BIN_EXE_packer-plugin-vsphere-supervisor"));
    let plugins = plugin_dir(home);
    let target = match kind {
        PackerKind::V1_6 => plugins.join("packer-builder-vsphere-supervisor"),
        PackerKind::V1_9 => plugins.join(PLUGIN_SOURCE).join(format!(
            "packer-plugin-vsphere-supervisor_v{}_x5.0_linux_amd64",
            env!("CARGO_PKG_VERSION")
        )),
    };
    let parent = target.parent().expect("plugin path has a parent");
    std::fs::create_dir_all(parent).expect("mkdir plugin dir");
    std::os::unix::fs::symlink(bin, &target).expect("installing plugin");
    if kind == PackerKind::V1_9 {
        let digest = sha256_hex(&std::fs::read(bin).expect("reading the plugin binary"));
        let sum = format!("{}_SHA256SUM", target.display());
        std::fs::write(sum, digest).expect("writing the checksum file");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends SIGINT to Packer's process group, as Ctrl-C in a terminal does (Packer's panicwrap
/// parent ignores a SIGINT sent to it alone; the plugins get it too and must ignore it).
pub fn sigint(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{pid}")])
        .status();
}

/// A template with one `vsphere-supervisor` source named `src` and the given source options
/// and build body.
pub fn template(kubeconfig: &Path, source_opts: &str, build_body: &str) -> String {
    format!(
        r#"
source "vsphere-supervisor" "src" {{
  kubeconfig_path      = "{kc}"
  supervisor_namespace = "{NAMESPACE}"
  class_name           = "best-effort-small"
  storage_class        = "wcpglobal-storage-profile"
{source_opts}
}}

build {{
  sources = ["source.vsphere-supervisor.src"]
{build_body}
}}
"#,
        kc = kubeconfig.display()
    )
}

/// Lines of Packer's output that mention `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}
