//! The objects a fresh simulator starts with, and loading `--seed FILE` (a YAML list of
//! objects, or a multi-document YAML stream) in any served apiVersion.
//!
//! Default seed: namespace `demo`; VirtualMachineClasses `best-effort-small`/`-medium` in demo;
//! StorageClass `wcpglobal-storage-profile`; ContentLibraries `golden-images` (writable) and
//! `readonly-images` (not writable) in demo; ClusterContentLibrary `vmware-images`; OVF images
//! `ubuntu-24.04`, `photon-5`, `windows-2022` in `readonly-images` (ContentLibraryItems
//! `clitem-…` + VirtualMachineImages `vmi-…` named by the vm-operator rule from the item UUIDs)
//! and the ClusterVirtualMachineImage `ubuntu-22.04` from `vmware-images`.
//!
//! Extend [`default_objects`] (or pass `--seed`) to add more; objects are hub-shaped
//! (`vmoperator.vmware.com/v1alpha5`, `imageregistry.vmware.com/v1alpha2`).

use crate::catalog::Gr;
use crate::convert::to_hub;
use crate::error::ApiError;
use crate::store::{Store, WriteOptions};
use serde_json::{json, Value};
use vmop_types::naming::{item_name_for_item, vmi_name_for_item};

/// Namespace of the default seed.
pub const NAMESPACE: &str = "demo";
/// StorageClass of the default seed.
pub const STORAGE_CLASS: &str = "wcpglobal-storage-profile";
/// Writable library.
pub const WRITABLE_LIBRARY: &str = "golden-images";
/// Read-only library.
pub const READONLY_LIBRARY: &str = "readonly-images";
/// Cluster library.
pub const CLUSTER_LIBRARY: &str = "vmware-images";

/// A seeded image: display name, item UUID, OS (guest id, version), capabilities.
#[derive(Debug, Clone, Copy)]
pub struct SeedImage {
    /// Display name (`status.name`).
    pub display: &'static str,
    /// Content-library item UUID.
    pub item_uuid: &'static str,
    /// vSphere guest id.
    pub guest_id: &'static str,
    /// OS version.
    pub os_version: &'static str,
    /// Capabilities (`cloud-init`, `sysprep`).
    pub capability: &'static str,
    /// Namespaced (library `readonly-images`) or cluster (`vmware-images`).
    pub cluster: bool,
}

/// The images of the default seed.
pub const IMAGES: &[SeedImage] = &[
    SeedImage {
        display: "ubuntu-24.04",
        item_uuid: "6a1c2f7e-3b0d-4c55-9e1a-24a0c0ffee01",
        guest_id: "ubuntu64Guest",
        os_version: "24.04",
        capability: "cloud-init",
        cluster: false,
    },
    SeedImage {
        display: "photon-5",
        item_uuid: "7b2d3e8f-4c1e-4d66-8f2b-35b1d1ffee02",
        guest_id: "vmwarePhoton64Guest",
        os_version: "5.0",
        capability: "cloud-init",
        cluster: false,
    },
    SeedImage {
        display: "windows-2022",
        item_uuid: "8c3e4f90-5d2f-4e77-9a3c-46c2e2ffee03",
        guest_id: "windows2019srvNext_64Guest",
        os_version: "2022",
        capability: "sysprep",
        cluster: false,
    },
    SeedImage {
        display: "ubuntu-22.04",
        item_uuid: "9d4f5a01-6e30-4f88-8b4d-57d3f3ffee04",
        guest_id: "ubuntu64Guest",
        os_version: "22.04",
        capability: "cloud-init",
        cluster: true,
    },
];

fn ready(now: &str) -> Value {
    json!([{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": now}])
}

fn library(kind: &str, name: &str, id: &str, writable: bool, now: &str) -> Value {
    let mut spec =
        json!({"id": id, "libraryType": "ContentLibrary", "resourceNamingStrategy": "FromItemID"});
    if kind == "ContentLibrary" {
        spec["allowPublish"] = json!(writable);
        spec["allowDelete"] = json!(writable);
        spec["allowImport"] = json!(writable);
        spec["storageClass"] = json!(STORAGE_CLASS);
    }
    let mut o = json!({
        "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
        "status": {"name": name, "state": "Active", "storageBacking": [{"type": "Datastore", "datastoreID": "datastore-1001"}], "conditions": ready(now), "creationTime": now},
    });
    if kind == "ContentLibrary" {
        o["metadata"]["namespace"] = json!(NAMESPACE);
    }
    o
}

/// Item + image objects for one seeded image.
pub fn image_objects(img: &SeedImage, now: &str) -> Vec<Value> {
    let item_name = item_name_for_item(img.item_uuid);
    let vmi_name = vmi_name_for_item(img.item_uuid);
    let (item_kind, image_kind, lib) = if img.cluster {
        (
            "ClusterContentLibraryItem",
            "ClusterVirtualMachineImage",
            CLUSTER_LIBRARY,
        )
    } else {
        (
            "ContentLibraryItem",
            "VirtualMachineImage",
            READONLY_LIBRARY,
        )
    };
    let os_type = img.guest_id;
    let mut item = json!({
        "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": item_kind,
        "metadata": {"name": item_name},
        "spec": {"id": img.item_uuid, "libraryName": lib},
        "status": {"name": img.display, "type": "OVF", "contentVersion": "1", "cached": true, "sizeInBytes": "1073741824", "securityCompliance": true, "conditions": ready(now), "creationTime": now},
    });
    let mut image = json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": image_kind,
        "metadata": {
            "name": vmi_name,
            "labels": {
                vmop_types::naming::LABEL_IMAGE_OS_ID: os_type,
                vmop_types::naming::LABEL_IMAGE_OS_TYPE: os_type,
                vmop_types::naming::LABEL_IMAGE_OS_VERSION: img.os_version,
                vmop_types::naming::LABEL_IMAGE_TYPE: "OVF",
                format!("capability.image.vmoperator.vmware.com/{}", img.capability): "",
            },
            "annotations": {vmop_types::naming::ANNOTATION_DISPLAY_NAME: img.display},
        },
        "spec": {"providerRef": {"apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": item_kind, "name": item_name}},
        "status": {
            "name": img.display, "type": "OVF", "firmware": "efi", "hardwareVersion": 21,
            "providerItemID": img.item_uuid, "providerContentVersion": "1",
            "osInfo": {"id": os_type, "type": os_type, "version": img.os_version},
            "productInfo": {"product": img.display, "vendor": "supervisor-sim", "version": img.os_version, "fullVersion": img.os_version},
            "capabilities": [img.capability],
            "conditions": ready(now),
        },
    });
    if !img.cluster {
        item["metadata"]["namespace"] = json!(NAMESPACE);
        image["metadata"]["namespace"] = json!(NAMESPACE);
    }
    vec![item, image]
}

/// The default seed, hub-shaped, in creation order.
pub fn default_objects() -> Vec<Value> {
    let now = crate::store::now_rfc3339();
    let class = |name: &str, mem: &str| {
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineClass",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"hardware": {"cpus": 2, "memory": mem}, "policies": {"resources": {"requests": {"cpu": "0", "memory": "0"}}}},
            "status": {"capabilities": [], "ready": true}})
    };
    let mut objs = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
            "provisioner": "csi.vsphere.vmware.com", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate", "allowVolumeExpansion": true,
            "parameters": {"storagePolicyID": "2b0e4e1e-5f1a-4b0e-9a77-0d9d2f9b4c11"}}),
        class("best-effort-small", "4Gi"),
        class("best-effort-medium", "8Gi"),
        library(
            "ContentLibrary",
            WRITABLE_LIBRARY,
            "a1b2c3d4-0000-4000-8000-000000000001",
            true,
            &now,
        ),
        library(
            "ContentLibrary",
            READONLY_LIBRARY,
            "a1b2c3d4-0000-4000-8000-000000000002",
            false,
            &now,
        ),
        library(
            "ClusterContentLibrary",
            CLUSTER_LIBRARY,
            "a1b2c3d4-0000-4000-8000-000000000003",
            false,
            &now,
        ),
    ];
    for img in IMAGES {
        objs.extend(image_objects(img, &now));
    }
    objs.extend(crate::controllers::iso::seed_iso_objects(
        NAMESPACE,
        READONLY_LIBRARY,
        &now,
    ));
    objs
}

/// Seed file loading failures.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Unreadable file.
    #[error("reading seed file {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not YAML.
    #[error("parsing seed file {path}: {message}")]
    Parse {
        /// Path.
        path: String,
        /// Cause.
        message: String,
    },
    /// An object was refused.
    #[error("seeding {what}: {source}")]
    Apply {
        /// `kind ns/name`.
        what: String,
        /// Cause.
        #[source]
        source: Box<ApiError>,
    },
}

/// Reads `--seed FILE`: a YAML list, a `kind: List`, or a multi-document stream.
pub fn load_file(path: &std::path::Path) -> Result<Vec<Value>, SeedError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SeedError::Io {
        path: p.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| SeedError::Parse {
            path: p.clone(),
            message: e.to_string(),
        })?;
        match v {
            Value::Null => {}
            Value::Array(items) => out.extend(items),
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                out.extend(
                    m.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Creates `objects` (skipping ones that already exist, e.g. after a restart with `--state`),
/// then writes their `status` through the status subresource.
/// Whether the store serves `obj`'s group and kind.
pub fn is_served(store: &Store, obj: &Value) -> bool {
    let av = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let (group, _) = vmop_types::api::split_api_version(av);
    store.catalog().by_kind(group, kind).is_some()
}

pub fn apply(store: &Store, objects: &[Value]) -> Result<(), SeedError> {
    for obj in objects {
        let av = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string);
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = format!("{kind} {}/{name}", ns.as_deref().unwrap_or(""));
        let (group, version) = vmop_types::api::split_api_version(av);
        let info = store
            .catalog()
            .by_kind(group, kind)
            .cloned()
            .ok_or_else(|| SeedError::Apply {
                what: what.clone(),
                source: Box::new(ApiError::bad_request(format!(
                    "no kind {kind} in {av} is served"
                ))),
            })?;
        let mut hub = obj.clone();
        to_hub(&info, version, &mut hub);
        let gr: Gr = info.gr.clone();
        let ns_ref = if info.namespaced {
            Some(ns.as_deref().unwrap_or(NAMESPACE))
        } else {
            None
        };
        let created = match store.create(&gr, ns_ref, hub.clone(), &WriteOptions::default()) {
            Ok(c) => c,
            Err(e) if e.reason == "AlreadyExists" => continue,
            Err(source) => {
                return Err(SeedError::Apply {
                    what,
                    source: Box::new(source),
                })
            }
        };
        if info.has_status {
            if let Some(status) = hub.get("status") {
                let mut with_status = created.clone();
                with_status["status"] = status.clone();
                store
                    .update_status(&gr, ns_ref, with_status, &WriteOptions::default())
                    .map_err(|source| SeedError::Apply {
                        what,
                        source: Box::new(source),
                    })?;
            }
        }
    }
    Ok(())
}
