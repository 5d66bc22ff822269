//! VirtualMachineService (identical shape in every version).

use crate::api::VIRTUAL_MACHINE_SERVICE;
use crate::meta::ObjectMeta;
use crate::resource::typed_kind;
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A VirtualMachineService.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineService {
    /// API version.
    #[serde(default)]
    pub api_version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: VmServiceSpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VmServiceStatus>,
}

typed_kind!(VirtualMachineService, VmopVersion, VmServiceSpec, |_| {
    &VIRTUAL_MACHINE_SERVICE
});

/// `spec.type` values.
pub mod service_type {
    /// An external load-balancer address.
    pub const LOAD_BALANCER: &str = "LoadBalancer";
    /// A cluster-internal address.
    pub const CLUSTER_IP: &str = "ClusterIP";
}

/// Service spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmServiceSpec {
    /// `LoadBalancer`, `ClusterIP` or `ExternalName`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// Ports.
    #[serde(default)]
    pub ports: Vec<VmServicePort>,
    /// Selects VMs by label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A service port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmServicePort {
    /// Port name.
    #[serde(default)]
    pub name: String,
    /// `TCP` / `UDP` / `SCTP`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Service port.
    #[serde(default)]
    pub port: i32,
    /// Port on the VM.
    #[serde(default)]
    pub target_port: i32,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Service status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmServiceStatus {
    /// Load balancer ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerStatus>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.loadBalancer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// Ingress points.
    #[serde(default)]
    pub ingress: Vec<LoadBalancerIngress>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One ingress point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerIngress {
    /// IP address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    /// Host name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Other fields (`ports`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
