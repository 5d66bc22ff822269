//! Which API version of each kind this build talks to, chosen at connect time.
use ::kube::api::{ApiResource, GroupVersionKind};

pub use vmop_types::api::{IMAGEREGISTRY_GROUP, STORAGE_GROUP, VMOP_GROUP};
use vmop_types::api::{VMOP_V1ALPHA1, VMOP_V1ALPHA2, VMOP_V1ALPHA3, VMOP_V1ALPHA4, VMOP_V1ALPHA5};

/// The `vmoperator.vmware.com` versions this builder can speak, best first.
pub const SUPPORTED_VMOP_VERSIONS: &[&str] = &[
    VMOP_V1ALPHA5,
    VMOP_V1ALPHA4,
    VMOP_V1ALPHA3,
    VMOP_V1ALPHA2,
    VMOP_V1ALPHA1,
];
/// The `imageregistry.vmware.com` versions this builder can read ContentLibraries at, best first.
pub const SUPPORTED_LIBRARY_VERSIONS: &[&str] = &["v1alpha2", "v1alpha1"];

/// Picks the first of `supported` that the server serves.
pub fn pick_version<'a>(served: &[String], supported: &[&'a str]) -> Option<&'a str> {
    supported
        .iter()
        .copied()
        .find(|v| served.iter().any(|s| s == v))
}

/// VM Operator API version in use; the shapes differ in a few places:
/// * v1alpha1 (vSphere 8.0 U1–U3): `spec.vmMetadata` instead of `spec.bootstrap`, `status.vmIp`,
///   lower-case power states, no CD-ROMs; the builder writes the v1alpha2+ shape and converts it
///   with [`vmop_types::spoke_v1alpha1`], the same conversion the simulator serves;
/// * v1alpha2: `spec.bootstrap`, `status.network`, no CD-ROMs (no ISO builds);
/// * v1alpha3 and v1alpha4: `spec.cdrom`;
/// * v1alpha5: `spec.hardware.cdrom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VmopVersion {
    V1alpha1,
    V1alpha2,
    V1alpha3,
    V1alpha4,
    V1alpha5,
}

impl VmopVersion {
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            VMOP_V1ALPHA1 => Some(Self::V1alpha1),
            VMOP_V1ALPHA2 => Some(Self::V1alpha2),
            VMOP_V1ALPHA3 => Some(Self::V1alpha3),
            VMOP_V1ALPHA4 => Some(Self::V1alpha4),
            VMOP_V1ALPHA5 => Some(Self::V1alpha5),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1alpha1 => VMOP_V1ALPHA1,
            Self::V1alpha2 => VMOP_V1ALPHA2,
            Self::V1alpha3 => VMOP_V1ALPHA3,
            Self::V1alpha4 => VMOP_V1ALPHA4,
            Self::V1alpha5 => VMOP_V1ALPHA5,
        }
    }

    /// `vmoperator.vmware.com/<version>`.
    pub fn api_version(self) -> String {
        format!("{VMOP_GROUP}/{}", self.as_str())
    }

    /// VMs can mount an ISO image (v1alpha3 and later).
    pub fn has_cdrom(self) -> bool {
        self >= Self::V1alpha3
    }

    /// CD-ROMs sit under `spec.hardware` (v1alpha5) rather than `spec.cdrom`.
    pub fn cdrom_under_hardware(self) -> bool {
        self >= Self::V1alpha5
    }
}

/// ContentLibrary API version in use: v1alpha1 says `spec.writable`, v1alpha2 `spec.allowPublish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryVersion {
    V1alpha1,
    V1alpha2,
}

impl LibraryVersion {
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "v1alpha1" => Some(Self::V1alpha1),
            "v1alpha2" => Some(Self::V1alpha2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1alpha1 => "v1alpha1",
            Self::V1alpha2 => "v1alpha2",
        }
    }

    /// `imageregistry.vmware.com/<version>`.
    pub fn api_version(self) -> String {
        format!("{IMAGEREGISTRY_GROUP}/{}", self.as_str())
    }
}

fn res(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Every kind the builder touches, at the versions chosen for this cluster.
#[derive(Debug, Clone)]
pub struct Kinds {
    pub vmop: VmopVersion,
    pub library_version: Option<LibraryVersion>,
    pub vm: ApiResource,
    pub vm_service: ApiResource,
    pub publish_request: ApiResource,
    pub vmi: ApiResource,
    pub cvmi: ApiResource,
    pub vm_class: ApiResource,
    pub library: Option<ApiResource>,
    /// At the library version (v1alpha1 when the server serves no imageregistry version).
    pub import_request: ApiResource,
    pub library_item: ApiResource,
    pub secret: ApiResource,
    pub pvc: ApiResource,
    /// `None` when the server does not serve storage.k8s.io (the check is then skipped).
    pub storage_class: Option<ApiResource>,
}

impl Kinds {
    pub fn new(vmop: VmopVersion, library: Option<LibraryVersion>, storage_v1: bool) -> Self {
        let v = vmop.as_str();
        Kinds {
            vmop,
            library_version: library,
            vm: res(VMOP_GROUP, v, "VirtualMachine", "virtualmachines"),
            vm_service: res(
                VMOP_GROUP,
                v,
                "VirtualMachineService",
                "virtualmachineservices",
            ),
            publish_request: res(
                VMOP_GROUP,
                v,
                "VirtualMachinePublishRequest",
                "virtualmachinepublishrequests",
            ),
            vmi: res(VMOP_GROUP, v, "VirtualMachineImage", "virtualmachineimages"),
            cvmi: res(
                VMOP_GROUP,
                v,
                "ClusterVirtualMachineImage",
                "clustervirtualmachineimages",
            ),
            vm_class: res(
                VMOP_GROUP,
                v,
                "VirtualMachineClass",
                "virtualmachineclasses",
            ),
            library: library.map(|l| {
                res(
                    IMAGEREGISTRY_GROUP,
                    l.as_str(),
                    "ContentLibrary",
                    "contentlibraries",
                )
            }),
            import_request: res(
                IMAGEREGISTRY_GROUP,
                library.unwrap_or(LibraryVersion::V1alpha1).as_str(),
                "ContentLibraryItemImportRequest",
                "contentlibraryitemimportrequests",
            ),
            library_item: res(
                IMAGEREGISTRY_GROUP,
                library.unwrap_or(LibraryVersion::V1alpha1).as_str(),
                "ContentLibraryItem",
                "contentlibraryitems",
            ),
            secret: res("", "v1", "Secret", "secrets"),
            pvc: res("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
            storage_class: storage_v1
                .then(|| res(STORAGE_GROUP, "v1", "StorageClass", "storageclasses")),
        }
    }

    /// The resource of a kind the build creates (and cleanup deletes).
    pub fn of(&self, kind: crate::state::ObjectKind) -> &ApiResource {
        use crate::state::ObjectKind as K;
        match kind {
            K::Secret => &self.secret,
            K::PersistentVolumeClaim => &self.pvc,
            K::VirtualMachine => &self.vm,
            K::VirtualMachineService => &self.vm_service,
            K::VirtualMachinePublishRequest => &self.publish_request,
            K::ContentLibraryItemImportRequest => &self.import_request,
            K::ContentLibraryItem => &self.library_item,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_supported_version_wins() {
        let served = [
            "v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4", "v1alpha5", "v1alpha6",
        ]
        .map(String::from);
        assert_eq!(
            pick_version(&served, SUPPORTED_VMOP_VERSIONS),
            Some("v1alpha5")
        );
        let old = ["v1alpha1", "v1alpha2", "v1alpha3"].map(String::from);
        assert_eq!(
            pick_version(&old, SUPPORTED_VMOP_VERSIONS),
            Some("v1alpha3")
        );
        let vsphere80 = ["v1alpha1", "v1alpha2"].map(String::from);
        assert_eq!(
            pick_version(&vsphere80, SUPPORTED_VMOP_VERSIONS),
            Some("v1alpha2")
        );
        let only_v1 = ["v1alpha1"].map(String::from);
        assert_eq!(
            pick_version(&only_v1, SUPPORTED_VMOP_VERSIONS),
            Some("v1alpha1")
        );
        let future = ["v2"].map(String::from);
        assert_eq!(pick_version(&future, SUPPORTED_VMOP_VERSIONS), None);
        for v in SUPPORTED_VMOP_VERSIONS {
            assert_eq!(VmopVersion::parse(v).map(VmopVersion::as_str), Some(*v));
        }
        assert!(!VmopVersion::V1alpha2.has_cdrom());
        assert!(VmopVersion::V1alpha4.has_cdrom() && !VmopVersion::V1alpha4.cdrom_under_hardware());
    }

    #[test]
    fn api_versions_follow_the_choice() {
        let k = Kinds::new(VmopVersion::V1alpha3, Some(LibraryVersion::V1alpha1), false);
        assert_eq!(k.vm.api_version, "vmoperator.vmware.com/v1alpha3");
        assert_eq!(
            k.library.as_ref().map(|l| l.api_version.as_str()),
            Some("imageregistry.vmware.com/v1alpha1")
        );
        assert_eq!(k.secret.api_version, "v1");
        assert!(k.storage_class.is_none());
    }
}
