//! Every template in `packer-examples/` builds against the simulator with the real Packer,
//! exactly as a user runs it (`KUBECONFIG` set, templates used in place), and its manifest
//! records the artifact. Under Packer 1.9 (`E2E_PACKER=1.9`) each example directory is first
//! checked by `packer init` (its `required_plugins` block) and then built as a directory; under
//! Packer 1.6 its `build.pkr.hcl` is built alone.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::common::*;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("packer-examples")
        .join(name)
        .display()
        .to_string()
}

/// What Packer is given for the example directory `dir`: the directory (>= 1.7) or its
/// `build.pkr.hcl` (1.6, which does not know `required_plugins`). JSON templates are files.
fn target(env: &SimEnv, dir: &str) -> String {
    if dir.ends_with(".json") {
        return example(dir);
    }
    match env.packer {
        PackerKind::V1_9 => example(dir),
        PackerKind::V1_6 => example(&format!("{dir}/build.pkr.hcl")),
    }
}

/// Builds the example `dir` (with `extra` arguments) and returns the artifact id the manifest
/// holds.
async fn build_example(env: &SimEnv, extra: &[&str], dir: &str) -> String {
    let kubeconfig = env.kubeconfig.display().to_string();
    let template = target(env, dir);
    let kc = [("KUBECONFIG", kubeconfig.as_str())];
    if env.packer == PackerKind::V1_9 && !dir.ends_with(".json") {
        let init = env.packer_env(&["init", &template], &kc, |_, _| {}).await;
        assert_eq!(init.code, Some(0), "packer init {dir}:\n{}", init.output());
    }
    let mut args = vec!["build", "-color=false"];
    args.extend_from_slice(extra);
    args.push(&template);
    let run = env.packer_env(&args, &kc, |_, _| {}).await;
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

/// Serves `body` as every path over HTTP/1.0 on 127.0.0.1 until the test process ends.
fn serve_file(body: Vec<u8>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let head = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = c
                .write_all(head.as_bytes())
                .and_then(|_| c.write_all(&body));
        }
    });
    port
}

/// A small OVA (a tar of an OVF descriptor and a disk) for the import example.
fn small_ova(dir: &Path) -> Vec<u8> {
    let src = dir.join("ova-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(
        src.join("photon.ovf"),
        "<?xml version=\"1.0\"?>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"/>\n",
    )
    .expect("ovf");
    std::fs::write(src.join("disk1.vmdk"), vec![0u8; 4096]).expect("vmdk");
    let ova = dir.join("photon.ova");
    let ok = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&ova)
        .arg("-C")
        .arg(&src)
        .args(["photon.ovf", "disk1.vmdk"])
        .status()
        .expect("tar");
    assert!(ok.success());
    std::fs::read(ova).expect("read ova")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_builds_against_the_simulator() {
    let env = SimEnv::start(SimSetup::default()).await;

    let id = build_example(&env, &[], "cloudinit").await;
    assert!(id.starts_with("vmi-"), "cloudinit artifact {id:?}");
    // The motd uploaded by the file provisioner is inside the published item.
    assert!(
        !env.library_files("golden-images", "/etc/motd").is_empty(),
        "the motd the file provisioner uploaded is not in any golden-images item"
    );

    let id = build_example(&env, &[], "cloudinit-json/cloudinit.json").await;
    assert!(id.starts_with("vmi-"), "cloudinit.json artifact {id:?}");

    let id = build_example(
        &env,
        &[&format!(
            "-var-file={}",
            example("publish-ttl/variables.pkrvars.hcl")
        )],
        "publish-ttl",
    )
    .await;
    assert!(id.starts_with("vmi-"), "publish-ttl artifact {id:?}");

    for dir in ["sysprep", "vappconfig", "iso"] {
        let id = build_example(&env, &[], dir).await;
        assert!(id.starts_with("vmi-"), "{dir}: artifact {id:?}");
    }

    let port = serve_file(small_ova(env.path()));
    let url = format!("-var=import_url=http://127.0.0.1:{port}/photon.ova");
    let id = build_example(&env, &[&url], "import").await;
    assert!(id.starts_with("vmi-"), "import artifact {id:?}");
    env.stop().await;
}
