//! The real kubectl against an in-process simulator: every bundled kubectl 1.27-1.33
//! (`/usr/lib/google-cloud-sdk/bin/kubectl.1.NN`) and Debian's 1.20 when `KUBECTL_120` points at
//! it. Each run: `get` of every kind by short name, `apply` (create, unchanged), an invalid
//! object showing the API's own error, `get -w` showing a change, server-side apply, the
//! restricted user's 403, `delete`.
//!
//! `kubectl_pairs_with_kube_apiserver` runs the same checks against a real kube-apiserver with
//! the same CRDs and seed too (`kubectl_support/real.rs`): a difference fails the pair.
//!
//! A kubectl that is not installed makes its test return early (printing why), so the suite
//! runs on machines without google-cloud-cli; CI installs both families.

mod kubectl_support;

use kubectl_support::{exercise, Kubectl, Server};
use std::path::{Path, PathBuf};
use supervisor_sim::catalog::Gr;
use supervisor_sim::store::Subresource;
use supervisor_sim::{RunOptions, Sim};

/// `exercise` against a fresh simulator.
async fn exercise_sim(bin: &Path) {
    let server = Server::sim().await;
    exercise(bin, &server).await;
    server.stop().await;
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
                exercise_sim(&bin).await;
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
        Some(p) if p.exists() => exercise_sim(&p).await,
        _ => eprintln!("skipping: KUBECTL_120 not set or missing (scripts/install-deps.sh unpacks it to /opt/kubectl-1.20)"),
    }
}

#[tokio::test]
async fn kubectl_dispatcher_picks_a_version() {
    let p = Path::new("/usr/bin/kubectl");
    if p.exists() {
        exercise_sim(p).await;
    }
}

/// The kubectls a pair is run for: the dispatcher, the oldest and newest bundled ones, and
/// Debian's 1.20 when `KUBECTL_120` names it.
fn pair_kubectls() -> Vec<PathBuf> {
    let mut bins: Vec<PathBuf> = ["/usr/bin/kubectl"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect();
    bins.extend(["1.27", "1.33"].iter().filter_map(|v| bundled(v)));
    bins.extend(
        std::env::var_os("KUBECTL_120")
            .map(PathBuf::from)
            .filter(|p| p.exists()),
    );
    bins
}

/// `exercise` in its own task, so that a failed check is reported instead of ending the test.
async fn exercise_caught(bin: PathBuf, server: Server) -> bool {
    tokio::spawn(async move {
        exercise(&bin, &server).await;
        server.stop().await;
    })
    .await
    .is_ok()
}

/// The same kubectl checks against the simulator and against a real kube-apiserver with the
/// same CRDs and seed (`kubectl_support/real.rs`), for each kubectl here: a check that passes on
/// one and not the other (or on neither) is a failing pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_pairs_with_kube_apiserver() {
    let Some(real) = kubectl_support::real::start().await else {
        return;
    };
    let mut failed = Vec::new();
    for bin in pair_kubectls() {
        let sim_ok = exercise_caught(bin.clone(), Server::sim().await).await;
        let real_ok = exercise_caught(bin.clone(), Server::Real(real.kubeconfig.clone())).await;
        kubectl_support::real::clean_up(&real.kubeconfig).await;
        let verdict = |ok: bool| if ok { "passed" } else { "FAILED" };
        let line = format!(
            "kubectl pair {}: simulator {}, kube-apiserver {}",
            bin.display(),
            verdict(sim_ok),
            verdict(real_ok)
        );
        eprintln!("{line}");
        if !(sim_ok && real_ok) {
            failed.push(line);
        }
    }
    assert!(failed.is_empty(), "failing pairs:\n{}", failed.join("\n"));
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
        bin: p.to_path_buf(),
        kubeconfig,
        cache: dir.path().join("cache"),
        dir: dir.path().to_path_buf(),
    };
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
