//! VirtualMachine controller: dependency checks (class, image, storage class, bootstrap
//! Secret) as conditions, then creation (IDs, guest root + bootstrap), power-on after a delay,
//! and an IP (127.88.x.y, the guest's SSH endpoint listening there) after another delay unless
//! a fault says this VM never gets one.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::Mutex as AsyncMutex;

use super::{update_status, ControllerConfig, CtlError, GuestRegistry, Key, ReconcilerDyn};
use crate::catalog::Gr;
use crate::guest::bootstrap::{self, BootstrapPlan};
use crate::guest::Guest;
use crate::store::Store;
use vmop_types::api as k;
use vmop_types::conditions::vm as cond;

mod phases;

/// In-memory state of one VM's simulated hardware.
#[derive(Default)]
struct Runtime {
    /// `metadata.uid` of the VM this runtime belongs to (a re-created VM is a new machine).
    uid: String,
    guest: Option<Guest>,
    created_at: Option<Instant>,
    powered_on_at: Option<Instant>,
    ip: Option<Ipv4Addr>,
}

/// Per-VM runtime state, each behind its own lock so VMs reconcile independently.
type Runtimes = Arc<AsyncMutex<HashMap<(String, String), Arc<AsyncMutex<Runtime>>>>>;

pub struct VmController {
    store: Store,
    cfg: Arc<ControllerConfig>,
    guests: GuestRegistry,
    runtimes: Runtimes,
    /// Serializes uniqueID / IP allocation (they scan the store for values in use) and
    /// remembers what was handed out but may not be in the store yet.
    alloc: Arc<std::sync::Mutex<Alloc>>,
}

#[derive(Default)]
struct Alloc {
    ips: Vec<Ipv4Addr>,
    last_id: u64,
}

/// Why a dependency is not ready: (condition type, reason, message).
type NotReady = (&'static str, &'static str, String);

/// The string at `pointer`, `""` when absent.
fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// A Secret key selector (`{name, key}`) as (Secret name, key), `key` defaulting to
/// `default_key`.
fn secret_ref(v: &Value, default_key: &str) -> Option<(String, String)> {
    let name = v.get("name").and_then(Value::as_str)?.to_string();
    let key = v
        .get("key")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(default_key)
        .to_string();
    Some((name, key))
}

impl VmController {
    pub(crate) fn new(store: Store, cfg: Arc<ControllerConfig>, guests: GuestRegistry) -> Self {
        VmController {
            store,
            cfg,
            guests,
            runtimes: Arc::default(),
            alloc: Arc::default(),
        }
    }

    fn gr() -> Gr {
        Gr::from(&k::VIRTUAL_MACHINE)
    }

    async fn runtime(&self, ns: &str, name: &str) -> Arc<AsyncMutex<Runtime>> {
        self.runtimes
            .lock()
            .await
            .entry((ns.to_string(), name.to_string()))
            .or_default()
            .clone()
    }

    /// Stops the guest; `wipe` also deletes its disk (the VM object is gone).
    async fn teardown(&self, ns: &str, name: &str, wipe: bool) {
        let rt = self
            .runtimes
            .lock()
            .await
            .remove(&(ns.to_string(), name.to_string()));
        self.registry_remove(ns, name);
        if let Some(rt) = rt {
            let mut rt = rt.lock().await;
            if let Some(g) = rt.guest.take() {
                g.shutdown().await;
            }
        }
        if wipe {
            let dir = crate::guest::vm_dir(&self.cfg.state_dir, ns, name);
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %e, "removing a deleted VM's disk failed");
                }
            }
        }
    }

    fn registry_remove(&self, ns: &str, name: &str) {
        self.guests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(ns.to_string(), name.to_string()));
    }

    fn set_status(&self, ns: &str, name: &str, f: impl Fn(&mut Value)) -> Result<Value, CtlError> {
        update_status(&self.store, &k::VIRTUAL_MACHINE, ns, name, f)
    }

    /// Checks class, image, storage class and bootstrap data; returns the image object and
    /// the bootstrap plan, or the first dependency that is not ready (all are reported).
    fn check_dependencies(
        &self,
        ns: &str,
        vm: &Value,
    ) -> Result<(Value, BootstrapPlan), Vec<NotReady>> {
        let mut problems: Vec<NotReady> = self.missing_class(ns, vm).into_iter().collect();
        let image = self.image(ns, vm).map_err(|p| problems.push(p)).ok();
        problems.extend(self.missing_storage(ns, vm));
        let plan = self
            .bootstrap_plan(ns, vm)
            .map_err(|msg| problems.push((cond::BOOTSTRAP_READY, "NotFound", msg)))
            .ok();
        match (image, plan) {
            (Some(i), Some(p)) if problems.is_empty() => Ok((i, p)),
            _ => Err(problems),
        }
    }

    /// `spec.className` must name a VirtualMachineClass of the namespace.
    fn missing_class(&self, ns: &str, vm: &Value) -> Option<NotReady> {
        let class = str_at(vm, "/spec/className");
        let found = !class.is_empty()
            && self
                .store
                .get_arc(&Gr::from(&k::VIRTUAL_MACHINE_CLASS), Some(ns), class)
                .is_ok();
        (!found).then(|| (cond::CLASS_READY, "NotFound", format!("Failed to get VirtualMachineClass {class:?}: virtualmachineclasses.vmoperator.vmware.com {class:?} not found")))
    }

    /// The image `spec.image` names: a ClusterVirtualMachineImage, or a VirtualMachineImage of
    /// the namespace.
    fn image(&self, ns: &str, vm: &Value) -> Result<Value, NotReady> {
        let img_kind = str_at(vm, "/spec/image/kind");
        let img_name = str_at(vm, "/spec/image/name");
        let found = if img_kind == "ClusterVirtualMachineImage" {
            let gr = Gr::from(&k::CLUSTER_VIRTUAL_MACHINE_IMAGE);
            self.store.get(&gr, None, img_name)
        } else {
            let gr = Gr::from(&k::VIRTUAL_MACHINE_IMAGE);
            self.store.get(&gr, Some(ns), img_name)
        };
        found.map_err(|_| {
            let kind = if img_kind.is_empty() {
                "VirtualMachineImage"
            } else {
                img_kind
            };
            (
                cond::IMAGE_READY,
                "NotFound",
                format!("Failed to get {kind} {img_name:?}: not found"),
            )
        })
    }

    /// The storage class (when named) and, for ISO VMs, which boot from PersistentVolumeClaim
    /// disks, every claim.
    fn missing_storage(&self, ns: &str, vm: &Value) -> Vec<NotReady> {
        let mut problems = Vec::new();
        let sc = str_at(vm, "/spec/storageClass");
        if !sc.is_empty()
            && self
                .store
                .get_arc(&Gr::from(&k::STORAGE_CLASS), None, sc)
                .is_err()
        {
            problems.push((cond::STORAGE_READY, "NotFound", format!("Failed to get StorageClass {sc:?}: storageclasses.storage.k8s.io {sc:?} not found")));
        }
        for claim in super::iso::claim_names(vm) {
            if self
                .store
                .get_arc(&Gr::from(&k::PERSISTENT_VOLUME_CLAIM), Some(ns), &claim)
                .is_err()
            {
                problems.push((
                    cond::STORAGE_READY,
                    "NotFound",
                    format!("Failed to get PersistentVolumeClaim {claim:?}: persistentvolumeclaims {claim:?} not found"),
                ));
            }
        }
        problems
    }

    fn secret(&self, ns: &str, name: &str) -> Result<serde_json::Map<String, Value>, String> {
        let sec = self
            .store
            .get(&Gr::from(&k::SECRET), Some(ns), name)
            .map_err(|_| {
                format!("Failed to get bootstrap Secret {ns}/{name}: secrets {name:?} not found")
            })?;
        Ok(sec
            .get("data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }

    fn secret_value(&self, ns: &str, name: &str, key: &str) -> Result<Vec<u8>, String> {
        let data = self.secret(ns, name)?;
        let v = data
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("bootstrap Secret {ns}/{name} has no key {key:?}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|e| format!("bootstrap Secret {ns}/{name} key {key:?} is not base64: {e}"))
    }

    /// Builds the guest's bootstrap plan from the VM spec and its Secrets.
    fn bootstrap_plan(&self, ns: &str, vm: &Value) -> Result<BootstrapPlan, String> {
        let mut plan = BootstrapPlan::default();
        let Some(b) = vm.pointer("/spec/bootstrap").filter(|b| b.is_object()) else {
            return Ok(plan);
        };
        let provider = |name: &str| b.get(name).filter(|v| v.is_object());
        if let Some(ci) = provider("cloudInit") {
            self.apply_cloud_init(ns, ci, &mut plan)?;
        }
        if let Some(sp) = provider("sysprep") {
            self.apply_sysprep(ns, sp, &mut plan)?;
        }
        if let Some(va) = provider("vAppConfig") {
            let mut props = self.vapp_properties(ns, va)?;
            props.sort();
            if let Err(e) = bootstrap::apply_vapp(&mut plan, &props) {
                tracing::warn!(error = %e, "guest vApp user-data failed");
            }
        }
        Ok(plan)
    }

    /// `spec.bootstrap.cloudInit`: the raw cloud-config Secret, the structured cloudConfig, and
    /// `sshAuthorizedKeys`.
    fn apply_cloud_init(
        &self,
        ns: &str,
        ci: &Value,
        plan: &mut BootstrapPlan,
    ) -> Result<(), String> {
        let raw_ref = ci
            .get("rawCloudConfig")
            .and_then(|r| secret_ref(r, "user-data"));
        if let Some((name, key)) = raw_ref {
            let raw = self.secret_value(ns, &name, &key)?;
            if let Err(e) = bootstrap::apply_cloud_init(plan, &bootstrap::decode_value(&raw)) {
                // A broken cloud-config boots a guest nobody can log into, like the real thing.
                tracing::warn!(vm = %format!("{ns}/{}", name), error = %e, "guest cloud-init failed");
            }
        }
        if let Some(cc) = ci.get("cloudConfig").filter(|v| v.is_object()) {
            self.apply_structured_cloud_config(ns, cc, plan)?;
        }
        let keys: Vec<String> = ci
            .get("sshAuthorizedKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        if !keys.is_empty() {
            let text = format!(
                "#cloud-config\nssh_authorized_keys: {}\n",
                serde_json::to_string(&keys).unwrap_or_default()
            );
            let _ = bootstrap::apply_cloud_init(plan, text.as_bytes());
        }
        Ok(())
    }

    /// `spec.bootstrap.sysprep`: the raw unattend Secret and the administrator password.
    fn apply_sysprep(&self, ns: &str, sp: &Value, plan: &mut BootstrapPlan) -> Result<(), String> {
        if let Some((name, key)) = sp.get("rawSysprep").and_then(|r| secret_ref(r, "unattend")) {
            let raw = self.secret_value(ns, &name, &key)?;
            bootstrap::apply_sysprep(plan, &bootstrap::decode_value(&raw));
        }
        let password_ref = sp
            .pointer("/sysprep/guiUnattended/password")
            .and_then(|p| secret_ref(p, "password"));
        if let Some((name, key)) = password_ref {
            let raw = self.secret_value(ns, &name, &key)?;
            let xml = format!("<AdministratorPassword><Value>{}</Value><PlainText>true</PlainText></AdministratorPassword>", String::from_utf8_lossy(&raw));
            bootstrap::apply_sysprep(plan, xml.as_bytes());
        }
        Ok(())
    }

    /// `spec.bootstrap.vAppConfig`: every key of the `rawProperties` Secret, then each
    /// property's inline value or Secret reference.
    fn vapp_properties(&self, ns: &str, va: &Value) -> Result<Vec<(String, String)>, String> {
        let mut props: Vec<(String, String)> = Vec::new();
        let raw = va
            .get("rawProperties")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        if let Some(name) = raw {
            for (k, v) in self.secret(ns, name)? {
                let bytes = v
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                    .unwrap_or_default();
                props.push((k, String::from_utf8_lossy(&bytes).to_string()));
            }
        }
        let listed = va.get("properties").and_then(Value::as_array);
        for p in listed.into_iter().flatten() {
            let Some(key) = p.get("key").and_then(Value::as_str) else {
                continue;
            };
            let value = if let Some(v) = p.pointer("/value/value").and_then(Value::as_str) {
                v.to_string()
            } else if let Some((name, k)) =
                p.pointer("/value/from").and_then(|f| secret_ref(f, key))
            {
                String::from_utf8_lossy(&self.secret_value(ns, &name, &k)?).to_string()
            } else {
                String::new()
            };
            props.push((key.to_string(), value));
        }
        Ok(props)
    }

    fn apply_structured_cloud_config(
        &self,
        ns: &str,
        cc: &Value,
        plan: &mut BootstrapPlan,
    ) -> Result<(), String> {
        // The structured v1alpha3+ cloudConfig, rendered as the cloud-config it stands for.
        let mut users = Vec::new();
        for u in cc
            .get("users")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut m = serde_json::Map::new();
            for (from, to) in [
                ("name", "name"),
                ("shell", "shell"),
                ("lockPasswd", "lock_passwd"),
                ("sshAuthorizedKeys", "ssh_authorized_keys"),
                ("sudo", "sudo"),
            ] {
                if let Some(v) = u.get(from) {
                    m.insert(to.into(), v.clone());
                }
            }
            if let Some(p) = u.get("passwd").filter(|p| p.is_object()) {
                let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                let key = p.get("key").and_then(Value::as_str).unwrap_or("password");
                let raw = self.secret_value(ns, name, key)?;
                m.insert(
                    "plain_text_passwd".into(),
                    json!(String::from_utf8_lossy(&raw)),
                );
                m.entry("lock_passwd").or_insert(json!(false));
            }
            users.push(Value::Object(m));
        }
        let mut doc = json!({"users": users, "ssh_pwauth": true});
        if let Some(r) = cc.get("runcmd") {
            doc["runcmd"] = r.clone();
        }
        let text = format!(
            "#cloud-config\n{}",
            serde_json::to_string(&doc).unwrap_or_default()
        );
        bootstrap::apply_cloud_init(plan, text.as_bytes()).map_err(|e| e.to_string())
    }

    fn allocate_unique_id(&self) -> String {
        let mut g = self.alloc.lock().unwrap_or_else(|p| p.into_inner());
        let max = self
            .store
            .list_arc(&Self::gr(), None, &Default::default())
            .map(|(items, _)| {
                items
                    .iter()
                    .filter_map(|o| o.pointer("/status/uniqueID").and_then(Value::as_str))
                    .filter_map(|u| u.strip_prefix("vm-").and_then(|n| n.parse::<u64>().ok()))
                    .max()
                    .unwrap_or(1000)
            })
            .unwrap_or(1000);
        let next = max.max(g.last_id).max(1000) + 1;
        g.last_id = next;
        format!("vm-{next}")
    }

    fn allocate_ip(&self) -> Ipv4Addr {
        let mut g = self.alloc.lock().unwrap_or_else(|p| p.into_inner());
        let used: Vec<Ipv4Addr> = self
            .store
            .list_arc(&Self::gr(), None, &Default::default())
            .map(|(items, _)| {
                items
                    .iter()
                    .filter_map(|o| {
                        o.pointer("/status/network/primaryIP4")
                            .and_then(Value::as_str)
                    })
                    .filter_map(|s| s.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let registry: Vec<Ipv4Addr> = self
            .guests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|g| g.ip)
            .collect();
        for n in 1u32..65000 {
            let ip = Ipv4Addr::new(127, 88, (n / 254) as u8, (n % 254 + 1) as u8);
            if !used.contains(&ip) && !registry.contains(&ip) && !g.ips.contains(&ip) {
                g.ips.push(ip);
                return ip;
            }
        }
        Ipv4Addr::new(127, 88, 255, 254)
    }

    /// One pass over a VM: a short sequence of phases, each returning early when the VM is
    /// not ready for the next one.
    async fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        let Some(vm) = self.fetch_live(&ns, &name).await? else {
            return Ok(None);
        };
        let uid = vm
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let rt_arc = self.claim_runtime(&ns, &name, &uid).await;
        let mut rt = rt_arc.lock().await;
        rt.uid = uid;

        if rt.guest.is_none() && !self.create(&ns, &name, &vm, &mut rt).await? {
            return Ok(None);
        }
        if !Self::wants_power_on(&vm) {
            self.power_off(&ns, &name, &vm, &mut rt).await?;
            return Ok(None);
        }
        if let Some(wait) = self.power_on(&ns, &name, &vm, &mut rt)? {
            return Ok(Some(wait));
        }
        if self.ip_withheld(&ns, &name, &vm) {
            return Ok(None);
        }
        self.assign_ip(&ns, &name, &vm, &mut rt).await
    }
}

impl ReconcilerDyn for VmController {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>> {
        let this = self.clone_handle();
        Box::pin(async move { this.reconcile(key).await })
    }
    fn shutdown_dyn(&self) -> BoxFuture<'static, ()> {
        let this = self.clone_handle();
        Box::pin(async move {
            let keys: Vec<(String, String)> = this.runtimes.lock().await.keys().cloned().collect();
            for (ns, name) in keys {
                this.teardown(&ns, &name, false).await;
            }
        })
    }
}

impl VmController {
    fn clone_handle(&self) -> VmController {
        VmController {
            store: self.store.clone(),
            cfg: self.cfg.clone(),
            guests: self.guests.clone(),
            runtimes: self.runtimes.clone(),
            alloc: self.alloc.clone(),
        }
    }
}
