//! `keep_input_artifact` and `-on-error=abort`: what stays, and that the build says so.
mod common;

use common::*;

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
            "keep_input_artifact is set: keeping VirtualMachineService demo/e2e-keep, VirtualMachine demo/e2e-keep, Secret demo/e2e-keep"
        ),
        "{out}"
    );
    // The publish request is bookkeeping: deleted even when the machine is kept.
    assert!(
        out.contains("Deleting VirtualMachinePublishRequest demo/e2e-keep"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-keep").await,
        expected("e2e-keep"),
        "{out}"
    );
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
