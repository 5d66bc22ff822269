//! Shared fixtures of the `ctl_*` tests: an in-process store with the seed objects a VM needs,
//! the controllers, watch-based waits and an OpenSSH key pair.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use supervisor_sim::catalog::{Catalog, Gr};
use supervisor_sim::controllers::{install_admission, ControllerConfig, Controllers};
use supervisor_sim::store::{Store, StoreOptions, WriteOptions};
use vmop_types::api as k;

pub const NS: &str = "demo";

/// Tests in one binary bind the same loopback addresses (port 22): one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Sim {
    pub store: Store,
    pub ctl: Option<Controllers>,
    pub state: tempfile::TempDir,
}

impl Sim {
    pub fn state_dir(&self) -> PathBuf {
        self.state.path().to_path_buf()
    }

    pub async fn stop(mut self) {
        if let Some(c) = self.ctl.take() {
            c.shutdown().await;
        }
    }
}

pub fn gr(kind: &k::ApiKind) -> Gr {
    Gr::from(kind)
}

pub fn create(store: &Store, kind: &k::ApiKind, ns: Option<&str>, obj: Value) -> Value {
    store
        .create(&gr(kind), ns, obj, &WriteOptions::default())
        .unwrap_or_else(|e| panic!("create {}: {e:?}", kind.kind))
}

/// A store with a namespace, a VM class, a storage class, a namespaced image
/// (`vmi-0000000000000ubu`, display name `ubuntu-22.04-server`) and a cluster image
/// (`vmi-00000000000photon`, `photon-5.0`), then the webhook and controllers.
pub async fn start(tweak: impl FnOnce(&mut ControllerConfig)) -> Sim {
    let state = tempfile::tempdir().expect("tempdir");
    let store = Store::new(Arc::new(Catalog::builtin()), StoreOptions::default()).expect("store");
    create(
        &store,
        &k::NAMESPACE,
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
    );
    create(
        &store,
        &k::VIRTUAL_MACHINE_CLASS,
        Some(NS),
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineClass",
            "metadata": {"name": "best-effort-small"}, "spec": {"hardware": {"cpus": 2, "memory": "4Gi"}}
        }),
    );
    create(
        &store,
        &k::STORAGE_CLASS,
        None,
        json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "wcp-storage"}, "provisioner": "csi.vsphere.vmware.com"
        }),
    );
    add_image(
        &store,
        Some(NS),
        "vmi-0000000000000ubu",
        "ubuntu-22.04-server",
    );
    add_image(&store, None, "vmi-00000000000photon", "photon-5.0");
    install_admission(&store);
    let mut cfg = ControllerConfig::new(state.path().to_path_buf());
    cfg.power_on_delay = Duration::from_millis(100);
    cfg.ip_delay = Duration::from_millis(100);
    cfg.publish_step_delay = Duration::from_millis(50);
    cfg.guest_ssh_port = 0;
    tweak(&mut cfg);
    let ctl = Controllers::start(store.clone(), cfg);
    Sim {
        store,
        ctl: Some(ctl),
        state,
    }
}

pub fn add_image(store: &Store, ns: Option<&str>, name: &str, display: &str) {
    let kind = if ns.is_some() {
        &k::VIRTUAL_MACHINE_IMAGE
    } else {
        &k::CLUSTER_VIRTUAL_MACHINE_IMAGE
    };
    create(
        store,
        kind,
        ns,
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": kind.kind,
            "metadata": {"name": name},
            "spec": {"providerRef": {"apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibraryItem", "name": name.replace("vmi-", "clitem-")}},
            "status": {"name": display, "type": "OVF", "osInfo": {"type": "ubuntu64Guest"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }),
    );
}

pub fn vm(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
           "metadata": {"name": name, "labels": {"source-selector": name}}, "spec": spec})
}

pub fn library(store: &Store, name: &str, writable: bool, annotations: Value) {
    create(
        store,
        &k::CONTENT_LIBRARY,
        Some(NS),
        json!({
            "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibrary",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"id": uuid_like(name), "allowPublish": writable, "allowDelete": writable},
            "status": {"name": name, "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }),
    );
}

fn uuid_like(seed: &str) -> String {
    let h: u64 = seed.bytes().fold(0xcbf29ce484222325, |a, b| {
        (a ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        h as u32,
        h & 0xffff_ffff_ffff
    )
}

/// Waits (watch, not poll) until `pred` holds for object `name`; returns it.
pub async fn wait_for(
    store: &Store,
    kind: &k::ApiKind,
    ns: Option<&str>,
    name: &str,
    what: &str,
    secs: u64,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut w = store.watch(&gr(kind), ns, None).expect("watch");
    let fut = async {
        while let Some(ev) = w.next().await {
            let ev = ev.expect("watch event");
            if ev.object.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
                && pred(&ev.object)
            {
                return (*ev.object).clone();
            }
        }
        panic!("watch ended while waiting for {what}");
    };
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => {
            let now = store
                .get(&gr(kind), ns, name)
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string());
            panic!("timed out waiting for {what}; object now: {now}")
        }
    }
}

pub fn condition<'a>(obj: &'a Value, ctype: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == ctype)
}

pub fn cond_is(obj: &Value, ctype: &str, status: &str, reason: Option<&str>) -> bool {
    condition(obj, ctype)
        .is_some_and(|c| c["status"] == status && reason.is_none_or(|r| c["reason"] == r))
}

pub fn keygen(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("id_ed25519");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ctl-test", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    (key, public.trim().to_string())
}

pub fn secret(name: &str, data: &[(&str, &str)]) -> Value {
    let sd: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": sd})
}

/// Runs OpenSSH's `ssh` (blocking, in a thread) with a timeout.
pub async fn ssh(key: &Path, port: u16, target: &str, command: &str) -> std::process::Output {
    let mut c = std::process::Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        "-i",
    ])
    .arg(key)
    .arg("-p")
    .arg(port.to_string())
    .arg(target)
    .arg(command)
    .stdin(std::process::Stdio::null());
    tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || c.output().expect("ssh runs")),
    )
    .await
    .expect("ssh finished in time")
    .expect("join")
}
