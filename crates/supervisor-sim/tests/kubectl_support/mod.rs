//! kubectl's checks (`exercise`) against a server: an in-process simulator, or a real
//! kube-apiserver with the same CRDs and seed objects (`real.rs`), so that a difference between
//! the two in what kubectl sees shows up as a failing pair.

pub mod real;
#[allow(dead_code)]
#[path = "../conformance/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use supervisor_sim::catalog::Gr;
use supervisor_sim::store::Subresource;
use supervisor_sim::{RunOptions, Sim};
use tokio::io::AsyncReadExt;

/// Where kubectl runs its checks.
pub enum Server {
    /// An in-process simulator (controllers off) and the kubeconfig it wrote.
    Sim(Box<Sim>, tempfile::TempDir),
    /// A real kube-apiserver: the kubeconfig `real::start` wrote.
    Real(PathBuf),
}

impl Server {
    /// A fresh simulator with the default seed, controllers off.
    pub async fn sim() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let opts = RunOptions {
            kubeconfig: Some(dir.path().join("kubeconfig")),
            controllers: false,
            ..Default::default()
        };
        let sim = Sim::start(opts, listener).await.unwrap();
        Server::Sim(Box::new(sim), dir)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        match self {
            Server::Sim(_, dir) => dir.path().join("kubeconfig"),
            Server::Real(k) => k.clone(),
        }
    }

    /// Plays the controller: the VM's status says PoweredOff.
    async fn power_off(&self, name: &str) {
        match self {
            Server::Sim(sim, _) => {
                let vms = Gr::from(&vmop_types::api::VIRTUAL_MACHINE);
                sim.store
                    .modify(&vms, Some("demo"), name, Subresource::Status, |o| {
                        o["status"] = serde_json::json!({"powerState": "PoweredOff"});
                        Ok(())
                    })
                    .unwrap();
            }
            Server::Real(kubeconfig) => real::power_off(kubeconfig, name).await,
        }
    }

    pub async fn stop(self) {
        if let Server::Sim(sim, _) = self {
            sim.stop().await;
        }
    }
}

const VM_YAML: &str = "apiVersion: vmoperator.vmware.com/v1alpha3
kind: VirtualMachine
metadata:
  name: source-vm
  labels:
    source-selector: source-vm
spec:
  imageName: ubuntu-24.04
  className: best-effort-small
  storageClass: wcpglobal-storage-profile
  powerState: PoweredOn
  bootstrap:
    cloudInit:
      rawCloudConfig:
        name: source-vm
        key: user-data
";

const BAD_VM_YAML: &str = "apiVersion: vmoperator.vmware.com/v1alpha3
kind: VirtualMachine
metadata:
  name: bad-vm
spec:
  className: best-effort-small
  powerState: \"On\"
";

const PUB_YAML: &str = "apiVersion: vmoperator.vmware.com/v1alpha3
kind: VirtualMachinePublishRequest
metadata:
  name: source-vm
spec:
  source:
    name: source-vm
  target:
    item:
      name: source-vm-image
    location:
      name: golden-images
";

const SSA_YAML: &str = "apiVersion: vmoperator.vmware.com/v1alpha5
kind: VirtualMachineService
metadata:
  name: source-vm
spec:
  type: LoadBalancer
  selector:
    source-selector: source-vm
  ports:
  - name: ssh
    protocol: TCP
    port: 22
    targetPort: 22
";

pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    pub cache: PathBuf,
    pub dir: PathBuf,
}

impl Kubectl {
    pub async fn run(&self, args: &[&str]) -> (bool, String) {
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::process::Command::new(&self.bin)
                .args(args)
                .arg("--cache-dir")
                .arg(&self.cache)
                .env("KUBECONFIG", &self.kubeconfig)
                .env("HOME", &self.dir)
                .output(),
        )
        .await
        .expect("kubectl finished within 60s")
        .expect("kubectl runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args).await;
        assert!(
            ok,
            "kubectl {args:?} failed ({}):\n{text}",
            self.bin.display()
        );
        text
    }

    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
}

/// kubectl's checks against `server`: `get` of every kind by short name, `apply` (create,
/// unchanged), an invalid object showing the API's own error, `get -w` showing a change,
/// server-side apply, the restricted user's 403, `delete`.
pub async fn exercise(bin: &Path, server: &Server) {
    let dir = tempfile::tempdir().unwrap();
    let k = Kubectl {
        bin: bin.to_path_buf(),
        kubeconfig: server.kubeconfig(),
        cache: dir.path().join("cache"),
        dir: dir.path().to_path_buf(),
    };

    // every kind by short name
    let out = k
        .ok(&[
            "get",
            "vm,vmi,cvmi,vmpub,vmservice,vmclass,lib,clib,libitem,clibitem,sc,ns",
        ])
        .await;
    for want in [
        "ubuntu-24.04",
        "photon-5",
        "windows-2022",
        "ubuntu-22.04",
        "best-effort-small",
        "best-effort-medium",
        "golden-images",
        "readonly-images",
        "vmware-images",
        "wcpglobal-storage-profile",
        "namespace/demo",
    ] {
        assert!(out.contains(want), "{want} missing from:\n{out}");
    }
    let out = k.ok(&["get", "library", "-o", "wide"]).await;
    assert!(
        out.contains("ALLOWPUBLISH") || out.contains("WRITABLE"),
        "{out}"
    );

    // apply: created, then unchanged
    let vm = k.file("vm.yaml", VM_YAML);
    assert!(k
        .ok(&["apply", "-f", &vm])
        .await
        .contains("virtualmachine.vmoperator.vmware.com/source-vm created"));
    assert!(k.ok(&["apply", "-f", &vm]).await.contains("unchanged"));
    let out = k
        .ok(&["get", "vm", "source-vm", "-o", "jsonpath={.spec.className}"])
        .await;
    assert_eq!(out.trim(), "best-effort-small");

    // an invalid object: the API server's own message
    let bad = k.file("bad.yaml", BAD_VM_YAML);
    let (ok, out) = k.run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(out.contains("spec.powerState: Unsupported value: \"On\": supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\""), "{out}");

    // get -w shows a status change made by the "controller"
    let mut watch = tokio::process::Command::new(&k.bin)
        .args(["get", "vm", "-w", "--cache-dir"])
        .arg(&k.cache)
        .env("KUBECONFIG", &k.kubeconfig)
        .env("HOME", &k.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = watch.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let mut changed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("PoweredOff") {
        if !changed && seen.contains("source-vm") {
            server.power_off("source-vm").await;
            changed = true;
        }
        let n = tokio::time::timeout_at(deadline, stdout.read(&mut buf))
            .await
            .expect("watch output within 30s")
            .unwrap();
        assert!(n > 0, "kubectl get -w ended early:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("POWER-STATE"), "{seen}");
    watch.kill().await.ok();

    // publish request, server-side apply of a VM service, the restricted user
    let publish = k.file("pub.yaml", PUB_YAML);
    assert!(k
        .ok(&["apply", "-f", &publish])
        .await
        .contains("virtualmachinepublishrequest.vmoperator.vmware.com/source-vm created"));
    let out = k
        .ok(&[
            "get",
            "vmpub",
            "source-vm",
            "-o",
            "jsonpath={.spec.target.location.name}",
        ])
        .await;
    assert_eq!(out.trim(), "golden-images");
    let svc = k.file("svc.yaml", SSA_YAML);
    assert!(k
        .ok(&["apply", "--server-side", "-f", &svc])
        .await
        .contains("serverside-applied"));
    let (ok, out) = k
        .run(&[
            "--context",
            "supervisor-sim-demo-user",
            "get",
            "vm",
            "-n",
            "default",
        ])
        .await;
    assert!(
        !ok && out.contains("User \"demo-user\" cannot list resource \"virtualmachines\""),
        "{out}"
    );
    assert!(k
        .ok(&["--context", "supervisor-sim-demo-user", "get", "vm"])
        .await
        .contains("source-vm"));

    // delete
    assert!(k
        .ok(&["delete", "vm", "source-vm"])
        .await
        .contains("deleted"));
    let (ok, out) = k.run(&["get", "vm", "source-vm"]).await;
    assert!(!ok && out.contains("not found"), "{out}");
}
