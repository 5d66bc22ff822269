//! `packer-builder-testkit`: the project's one test builder, testkit's `FakeBuilder` configured
//! by its template, served to real Packer. **Not shipped.**
//!
//! It creates no machine: Run connects the communicator the template names and serves it to
//! Packer's provisioners through `Hook.Run("packer_provision", …)`:
//!
//! * `communicator = "ssh"` (the default): the product's SSH communicator against an existing
//!   server (`ssh_host`, `ssh_port`, `ssh_username`, `ssh_password`, `ssh_private_key_file`,
//!   `ssh_timeout`, `ssh_file_transfer_method`), so `shell`, `file` and friends run over exactly
//!   the product's code path: yamux → MuxBroker → Communicator server → `SshCommunicator` →
//!   ssh-comm → russh;
//! * `"local"`: the local shell; `"none"`: no communicator (every call fails).
//!
//! `run_error = "…"` makes Run fail with that text. The keys and their parser are testkit's
//! (`testkit::builder::config`). Packer 1.6 starts it as `packer-builder-testkit` (a copy or
//! symlink in the working directory, `~/.packer.d/plugins` or `PACKER_PLUGIN_PATH`); the builder
//! type is `testkit`. Used by the end-to-end `comm::` tests and `bench/upload-256m.sh`.
//!
//! It lives in the root package rather than in testkit because `SshCommunicator` is the
//! product's, and testkit must not depend on the product crate.
use std::process::ExitCode;
use std::sync::Arc;

use packer_rpc::api::Builder;
use packer_rpc::plugin::{serve_main, PluginInfo};
use testkit::builder::{FakeBuilder, SshConnect, SshConnection};
use vsphere_supervisor::comm::SshCommunicator;

fn main() -> ExitCode {
    serve_main(
        PluginInfo {
            version: env!("CARGO_PKG_VERSION"),
            plugin_name: "testkit",
            source: "github.com/example/testkit",
            builder_name: "testkit",
            single_component_name: "testkit",
        },
        || FakeBuilder::from_config(Some(ssh_connect())) as Arc<dyn Builder>,
    )
}

/// The product's SSH communicator, connected as its provisioning step connects it.
fn ssh_connect() -> SshConnect {
    Arc::new(|opts, cancel| {
        Box::pin(async move {
            let comm = SshCommunicator::connect(opts, cancel).await?;
            let session = comm.session().clone();
            Ok(SshConnection {
                comm: Arc::new(comm),
                session,
            })
        })
    })
}
