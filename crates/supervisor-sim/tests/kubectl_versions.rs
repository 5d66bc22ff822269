//! The real kubectl against an in-process simulator: every bundled kubectl 1.27-1.33
//! (`/usr/lib/google-cloud-sdk/bin/kubectl.1.NN`) and Debian's 1.20 when `KUBECTL_120` points at
//! it. Each run: `get` of every kind by short name, `apply` (create, unchanged), an invalid
//! object showing the API's own error, `get -w` showing a change, server-side apply, the
//! restricted user's 403, `delete`.
//!
//! A kubectl that is not installed makes its test return early (printing why), so the suite
//! runs on machines without google-cloud-cli; CI installs both families.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use supervisor_sim::catalog::Gr;
use supervisor_sim::store::Subresource;
use supervisor_sim::{RunOptions, Sim};
use tokio::io::AsyncReadExt;

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

struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
    dir: PathBuf,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> (bool, String) {
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

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args).await;
        assert!(
            ok,
            "kubectl {args:?} failed ({}):\n{text}",
            self.bin.display()
        );
        text
    }

    fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
}

/// A simulator without controllers and a kubectl (`bin`) pointed at it.
async fn start(bin: &Path) -> (tempfile::TempDir, Sim, Kubectl) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let sim = Sim::start(
        RunOptions {
            kubeconfig: Some(kubeconfig.clone()),
            controllers: false,
            ..Default::default()
        },
        listener,
    )
    .await
    .unwrap();
    let k = Kubectl {
        bin: bin.to_path_buf(),
        kubeconfig,
        cache: dir.path().join("cache"),
        dir: dir.path().to_path_buf(),
    };
    (dir, sim, k)
}

async fn exercise(bin: &Path) {
    let (_dir, sim, k) = start(bin).await;

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
    let vms = Gr::from(&vmop_types::api::VIRTUAL_MACHINE);
    let mut changed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("PoweredOff") {
        if !changed && seen.contains("source-vm") {
            sim.store
                .modify(&vms, Some("demo"), "source-vm", Subresource::Status, |o| {
                    o["status"] = serde_json::json!({"powerState": "PoweredOff"});
                    Ok(())
                })
                .unwrap();
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
    sim.stop().await;
}

fn bundled(version: &str) -> Option<PathBuf> {
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"));
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not installed", p.display());
        None
    }
}

macro_rules! bundled_kubectl_test {
    ($name:ident, $v:literal) => {
        #[tokio::test]
        async fn $name() {
            if let Some(bin) = bundled($v) {
                exercise(&bin).await;
            }
        }
    };
}

bundled_kubectl_test!(kubectl_1_27, "1.27");
bundled_kubectl_test!(kubectl_1_28, "1.28");
bundled_kubectl_test!(kubectl_1_29, "1.29");
bundled_kubectl_test!(kubectl_1_30, "1.30");
bundled_kubectl_test!(kubectl_1_31, "1.31");
bundled_kubectl_test!(kubectl_1_32, "1.32");
bundled_kubectl_test!(kubectl_1_33, "1.33");

#[tokio::test]
async fn kubectl_1_20_debian() {
    match std::env::var_os("KUBECTL_120").map(PathBuf::from) {
        Some(p) if p.exists() => exercise(&p).await,
        _ => eprintln!("skipping: KUBECTL_120 not set or missing (scripts/install-deps.sh unpacks it to /opt/kubectl-1.20)"),
    }
}

#[tokio::test]
async fn kubectl_dispatcher_picks_a_version() {
    let p = Path::new("/usr/bin/kubectl");
    if p.exists() {
        exercise(p).await;
    }
}

const VM_V1ALPHA1_YAML: &str = "apiVersion: vmoperator.vmware.com/v1alpha1
kind: VirtualMachine
metadata:
  name: old-vm
  labels:
    source-selector: old-vm
spec:
  imageName: ubuntu-24.04
  className: best-effort-small
  storageClass: wcpglobal-storage-profile
  powerState: poweredOn
  vmMetadata:
    secretName: old-vm
    transport: CloudInit
";

/// `kubectl get VM -o json` through `version` (the fully qualified resource names a version).
async fn vm_at(k: &Kubectl, version: &str, name: &str) -> serde_json::Value {
    let res = format!("virtualmachines.{version}.vmoperator.vmware.com");
    let out = k.ok(&["get", &res, name, "-o", "json"]).await;
    // `ok` appends stderr (deprecation warnings of old versions) after the document.
    serde_json::Deserializer::from_str(&out)
        .into_iter::<serde_json::Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("{res}: no JSON object in\n{out}"))
}

/// A VM created through v1alpha1 (a vSphere 8.0-era client) shows each served version's own
/// shape, and reading it through v1alpha5 and writing that back leaves the v1alpha1 view as it was.
#[tokio::test]
async fn every_served_version_shows_its_own_vm_shape() {
    let p = Path::new("/usr/bin/kubectl");
    if !p.exists() {
        eprintln!("skipping: no /usr/bin/kubectl");
        return;
    }
    let (_dir, sim, k) = start(p).await;
    let f = k.file("old-vm.yaml", VM_V1ALPHA1_YAML);
    k.ok(&["create", "-f", &f]).await;
    // The controllers are off: give it the status a powered-on VM has, in the hub's shape.
    let gr = Gr::new("vmoperator.vmware.com", "virtualmachines");
    sim.store
        .modify(&gr, Some("demo"), "old-vm", Subresource::Status, |o| {
            o["status"] = serde_json::json!({
                "powerState": "PoweredOn",
                "network": { "primaryIP4": "10.9.0.2" }
            });
            Ok(())
        })
        .expect("status update");

    let v1 = vm_at(&k, "v1alpha1", "old-vm").await;
    assert_eq!(v1["spec"]["vmMetadata"]["transport"], "CloudInit", "{v1}");
    assert_eq!(v1["spec"]["powerState"], "poweredOn");
    assert_eq!(v1["status"]["vmIp"], "10.9.0.2");
    assert_eq!(v1["status"]["powerState"], "poweredOn");
    for version in ["v1alpha2", "v1alpha3", "v1alpha4", "v1alpha5"] {
        let v = vm_at(&k, version, "old-vm").await;
        assert_eq!(v["apiVersion"], format!("vmoperator.vmware.com/{version}"));
        assert_eq!(
            v["spec"]["bootstrap"]["cloudInit"]["rawCloudConfig"],
            serde_json::json!({ "name": "old-vm", "key": "user-data" }),
            "{version}: {v}"
        );
        assert_eq!(v["spec"]["powerState"], "PoweredOn", "{version}");
        assert_eq!(
            v["status"]["network"]["primaryIP4"], "10.9.0.2",
            "{version}"
        );
        assert!(v["spec"].get("vmMetadata").is_none(), "{version}: {v}");
    }

    // Read through v1alpha5, write back through v1alpha5, read through v1alpha1: unchanged.
    let v5 = vm_at(&k, "v1alpha5", "old-vm").await;
    let f5 = k.file("old-vm-v5.json", &v5.to_string());
    k.ok(&["replace", "-f", &f5]).await;
    let again = vm_at(&k, "v1alpha1", "old-vm").await;
    assert_eq!(again["spec"], v1["spec"]);
    assert_eq!(again["status"], v1["status"]);
    sim.stop().await;
}
