//! Naming rules, labels and annotations.

use sha1::{Digest, Sha1};

/// Prefix of content-library item resource names.
pub const ITEM_PREFIX: &str = "clitem-";
/// Prefix of VirtualMachineImage / ClusterVirtualMachineImage names.
pub const VMI_PREFIX: &str = "vmi-";

/// The builder's label on every object of a build: the build's id (a create retried after a
/// lost answer, and cleanup of an unconfirmed create, check it).
pub const LABEL_BUILD_ID: &str = "packer.io/build-id";
/// The builder's label naming the build's source (`source_name`).
pub const LABEL_SOURCE_NAME: &str = "packer.io/source-name";
/// The label the builder puts on its VM and uses as the VMService selector.
pub const LABEL_SOURCE_SELECTOR: &str = "source-selector";
/// Display-name annotation on images (= `status.name`).
pub const ANNOTATION_DISPLAY_NAME: &str = "vmware.com/display-name";
/// Default publish library label.
pub const LABEL_DEFAULT_LIBRARY: &str = "imageregistry.vmware.com/default";
/// Image OS labels (synced from status).
pub const LABEL_IMAGE_OS_ID: &str = "os.image.vmoperator.vmware.com/id";
/// Image OS type label.
pub const LABEL_IMAGE_OS_TYPE: &str = "os.image.vmoperator.vmware.com/type";
/// Image OS version label.
pub const LABEL_IMAGE_OS_VERSION: &str = "os.image.vmoperator.vmware.com/version";
/// Image type label (`OVF`/`ISO`).
pub const LABEL_IMAGE_TYPE: &str = "image.vmoperator.vmware.com/type";
/// Publish request finalizer (current name).
pub const FINALIZER_PUBLISH: &str = "vmoperator.vmware.com/virtualmachinepublishrequest";
/// Web console request label carrying the request UID.
pub const LABEL_WEBCONSOLE_UUID: &str = "vmoperator.vmware.com/webconsolerequest-uuid";
/// Prefix of the simulator's per-object fault annotations
/// (e.g. `sim.supervisor.vmware.com/no-ip: "true"`).
pub const SIM_ANNOTATION_PREFIX: &str = "sim.supervisor.vmware.com/";

/// Name of the VirtualMachineImage for a content-library item UUID (vm-operator-api.md §7): SHA-1
/// of the UUID without dashes, first 17 lowercase hex characters, prefixed with `vmi-`.
pub fn vmi_name_for_item(item_uuid: &str) -> String {
    let compact: String = item_uuid.chars().filter(|c| *c != '-').collect();
    let digest = Sha1::digest(compact.as_bytes());
    let hex = hex::encode(digest);
    format!("{VMI_PREFIX}{}", &hex[..17])
}

/// Name of the ContentLibraryItem resource for an item UUID (`clitem-` + the same hash).
pub fn item_name_for_item(item_uuid: &str) -> String {
    format!(
        "{ITEM_PREFIX}{}",
        &vmi_name_for_item(item_uuid)[VMI_PREFIX.len()..]
    )
}

/// `clitem-x` → `vmi-x`; `None` when the name lacks the item prefix (vm-operator skips those).
pub fn vmi_name_for_item_resource(item_resource_name: &str) -> Option<String> {
    item_resource_name
        .strip_prefix(ITEM_PREFIX)
        .map(|rest| format!("{VMI_PREFIX}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_vm_operator_docs() {
        assert_eq!(
            vmi_name_for_item("e1968c25-dd84-4506-8dc7-9beacb6b688e"),
            "vmi-0a0044d7c690bcbea"
        );
        // Hashing with the dashes would give a different (wrong) name.
        assert_ne!(
            vmi_name_for_item("e1968c25-dd84-4506-8dc7-9beacb6b688e"),
            "vmi-5da6128347d731149"
        );
    }

    #[test]
    fn item_and_image_names_agree() {
        let item = item_name_for_item("e1968c25-dd84-4506-8dc7-9beacb6b688e");
        assert_eq!(item, "clitem-0a0044d7c690bcbea");
        assert_eq!(
            vmi_name_for_item_resource(&item).as_deref(),
            Some("vmi-0a0044d7c690bcbea")
        );
        assert_eq!(vmi_name_for_item_resource("other-1"), None);
    }
}
