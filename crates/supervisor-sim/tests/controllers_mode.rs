//! `supervisor-sim controllers` on a real kube-apiserver + etcd (`scripts/kube-up.sh`): the
//! example of `docs/simulator.md` applied with kubectl reaches PoweredOn with an IP and its
//! VirtualMachineService gets an ingress, seen through `kubectl get -w`; after an API server
//! restart (`scripts/kube-restart.sh`) a second VM does the same. Needs `kube-apiserver` and
//! `etcd` in the project cache (`scripts/install-deps.sh`); `CONFORMANCE_SKIP=1` skips it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use supervisor_sim::remote::{ControllersOptions, RemoteSim};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script(name: &str, dir: &Path) {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts").join(name))
        .arg(dir)
        .output()
        .expect("running a script");
    assert!(
        out.status.success(),
        "{name} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The control plane; stopped however the test ends.
struct KubeUp(tempfile::TempDir);

impl Drop for KubeUp {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts/kube-down.sh"))
            .arg(self.0.path())
            .output();
    }
}

/// The YAML block that follows the `controllers-example` marker in docs/simulator.md.
fn docs_example() -> String {
    let doc =
        std::fs::read_to_string(repo_root().join("docs/simulator.md")).expect("docs/simulator.md");
    let after = doc
        .split_once("<!-- controllers-example")
        .expect("the controllers-example marker in docs/simulator.md")
        .1;
    let block = after
        .split_once("```yaml\n")
        .expect("a yaml block after the marker")
        .1;
    block
        .split_once("```")
        .expect("the end of the yaml block")
        .0
        .to_string()
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `kubectl get -w` on one object until a line satisfies `done` (or 60 s pass); returns
/// the lines seen.
fn watch_until(
    kubeconfig: &Path,
    what: &[&str],
    columns: &str,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "get",
            "-n",
            "demo",
            "-w",
            "--no-headers",
            "-o",
            &format!("custom-columns={columns}"),
        ])
        .args(what)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = done(&line);
                seen.push(line);
                if hit {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

fn assert_running(kubeconfig: &Path, vm: &str, service: &str) {
    let lines = watch_until(
        kubeconfig,
        &["virtualmachine", vm],
        "NAME:.metadata.name,POWER:.status.powerState,IP:.status.network.primaryIP4",
        |l| l.contains("PoweredOn") && l.contains("127.88."),
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("PoweredOn")),
        "{vm}: {lines:?}"
    );
    let lines = watch_until(
        kubeconfig,
        &["virtualmachineservice", service],
        "NAME:.metadata.name,INGRESS:.status.loadBalancer.ingress[0].ip",
        |l| l.contains("127.77."),
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("127.77.")),
        "{service}: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_vm_runs_on_a_real_api_server_and_survives_its_restart() {
    if std::env::var("CONFORMANCE_SKIP").as_deref() == Ok("1") {
        return;
    }
    let up = KubeUp(tempfile::tempdir().unwrap());
    script("kube-up.sh", up.0.path());
    let kubeconfig = up.0.path().join("kubeconfig");
    let mut opts = ControllersOptions::new(kubeconfig.clone());
    opts.controller_tuning = Some(Arc::new(
        |c: &mut supervisor_sim::controllers::ControllerConfig| {
            c.power_on_delay = Duration::from_millis(100);
            c.ip_delay = Duration::from_millis(100);
        },
    ));
    let first = RemoteSim::start(opts.clone())
        .await
        .expect("controllers mode starts");
    first.stop().await;
    // Starting again on the same cluster finds the CRDs applied and the seed there.
    let sim = RemoteSim::start(opts)
        .await
        .expect("a second start on the same cluster");

    let example = docs_example();
    let k = kubeconfig.clone();
    let ex = example.clone();
    tokio::task::spawn_blocking(move || {
        kubectl(&k, &["apply", "-f", "-"], Some(&ex));
        assert_running(&k, "hello", "hello-ssh");
    })
    .await
    .unwrap();

    script("kube-restart.sh", up.0.path());
    let second = example.replace("hello", "hello2");
    let k = kubeconfig.clone();
    tokio::task::spawn_blocking(move || {
        kubectl(&k, &["apply", "-f", "-"], Some(&second));
        assert_running(&k, "hello2", "hello2-ssh");
        kubectl(
            &k,
            &[
                "delete",
                "-n",
                "demo",
                "vm/hello",
                "vm/hello2",
                "--timeout=30s",
            ],
            None,
        );
        let left = kubectl(&k, &["get", "vm", "-n", "demo", "-o", "name"], None);
        assert_eq!(left.trim(), "", "VMs left after delete");
    })
    .await
    .unwrap();
    sim.stop().await;
    // Unregistered on exit: the cluster does not refuse VMs while nobody answers.
    let hooks = kubectl(
        &kubeconfig,
        &["get", "mutatingwebhookconfigurations", "-o", "name"],
        None,
    );
    assert!(!hooks.contains("supervisor-sim"), "{hooks}");
}

/// The mirror without a real control plane: the controllers mode on a `serve` whose own
/// controllers are off (no webhooks there, so the VM names its image itself). A VM created
/// remotely powers on and gets an IP (the controllers' status reached the remote server), and
/// deleting it remotely removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_runs_the_controllers_on_another_api_server() {
    use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let remote = supervisor_sim::Sim::start(
        supervisor_sim::RunOptions {
            kubeconfig: Some(kubeconfig.clone()),
            controllers: false,
            ..Default::default()
        },
        listener,
    )
    .await
    .unwrap();
    let mut opts = ControllersOptions::new(kubeconfig.clone());
    opts.install_crds = false;
    opts.webhooks = false;
    opts.controller_tuning = Some(Arc::new(
        |c: &mut supervisor_sim::controllers::ControllerConfig| {
            c.power_on_delay = Duration::from_millis(50);
            c.ip_delay = Duration::from_millis(50);
        },
    ));
    let sim = RemoteSim::start(opts)
        .await
        .expect("controllers mode on serve");

    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let ar = ApiResource {
        group: "vmoperator.vmware.com".into(),
        version: "v1alpha5".into(),
        api_version: "vmoperator.vmware.com/v1alpha5".into(),
        kind: "VirtualMachine".into(),
        plural: "virtualmachines".into(),
    };
    let vms: Api<DynamicObject> = Api::namespaced_with(client, "demo", &ar);
    let vm: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
        "metadata": {"name": "mirrored", "namespace": "demo"},
        "spec": {"className": "best-effort-small", "storageClass": "wcpglobal-storage-profile",
            "powerState": "PoweredOn", "image": {"kind": "VirtualMachineImage", "name": "vmi-4c70ed86fa1ab64e2"}},
    }))
    .unwrap();
    vms.create(&PostParams::default(), &vm).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let got = vms.get("mirrored").await.unwrap();
        let ip = got.data["status"]["network"]["primaryIP4"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if !ip.is_empty() || Instant::now() > deadline {
            break got.data["status"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["powerState"], "PoweredOn", "{status}");
    assert!(
        status["network"]["primaryIP4"]
            .as_str()
            .unwrap_or("")
            .starts_with("127.88."),
        "{status}"
    );
    vms.delete("mirrored", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while vms.get_opt("mirrored").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the VM was never released by the controllers"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sim.stop().await;
    remote.stop().await;
}
