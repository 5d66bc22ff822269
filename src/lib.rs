//! The `vsphere-supervisor` builder.
//!
//! Layout: [`builder`] is what Packer calls; [`runner`] runs the [`steps`] in order and then
//! cleanup; [`state`] is the typed build state with the ledger of created objects; [`kube`]
//! talks to the Supervisor (kubeconfig, discovery, watches); [`bootstrap`] makes the bootstrap
//! Secret's data; [`artifact`] is the result, with [`hcp_metadata`] for HCP Packer; [`orphan`]
//! is where a build reports once Packer core is gone.
pub mod artifact;
pub mod bootstrap;
pub mod builder;
pub mod comm;
pub mod config;
pub mod generated;
pub mod hcp_metadata;
pub mod kube;
pub mod orphan;
pub mod runner;
pub mod state;
pub mod steps;

/// The plugin's name: Packer >= 1.7 runs the binary `packer-plugin-vsphere-supervisor` and
/// registers its builder as `vsphere-supervisor`, beside HashiCorp's `vsphere` plugin
/// (`vsphere-iso`, `vsphere-clone`) without hiding it.
pub const PLUGIN_NAME: &str = "vsphere-supervisor";
/// The source address templates name the plugin by in `required_plugins`.
pub const PLUGIN_SOURCE: &str = "github.com/packer-plugin-rs/vsphere-supervisor";
