//! ISO VMs (supervisor-builder.md §3.3): a VM with a connected CD-ROM boots an installer from
//! its PersistentVolumeClaim disk. It powers on with network *config* but no address; after an
//! "install" delay the installed OS gets an IP and an SSH server whose account comes from the
//! image annotation [`super::import::ANNOTATION_ISO_CREDENTIALS`] (`user:password`).
use std::time::Duration;

use serde_json::{json, Value};

use crate::guest::bootstrap::{self, BootstrapPlan};

/// Per-VM annotation: seconds the simulated OS install takes (default [`DEFAULT_INSTALL`]).
pub const ANNOTATION_INSTALL_SECONDS: &str = "sim.supervisor.vmware.com/iso-install-seconds";
/// Default install time, on top of the usual IP delay.
pub const DEFAULT_INSTALL: Duration = Duration::from_secs(2);

fn cdroms(vm: &Value) -> Vec<Value> {
    vm.pointer("/spec/hardware/cdrom")
        .or_else(|| vm.pointer("/spec/cdrom"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Whether the VM boots from a connected CD-ROM.
pub fn is_iso_vm(vm: &Value) -> bool {
    cdroms(vm)
        .iter()
        .any(|c| c.get("connected").and_then(Value::as_bool).unwrap_or(true))
}

/// The PersistentVolumeClaims the VM's volumes name.
pub fn claim_names(vm: &Value) -> Vec<String> {
    vm.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/persistentVolumeClaim/claimName"))
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub fn install_delay(vm: &Value) -> Duration {
    vm.pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_INSTALL_SECONDS))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_INSTALL)
}

/// `status.network` while the installer runs.
pub fn network_config_status() -> Value {
    json!({"config": {"interfaces": [{"name": "eth0", "ip": {"dhcp": {"ip4": {"enabled": true}}}}], "dns": {"nameservers": ["127.0.0.53"]}}})
}

/// `user:password` from an ISO image's annotation, if it is an ISO image that has one.
pub fn iso_credentials(image: &Value) -> Option<(String, String)> {
    if image.pointer("/status/type").and_then(Value::as_str) != Some("ISO") {
        return None;
    }
    let text = image
        .pointer("/metadata/annotations")?
        .get(super::import::ANNOTATION_ISO_CREDENTIALS)?
        .as_str()?;
    let (user, pass) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_string(), pass.to_string()))
}

/// Adds the installed OS's account to the guest plan.
pub fn apply_iso_credentials(image: &Value, plan: &mut BootstrapPlan) {
    let Some((user, pass)) = iso_credentials(image) else {
        return;
    };
    let doc = format!(
        "#cloud-config\nssh_pwauth: true\nusers:\n  - name: {}\n    plain_text_passwd: {}\n    lock_passwd: false\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n",
        serde_json::to_string(&user).unwrap_or_default(),
        serde_json::to_string(&pass).unwrap_or_default()
    );
    if let Err(e) = bootstrap::apply_cloud_init(plan, doc.as_bytes()) {
        tracing::warn!(error = %e, "applying the ISO image's credentials failed");
    }
}

/// Display name of the seeded ISO image.
pub const SEED_ISO_DISPLAY: &str = "ubuntu-24.04-iso";
/// Item UUID of the seeded ISO image.
pub const SEED_ISO_ITEM_UUID: &str = "ad5e6b12-7f41-4a99-9c5e-68e4a4ffee05";
/// Account the seeded ISO's simulated installer creates.
pub const SEED_ISO_CREDENTIALS: &str = "ubuntu:ubuntu";

/// The seeded ISO: a ContentLibraryItem in `library` and its VirtualMachineImage (type ISO,
/// with [`super::import::ANNOTATION_ISO_CREDENTIALS`]), hub-shaped.
pub fn seed_iso_objects(namespace: &str, library: &str, now: &str) -> Vec<Value> {
    use vmop_types::naming;
    let item = naming::item_name_for_item(SEED_ISO_ITEM_UUID);
    let vmi = naming::vmi_name_for_item(SEED_ISO_ITEM_UUID);
    let ready = json!([{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}]);
    vec![
        json!({
            "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibraryItem",
            "metadata": {"name": item, "namespace": namespace},
            "spec": {"id": SEED_ISO_ITEM_UUID, "libraryName": library},
            "status": {"name": SEED_ISO_DISPLAY, "type": "ISO", "contentVersion": "1", "cached": true,
                "sizeInBytes": "2147483648", "securityCompliance": true, "conditions": ready, "creationTime": now},
        }),
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineImage",
            "metadata": {
                "name": vmi, "namespace": namespace,
                "labels": {naming::LABEL_IMAGE_TYPE: "ISO"},
                "annotations": {
                    naming::ANNOTATION_DISPLAY_NAME: SEED_ISO_DISPLAY,
                    super::import::ANNOTATION_ISO_CREDENTIALS: SEED_ISO_CREDENTIALS,
                },
            },
            "spec": {"providerRef": {"apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibraryItem", "name": item}},
            "status": {
                "name": SEED_ISO_DISPLAY, "type": "ISO", "firmware": "efi", "hardwareVersion": 21,
                "providerItemID": SEED_ISO_ITEM_UUID, "providerContentVersion": "1",
                "conditions": ready,
            },
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_vms_and_claims() {
        let v3 = json!({"spec": {"cdrom": [{"name": "cdrom", "connected": true}], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "src"}}]}});
        assert!(is_iso_vm(&v3));
        assert_eq!(claim_names(&v3), vec!["src".to_string()]);
        let v5 = json!({"spec": {"hardware": {"cdrom": [{"connected": false}]}}});
        assert!(!is_iso_vm(&v5));
        assert!(!is_iso_vm(&json!({"spec": {}})));
        let slow = json!({"metadata": {"annotations": {ANNOTATION_INSTALL_SECONDS: "7"}}});
        assert_eq!(install_delay(&slow), Duration::from_secs(7));
        assert_eq!(install_delay(&json!({})), DEFAULT_INSTALL);
    }

    #[test]
    fn credentials_become_a_password_user() {
        let img = json!({"metadata": {"annotations": {super::super::import::ANNOTATION_ISO_CREDENTIALS: "jo:se:cret"}}, "status": {"type": "ISO"}});
        assert_eq!(iso_credentials(&img), Some(("jo".into(), "se:cret".into())));
        let mut plan = BootstrapPlan::default();
        apply_iso_credentials(&img, &mut plan);
        assert!(plan.ssh_pwauth);
        assert_eq!(plan.users.len(), 1);
        let ovf = json!({"metadata": {"annotations": {super::super::import::ANNOTATION_ISO_CREDENTIALS: "a:b"}}, "status": {"type": "OVF"}});
        assert_eq!(iso_credentials(&ovf), None);
    }
}
