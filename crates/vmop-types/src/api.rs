//! The API catalogue: which kinds exist, under which group, plural and short names, and which
//! versions the project uses.

/// API group of the VM Operator kinds.
pub const VMOP_GROUP: &str = "vmoperator.vmware.com";
/// API group of the content-library kinds.
pub const IMAGEREGISTRY_GROUP: &str = "imageregistry.vmware.com";
/// API group of StorageClass.
pub const STORAGE_GROUP: &str = "storage.k8s.io";

/// vmoperator version of vSphere 8.0 U1–U3 Supervisors and of HashiCorp's builder up to v1.4.2
/// (`spec.vmMetadata`, `status.vmIp`, lower-case power states; see [`crate::spoke_v1alpha1`]).
pub const VMOP_V1ALPHA1: &str = "v1alpha1";
/// vmoperator version with `spec.bootstrap` and `status.network` (vSphere 8.0 U2 and later).
pub const VMOP_V1ALPHA2: &str = "v1alpha2";
/// vmoperator version the upstream builder 2.x speaks.
pub const VMOP_V1ALPHA3: &str = "v1alpha3";
/// vmoperator version between v1alpha3 and v1alpha5 (same shapes as v1alpha3 for our fields).
pub const VMOP_V1ALPHA4: &str = "v1alpha4";
/// vmoperator version of current Supervisors (CD-ROMs under `spec.hardware`).
pub const VMOP_V1ALPHA5: &str = "v1alpha5";
/// Every vmoperator version the builder and the simulator know, oldest first.
pub const VMOP_KNOWN_VERSIONS: &[&str] = &[
    VMOP_V1ALPHA1,
    VMOP_V1ALPHA2,
    VMOP_V1ALPHA3,
    VMOP_V1ALPHA4,
    VMOP_V1ALPHA5,
];
/// vmoperator versions the simulator serves by default: what the pinned VM Operator release
/// (`scripts/versions.env`) serves.
pub const VMOP_DEFAULT_VERSIONS: &[&str] = VMOP_KNOWN_VERSIONS;
/// The representation supervisor-sim keeps in its store (and hands to its controllers) for
/// vmoperator kinds, whatever version a client used.
pub const VMOP_HUB_VERSION: &str = VMOP_V1ALPHA5;
/// imageregistry version the upstream builder reads (`spec.writable`).
pub const IMAGEREGISTRY_V1ALPHA1: &str = "v1alpha1";
/// imageregistry storage version (`spec.allowPublish` / `spec.allowDelete`).
pub const IMAGEREGISTRY_V1ALPHA2: &str = "v1alpha2";
/// imageregistry versions served.
pub const IMAGEREGISTRY_VERSIONS: &[&str] = &[IMAGEREGISTRY_V1ALPHA1, IMAGEREGISTRY_V1ALPHA2];
/// Store representation of imageregistry kinds in supervisor-sim.
pub const IMAGEREGISTRY_HUB_VERSION: &str = IMAGEREGISTRY_V1ALPHA2;

/// Namespaced or cluster-scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Objects live in a namespace.
    Namespaced,
    /// Objects are cluster-wide.
    Cluster,
}

/// One kind of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKind {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// Kind, e.g. `VirtualMachine`.
    pub kind: &'static str,
    /// Resource (plural), e.g. `virtualmachines`.
    pub plural: &'static str,
    /// Singular resource name.
    pub singular: &'static str,
    /// Scope.
    pub scope: Scope,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Categories (`kubectl get all` style).
    pub categories: &'static [&'static str],
    /// Versions the project uses for this kind (the first is the one the simulator stores).
    pub versions: &'static [&'static str],
    /// Whether a `/status` subresource exists.
    pub status_subresource: bool,
}

impl ApiKind {
    /// `apiVersion` string for `version` (`v1` for core, `group/version` otherwise).
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The version supervisor-sim stores this kind in.
    pub fn hub_version(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }

    /// `plural.group` as used in Kubernetes error messages (`virtualmachines.vmoperator.vmware.com`).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }
}

const VMOP_HUB_FIRST: &[&str] = &[
    VMOP_V1ALPHA5,
    VMOP_V1ALPHA4,
    VMOP_V1ALPHA3,
    VMOP_V1ALPHA2,
    VMOP_V1ALPHA1,
];
const IR_HUB_FIRST: &[&str] = &[IMAGEREGISTRY_V1ALPHA2, IMAGEREGISTRY_V1ALPHA1];

macro_rules! kind {
    ($name:ident, $group:expr, $kind:literal, $plural:literal, $singular:literal, $scope:ident, [$($short:literal),*], $versions:expr, $status:literal) => {
        #[doc = concat!("`", $kind, "` (`", $plural, "`).")]
        pub const $name: ApiKind = ApiKind {
            group: $group,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            scope: Scope::$scope,
            short_names: &[$($short),*],
            categories: &[],
            versions: $versions,
            status_subresource: $status,
        };
    };
}

kind!(
    VIRTUAL_MACHINE,
    VMOP_GROUP,
    "VirtualMachine",
    "virtualmachines",
    "virtualmachine",
    Namespaced,
    ["vm"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    VIRTUAL_MACHINE_SERVICE,
    VMOP_GROUP,
    "VirtualMachineService",
    "virtualmachineservices",
    "virtualmachineservice",
    Namespaced,
    ["vmservice"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    VIRTUAL_MACHINE_PUBLISH_REQUEST,
    VMOP_GROUP,
    "VirtualMachinePublishRequest",
    "virtualmachinepublishrequests",
    "virtualmachinepublishrequest",
    Namespaced,
    ["vmpub"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    VIRTUAL_MACHINE_IMAGE,
    VMOP_GROUP,
    "VirtualMachineImage",
    "virtualmachineimages",
    "virtualmachineimage",
    Namespaced,
    ["vmi", "vmimage"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    CLUSTER_VIRTUAL_MACHINE_IMAGE,
    VMOP_GROUP,
    "ClusterVirtualMachineImage",
    "clustervirtualmachineimages",
    "clustervirtualmachineimage",
    Cluster,
    ["cvmi", "cvmimage", "clustervmi", "clustervmimage"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    VIRTUAL_MACHINE_CLASS,
    VMOP_GROUP,
    "VirtualMachineClass",
    "virtualmachineclasses",
    "virtualmachineclass",
    Namespaced,
    ["vmclass"],
    VMOP_HUB_FIRST,
    true
);
kind!(
    VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST,
    VMOP_GROUP,
    "VirtualMachineWebConsoleRequest",
    "virtualmachinewebconsolerequests",
    "virtualmachinewebconsolerequest",
    Namespaced,
    [],
    VMOP_HUB_FIRST,
    true
);
kind!(
    CONTENT_LIBRARY,
    IMAGEREGISTRY_GROUP,
    "ContentLibrary",
    "contentlibraries",
    "contentlibrary",
    Namespaced,
    ["lib", "library"],
    IR_HUB_FIRST,
    true
);
kind!(
    CLUSTER_CONTENT_LIBRARY,
    IMAGEREGISTRY_GROUP,
    "ClusterContentLibrary",
    "clustercontentlibraries",
    "clustercontentlibrary",
    Cluster,
    ["clib", "clibrary"],
    IR_HUB_FIRST,
    true
);
kind!(
    CONTENT_LIBRARY_ITEM,
    IMAGEREGISTRY_GROUP,
    "ContentLibraryItem",
    "contentlibraryitems",
    "contentlibraryitem",
    Namespaced,
    ["libitem"],
    IR_HUB_FIRST,
    true
);
kind!(
    CLUSTER_CONTENT_LIBRARY_ITEM,
    IMAGEREGISTRY_GROUP,
    "ClusterContentLibraryItem",
    "clustercontentlibraryitems",
    "clustercontentlibraryitem",
    Cluster,
    ["clibitem"],
    IR_HUB_FIRST,
    true
);
kind!(
    CONTENT_LIBRARY_ITEM_IMPORT_REQUEST,
    IMAGEREGISTRY_GROUP,
    "ContentLibraryItemImportRequest",
    "contentlibraryitemimportrequests",
    "contentlibraryitemimportrequest",
    Namespaced,
    ["libitemimport"],
    IR_HUB_FIRST,
    true
);
kind!(
    NAMESPACE,
    "",
    "Namespace",
    "namespaces",
    "namespace",
    Cluster,
    ["ns"],
    &["v1"],
    true
);
kind!(
    SECRET,
    "",
    "Secret",
    "secrets",
    "secret",
    Namespaced,
    [],
    &["v1"],
    false
);
kind!(
    CONFIG_MAP,
    "",
    "ConfigMap",
    "configmaps",
    "configmap",
    Namespaced,
    ["cm"],
    &["v1"],
    false
);
kind!(
    PERSISTENT_VOLUME_CLAIM,
    "",
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    Namespaced,
    ["pvc"],
    &["v1"],
    true
);
kind!(
    SERVICE,
    "",
    "Service",
    "services",
    "service",
    Namespaced,
    ["svc"],
    &["v1"],
    true
);
kind!(
    STORAGE_CLASS,
    STORAGE_GROUP,
    "StorageClass",
    "storageclasses",
    "storageclass",
    Cluster,
    ["sc"],
    &["v1"],
    false
);

/// Every kind of the catalogue.
pub const ALL_KINDS: &[ApiKind] = &[
    VIRTUAL_MACHINE,
    VIRTUAL_MACHINE_SERVICE,
    VIRTUAL_MACHINE_PUBLISH_REQUEST,
    VIRTUAL_MACHINE_IMAGE,
    CLUSTER_VIRTUAL_MACHINE_IMAGE,
    VIRTUAL_MACHINE_CLASS,
    VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST,
    CONTENT_LIBRARY,
    CLUSTER_CONTENT_LIBRARY,
    CONTENT_LIBRARY_ITEM,
    CLUSTER_CONTENT_LIBRARY_ITEM,
    CONTENT_LIBRARY_ITEM_IMPORT_REQUEST,
    NAMESPACE,
    SECRET,
    CONFIG_MAP,
    PERSISTENT_VOLUME_CLAIM,
    SERVICE,
    STORAGE_CLASS,
];

/// Finds a kind by group and kind name.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ApiKind> {
    ALL_KINDS
        .iter()
        .find(|k| k.group == group && k.kind == kind)
}

/// Finds a kind by group and plural.
pub fn by_plural(group: &str, plural: &str) -> Option<&'static ApiKind> {
    ALL_KINDS
        .iter()
        .find(|k| k.group == group && k.plural == plural)
}

/// Splits an `apiVersion` into (group, version); core `v1` gives an empty group.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        for k in ALL_KINDS {
            assert_eq!(by_plural(k.group, k.plural), Some(k));
            assert_eq!(by_kind(k.group, k.kind), Some(k));
            assert!(k.plural.starts_with(k.singular.trim_end_matches('y')));
        }
        assert_eq!(
            VIRTUAL_MACHINE.group_resource(),
            "virtualmachines.vmoperator.vmware.com"
        );
        assert_eq!(SECRET.api_version("v1"), "v1");
        assert_eq!(VIRTUAL_MACHINE.hub_version(), "v1alpha5");
        assert_eq!(
            split_api_version("vmoperator.vmware.com/v1alpha3"),
            ("vmoperator.vmware.com", "v1alpha3")
        );
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }
}
