//! Version conversion between what a client speaks and the store's hub representation. Only the
//! fields that really moved are converted (see `vmop_types::vm` and `vmop_types::library`);
//! everything else passes through unchanged.

use crate::catalog::ResourceInfo;
use crate::crds::version_priority;
use serde_json::{json, Value};
use vmop_types::api::{IMAGEREGISTRY_GROUP, VMOP_GROUP};
use vmop_types::spoke_v1alpha1;

fn older_than(v: &str, than: &str) -> bool {
    version_priority(v) < version_priority(than)
}

/// Client version → hub (in place; also sets apiVersion/kind).
pub fn to_hub(info: &ResourceInfo, from: &str, obj: &mut Value) {
    if info.gr.group == VMOP_GROUP {
        if from == spoke_v1alpha1::VERSION {
            match info.kind.as_str() {
                "VirtualMachine" => spoke_v1alpha1::vm_to_hub(obj),
                "VirtualMachineImage" | "ClusterVirtualMachineImage" => {
                    spoke_v1alpha1::image_to_hub(obj)
                }
                _ => {}
            }
        }
        if info.kind == "VirtualMachine" && older_than(from, "v1alpha5") {
            vmop_types::vm::vm_v1alpha3_to_v1alpha5(obj);
        }
    } else if info.gr.group == IMAGEREGISTRY_GROUP && from == "v1alpha1" {
        vmop_types::library::imageregistry_v1alpha1_to_v1alpha2(&info.kind, obj);
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!(info.hub_api_version()));
        o.insert("kind".into(), json!(info.kind));
    }
}

/// Hub → client version (in place; also sets apiVersion/kind).
pub fn from_hub(info: &ResourceInfo, to: &str, obj: &mut Value) {
    // Only the kinds v1alpha1 shapes differently need the hub copy (for the conversion data).
    let spoke_kind = matches!(
        info.kind.as_str(),
        "VirtualMachine" | "VirtualMachineImage" | "ClusterVirtualMachineImage"
    );
    let hub = (info.gr.group == VMOP_GROUP && to == spoke_v1alpha1::VERSION && spoke_kind)
        .then(|| obj.clone());
    if info.gr.group == VMOP_GROUP && older_than(to, "v1alpha5") {
        if info.kind == "VirtualMachine" {
            vmop_types::vm::vm_v1alpha5_to_v1alpha3(obj);
        }
        if info.kind == "VirtualMachinePublishRequest" {
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("backoffLimit");
            }
        }
    } else if info.gr.group == IMAGEREGISTRY_GROUP && to == "v1alpha1" {
        vmop_types::library::imageregistry_v1alpha2_to_v1alpha1(&info.kind, obj);
    }
    if let Some(hub) = hub {
        if info.kind == "VirtualMachine" {
            spoke_v1alpha1::vm_from_hub(obj, &hub);
        } else {
            spoke_v1alpha1::image_from_hub(obj, &hub);
        }
        // What v1alpha1 has no field for is not shown (as a Go client's types would drop it);
        // the conversion data keeps it for the way back.
        if let Some(schema) = info.version(to).and_then(|v| v.schema.clone()) {
            crate::schema::prune(&schema, obj, "", &mut Vec::new());
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.insert("apiVersion".into(), json!(info.api_version(to)));
        o.insert("kind".into(), json!(info.kind));
    }
}
