//! The real side of a kubectl pair: kube-apiserver (via `scripts/kube-up.sh`, as the
//! conformance test starts it) with the CRDs, the simulator's default seed copied onto it
//! (objects and their status), and a kubeconfig with the simulator's context names: the admin in
//! `supervisor-sim`, and `supervisor-sim-demo-user` impersonating `demo-user` (`as:`), whose RBAC
//! grants what the simulator grants.

use super::targets::{self, KubeUp, Target, User};
use serde_json::Value;
use std::path::{Path, PathBuf};
use supervisor_sim::store::ListOptions;

/// A running real server with the seed and the kubeconfig kubectl uses; stopped on drop.
pub struct RealServer {
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    _kube_up: Option<KubeUp>,
}

/// Starts and seeds the real server, or None (printing why) when the control-plane binaries are
/// missing and `CONFORMANCE_SKIP=1`; without them otherwise it fails saying what to run.
pub async fn start() -> Option<RealServer> {
    let have = std::env::var_os("CONFORMANCE_KUBECONFIG").is_some()
        || targets::cache_dir().join("bin/kube-apiserver").is_file();
    if !have {
        if std::env::var("CONFORMANCE_SKIP").as_deref() == Ok("1") {
            eprintln!("skipping: no kube-apiserver in the project cache (CONFORMANCE_SKIP=1)");
            return None;
        }
        panic!("no kube-apiserver in the project cache: run scripts/install-deps.sh (or set CONFORMANCE_SKIP=1)");
    }
    let (kube_up, admin_kubeconfig) = targets::start_real();
    targets::setup_real(&admin_kubeconfig);
    let real = targets::real_target(&admin_kubeconfig);
    copy_default_seed(&real).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    write_kubeconfig(&admin_kubeconfig, &kubeconfig);
    Some(RealServer {
        kubeconfig,
        _dir: dir,
        _kube_up: kube_up,
    })
}

/// The simulator's default seed, created on the real server with its status.
async fn copy_default_seed(real: &Target) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = supervisor_sim::RunOptions {
        controllers: false,
        ..Default::default()
    };
    let sim = supervisor_sim::Sim::start(opts, listener).await.unwrap();
    for info in sim.store.catalog().resources() {
        let (items, _) = sim
            .store
            .list_arc(&info.gr, None, &ListOptions::default())
            .unwrap();
        let base = if info.gr.group.is_empty() {
            format!("/api/{}", info.hub_version)
        } else {
            format!("/apis/{}/{}", info.gr.group, info.hub_version)
        };
        for o in items {
            let mut obj = (*o).clone();
            let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
            let collection = match ns.filter(|_| info.namespaced) {
                Some(ns) => format!("{base}/namespaces/{ns}/{}", info.gr.resource),
                None => format!("{base}/{}", info.gr.resource),
            };
            strip_server_fields(&mut obj);
            create_with_status(real, &collection, obj, info.custom && info.has_status).await;
        }
    }
    sim.stop().await;
}

fn strip_server_fields(obj: &mut Value) {
    if let Some(m) = obj["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            m.remove(k);
        }
    }
}

async fn create_with_status(real: &Target, collection: &str, obj: Value, status: bool) {
    let resp = real
        .request("POST", collection, User::Admin)
        .header("content-type", "application/json")
        .body(obj.to_string())
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let mut created: Value = resp.json().await.unwrap();
    if code == 409 {
        return; // namespace demo: the setup made it
    }
    assert_eq!(code, 201, "seeding {collection}: {created}");
    if !status || obj.get("status").is_none() {
        return;
    }
    created["status"] = obj["status"].clone();
    let name = created["metadata"]["name"].as_str().unwrap_or_default();
    let resp = real
        .request("PUT", &format!("{collection}/{name}/status"), User::Admin)
        .header("content-type", "application/json")
        .body(created.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "seeding the status of {collection}/{name}"
    );
}

/// A kubeconfig for the real server with the simulator's context names.
fn write_kubeconfig(admin: &Path, out: &Path) {
    let kc: Value = serde_yaml::from_str(&std::fs::read_to_string(admin).unwrap()).unwrap();
    let cluster = &kc["clusters"][0]["cluster"];
    let token = kc["users"][0]["user"]["token"].as_str().unwrap_or_default();
    let config = serde_json::json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kube-up", "cluster": cluster}],
        "users": [
            {"name": "kube-admin", "user": {"token": token}},
            {"name": "demo-user", "user": {"token": token, "as": "demo-user"}},
        ],
        "contexts": [
            {"name": "supervisor-sim", "context": {"cluster": "kube-up", "user": "kube-admin", "namespace": "demo"}},
            {"name": "supervisor-sim-demo-user", "context": {"cluster": "kube-up", "user": "demo-user", "namespace": "demo"}},
        ],
        "current-context": "supervisor-sim",
    });
    std::fs::write(out, serde_yaml::to_string(&config).unwrap()).unwrap();
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) {
    let out = tokio::process::Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plays the controller on the real server: the VM's status says PoweredOff.
pub async fn power_off(kubeconfig: &Path, name: &str) {
    let patch = r#"{"status":{"powerState":"PoweredOff"}}"#;
    let args = [
        "patch",
        "vm",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
    ];
    kubectl(kubeconfig, &args).await;
}

/// Removes what `exercise` leaves behind, so the next kubectl starts from the seed.
pub async fn clean_up(kubeconfig: &Path) {
    let args = [
        "delete",
        "vm,vmpub,vmservice",
        "source-vm",
        "--ignore-not-found",
    ];
    kubectl(kubeconfig, &args).await;
}
