//! VirtualMachineImage / ClusterVirtualMachineImage (same schema, different scope).

use crate::api::{ApiKind, Scope, CLUSTER_VIRTUAL_MACHINE_IMAGE, VIRTUAL_MACHINE_IMAGE};
use crate::meta::{Condition, ObjectMeta, TypedRef};
use crate::resource::{hub_serde, typed_kind, KindVersion};
use crate::version::VmopVersion;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The dynamic type of [`VirtualMachineImage`]: which of the two image kinds, at which version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageKind {
    /// The VM Operator version.
    pub version: VmopVersion,
    /// Namespaced: `VirtualMachineImage`; cluster: `ClusterVirtualMachineImage`.
    pub scope: Scope,
}

impl ImageKind {
    /// `VirtualMachineImage` at `version`.
    pub fn namespaced(version: VmopVersion) -> Self {
        ImageKind {
            version,
            scope: Scope::Namespaced,
        }
    }

    /// `ClusterVirtualMachineImage` at `version`.
    pub fn cluster(version: VmopVersion) -> Self {
        ImageKind {
            version,
            scope: Scope::Cluster,
        }
    }

    /// The catalogue entry.
    pub fn api_kind(&self) -> &'static ApiKind {
        match self.scope {
            Scope::Namespaced => &VIRTUAL_MACHINE_IMAGE,
            Scope::Cluster => &CLUSTER_VIRTUAL_MACHINE_IMAGE,
        }
    }
}

impl KindVersion for ImageKind {
    fn version(&self) -> &'static str {
        self.version.as_str()
    }
}

/// Image types (`status.type`).
pub mod image_type {
    /// OVF template.
    pub const OVF: &str = "OVF";
    /// ISO (CD-ROM) image.
    pub const ISO: &str = "ISO";
}

/// A VM image (namespaced or cluster), hub-shaped: v1alpha1 keeps the description in `spec`
/// and the display name in `status.imageName`, converted on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineImage {
    /// API version.
    #[serde(default)]
    pub api_version: String,
    /// `VirtualMachineImage` or `ClusterVirtualMachineImage`.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: ImageSpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ImageStatus>,
}

typed_kind!(
    VirtualMachineImage,
    ImageKind,
    ImageSpec,
    ImageKind::api_kind
);
hub_serde!(VirtualMachineImage, VIRTUAL_MACHINE_IMAGE);

/// Image spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// The content-library item this image was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<TypedRef>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Image status subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    /// Display name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `OVF` / `ISO`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// Content-library item UUID.
    #[serde(
        default,
        rename = "providerItemID",
        skip_serializing_if = "String::is_empty"
    )]
    pub provider_item_id: String,
    /// Content version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider_content_version: String,
    /// `BIOS` / `EFI`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firmware: String,
    /// Hardware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<i64>,
    /// OS info, raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_info: Option<Value>,
    /// Product info, raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_info: Option<Value>,
    /// Capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
