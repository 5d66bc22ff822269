//! VirtualMachinePublishRequest.

use crate::api::VIRTUAL_MACHINE_PUBLISH_REQUEST;
use crate::meta::{Condition, ObjectMeta, TypedRef};
use crate::resource::{hub_serde, typed_kind};
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A publish request (every version shares this shape, but `backoffLimit` is v1alpha5+: it is
/// left out of a request at an older version).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachinePublishRequest {
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
    pub spec: PublishSpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PublishStatus>,
}

typed_kind!(
    VirtualMachinePublishRequest,
    VmopVersion,
    PublishSpec,
    |_| &VIRTUAL_MACHINE_PUBLISH_REQUEST
);
hub_serde!(
    VirtualMachinePublishRequest,
    VIRTUAL_MACHINE_PUBLISH_REQUEST
);

/// Publish spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishSpec {
    /// Source VM (defaults to the request's own name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TypedRef>,
    /// Target library and item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PublishTarget>,
    /// Auto-delete delay after completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i64>,
    /// Attempts before giving up (v1alpha5+; default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i64>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Publish target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishTarget {
    /// Item to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<PublishItem>,
    /// Library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<TypedRef>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Target item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishItem {
    /// Display name (not a k8s name); default `<source>-image`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Publish status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishStatus {
    /// Resolved source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<TypedRef>,
    /// Resolved target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<PublishTarget>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// Completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
    /// Attempts so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    /// Last attempt time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_time: Option<String>,
    /// Name of the realized VirtualMachineImage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_name: String,
    /// True once Complete and every other condition is True.
    #[serde(default)]
    pub ready: bool,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
