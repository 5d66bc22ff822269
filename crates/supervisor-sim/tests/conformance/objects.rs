//! Valid objects of every kind the simulator serves, with their collection paths: what the
//! corpus creates, lists as Tables, and breaks into invalid objects.

use serde_json::{json, Value};

pub const VMOP: &str = "/apis/vmoperator.vmware.com/v1alpha5";
pub const IR: &str = "/apis/imageregistry.vmware.com/v1alpha2";
pub const VMS: &str = "/apis/vmoperator.vmware.com/v1alpha5/namespaces/demo/virtualmachines";

/// One kind: its name, collection path, and a valid object named `name`.
pub struct Kind {
    pub kind: &'static str,
    pub collection: String,
    pub make: fn(&str) -> Value,
}

fn object(api_version: &str, kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": api_version, "kind": kind,
        "metadata": {"name": name, "labels": {"conformance": "yes"}}, "spec": spec})
}

/// A VirtualMachine with labels `app` and `tier`.
pub fn vm(name: &str, app: &str) -> Value {
    json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
        "metadata": {"name": name, "labels": {"app": app, "tier": name}},
        "spec": {"className": "best-effort-small", "imageName": "vmi-4c70ed86fa1ab64e2",
            "storageClass": "wcpglobal-storage-profile", "powerState": "PoweredOn"}})
}

fn vm_kind(name: &str) -> Value {
    vm(name, "kinds")
}
fn vmclass(name: &str) -> Value {
    let spec = json!({"hardware": {"cpus": 2, "memory": "4Gi"}, "description": "small"});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "VirtualMachineClass",
        name,
        spec,
    )
}
fn vmi(name: &str) -> Value {
    let spec = json!({"providerRef": {"apiVersion": "imageregistry.vmware.com/v1alpha2",
        "kind": "ContentLibraryItem", "name": "clitem-1"}});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "VirtualMachineImage",
        name,
        spec,
    )
}
fn cvmi(name: &str) -> Value {
    let spec = json!({"providerRef": {"apiVersion": "imageregistry.vmware.com/v1alpha2",
        "kind": "ClusterContentLibraryItem", "name": "clitem-2"}});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "ClusterVirtualMachineImage",
        name,
        spec,
    )
}
fn vmpub(name: &str) -> Value {
    let spec = json!({"source": {"name": "vm-a"}, "target": {"item": {"name": "vm-a-image"},
        "location": {"name": "golden-images"}}});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "VirtualMachinePublishRequest",
        name,
        spec,
    )
}
fn vmservice(name: &str) -> Value {
    let spec = json!({"type": "LoadBalancer", "selector": {"app": "web"},
        "ports": [{"name": "ssh", "port": 22, "protocol": "TCP", "targetPort": 22}]});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "VirtualMachineService",
        name,
        spec,
    )
}
fn webconsole(name: &str) -> Value {
    let spec = json!({"name": "vm-a", "publicKey": "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"});
    object(
        "vmoperator.vmware.com/v1alpha5",
        "VirtualMachineWebConsoleRequest",
        name,
        spec,
    )
}
fn library(name: &str) -> Value {
    let spec = json!({"id": "5b0e2a44-1111-4222-8333-944455556666", "allowPublish": true,
        "storageClass": "wcpglobal-storage-profile"});
    object(
        "imageregistry.vmware.com/v1alpha2",
        "ContentLibrary",
        name,
        spec,
    )
}
fn library_item(name: &str) -> Value {
    let spec =
        json!({"id": "6b0e2a44-1111-4222-8333-944455556666", "libraryName": "golden-images"});
    object(
        "imageregistry.vmware.com/v1alpha2",
        "ContentLibraryItem",
        name,
        spec,
    )
}
fn cluster_library(name: &str) -> Value {
    let spec = json!({"id": "7b0e2a44-1111-4222-8333-944455556666"});
    object(
        "imageregistry.vmware.com/v1alpha2",
        "ClusterContentLibrary",
        name,
        spec,
    )
}
fn cluster_library_item(name: &str) -> Value {
    let spec =
        json!({"id": "8b0e2a44-1111-4222-8333-944455556666", "libraryName": "vmware-images"});
    object(
        "imageregistry.vmware.com/v1alpha2",
        "ClusterContentLibraryItem",
        name,
        spec,
    )
}
fn import_request(name: &str) -> Value {
    let spec = json!({"source": {"url": "https://example.com/images/photon.ova"},
        "target": {"library": "golden-images"}});
    object(
        "imageregistry.vmware.com/v1alpha2",
        "ContentLibraryItemImportRequest",
        name,
        spec,
    )
}
fn secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "labels": {"conformance": "yes"}}, "data": {"user-data": "aGVsbG8="}})
}
fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"conformance": "yes"}}, "data": {"k": "v"}})
}
fn pvc(name: &str) -> Value {
    let spec = json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "wcpglobal-storage-profile",
        "resources": {"requests": {"storage": "1Gi"}}});
    object("v1", "PersistentVolumeClaim", name, spec)
}
fn service(name: &str) -> Value {
    let spec = json!({"clusterIP": "None", "selector": {"app": "web"},
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]});
    object("v1", "Service", name, spec)
}
fn storage_class(name: &str) -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name, "labels": {"conformance": "yes"}},
        "provisioner": "csi.vsphere.vmware.com", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"})
}

fn kind(kind: &'static str, collection: String, make: fn(&str) -> Value) -> Kind {
    Kind {
        kind,
        collection,
        make,
    }
}

/// Every kind the simulator serves.
pub fn kinds() -> Vec<Kind> {
    let ns = |base: &str, plural: &str| format!("{base}/namespaces/demo/{plural}");
    vec![
        kind("VirtualMachine", VMS.to_string(), vm_kind),
        kind(
            "VirtualMachineClass",
            ns(VMOP, "virtualmachineclasses"),
            vmclass,
        ),
        kind("VirtualMachineImage", ns(VMOP, "virtualmachineimages"), vmi),
        kind(
            "ClusterVirtualMachineImage",
            format!("{VMOP}/clustervirtualmachineimages"),
            cvmi,
        ),
        kind(
            "VirtualMachinePublishRequest",
            ns(VMOP, "virtualmachinepublishrequests"),
            vmpub,
        ),
        kind(
            "VirtualMachineService",
            ns(VMOP, "virtualmachineservices"),
            vmservice,
        ),
        kind(
            "VirtualMachineWebConsoleRequest",
            ns(VMOP, "virtualmachinewebconsolerequests"),
            webconsole,
        ),
        kind("ContentLibrary", ns(IR, "contentlibraries"), library),
        kind(
            "ContentLibraryItem",
            ns(IR, "contentlibraryitems"),
            library_item,
        ),
        kind(
            "ClusterContentLibrary",
            format!("{IR}/clustercontentlibraries"),
            cluster_library,
        ),
        kind(
            "ClusterContentLibraryItem",
            format!("{IR}/clustercontentlibraryitems"),
            cluster_library_item,
        ),
        kind(
            "ContentLibraryItemImportRequest",
            ns(IR, "contentlibraryitemimportrequests"),
            import_request,
        ),
        kind("Secret", "/api/v1/namespaces/demo/secrets".into(), secret),
        kind(
            "ConfigMap",
            "/api/v1/namespaces/demo/configmaps".into(),
            configmap,
        ),
        kind(
            "PersistentVolumeClaim",
            "/api/v1/namespaces/demo/persistentvolumeclaims".into(),
            pvc,
        ),
        kind(
            "Service",
            "/api/v1/namespaces/demo/services".into(),
            service,
        ),
        kind(
            "StorageClass",
            "/apis/storage.k8s.io/v1/storageclasses".into(),
            storage_class,
        ),
    ]
}

/// Sets `value` at the dotted `path` of `v` (creating objects on the way).
pub fn with(mut v: Value, path: &str, value: Value) -> Value {
    let mut cur = &mut v;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(p.to_string())
            .or_insert(json!({}));
    }
    cur.as_object_mut()
        .unwrap()
        .insert(parts[parts.len() - 1].to_string(), value);
    v
}

/// Removes the dotted `path` from `v`.
pub fn without(mut v: Value, path: &str) -> Value {
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let pointer = format!("/{}", parent.replace('.', "/"));
    let target = if parent.is_empty() {
        Some(&mut v)
    } else {
        v.pointer_mut(&pointer)
    };
    if let Some(Value::Object(m)) = target {
        m.remove(last);
    }
    v
}
