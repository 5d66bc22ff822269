//! VM Operator and image-registry resource types, shared by the `vsphere-supervisor` builder and
//! `supervisor-sim`.
//!
//! What it is: the API catalogue (groups, kinds, plurals, short names, the versions we serve),
//! the condition types and reasons the builder and the simulator's controllers agree on, the
//! deterministic image-naming rule ([`vmi_name_for_item`]), label/annotation names, and serde
//! structs for the subset of each object that our code reads or writes.
//!
//! What it is not: a client. There is no I/O and no Kubernetes client dependency here; both the
//! builder (through kube-rs) and the simulator (through its own store) serialise these types.
//!
//! Layout:
//! * [`api`]: the catalogue of kinds ([`api::ApiKind`]) and API version constants;
//! * [`conditions`]: condition types/reasons as constants, plus [`meta::Condition`] helpers;
//! * [`meta`]: `ObjectMeta` subset, `Condition`, references;
//! * [`vm`], [`publish`], [`image`], [`library`], [`service`]: object shapes;
//! * [`naming`]: `vmi-` naming, labels and annotations.
//!
//! Round-tripping: every struct that is read-modified-written keeps the fields it does not model
//! in a flattened `extra` map, so an update never drops what another writer set.

pub mod api;
pub mod conditions;
pub mod image;
pub mod library;
pub mod meta;
pub mod naming;
pub mod publish;
pub mod service;
pub mod spoke_v1alpha1;
pub mod vm;

pub use api::ApiKind;
pub use meta::{Condition, ObjectMeta};
pub use naming::vmi_name_for_item;
