//! Every template in `packer-examples/` builds against the simulator with the real Packer 1.6.6,
//! exactly as a user runs it (`KUBECONFIG` set, templates used in place), and its manifest
//! records the artifact.
mod common;

use std::path::PathBuf;

use common::*;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("packer-examples")
        .join(name)
        .display()
        .to_string()
}

/// Builds `template` (with `extra` arguments) and returns the artifact id the manifest holds.
async fn build_example(env: &SimEnv, extra: &[&str], template: &str) -> String {
    let kubeconfig = env.kubeconfig.display().to_string();
    let template = example(template);
    let mut args = vec!["build", "-color=false"];
    args.extend_from_slice(extra);
    args.push(&template);
    let run = env
        .packer_env(&args, &[("KUBECONFIG", &kubeconfig)], |_, _| {})
        .await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{template}:\n{out}");
    let manifest = std::fs::read_to_string(env.path().join("manifest.json"))
        .unwrap_or_else(|e| panic!("{template}: no manifest.json ({e}):\n{out}"));
    let doc: serde_json::Value = serde_json::from_str(&manifest).expect("manifest is JSON");
    let last = doc["builds"]
        .as_array()
        .and_then(|b| b.last())
        .unwrap_or_else(|| panic!("{template}: manifest without builds: {manifest}"));
    assert_eq!(last["builder_type"], "vsphere-supervisor", "{manifest}");
    std::fs::remove_file(env.path().join("manifest.json")).expect("rm manifest");
    last["artifact_id"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_builds_against_the_simulator() {
    let env = SimEnv::start(SimSetup::default()).await;

    let id = build_example(&env, &[], "cloudinit.pkr.hcl").await;
    assert!(id.starts_with("vmi-"), "cloudinit.pkr.hcl artifact {id:?}");
    // The motd uploaded by the file provisioner is inside the published item.
    assert!(
        !env.library_files("golden-images", "/etc/motd").is_empty(),
        "the motd the file provisioner uploaded is not in any golden-images item"
    );

    let id = build_example(&env, &[], "cloudinit.json").await;
    assert!(id.starts_with("vmi-"), "cloudinit.json artifact {id:?}");

    let id = build_example(
        &env,
        &[&format!("-var-file={}", example("variables.pkrvars.hcl"))],
        "publish-ttl.pkr.hcl",
    )
    .await;
    assert!(
        id.starts_with("vmi-"),
        "publish-ttl.pkr.hcl artifact {id:?}"
    );

    for template in ["sysprep.pkr.hcl", "vappconfig.pkr.hcl"] {
        let id = build_example(&env, &[], template).await;
        assert!(!id.is_empty(), "{template}: empty artifact id");
    }
    env.stop().await;
}
