//! HCP Packer metadata through the artifact RPC: the builder, served the way the plugin serves it
//! (net/rpc over broker streams), builds and publishes against the simulator, and core's
//! `Artifact.State("par.artifact.metadata")` call reads the registry image. (Packer 1.9.5 only
//! asks for it with an HCP Packer registry to push to, so the harness plays that core.)

use std::sync::Arc;

use crate::common::*;
use packer_rpc::service::SpecEncoding;
use packer_wire::msgpack::{from_json, Value};
use serde_json::json;
use testkit::fakes::{RecordingUi, ScriptHook};
use vsphere_supervisor::builder::SupervisorBuilder;

fn field<'a>(map: &'a Value, key: &str) -> &'a Value {
    match map {
        Value::Map(m) => m
            .iter()
            .find(|(k, _)| *k == Value::Str(key.into()))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {key} in {map:?}")),
        other => panic!("not a map: {other:?}"),
    }
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_state_answers_the_registry_image() {
    let env = SimEnv::start(SimSetup::default()).await;
    let core =
        testkit::inproc::serve_builder(Arc::new(SupervisorBuilder::new()), SpecEncoding::Gob)
            .await
            .expect("serving the builder");
    // As Packer 1.6.6 sends a legacy JSON builder: the block, then the packer_* map.
    let block = json!({
        "kubeconfig_path": env.kubeconfig.display().to_string(),
        "supervisor_namespace": NAMESPACE,
        "class_name": "best-effort-small",
        "storage_class": "wcpglobal-storage-profile",
        "image_name": "ubuntu-24.04",
        "source_name": "rpc-hcp",
        "communicator": "none",
        "publish_location_name": "golden-images",
        "publish_image_name": "rpc-hcp-image",
    });
    let packer = json!({"packer_build_name": "x", "packer_builder_type": "vsphere-supervisor",
        "packer_debug": false, "packer_force": false, "packer_on_error": "",
        "packer_core_version": "1.6.6", "packer_template_path": "/t/tpl.json",
        "packer_user_variables": {"": ""}});
    let prepared = core
        .prepare(vec![from_json(&block), from_json(&packer)])
        .await
        .expect("Builder.Prepare");
    assert_eq!(prepared.error, None, "{prepared:?}");
    let ui = RecordingUi::new();
    let artifact = core
        .run(ui.clone(), ScriptHook::noop())
        .await
        .unwrap_or_else(|e| panic!("Builder.Run: {e}; ui: {:?}", ui.events()))
        .expect("an artifact");
    let id = artifact.id().await.expect("Artifact.Id");
    assert!(id.starts_with("vmi-"), "{id}");

    let state = artifact
        .state("par.artifact.metadata")
        .await
        .expect("Artifact.State");
    let Value::Array(images) = &state else {
        panic!("expected a list of images, got {state:?}")
    };
    assert_eq!(images.len(), 1, "{state:?}");
    let img = &images[0];
    assert_eq!(field(img, "ImageID"), &s(&id));
    assert_eq!(field(img, "ProviderName"), &s("vsphere"));
    assert_eq!(field(img, "ProviderRegion"), &s(NAMESPACE));
    let Value::Str(source) = field(img, "SourceImageID") else {
        panic!("{img:?}")
    };
    assert!(source.starts_with("vmi-"), "{img:?}");
    let labels = field(img, "Labels");
    assert_eq!(field(labels, "library"), &s("golden-images"));
    assert_eq!(field(labels, "display_name"), &s("rpc-hcp-image"));
    assert_eq!(field(labels, "source_image"), &s(source));
    assert_eq!(
        field(labels, "source_image_display_name"),
        &s("ubuntu-24.04")
    );
    env.stop().await;
}
