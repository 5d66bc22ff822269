//! Known differences from kube-apiserver: requests whose outcome differs, with the reason.
//! Each is also listed in `docs/simulator.md` ("Known differences from kube-apiserver"). A
//! listed request that matches again fails the test, so the table stays true.

const NO_FIELD_OWNERSHIP: &str = "server-side apply is a merge: no managedFields, so no field ownership conflicts (409) between managers";
const BUILTIN_TABLES: &str = "Table columns of PersistentVolumeClaim and Service: kubectl's main columns only, without the Go API docs as descriptions (no VolumeAttributesClass, VolumeMode, Ports, Selector)";
const PVC_PROTECTION: &str = "no StorageObjectInUseProtection admission: PersistentVolumeClaims get no kubernetes.io/pvc-protection finalizer (nothing would remove it)";

pub const KNOWN: &[(&str, &str)] = &[
    ("apply conflict", NO_FIELD_OWNERSHIP),
    ("create PersistentVolumeClaim", PVC_PROTECTION),
    ("unknown field pruned PersistentVolumeClaim", PVC_PROTECTION),
    ("table PersistentVolumeClaim", BUILTIN_TABLES),
    ("table one PersistentVolumeClaim", BUILTIN_TABLES),
    ("table Service", BUILTIN_TABLES),
    ("table one Service", BUILTIN_TABLES),
];

/// The reason `name` is a known difference, if it is one.
pub fn known(name: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}
