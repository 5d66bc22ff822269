//! The API versions a client picks at run time, from what the cluster serves: the dynamic type
//! of the typed kinds ([`crate::resource`]), so `kube::Api::namespaced_with(client, ns, &version)`
//! talks to the version the cluster serves.

use crate::api::{
    IMAGEREGISTRY_GROUP, IMAGEREGISTRY_V1ALPHA1, IMAGEREGISTRY_V1ALPHA2, VMOP_GROUP, VMOP_V1ALPHA1,
    VMOP_V1ALPHA2, VMOP_V1ALPHA3, VMOP_V1ALPHA4, VMOP_V1ALPHA5,
};

/// A `vmoperator.vmware.com` version. The shapes differ in a few places:
/// * v1alpha1 (vSphere 8.0 U1–U3): `spec.vmMetadata` instead of `spec.bootstrap`, `status.vmIp`,
///   lower-case power states, no CD-ROMs (converted by [`crate::spoke_v1alpha1`]);
/// * v1alpha2: `spec.bootstrap`, `status.network`, no CD-ROMs;
/// * v1alpha3 and v1alpha4: `spec.cdrom`;
/// * v1alpha5 (the hub): `spec.hardware.cdrom`.
///
/// Ordered oldest first, so `v >= VmopVersion::V1alpha3` reads as "v1alpha3 or later".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VmopVersion {
    /// `v1alpha1`.
    V1alpha1,
    /// `v1alpha2`.
    V1alpha2,
    /// `v1alpha3`.
    V1alpha3,
    /// `v1alpha4`.
    V1alpha4,
    /// `v1alpha5`.
    V1alpha5,
}

impl VmopVersion {
    /// Every version, oldest first.
    pub const ALL: [VmopVersion; 5] = [
        Self::V1alpha1,
        Self::V1alpha2,
        Self::V1alpha3,
        Self::V1alpha4,
        Self::V1alpha5,
    ];
    /// The version the typed structs are shaped like (and supervisor-sim stores).
    pub const HUB: VmopVersion = Self::V1alpha5;

    /// `v1alpha3` → `V1alpha3`; `None` for a version this crate does not know.
    pub fn parse(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == v)
    }

    /// `v1alpha3`.
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

/// An `imageregistry.vmware.com` version: v1alpha1 says `spec.writable` and references
/// libraries by object, v1alpha2 (the hub) says `spec.allowPublish` and references them by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LibraryVersion {
    /// `v1alpha1`.
    V1alpha1,
    /// `v1alpha2`.
    V1alpha2,
}

impl LibraryVersion {
    /// Every version, oldest first.
    pub const ALL: [LibraryVersion; 2] = [Self::V1alpha1, Self::V1alpha2];
    /// The version the typed structs are shaped like.
    pub const HUB: LibraryVersion = Self::V1alpha2;

    /// `v1alpha2` → `V1alpha2`.
    pub fn parse(v: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == v)
    }

    /// `v1alpha2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1alpha1 => IMAGEREGISTRY_V1ALPHA1,
            Self::V1alpha2 => IMAGEREGISTRY_V1ALPHA2,
        }
    }

    /// `imageregistry.vmware.com/<version>`.
    pub fn api_version(self) -> String {
        format!("{IMAGEREGISTRY_GROUP}/{}", self.as_str())
    }

    /// The ContentLibrary field that allows publishing, as this version spells it (for
    /// messages: the typed struct reads both as `spec.allow_publish`).
    pub fn writable_field(self) -> &'static str {
        match self {
            Self::V1alpha1 => "spec.writable",
            Self::V1alpha2 => "spec.allowPublish",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        for v in VmopVersion::ALL {
            assert_eq!(VmopVersion::parse(v.as_str()), Some(v));
        }
        for v in LibraryVersion::ALL {
            assert_eq!(LibraryVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(VmopVersion::parse("v2"), None);
        assert!(!VmopVersion::V1alpha2.has_cdrom());
        assert!(VmopVersion::V1alpha4.has_cdrom() && !VmopVersion::V1alpha4.cdrom_under_hardware());
        assert!(VmopVersion::HUB.cdrom_under_hardware());
        assert_eq!(
            VmopVersion::V1alpha3.api_version(),
            format!("{VMOP_GROUP}/v1alpha3")
        );
        assert_eq!(
            LibraryVersion::V1alpha1.api_version(),
            format!("{IMAGEREGISTRY_GROUP}/v1alpha1")
        );
    }
}
