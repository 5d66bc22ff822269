//! VirtualMachine (spec/status subset) in the hub shape (v1alpha5), and the conversion of the
//! fields that moved before it (`spec.cdrom` ⇔ `spec.hardware.cdrom`, `status.host` ⇔
//! `status.nodeName`); v1alpha1's differences are in [`crate::spoke_v1alpha1`].

use crate::api::VIRTUAL_MACHINE;
use crate::meta::{Condition, KindRef, ObjectMeta, SecretKeySelector};
use crate::resource::{hub_serde, typed_kind};
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Power states (`spec.powerState` / `status.powerState`).
pub mod power {
    /// On.
    pub const ON: &str = "PoweredOn";
    /// Off.
    pub const OFF: &str = "PoweredOff";
    /// Suspended.
    pub const SUSPENDED: &str = "Suspended";
}

/// A VirtualMachine, hub-shaped whatever version `api_version` names (the serde impls convert).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachine {
    /// `vmoperator.vmware.com/<version>`: the version it was read at or is written to.
    #[serde(default)]
    pub api_version: String,
    /// `VirtualMachine`.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: VirtualMachineSpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VirtualMachineStatus>,
}

typed_kind!(VirtualMachine, VmopVersion, VirtualMachineSpec, |_| {
    &VIRTUAL_MACHINE
});
hub_serde!(VirtualMachine, VIRTUAL_MACHINE);

/// VM spec subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSpec {
    /// Image object name or display name (resolved by the mutation webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Resolved image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<KindRef>,
    /// VirtualMachineClass name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// StorageClass name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// `PoweredOn` / `PoweredOff` / `Suspended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Guest OS id (required with CD-ROMs).
    #[serde(default, rename = "guestID", skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<String>,
    /// Bootstrap providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Bootstrap>,
    /// Hardware (holds `cdrom`; v1alpha3 and v1alpha4 have `spec.cdrom`, converted on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
    /// Volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<Volume>>,
    /// Network spec, kept raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Value>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VirtualMachineSpec {
    /// The CD-ROMs.
    pub fn cdroms(&self) -> &[Cdrom] {
        self.hardware
            .as_ref()
            .and_then(|h| h.cdrom.as_deref())
            .unwrap_or(&[])
    }
}

/// v1alpha5 `spec.hardware` subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hardware {
    /// CD-ROMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdrom: Option<Vec<Cdrom>>,
    /// Controllers etc.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A CD-ROM device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cdrom {
    /// Device name (`^[a-z0-9]{2,}$`).
    pub name: String,
    /// ISO image reference.
    pub image: KindRef,
    /// Connected (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// Guest may connect/disconnect (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_guest_control: Option<bool>,
    /// v1alpha5 placement fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume name.
    pub name: String,
    /// PVC source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PvcSource>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// PVC volume source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSource {
    /// Claim name.
    pub claim_name: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Bootstrap providers (subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// Cloud-init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInit>,
    /// Sysprep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysprep: Option<Sysprep>,
    /// vApp properties.
    #[serde(
        default,
        rename = "vAppConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub vapp_config: Option<VAppConfig>,
    /// LinuxPrep, kept raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux_prep: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// CloudInit bootstrap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudInit {
    /// Secret holding the cloud-config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_cloud_config: Option<SecretKeySelector>,
    /// Extra authorized keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_authorized_keys: Vec<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Sysprep bootstrap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sysprep {
    /// Secret holding the unattend XML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_sysprep: Option<SecretKeySelector>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// vApp properties bootstrap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VAppConfig {
    /// Secret whose every key becomes a property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_properties: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// VM status subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    /// Observed power state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Guest networking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<VmNetworkStatus>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// vSphere MoRef; empty until the VM exists.
    #[serde(default, rename = "uniqueID", skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// BIOS UUID.
    #[serde(default, rename = "biosUUID", skip_serializing_if = "Option::is_none")]
    pub bios_uuid: Option<String>,
    /// Instance UUID.
    #[serde(
        default,
        rename = "instanceUUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_uuid: Option<String>,
    /// ESXi host (`status.host` before v1alpha5, converted on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.network` subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmNetworkStatus {
    /// Primary IPv4 address.
    #[serde(
        default,
        rename = "primaryIP4",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_ip4: Option<String>,
    /// Primary IPv6 address.
    #[serde(
        default,
        rename = "primaryIP6",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_ip6: Option<String>,
    /// Intended configuration (printed by the builder's ISO flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Converts a VM object in place (raw JSON, so unknown fields survive). v1alpha3 → v1alpha5: `spec.cdrom` moves to `spec.hardware.cdrom`,
/// `status.host` becomes `status.nodeName`.
pub fn vm_v1alpha3_to_v1alpha5(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(cdrom) = spec.remove("cdrom") {
            let hw = spec
                .entry("hardware")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(hw) = hw.as_object_mut() {
                hw.insert("cdrom".into(), cdrom);
            }
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(host) = status.remove("host") {
            status.entry("nodeName").or_insert(host);
        }
    }
}

/// v1alpha5 → v1alpha3 (inverse of [`vm_v1alpha3_to_v1alpha5`]); other v1alpha5-only fields are
/// left in place.
pub fn vm_v1alpha5_to_v1alpha3(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let mut drop_hw = false;
        let mut moved = None;
        if let Some(hw) = spec.get_mut("hardware").and_then(Value::as_object_mut) {
            moved = hw.remove("cdrom");
            drop_hw = hw.is_empty();
        }
        if drop_hw {
            spec.remove("hardware");
        }
        if let Some(c) = moved {
            spec.insert("cdrom".into(), c);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(n) = status.remove("nodeName") {
            status.entry("host").or_insert(n);
        }
    }
}

/// Labels helper: the builder's `source-selector` label of a VM, if any.
pub fn source_selector(labels: &BTreeMap<String, String>) -> Option<&str> {
    labels
        .get(crate::naming::LABEL_SOURCE_SELECTOR)
        .map(String::as_str)
}

/// A typed reference to a VM image kind.
pub fn image_ref(kind: &str, name: &str) -> KindRef {
    KindRef {
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cdrom_moves_between_versions() {
        let v3 = json!({"spec": {"cdrom": [{"name": "cdrom", "image": {"kind": "VirtualMachineImage", "name": "vmi-1"}}], "className": "c"}, "status": {"host": "h1"}});
        let mut v = v3.clone();
        vm_v1alpha3_to_v1alpha5(&mut v);
        assert_eq!(v["spec"]["hardware"]["cdrom"][0]["name"], "cdrom");
        assert!(v["spec"].get("cdrom").is_none());
        assert_eq!(v["status"]["nodeName"], "h1");
        let typed: VirtualMachine = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(typed.spec.cdroms()[0].image.name, "vmi-1");
        vm_v1alpha5_to_v1alpha3(&mut v);
        assert_eq!(v, v3);
    }

    #[test]
    fn vm_round_trips_unknown_fields() {
        let v = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
            "metadata": {"name": "a", "namespace": "demo"},
            "spec": {"imageName": "ubuntu", "className": "c", "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "a", "key": "user-data"}}}, "readinessProbe": {"tcpSocket": {"port": 22}}},
            "status": {"powerState": "PoweredOn", "network": {"primaryIP4": "10.0.0.2", "interfaces": []}}});
        let typed: VirtualMachine = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            typed
                .status
                .as_ref()
                .unwrap()
                .network
                .as_ref()
                .unwrap()
                .primary_ip4
                .as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(serde_json::to_value(&typed).unwrap(), v);
    }
}
