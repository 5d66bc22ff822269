//! The typed kinds as kube resources, the kube-rs way: each struct implements
//! `kube::Resource` with the API version as its dynamic type, so
//! `Api::<VirtualMachine>::namespaced_with(client, ns, &VmopVersion::V1alpha3)` talks to
//! `/apis/vmoperator.vmware.com/v1alpha3/namespaces/ns/virtualmachines` with typed bodies.
//!
//! Dynamic types: [`VmopVersion`] for the VM Operator kinds, [`LibraryVersion`] for the
//! image-registry kinds, [`crate::image::ImageKind`] (version and scope) for the two image kinds,
//! which share one schema. Every kind is `Scope = DynamicResourceScope` (its scope is in the
//! catalogue, [`ApiKind::scope`]): use `namespaced_with` or `all_with` accordingly.
//!
//! Shapes: every struct is shaped like the hub version (v1alpha5, imageregistry v1alpha2),
//! whatever version it is read at or written to. The kinds whose fields moved between versions
//! ([`hub_serde!`]) convert on the wire with [`crate::convert`], going by the object's own
//! `apiVersion`: a v1alpha1 VM is read with its `status.vmIp` in `status.network.primaryIP4`, and
//! a hub VM written at v1alpha1 goes out with `spec.vmMetadata`.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::api::{by_kind, split_api_version, ApiKind};
use crate::convert;
use crate::version::{LibraryVersion, VmopVersion};

/// The dynamic type of a typed kind: what it needs to know at run time to name its version.
pub trait KindVersion: Clone + Send + Sync + 'static {
    /// The version, e.g. `v1alpha3`.
    fn version(&self) -> &'static str;
}

impl KindVersion for VmopVersion {
    fn version(&self) -> &'static str {
        self.as_str()
    }
}

impl KindVersion for LibraryVersion {
    fn version(&self) -> &'static str {
        self.as_str()
    }
}

/// A typed kind: which entry of the catalogue it is, for a dynamic type.
pub trait TypedKind: kube_core::Resource<DynamicType: KindVersion> {
    /// The catalogue entry (group, kind, plural, scope).
    fn api_kind(dt: &Self::DynamicType) -> &'static ApiKind;
}

/// Implements [`TypedKind`], `kube::Resource` and a constructor `new(dt, metadata, spec)` for a
/// struct with `api_version`, `kind`, `metadata` and `spec` fields (the rest `Default`).
macro_rules! typed_kind {
    ($ty:ident, $dt:ty, $spec:ty, $kind_of:expr) => {
        impl $crate::resource::TypedKind for $ty {
            fn api_kind(dt: &$dt) -> &'static $crate::api::ApiKind {
                let kind_of: fn(&$dt) -> &'static $crate::api::ApiKind = $kind_of;
                kind_of(dt)
            }
        }

        impl kube_core::Resource for $ty {
            type DynamicType = $dt;
            type Scope = kube_core::DynamicResourceScope;

            fn kind(dt: &$dt) -> std::borrow::Cow<'_, str> {
                <Self as $crate::resource::TypedKind>::api_kind(dt)
                    .kind
                    .into()
            }
            fn group(dt: &$dt) -> std::borrow::Cow<'_, str> {
                <Self as $crate::resource::TypedKind>::api_kind(dt)
                    .group
                    .into()
            }
            fn version(dt: &$dt) -> std::borrow::Cow<'_, str> {
                $crate::resource::KindVersion::version(dt).into()
            }
            fn plural(dt: &$dt) -> std::borrow::Cow<'_, str> {
                <Self as $crate::resource::TypedKind>::api_kind(dt)
                    .plural
                    .into()
            }
            fn meta(&self) -> &kube_core::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut kube_core::ObjectMeta {
                &mut self.metadata
            }
        }

        impl $ty {
            /// A new object at the version `dt`, with its `apiVersion` and `kind` filled in.
            pub fn new(dt: &$dt, metadata: kube_core::ObjectMeta, spec: $spec) -> Self {
                let kind = <Self as $crate::resource::TypedKind>::api_kind(dt);
                Self {
                    api_version: kind.api_version($crate::resource::KindVersion::version(dt)),
                    kind: kind.kind.to_string(),
                    metadata,
                    spec,
                    ..Default::default()
                }
            }
        }
    };
}
pub(crate) use typed_kind;

/// Serde for a kind whose shape differs between versions: the struct derives its hub-shaped
/// serde with `#[serde(remote = "Self")]`, and these impls convert on the wire with
/// [`read_hub`] / [`write_at_version`] (`$default` names the kind when `kind` is absent).
macro_rules! hub_serde {
    ($ty:ident, $default:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let hub = $ty::serialize(self, serde_json::value::Serializer);
                $crate::resource::write_at_version(hub, &$default, s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let wire = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                $ty::deserialize($crate::resource::read_hub(wire, &$default))
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use hub_serde;

/// The catalogue entry and version an object on the wire says it is.
fn wire_kind(obj: &Value, default: &'static ApiKind) -> (&'static ApiKind, String) {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| by_kind(default.group, k))
        .unwrap_or(default);
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (_, version) = split_api_version(api_version);
    (kind, version.to_string())
}

/// An object as read (at its `apiVersion`) → the hub shape.
pub fn read_hub(mut obj: Value, default: &'static ApiKind) -> Value {
    let (kind, version) = wire_kind(&obj, default);
    convert::to_hub(kind, &version, &mut obj);
    obj
}

/// Serializes a hub-shaped object as the body for its `apiVersion`.
pub fn write_at_version<S: Serializer>(
    hub: Result<Value, serde_json::Error>,
    default: &'static ApiKind,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut obj = hub.map_err(serde::ser::Error::custom)?;
    let (kind, version) = wire_kind(&obj, default);
    convert::to_request(kind, &version, &mut obj);
    obj.serialize(s)
}
