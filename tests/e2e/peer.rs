//! HashiCorp's Go `vsphere-supervisor` builder (packer-plugin-vsphere v1.4.2, built by
//! `scripts/install-deps.sh` from the Go module proxy into the cache's `peer-plugins/`) and ours,
//! both run by the real Packer 1.9.5 against one simulator, from the same `build.pkr.hcl`: only
//! the `required_plugins` file (which plugin provides `source "vsphere-supervisor"`) differs.
//! Both publish a `vmi-` image and leave the namespace without VM, service, publish request or
//! bootstrap Secret. This keeps the simulator honest to a client we did not write: theirs speaks
//! vmoperator v1alpha1 (and client-go's protobuf for Secrets), ours the newest version served.

use std::path::{Path, PathBuf};

use crate::common::*;
use kube::api::{DynamicObject, ListParams};

const BUILD: &str = r#"
variable "kubeconfig" { type = string }
variable "image_name" { type = string }

source "vsphere-supervisor" "golden" {
  kubeconfig_path          = var.kubeconfig
  supervisor_namespace     = "demo"
  class_name               = "best-effort-small"
  storage_class            = "wcpglobal-storage-profile"
  image_name               = "vmi-4c70ed86fa1ab64e2"
  bootstrap_provider       = "CloudInit"
  communicator             = "ssh"
  ssh_username             = "packer"
  ssh_timeout              = "2m"
  watch_source_timeout_sec = 120
  publish_location_name    = "golden-images"
  publish_image_name       = var.image_name
}

build {
  sources = ["source.vsphere-supervisor.golden"]
  provisioner "shell" {
    inline = ["echo built on $(hostname) > /tmp/peer-marker"]
  }
}
"#;

const OURS: &str = r#"
packer {
  required_plugins {
    vsphere-supervisor = {
      source  = "github.com/packer-plugin-rs/vsphere-supervisor"
      version = ">= 0.1.0"
    }
  }
}
"#;

const THEIRS: &str = r#"
packer {
  required_plugins {
    vsphere = {
      source  = "github.com/hashicorp/vsphere"
      version = "= 1.4.2"
    }
  }
}
"#;

/// The cache's plugin folder with HashiCorp's plugin (scripts/go-tools.sh `peer-vsphere`).
fn peer_plugins() -> PathBuf {
    let out = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cache-dir.sh"))
        .output()
        .expect("running scripts/cache-dir.sh");
    let cache = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dir = PathBuf::from(cache).join("peer-plugins");
    let bin =
        dir.join("github.com/hashicorp/vsphere/packer-plugin-vsphere_v1.4.2_x5.0_linux_amd64");
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/install-deps.sh (it builds HashiCorp's plugin v1.4.2)",
        bin.display()
    );
    dir
}

/// A build directory: the shared build file plus one builder's `required_plugins`.
fn project(env: &SimEnv, name: &str, plugins: &str) -> String {
    let dir = env.path().join(name);
    std::fs::create_dir_all(&dir).expect("mkdir project");
    std::fs::write(dir.join("build.pkr.hcl"), BUILD).expect("write build");
    std::fs::write(dir.join("plugins.pkr.hcl"), plugins).expect("write plugins");
    dir.display().to_string()
}

async fn run(env: &SimEnv, dir: &str, plugin_path: &Path, image: &str) -> String {
    let pp = plugin_path.display().to_string();
    let kc = format!("-var=kubeconfig={}", env.kubeconfig.display());
    let img = format!("-var=image_name={image}");
    let vars = [("PACKER_PLUGIN_PATH", pp.as_str())];
    let init = env.packer_env(&["init", dir], &vars, |_, _| {}).await;
    assert_eq!(init.code, Some(0), "packer init {dir}:\n{}", init.output());
    let b = env
        .packer_env(&["build", "-color=false", &kc, &img, dir], &vars, |_, _| {})
        .await;
    let out = b.output();
    assert_eq!(b.code, Some(0), "packer build {dir}:\n{out}");
    out
}

/// Every VM, VirtualMachineService, publish request and non-seed Secret in the namespace.
async fn namespace_objects(env: &SimEnv) -> Vec<String> {
    let c = env.cluster().await;
    let k = &c.kinds;
    let mut left = Vec::new();
    for res in [&k.vm, &k.vm_service, &k.publish_request, &k.secret] {
        let list = c
            .api(res)
            .list(&ListParams::default())
            .await
            .expect("listing the namespace");
        left.extend(list.items.iter().map(|o: &DynamicObject| {
            format!(
                "{}/{}",
                res.kind,
                o.metadata.name.clone().unwrap_or_default()
            )
        }));
    }
    left.sort();
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashicorps_builder_and_ours_publish_from_one_template() {
    let theirs_plugins = peer_plugins();
    let mut env = SimEnv::start(SimSetup::default()).await;
    env.packer = PackerKind::V1_9;
    env.packer.assert_version();
    let ours_home = env.path().join("ours");
    install_plugin(PackerKind::V1_9, &ours_home);
    let before = namespace_objects(&env).await;

    let out = run(
        &env,
        &project(&env, "theirs", THEIRS),
        &theirs_plugins,
        "peer-theirs",
    )
    .await;
    assert!(
        out.contains("Successfully published the VM to image \"vmi-"),
        "HashiCorp's builder did not report a vmi- image:\n{out}"
    );
    let out = run(
        &env,
        &project(&env, "ours", OURS),
        &plugin_dir(&ours_home),
        "peer-ours",
    )
    .await;
    assert!(out.contains("Published as image vmi-"), "ours:\n{out}");

    // Both images are in the library; nothing else of either build is left.
    let images = env.library_files("golden-images", "/tmp/peer-marker");
    assert_eq!(images.len(), 2, "one marker per published item: {images:?}");
    assert_eq!(namespace_objects(&env).await, before, "objects left behind");
    env.stop().await;
}
