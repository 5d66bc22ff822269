//! The `vsphere-supervisor` builder.
//!
//! Layout: [`builder`] is what Packer calls; [`runner`] runs the [`steps`] in order and then
//! cleanup; [`state`] is the typed build state with the ledger of created objects; [`kube`]
//! talks to the Supervisor (kubeconfig, discovery, watches); [`bootstrap`] makes the bootstrap
//! Secret's data; [`artifact`] is the result.
pub mod artifact;
pub mod bootstrap;
pub mod builder;
pub mod comm;
pub mod config;
pub mod kube;
pub mod runner;
pub mod state;
pub mod steps;
