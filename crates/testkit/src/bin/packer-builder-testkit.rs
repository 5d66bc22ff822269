//! A test plugin: the fake builder (local-shell communicator) served through `serve_main`, so
//! real Packer can drive every service end to end. Packer 1.6 runs it as
//! `packer-builder-testkit`; it is never shipped.
use std::process::ExitCode;
use std::sync::Arc;

use packer_rpc::api::{Builder, PrepareOutcome};
use packer_rpc::plugin::{serve_main, PluginInfo};
use packer_wire::msgpack::Value;
use testkit::fakes::{FakeArtifact, FakeBuilder, LocalCommunicator, RunScript};

fn main() -> ExitCode {
    serve_main(
        PluginInfo {
            version: env!("CARGO_PKG_VERSION"),
            plugin_name: "testkit",
            source: "github.com/example/testkit",
            builder_name: "testkit",
            single_component_name: "testkit",
        },
        || {
            let data = Value::Map(vec![
                (Value::Str("ID".into()), Value::Str("Testkit".into())),
                (Value::Str("ConnType".into()), Value::Str("none".into())),
            ]);
            let run = match std::env::var("TESTKIT_RUN").as_deref() {
                Ok("fail") => RunScript::Fail("Timeout waiting for SSH.".into()),
                _ => RunScript::Provision {
                    data,
                    comm: Arc::new(LocalCommunicator),
                    artifact: Some(FakeArtifact::null_like()),
                },
            };
            FakeBuilder::new(PrepareOutcome::default(), run) as Arc<dyn Builder>
        },
    )
}
