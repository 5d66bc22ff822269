//! The plugin binary: serves the `vsphere-supervisor` builder to Packer.
use std::process::ExitCode;
use std::sync::Arc;

use packer_rpc::api::Builder;
use packer_rpc::plugin::{serve_main, PluginInfo};
use vsphere_supervisor::builder::SupervisorBuilder;

fn main() -> ExitCode {
    serve_main(
        PluginInfo {
            version: env!("CARGO_PKG_VERSION"),
            builder_name: "supervisor",
            single_component_name: "vsphere-supervisor",
        },
        || Arc::new(SupervisorBuilder::new()) as Arc<dyn Builder>,
    )
}
