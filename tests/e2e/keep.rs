//! `keep_input_artifact` and `-on-error=abort`: what stays, and that the build says so.

use crate::common::*;

const KEPT: [&str; 3] = ["Secret/", "VirtualMachine/", "VirtualMachineService/"];

fn expected(source_name: &str) -> Vec<String> {
    KEPT.iter().map(|k| format!("{k}{source_name}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_input_artifact_keeps_vm_secret_and_service() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name           = "e2e-keep"
  image_name            = "ubuntu-24.04"
  ssh_username          = "packer"
  keep_input_artifact   = true
  publish_location_name = "golden-images"
"#;
    let body = "  provisioner \"shell\" {\n    inline = [\"echo kept\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        out.contains(
            "keep_input_artifact is set: keeping VirtualMachinePublishRequest demo/e2e-keep, VirtualMachineService demo/e2e-keep, VirtualMachine demo/e2e-keep, Secret demo/e2e-keep"
        ),
        "{out}"
    );
    // The publish request is kept with the machine, as HashiCorp's builder does.
    assert!(
        !out.contains("Deleting VirtualMachinePublishRequest"),
        "{out}"
    );
    let mut kept = expected("e2e-keep");
    kept.push("VirtualMachinePublishRequest/e2e-keep".into());
    kept.sort();
    assert_eq!(env.leftovers("e2e-keep").await, kept, "{out}");
    env.stop().await;
}

/// The kept publish request goes when its `publish_request_ttl_sec` has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_publish_request_is_removed_by_its_ttl() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name             = "e2e-keepttl"
  image_name              = "ubuntu-24.04"
  ssh_username            = "packer"
  keep_input_artifact     = true
  publish_location_name   = "golden-images"
  publish_request_ttl_sec = 1
"#;
    let body = "  provisioner \"shell\" {\n    inline = [\"echo kept\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = env.leftovers("e2e-keepttl").await;
        if left == expected("e2e-keepttl") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "publish request still there: {left:?}\n{out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_abort_leaves_everything_and_says_what() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name  = "e2e-abort"
  image_name   = "ubuntu-24.04"
  ssh_username = "packer"
"#;
    let body = "  provisioner \"shell\" {\n    inline = [\"echo failing\", \"exit 3\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, body));
    let run = env.build("b.pkr.hcl", &["-on-error=abort"]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(
        out.contains(
            "-on-error=abort: leaving VirtualMachineService demo/e2e-abort, VirtualMachine demo/e2e-abort, Secret demo/e2e-abort"
        ),
        "{out}"
    );
    assert!(!out.contains("Deleting "), "{out}");
    assert_eq!(
        env.leftovers("e2e-abort").await,
        expected("e2e-abort"),
        "{out}"
    );
    env.stop().await;
}
