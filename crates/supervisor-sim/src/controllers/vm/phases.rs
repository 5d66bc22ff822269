//! The phases of one VirtualMachine reconcile, in the order `reconcile` runs them: read the
//! live object, claim its runtime, create (dependencies, IDs, guest boot), power off or on,
//! and assign the IP.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::Mutex as AsyncMutex;

use super::{str_at, NotReady, Runtime, VmController};
use crate::controllers::{api_err, conditions, iso, CtlError, GuestEndpoint, ANNOTATION_NO_IP};
use crate::guest::bootstrap::BootstrapPlan;
use crate::guest::Guest;
use vmop_types::conditions::vm as cond;

impl VmController {
    /// Phase: reads the VM; a gone or deleting VM has its guest torn down and yields `None`.
    pub(super) async fn fetch_live(&self, ns: &str, name: &str) -> Result<Option<Value>, CtlError> {
        let vm = match self.store.get(&Self::gr(), Some(ns), name) {
            Ok(v) => v,
            Err(e) if e.code == 404 => {
                self.teardown(ns, name, true).await;
                return Ok(None);
            }
            Err(e) => return Err(api_err("getting VirtualMachine", format!("{ns}/{name}"))(e)),
        };
        if vm
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            self.teardown(ns, name, false).await;
            return Ok(None);
        }
        Ok(Some(vm))
    }

    /// Phase: the VM's runtime, a fresh one if the runtime held belongs to an earlier VM object
    /// of the same name.
    pub(super) async fn claim_runtime(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
    ) -> Arc<AsyncMutex<Runtime>> {
        let rt_arc = self.runtime(ns, name).await;
        let stale = {
            let rt = rt_arc.lock().await;
            !rt.uid.is_empty() && rt.uid != uid
        };
        if !stale {
            return rt_arc;
        }
        // Deleted and re-created under the same name before we saw the deletion.
        self.teardown(ns, name, true).await;
        self.runtime(ns, name).await
    }

    /// Phase: dependencies, IDs, guest boot. `false` when the VM cannot be created yet (the
    /// reason is already in its status).
    pub(super) async fn create(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
        rt: &mut Runtime,
    ) -> Result<bool, CtlError> {
        let Some((image, mut plan)) = self.dependencies_ready(ns, name, vm)? else {
            return Ok(false);
        };
        let content = crate::library::image_content(&self.cfg.state_dir, &image)?;
        // An ISO "installs" an OS whose account comes from the image's credentials.
        iso::apply_iso_credentials(&image, &mut plan);
        let unique_id = self.assign_ids(ns, name, vm)?;
        if !self
            .boot_guest(ns, name, &unique_id, &content, plan, rt)
            .await?
        {
            return Ok(false);
        }
        self.mark_created(ns, name, vm, rt)?;
        Ok(true)
    }

    /// Reports each dependency as a condition when one is not ready (and yields `None`).
    fn dependencies_ready(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
    ) -> Result<Option<(Value, BootstrapPlan)>, CtlError> {
        let problems = match self.check_dependencies(ns, vm) {
            Ok(x) => return Ok(Some(x)),
            Err(problems) => problems,
        };
        self.set_status(ns, name, |o| {
            set_dependency_conditions(o, &problems);
            conditions::set(
                o,
                cond::READY,
                false,
                "NotReady",
                "dependencies are not ready",
            );
        })?;
        // Dependency kinds are watched; a create of the missing object requeues us.
        Ok(None)
    }

    /// Keeps or allocates uniqueID, biosUUID and instanceUUID, writes them with the dependency
    /// conditions all true, and returns the uniqueID.
    fn assign_ids(&self, ns: &str, name: &str, vm: &Value) -> Result<String, CtlError> {
        let mut status_ids = (
            str_at(vm, "/status/uniqueID").to_string(),
            str_at(vm, "/spec/biosUUID").to_string(),
            str_at(vm, "/spec/instanceUUID").to_string(),
        );
        if status_ids.0.is_empty() {
            status_ids.0 = self.allocate_unique_id();
        }
        for id in [&mut status_ids.1, &mut status_ids.2] {
            if id.is_empty() {
                *id = uuid::Uuid::new_v4().to_string();
            }
        }
        let (uid, bios, inst) = status_ids;
        self.set_status(ns, name, |o| {
            set_dependency_conditions(o, &[]);
            o["status"]["uniqueID"] = json!(uid);
            o["status"]["biosUUID"] = json!(bios);
            o["status"]["instanceUUID"] = json!(inst);
            if o.pointer("/status/powerState").is_none() {
                o["status"]["powerState"] = json!("PoweredOff");
            }
        })?;
        Ok(uid)
    }

    /// Boots the guest on the VM's disk (owned by `unique_id`); `false` when that failed (the
    /// failure is in the VM's status).
    async fn boot_guest(
        &self,
        ns: &str,
        name: &str,
        unique_id: &str,
        content: &std::path::Path,
        plan: BootstrapPlan,
        rt: &mut Runtime,
    ) -> Result<bool, CtlError> {
        // The disk belongs to one VM object: a leftover from an earlier VM of the same name
        // (deleted while we were not watching) must not leak into this one.
        let dir = crate::guest::vm_dir(&self.cfg.state_dir, ns, name);
        let owner = tokio::fs::read_to_string(dir.join("uid")).await.ok();
        if owner.as_deref().is_some_and(|o| o.trim() != unique_id) {
            let _ = tokio::fs::remove_dir_all(&dir).await;
        }
        match Guest::boot(
            &self.cfg.guest,
            &self.cfg.state_dir,
            ns,
            name,
            Some(content),
            plan,
        )
        .await
        {
            Ok(g) => {
                rt.guest = Some(g);
                if let Err(e) = tokio::fs::write(dir.join("uid"), unique_id).await {
                    tracing::warn!(dir = %dir.display(), error = %e, "recording the VM's disk owner failed");
                }
                Ok(true)
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(vm = %format!("{ns}/{name}"), error = %msg, "creating the simulated guest failed");
                self.set_status(ns, name, |o| {
                    conditions::set(o, cond::CREATED, false, "Error", &msg);
                    conditions::set(o, cond::READY, false, "Error", &msg);
                })?;
                Ok(false)
            }
        }
    }

    /// Starts the power-on clock (at once for a VM that was running before a simulator
    /// restart) and sets Created.
    fn mark_created(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
        rt: &mut Runtime,
    ) -> Result<(), CtlError> {
        let now = Instant::now();
        // A VM that was already running before a simulator restart comes back at once.
        let was_on = vm.pointer("/status/powerState").and_then(Value::as_str) == Some("PoweredOn");
        rt.created_at = Some(if was_on {
            now - self.cfg.power_on_delay
        } else {
            now
        });
        if was_on {
            rt.powered_on_at = Some(now - self.cfg.ip_delay);
        }
        self.set_status(ns, name, |o| {
            conditions::set(o, cond::CREATED, true, "", "");
        })?;
        Ok(())
    }

    pub(super) fn wants_power_on(vm: &Value) -> bool {
        vm.pointer("/spec/powerState")
            .and_then(Value::as_str)
            .unwrap_or("PoweredOn")
            == "PoweredOn"
    }

    /// Phase: powering off stops the guest's network presence; its disk (root) stays.
    pub(super) async fn power_off(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
        rt: &mut Runtime,
    ) -> Result<(), CtlError> {
        if rt.powered_on_at.take().is_some() || rt.ip.is_some() {
            rt.ip = None;
            self.registry_remove(ns, name);
            if let Some(g) = rt.guest.take() {
                g.shutdown().await;
            }
        }
        let target = vm
            .pointer("/spec/powerState")
            .and_then(Value::as_str)
            .unwrap_or("PoweredOff")
            .to_string();
        self.set_status(ns, name, |o| {
            o["status"]["powerState"] = json!(target);
            conditions::set(
                o,
                cond::READY,
                false,
                "PoweredOff",
                "the virtual machine is not powered on",
            );
        })?;
        Ok(())
    }

    /// Phase: powers on once the power-on delay after creation has passed; `Some(wait)` until
    /// then.
    pub(super) fn power_on(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
        rt: &mut Runtime,
    ) -> Result<Option<Duration>, CtlError> {
        let created_at = rt.created_at.unwrap_or_else(Instant::now);
        if rt.powered_on_at.is_some() {
            return Ok(None);
        }
        let due = created_at + self.cfg.power_on_delay;
        let now = Instant::now();
        if now < due {
            return Ok(Some(due - now));
        }
        rt.powered_on_at = Some(now);
        let iso = iso::is_iso_vm(vm);
        self.set_status(ns, name, |o| {
            o["status"]["powerState"] = json!("PoweredOn");
            if iso {
                // The installer runs: network status (config) without an address yet.
                o["status"]["network"] = iso::network_config_status();
            }
            conditions::set(o, cond::READY, true, "", "");
            // The guest booted with its bootstrap applied (first boot ran before power-on).
            conditions::set(o, cond::TOOLS, true, cond::reason::RUNNING, "");
            conditions::set(
                o,
                cond::GUEST_CUSTOMIZATION,
                true,
                cond::reason::SUCCEEDED,
                "",
            );
        })?;
        Ok(None)
    }

    /// Phase: whether a fault (global or this VM's annotation) says the VM never gets an IP.
    pub(super) fn ip_withheld(&self, ns: &str, name: &str, vm: &Value) -> bool {
        let no_ip = self.cfg.current_faults().no_ip
            || vm
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    ANNOTATION_NO_IP.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some("true");
        if no_ip {
            tracing::info!(vm = %format!("{ns}/{name}"), "fault: this VM never gets an IP");
        }
        no_ip
    }

    /// Phase: after the IP delay (plus an ISO's install time), gives the VM its address, the
    /// guest's SSH endpoint on it, and the network status.
    pub(super) async fn assign_ip(
        &self,
        ns: &str,
        name: &str,
        vm: &Value,
        rt: &mut Runtime,
    ) -> Result<Option<Duration>, CtlError> {
        if rt.ip.is_some() {
            return Ok(None);
        }
        let powered = rt.powered_on_at.unwrap_or_else(Instant::now);
        let mut due = powered + self.cfg.ip_delay;
        if iso::is_iso_vm(vm) {
            due += iso::install_delay(vm);
        }
        let now = Instant::now();
        if now < due {
            return Ok(Some(due - now));
        }
        let ip = vm
            .pointer("/status/network/primaryIP4")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
            .filter(|ip| ip.octets()[0] == 127 && ip.octets()[1] == 88)
            .unwrap_or_else(|| self.allocate_ip());
        let Some(guest) = rt.guest.as_mut() else {
            return Ok(None);
        };
        let ssh = match guest
            .listen(SocketAddr::new(ip.into(), self.cfg.guest_ssh_port))
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(vm = %format!("{ns}/{name}"), error = %e, "guest ssh port busy; using an ephemeral port");
                guest.listen(SocketAddr::new(ip.into(), 0)).await?
            }
        };
        rt.ip = Some(ip);
        self.guests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (ns.to_string(), name.to_string()),
                GuestEndpoint { ip, ssh },
            );
        let ip_s = ip.to_string();
        let host = vm
            .pointer("/spec/network/hostName")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .unwrap_or(name)
            .to_string();
        self.set_status(ns, name, |o| {
            o["status"]["network"] = json!({
                "primaryIP4": ip_s,
                "hostName": host,
                "interfaces": [{"name": "eth0", "ip": {"addresses": [{"address": format!("{ip_s}/8")}]}}],
                "config": {"interfaces": [{"name": "eth0", "ip": {"dhcp": {"ip4": {"enabled": true}}}}]},
            });
            conditions::set(o, cond::NETWORK_READY, true, "", "");
        })?;
        Ok(None)
    }
}

/// The four dependency conditions: False with the reason of each problem, True otherwise.
fn set_dependency_conditions(o: &mut Value, problems: &[NotReady]) {
    for c in [
        cond::CLASS_READY,
        cond::IMAGE_READY,
        cond::STORAGE_READY,
        cond::BOOTSTRAP_READY,
    ] {
        match problems.iter().find(|p| p.0 == c) {
            Some((_, reason, msg)) => conditions::set(o, c, false, reason, msg),
            None => conditions::set(o, c, true, "", ""),
        };
    }
}
