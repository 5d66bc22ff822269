//! What a client does to speak an older version with the hub-shaped typed structs: read an
//! object into the hub shape ([`to_hub`]) and write a hub-shaped object as a request at the
//! version the cluster serves ([`to_request`]). Both work on JSON in place, so fields the structs
//! do not model pass through. The typed kinds' serde impls ([`crate::resource`]) call them with
//! the object's own `apiVersion`.
//!
//! Hubs: VM Operator kinds are shaped like v1alpha5, image-registry kinds like v1alpha2. What
//! moves between versions, and for which kinds:
//! * VirtualMachine before v1alpha5: `spec.cdrom` ⇔ `spec.hardware.cdrom`, `status.host` ⇔
//!   `status.nodeName` ([`crate::vm`]); in v1alpha1 also `spec.vmMetadata`, `status.vmIp`, power
//!   states ([`crate::spoke_v1alpha1`]);
//! * VirtualMachineImage / ClusterVirtualMachineImage in v1alpha1: the description in `spec`
//!   ([`crate::spoke_v1alpha1`]);
//! * VirtualMachinePublishRequest before v1alpha5: no `spec.backoffLimit`;
//! * image-registry kinds in v1alpha1: `writable`, `uuid`, library references
//!   ([`crate::library`]).

use serde_json::Value;

use crate::api::{self, ApiKind};
use crate::library::{imageregistry_v1alpha1_to_v1alpha2, imageregistry_v1alpha2_to_v1alpha1};
use crate::spoke_v1alpha1;
use crate::version::{LibraryVersion, VmopVersion};
use crate::vm::{vm_v1alpha3_to_v1alpha5, vm_v1alpha5_to_v1alpha3};

fn is_vm(kind: &ApiKind) -> bool {
    kind.kind == api::VIRTUAL_MACHINE.kind
}

fn is_image(kind: &ApiKind) -> bool {
    kind.kind == api::VIRTUAL_MACHINE_IMAGE.kind
        || kind.kind == api::CLUSTER_VIRTUAL_MACHINE_IMAGE.kind
}

/// An object of `kind` as read at `version` → the hub shape. Unknown versions (and objects
/// without an `apiVersion`) are taken to be hub-shaped already.
pub fn to_hub(kind: &ApiKind, version: &str, obj: &mut Value) {
    if kind.group == api::VMOP_GROUP {
        let Some(v) = VmopVersion::parse(version) else {
            return;
        };
        if v == VmopVersion::V1alpha1 && is_vm(kind) {
            spoke_v1alpha1::vm_to_hub(obj);
        }
        if v == VmopVersion::V1alpha1 && is_image(kind) {
            spoke_v1alpha1::image_to_hub(obj);
        }
        if v < VmopVersion::HUB && is_vm(kind) {
            vm_v1alpha3_to_v1alpha5(obj);
        }
    } else if kind.group == api::IMAGEREGISTRY_GROUP
        && LibraryVersion::parse(version) == Some(LibraryVersion::V1alpha1)
    {
        imageregistry_v1alpha1_to_v1alpha2(kind.kind, obj);
    }
}

/// A hub-shaped object of `kind` → the body a client sends at `version` (no conversion data:
/// a client has nothing to preserve).
pub fn to_request(kind: &ApiKind, version: &str, obj: &mut Value) {
    if kind.group == api::VMOP_GROUP {
        let Some(v) = VmopVersion::parse(version) else {
            return;
        };
        if v < VmopVersion::HUB && is_vm(kind) {
            vm_v1alpha5_to_v1alpha3(obj);
        }
        if v < VmopVersion::HUB && kind.kind == api::VIRTUAL_MACHINE_PUBLISH_REQUEST.kind {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("backoffLimit");
            }
        }
        if v == VmopVersion::V1alpha1 && is_vm(kind) {
            spoke_v1alpha1::vm_request(obj);
        }
        if v == VmopVersion::V1alpha1 && is_image(kind) {
            spoke_v1alpha1::image_request(obj);
        }
    } else if kind.group == api::IMAGEREGISTRY_GROUP
        && LibraryVersion::parse(version) == Some(LibraryVersion::V1alpha1)
    {
        imageregistry_v1alpha2_to_v1alpha1(kind.kind, obj);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hub_passes_through() {
        let v = json!({"spec": {"hardware": {"cdrom": []}, "backoffLimit": 2}, "status": {"nodeName": "h"}});
        for kind in [api::VIRTUAL_MACHINE, api::VIRTUAL_MACHINE_PUBLISH_REQUEST] {
            let mut w = v.clone();
            to_hub(&kind, "v1alpha5", &mut w);
            to_request(&kind, "v1alpha5", &mut w);
            assert_eq!(w, v);
            to_hub(&kind, "v9", &mut w);
            assert_eq!(w, v);
        }
    }

    #[test]
    fn older_versions_move_what_moved() {
        let mut vm = json!({"spec": {"hardware": {"cdrom": [{"name": "cdrom"}]}}});
        to_request(&api::VIRTUAL_MACHINE, "v1alpha3", &mut vm);
        assert_eq!(vm, json!({"spec": {"cdrom": [{"name": "cdrom"}]}}));
        to_hub(&api::VIRTUAL_MACHINE, "v1alpha4", &mut vm);
        assert_eq!(
            vm,
            json!({"spec": {"hardware": {"cdrom": [{"name": "cdrom"}]}}})
        );
        let mut pr = json!({"spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 5}});
        to_request(&api::VIRTUAL_MACHINE_PUBLISH_REQUEST, "v1alpha2", &mut pr);
        assert_eq!(pr, json!({"spec": {"ttlSecondsAfterFinished": 5}}));
        let mut lib = json!({"spec": {"allowPublish": true, "allowDelete": false}});
        to_request(&api::CONTENT_LIBRARY, "v1alpha1", &mut lib);
        assert_eq!(lib["spec"]["writable"], true);
        to_hub(&api::CONTENT_LIBRARY, "v1alpha1", &mut lib);
        assert_eq!(lib["spec"]["allowPublish"], true);
    }
}
