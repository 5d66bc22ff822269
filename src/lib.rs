//! The `vsphere-supervisor` builder.
pub mod config;
pub mod runner;
