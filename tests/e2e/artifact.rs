//! The artifact through real Packer: a post-processor that does not keep its input (artifice
//! with `keep_input_artifact = false`) makes Packer call `Artifact.Destroy`, which deletes the
//! published image only when explicitly asked (PACKER_VSPHERE_SUPERVISOR_DESTROY_IMAGE=1).

use crate::common::*;

const DISCARDING_PP: &str = r#"
  provisioner "shell" {
    inline = ["true"]
  }
  post-processors {
    post-processor "shell-local" {
      inline = ["echo post-processed"]
    }
    post-processor "artifice" {
      files               = ["b.pkr.hcl"]
      keep_input_artifact = false
    }
  }
"#;

async fn build_and_discard(env: &SimEnv, source_name: &str, destroy: bool) -> String {
    let src = format!(
        r#"
  source_name           = "{source_name}"
  image_name            = "ubuntu-24.04"
  ssh_username          = "packer"
  publish_location_name = "golden-images"
  publish_image_name    = "{source_name}-img"
"#
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, DISCARDING_PP));
    let extra: &[(&str, &str)] = if destroy {
        &[("PACKER_VSPHERE_SUPERVISOR_DESTROY_IMAGE", "1")]
    } else {
        &[]
    };
    let run = env
        .packer_env(&["build", "-color=false", "b.pkr.hcl"], extra, |_, _| {})
        .await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("post-processed"), "{out}");
    let line = lines_with(&out, "Published as image vmi-")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let vmi = line
        .split("Published as image ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default();
    assert!(vmi.starts_with("vmi-"), "{out}");
    vmi.to_string()
}

async fn image_exists(env: &SimEnv, vmi: &str) -> bool {
    let c = env.cluster().await;
    c.api(&c.kinds.vmi)
        .get_opt(vmi)
        .await
        .expect("get image")
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_keeps_the_published_image_unless_asked() {
    let env = SimEnv::start(SimSetup::default()).await;
    let vmi = build_and_discard(&env, "e2e-keepimg", false).await;
    assert!(
        image_exists(&env, &vmi).await,
        "image {vmi} must survive Destroy"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_deletes_the_published_image_when_asked() {
    let env = SimEnv::start(SimSetup::default()).await;
    let vmi = build_and_discard(&env, "e2e-delimg", true).await;
    // The image goes with its content library item; give the simulator's controller a moment.
    let mut gone = false;
    for _ in 0..50 {
        if !image_exists(&env, &vmi).await {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "image {vmi} still exists after Destroy");
    env.stop().await;
}
