//! VirtualMachineClass (read by name only; its spec is kept raw).

use crate::api::VIRTUAL_MACHINE_CLASS;
use crate::meta::ObjectMeta;
use crate::resource::typed_kind;
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A VirtualMachineClass (same shape in every version for what is read of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineClass {
    /// API version.
    #[serde(default)]
    pub api_version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec (`hardware.cpus`, `hardware.memory`, …), raw.
    #[serde(default)]
    pub spec: Map<String, Value>,
    /// Status, raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Map<String, Value>>,
}

typed_kind!(
    VirtualMachineClass,
    VmopVersion,
    Map<String, Value>,
    |_| &VIRTUAL_MACHINE_CLASS
);
