//! VirtualMachineWebConsoleRequest (same shape in every version).

use crate::api::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST;
use crate::meta::ObjectMeta;
use crate::resource::typed_kind;
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A VirtualMachineWebConsoleRequest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineWebConsoleRequest {
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
    pub spec: WebConsoleRequestSpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WebConsoleRequestStatus>,
}

typed_kind!(
    VirtualMachineWebConsoleRequest,
    VmopVersion,
    WebConsoleRequestSpec,
    |_| &VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST
);

/// Web console request spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebConsoleRequestSpec {
    /// VM name.
    #[serde(default)]
    pub name: String,
    /// PEM RSA public key.
    #[serde(default)]
    pub public_key: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Web console request status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebConsoleRequestStatus {
    /// base64 RSA-OAEP(SHA-512) encrypted ticket URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response: String,
    /// Expiry time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    /// Console proxy host[:port].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy_addr: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
