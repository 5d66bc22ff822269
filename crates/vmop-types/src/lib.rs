//! VM Operator and image-registry resource types, shared by the `vsphere-supervisor` builder and
//! `supervisor-sim`.
//!
//! What it is: the API catalogue (groups, kinds, plurals, short names, the versions we serve),
//! the condition types and reasons the builder and the simulator's controllers agree on, the
//! deterministic image-naming rule ([`vmi_name_for_item`]), label/annotation names, and the typed
//! kinds: serde structs for the subset of each object that our code reads or writes, each a
//! `kube::Resource` whose dynamic type is the API version ([`resource`]).
//!
//! What it is not: a client. There is no I/O here (kube-core has the `Resource` trait and
//! `ObjectMeta`, not the client); the builder uses these types with `kube::Api<T>`, the
//! simulator with its own store.
//!
//! Layout:
//! * [`api`]: the catalogue of kinds ([`api::ApiKind`]) and API version constants;
//! * [`version`]: [`VmopVersion`] and [`LibraryVersion`], the versions a client picks at run time;
//! * [`resource`]: how the typed kinds are kube resources, and how they convert on the wire;
//! * [`convert`]: hub ⇔ older version, per kind, on JSON ([`spoke_v1alpha1`], [`vm`] and
//!   [`library`] hold the conversions of the fields that moved);
//! * [`conditions`]: condition types/reasons as constants, plus [`meta::Condition`] helpers;
//! * [`meta`]: `ObjectMeta`, `Condition`, references;
//! * [`vm`], [`class`], [`webconsole`], [`publish`], [`image`], [`library`], [`service`]: the
//!   typed kinds;
//! * [`naming`]: `vmi-` naming, labels and annotations.
//!
//! Round-tripping: every struct that is read-modified-written keeps the fields it does not model
//! in a flattened `extra` map, so an update never drops what another writer set.

pub mod api;
pub mod class;
pub mod conditions;
pub mod convert;
pub mod image;
pub mod library;
pub mod meta;
pub mod naming;
pub mod publish;
pub mod resource;
pub mod service;
pub mod spoke_v1alpha1;
pub mod version;
pub mod vm;
pub mod webconsole;

pub use api::ApiKind;
pub use class::VirtualMachineClass;
pub use image::{ImageKind, VirtualMachineImage};
pub use library::{ContentLibrary, ContentLibraryItem, ContentLibraryItemImportRequest};
pub use meta::{Condition, ObjectMeta};
pub use naming::vmi_name_for_item;
pub use publish::VirtualMachinePublishRequest;
pub use resource::TypedKind;
pub use service::VirtualMachineService;
pub use version::{LibraryVersion, VmopVersion};
pub use vm::VirtualMachine;
pub use webconsole::VirtualMachineWebConsoleRequest;
