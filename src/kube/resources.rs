//! Which API version of each kind this build talks to, chosen at connect time, and the typed
//! APIs at those versions.
use ::kube::api::{Api, ApiResource};
use ::kube::core::{DynamicResourceScope, NamespaceResourceScope};
use ::kube::Resource;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use k8s_openapi::api::storage::v1::StorageClass;
use vmop_types::api::{Scope, IMAGEREGISTRY_V1ALPHA1, IMAGEREGISTRY_V1ALPHA2};
use vmop_types::image::ImageKind;
use vmop_types::{
    ContentLibrary, ContentLibraryItem, ContentLibraryItemImportRequest, VirtualMachine,
    VirtualMachineImage, VirtualMachinePublishRequest, VirtualMachineService,
};

pub use vmop_types::api::{IMAGEREGISTRY_GROUP, STORAGE_GROUP, VMOP_GROUP};
pub use vmop_types::{LibraryVersion, VmopVersion};

use super::Cluster;

/// The VM Operator versions this builder can speak, best first.
pub const SUPPORTED_VMOP_VERSIONS: &[&str] = &[
    vmop_types::api::VMOP_V1ALPHA5,
    vmop_types::api::VMOP_V1ALPHA4,
    vmop_types::api::VMOP_V1ALPHA3,
    vmop_types::api::VMOP_V1ALPHA2,
    vmop_types::api::VMOP_V1ALPHA1,
];
/// The image-registry versions this builder can read ContentLibraries at, best first.
pub const SUPPORTED_LIBRARY_VERSIONS: &[&str] = &[IMAGEREGISTRY_V1ALPHA2, IMAGEREGISTRY_V1ALPHA1];

/// Picks the first of `supported` that the server serves.
pub fn pick_version<'a>(served: &[String], supported: &[&'a str]) -> Option<&'a str> {
    supported
        .iter()
        .copied()
        .find(|v| served.iter().any(|s| s == v))
}

/// Every kind the builder touches, at the versions chosen for this cluster. The typed APIs come
/// from [`Cluster::vmop`], [`Cluster::images`], [`Cluster::library`] and [`Cluster::core`]; the
/// erased resources here serve what works on any kind (cleanup's deletes, tests' listings).
#[derive(Debug, Clone)]
pub struct Kinds {
    pub vmop: VmopVersion,
    pub library_version: Option<LibraryVersion>,
    pub vm: ApiResource,
    pub vm_service: ApiResource,
    pub publish_request: ApiResource,
    pub vmi: ApiResource,
    /// `None` when the server serves no imageregistry version.
    pub library: Option<ApiResource>,
    /// At the library version (v1alpha1 when the server serves no imageregistry version).
    pub import_request: ApiResource,
    pub library_item: ApiResource,
    pub secret: ApiResource,
    pub pvc: ApiResource,
    /// Whether the server serves storage.k8s.io/v1 (else the storage class check is skipped).
    pub storage_v1: bool,
}

impl Kinds {
    pub fn new(vmop: VmopVersion, library: Option<LibraryVersion>, storage_v1: bool) -> Self {
        let lib = library.unwrap_or(LibraryVersion::V1alpha1);
        Kinds {
            vmop,
            library_version: library,
            vm: ApiResource::erase::<VirtualMachine>(&vmop),
            vm_service: ApiResource::erase::<VirtualMachineService>(&vmop),
            publish_request: ApiResource::erase::<VirtualMachinePublishRequest>(&vmop),
            vmi: ApiResource::erase::<VirtualMachineImage>(&ImageKind::namespaced(vmop)),
            library: library.map(|l| ApiResource::erase::<ContentLibrary>(&l)),
            import_request: ApiResource::erase::<ContentLibraryItemImportRequest>(&lib),
            library_item: ApiResource::erase::<ContentLibraryItem>(&lib),
            secret: ApiResource::erase::<Secret>(&()),
            pvc: ApiResource::erase::<PersistentVolumeClaim>(&()),
            storage_v1,
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

impl Cluster {
    /// A VM Operator kind in the build's namespace, at the version this cluster serves.
    pub fn vmop<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = VmopVersion, Scope = DynamicResourceScope>,
    {
        Api::namespaced_with(self.client.clone(), &self.namespace, &self.kinds.vmop)
    }

    /// VirtualMachineImages of the build's namespace, or ClusterVirtualMachineImages.
    pub fn images(&self, scope: Scope) -> Api<VirtualMachineImage> {
        let kind = ImageKind {
            version: self.kinds.vmop,
            scope,
        };
        match scope {
            Scope::Namespaced => Api::namespaced_with(self.client.clone(), &self.namespace, &kind),
            Scope::Cluster => Api::all_with(self.client.clone(), &kind),
        }
    }

    /// An image-registry kind in the build's namespace, at the version this cluster serves;
    /// `None` when it serves none.
    pub fn library<K>(&self) -> Option<Api<K>>
    where
        K: Resource<DynamicType = LibraryVersion, Scope = DynamicResourceScope>,
    {
        let version = self.kinds.library_version?;
        Some(Api::namespaced_with(
            self.client.clone(),
            &self.namespace,
            &version,
        ))
    }

    /// A core kind (Secret, PersistentVolumeClaim) in the build's namespace.
    pub fn core<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// StorageClasses, when the cluster serves storage.k8s.io/v1.
    pub fn storage_classes(&self) -> Option<Api<StorageClass>> {
        self.kinds.storage_v1.then(|| Api::all(self.client.clone()))
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
        for v in SUPPORTED_LIBRARY_VERSIONS {
            assert_eq!(
                LibraryVersion::parse(v).map(LibraryVersion::as_str),
                Some(*v)
            );
        }
    }

    #[test]
    fn api_versions_follow_the_choice() {
        let k = Kinds::new(VmopVersion::V1alpha3, Some(LibraryVersion::V1alpha1), false);
        assert_eq!(k.vm.api_version, format!("{VMOP_GROUP}/v1alpha3"));
        assert_eq!(k.vm.plural, "virtualmachines");
        assert_eq!(
            k.library_item.api_version,
            format!("{IMAGEREGISTRY_GROUP}/v1alpha1")
        );
        assert_eq!(k.secret.api_version, "v1");
        assert_eq!(k.pvc.plural, "persistentvolumeclaims");
        let none = Kinds::new(VmopVersion::V1alpha5, None, true);
        assert_eq!(
            none.import_request.api_version,
            format!("{IMAGEREGISTRY_GROUP}/v1alpha1")
        );
    }
}
