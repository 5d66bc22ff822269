//! The plugin binary: serves the `vsphere-supervisor` builder to Packer.
use std::process::ExitCode;
use std::sync::Arc;

use packer_rpc::api::Builder;
use packer_rpc::plugin::{serve_main, PluginInfo, DEFAULT_NAME};
use vsphere_supervisor::builder::SupervisorBuilder;

/// The version `describe` reports: the crate's version, with `-dev` unless the build is a release
/// (`VSPHERE_SUPERVISOR_RELEASE` set at build time, as `.goreleaser.yaml` and
/// `scripts/install-plugin.sh` do), the way Packer's SDK marks development builds.
const VERSION: &str = if option_env!("VSPHERE_SUPERVISOR_RELEASE").is_some() {
    env!("CARGO_PKG_VERSION")
} else {
    concat!(env!("CARGO_PKG_VERSION"), "-dev")
};

fn main() -> ExitCode {
    serve_main(
        PluginInfo {
            version: VERSION,
            plugin_name: vsphere_supervisor::PLUGIN_NAME,
            source: vsphere_supervisor::PLUGIN_SOURCE,
            builder_name: DEFAULT_NAME,
            single_component_name: "vsphere-supervisor",
        },
        || Arc::new(SupervisorBuilder::new()) as Arc<dyn Builder>,
    )
}
