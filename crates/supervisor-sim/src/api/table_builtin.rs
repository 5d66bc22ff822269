//! Table columns of the built-in kinds, as kube-apiserver's printers define them (names, paths,
//! and the API docs they carry as descriptions). PersistentVolumeClaim and Service have only
//! kubectl's main columns (see "Known differences" in docs/simulator.md).

use super::table::CREATION_TIMESTAMP_DOC;
use crate::catalog::PrinterColumn;

pub(super) fn col(name: &str, type_: &str, path: &str, description: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        json_path: path.into(),
        priority: 0,
        description: description.into(),
        format: String::new(),
    }
}

/// The Age column (rendered from `creationTimestamp`).
pub fn age() -> PrinterColumn {
    col(
        "Age",
        "date",
        ".metadata.creationTimestamp",
        CREATION_TIMESTAMP_DOC,
    )
}

const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const SC_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
const SC_RECLAIM: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
const SC_BINDING: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
const SC_EXPANSION: &str =
    "allowVolumeExpansion shows whether the storage class allow volume expand.";

/// The columns of built-in `kind` (without Name).
pub fn columns(kind: &str) -> Vec<PrinterColumn> {
    match kind {
        "Namespace" => vec![
            col(
                "Status",
                "string",
                ".status.phase",
                "The status of the namespace",
            ),
            age(),
        ],
        "Secret" => vec![
            col("Type", "string", ".type", SECRET_TYPE),
            col("Data", "integer", "#datacount", SECRET_DATA),
            age(),
        ],
        "ConfigMap" => vec![col("Data", "integer", "#datacount", CONFIGMAP_DATA), age()],
        "PersistentVolumeClaim" => vec![
            col("Status", "string", ".status.phase", ""),
            col("Volume", "string", ".spec.volumeName", ""),
            col("Capacity", "string", ".status.capacity.storage", ""),
            col("Access Modes", "string", ".spec.accessModes", ""),
            col("StorageClass", "string", ".spec.storageClassName", ""),
            age(),
        ],
        "Service" => vec![
            col("Type", "string", ".spec.type", ""),
            col("Cluster-IP", "string", ".spec.clusterIP", ""),
            col(
                "External-IP",
                "string",
                ".status.loadBalancer.ingress[*].ip",
                "",
            ),
            age(),
        ],
        "StorageClass" => vec![
            col("Provisioner", "string", ".provisioner", SC_PROVISIONER),
            col("ReclaimPolicy", "string", ".reclaimPolicy", SC_RECLAIM),
            col(
                "VolumeBindingMode",
                "string",
                ".volumeBindingMode",
                SC_BINDING,
            ),
            col(
                "AllowVolumeExpansion",
                "boolean",
                "#allowVolumeExpansion",
                SC_EXPANSION,
            ),
            age(),
        ],
        _ => vec![age()],
    }
}
