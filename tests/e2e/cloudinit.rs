//! Real Packer 1.6.6 → our plugin → supervisor-sim: CloudInit builds with SSH provisioners,
//! publishing and the manifest post-processor.

use crate::common::*;
use supervisor_sim::faults::{FaultConfig, WatchFault};

const SHELL_AND_FILE: &str = r#"
  provisioner "shell" {
    inline = ["echo generated ns=${build.Namespace} src=${build.SourceName} user=${build.User}", "echo hello-from-$(hostname)", "echo 'e2e build' | sudo tee /etc/e2e-marker >/dev/null"]
  }
  provisioner "file" {
    source      = "payload.txt"
    destination = "/tmp/payload.txt"
  }
  provisioner "shell" {
    inline = ["cat /tmp/payload.txt"]
  }
  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
"#;

async fn cloudinit_build(env: SimEnv, source_name: &str, version: &str) {
    env.write("payload.txt", "payload-4711\n");
    let tpl = template(
        &env.kubeconfig,
        &format!(
            r#"
  source_name           = "{source_name}"
  image_name            = "ubuntu-24.04"
  ssh_username          = "packer"
  ssh_timeout           = "1m"
  watch_source_timeout_sec = 60
  publish_location_name = "golden-images"
  publish_image_name    = "{source_name}-golden"
  publish_request_ttl_sec = 300
"#
        ),
        SHELL_AND_FILE,
    );
    env.write("build.pkr.hcl", &tpl);
    let run = env.build("build.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    // Provisioner output reaches Packer's UI.
    assert!(out.contains("hello-from-"), "{out}");
    assert!(out.contains("payload-4711"), "{out}");
    // Generated data reaches provisioners as build.* variables.
    assert!(
        out.contains(&format!("generated ns=demo src={source_name} user=packer")),
        "{out}"
    );
    assert!(out.contains("Publish request: complete"), "{out}");
    assert!(
        out.contains(&format!("vmoperator.vmware.com/{version}")),
        "{out}"
    );

    // The manifest records the published image.
    let manifest =
        std::fs::read_to_string(env.path().join("manifest.json")).expect("manifest.json");
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("manifest JSON");
    let id = m["builds"][0]["artifact_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("vmi-"), "artifact_id {id:?} in {manifest}");
    assert_eq!(m["builds"][0]["builder_type"], "vsphere-supervisor");

    // The uploaded file and the shell's change are inside the published library item.
    let files = env.library_files("golden-images", "/tmp/payload.txt");
    assert_eq!(files.len(), 1, "payload in library: {files:?}");
    assert_eq!(
        std::fs::read_to_string(&files[0]).unwrap(),
        "payload-4711\n"
    );
    assert_eq!(
        env.library_files("golden-images", "/etc/e2e-marker").len(),
        1
    );
    // ssh_clear_authorized_keys (on by default): the image does not trust the build's temporary key.
    assert!(
        out.contains("Removing the temporary SSH key from authorized_keys"),
        "{out}"
    );
    let keys = env.library_files("golden-images", "/.ssh/authorized_keys");
    assert!(
        !keys.is_empty(),
        "the capture has the user's authorized_keys"
    );
    for k in keys {
        let text = std::fs::read_to_string(&k).unwrap_or_default();
        assert!(!text.contains("ssh-ed25519"), "{}: {text}", k.display());
    }

    // Nothing of the build is left but the image.
    assert_eq!(
        env.leftovers(source_name).await,
        Vec::<String>::new(),
        "{out}"
    );
    let c = env.cluster().await;
    let img = c.api(&c.kinds.vmi).get_opt(&id).await.expect("get image");
    let img = img.expect("published image exists");
    // v1alpha1 calls the display name `status.imageName`.
    let display = if version == "v1alpha1" {
        "imageName"
    } else {
        "name"
    };
    assert_eq!(img.data["status"][display], format!("{source_name}-golden"));
    assert!(env.plugin_processes().is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudinit_build_publishes_and_cleans_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    cloudinit_build(env, "e2e-ci", "v1alpha5").await;
}

/// The same CloudInit build against Supervisors that serve one vmoperator version each: a
/// vSphere 8.0 U1-like one (v1alpha1 only), then v1alpha2, v1alpha3 and v1alpha5 alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudinit_build_against_each_single_version() {
    for v in ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha5"] {
        let env = SimEnv::start(SimSetup {
            vmop_versions: Some(vec![v.into()]),
            ..SimSetup::default()
        })
        .await;
        cloudinit_build(env, &format!("e2e-{v}"), v).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudinit_build_survives_dropped_watches() {
    let faults = FaultConfig {
        watch: vec![WatchFault {
            after_events: Some(1),
            ..WatchFault::default()
        }],
        ..FaultConfig::default()
    };
    let env = SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await;
    cloudinit_build(env, "e2e-drop", "v1alpha5").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_as_namespace_user_with_context_option() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  kubeconfig_context    = "supervisor-sim-demo-user"
  source_name           = "e2e-user"
  image_name            = "ubuntu-24.04"
  ssh_username          = "packer"
  publish_location_name = "golden-images"
"#;
    // The namespace comes from the context here, not from supervisor_namespace.
    let tpl = template(
        &env.kubeconfig,
        src,
        "  provisioner \"shell\" {\n    inline = [\"echo user=$(id -un) uid=$(id -u)\", \"echo sudo=$(sudo id -un)\", \"touch /etc/no-sudo 2>/dev/null && echo etc-written || echo etc-refused\", \"echo 'with sudo' | sudo tee /etc/with-sudo\"]\n  }\n",
    )
    .replace("  supervisor_namespace = \"demo\"\n", "");
    env.write("b.pkr.hcl", &tpl);
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        out.contains("(context supervisor-sim-demo-user); using namespace demo"),
        "{out}"
    );
    // The guest runs provisioners as the SSH user the template names, with passwordless sudo
    // (before, everything ran as root).
    assert!(out.contains("user=packer uid=1"), "{out}");
    assert!(out.contains("sudo=root"), "{out}");
    assert!(out.contains("etc-refused"), "{out}");
    assert!(out.contains("with sudo"), "{out}");
    assert!(out.contains("Published as image vmi-"), "{out}");
    assert_eq!(
        env.leftovers("e2e-user").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

/// `cloud_config_passwordless_sudo = false`: the built-in cloud-config gives the user no sudo
/// rule; `ssh_clear_authorized_keys = false`: the published image keeps the temporary key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_rule_off_and_temporary_key_kept_when_asked() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name                    = "e2e-nosudo"
  image_name                     = "ubuntu-24.04"
  ssh_username                   = "packer"
  publish_location_name          = "golden-images"
  cloud_config_passwordless_sudo = false
  ssh_clear_authorized_keys      = false
"#;
    let tpl = template(
        &env.kubeconfig,
        src,
        "  provisioner \"shell\" {\n    inline = [\"sudo -n true 2>/dev/null && echo sudo-allowed || echo sudo-refused\"]\n  }\n",
    );
    env.write("b.pkr.hcl", &tpl);
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("sudo-refused"), "{out}");
    assert!(!out.contains("Removing the temporary SSH key"), "{out}");
    let keys = env.library_files("golden-images", "/.ssh/authorized_keys");
    assert!(
        keys.iter().any(|k| std::fs::read_to_string(k)
            .unwrap_or_default()
            .contains("ssh-ed25519")),
        "the kept key is in the published image: {keys:?}"
    );
    assert_eq!(
        env.leftovers("e2e-nosudo").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_own_private_key_is_authorised_by_the_default_cloud_config() {
    let env = SimEnv::start(SimSetup::default()).await;
    let key = env.path().join("id_user");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let src = format!(
        r#"
  source_name          = "e2e-ownkey"
  image_name           = "ubuntu-24.04"
  ssh_username         = "packer"
  ssh_private_key_file = "{}"
"#,
        key.display()
    );
    env.write(
        "b.pkr.hcl",
        &template(
            &env.kubeconfig,
            &src,
            "  provisioner \"shell\" {\n    inline = [\"echo own-key-works\"]\n  }\n",
        ),
    );
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("own-key-works"), "{out}");
    assert!(!out.contains("Generated a temporary"), "{out}");
    env.stop().await;
}
