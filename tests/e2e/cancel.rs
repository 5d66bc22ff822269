//! Ctrl-C (SIGINT to Packer) during provisioning and during publishing: Packer cancels the
//! build over RPC, the plugin cleans up everything it created, and Packer exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;

async fn interrupt_when(env: &SimEnv, source_name: &str, publish: bool, marker: &str) {
    let publish_opts = if publish {
        "  publish_location_name = \"golden-images\"\n"
    } else {
        ""
    };
    let src = format!(
        r#"
  source_name  = "{source_name}"
  image_name   = "ubuntu-24.04"
  ssh_username = "packer"
  ssh_timeout  = "1m"
{publish_opts}
"#
    );
    let body = if publish {
        r#"
  provisioner "shell" {
    inline = ["echo quick"]
  }
"#
    } else {
        r#"
  provisioner "shell" {
    inline = ["echo provisioning-started", "sleep 60", "echo not-reached"]
  }
"#
    };
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let sent = AtomicBool::new(false);
    let started = Instant::now();
    let run = env
        .packer(&["build", "-color=false", "b.pkr.hcl"], |line, pid| {
            if line.contains(marker) && !sent.swap(true, Ordering::SeqCst) {
                sigint(pid);
            }
        })
        .await;
    let out = run.output();
    assert!(
        sent.load(Ordering::SeqCst),
        "marker {marker:?} never appeared\n{out}"
    );
    assert_ne!(run.code, Some(0), "{out}");
    assert!(started.elapsed() < Duration::from_secs(60), "{out}");
    assert!(!out.contains("not-reached"), "{out}");
    assert!(
        out.contains(&format!("Deleting VirtualMachine demo/{source_name}")),
        "{out}"
    );
    assert_eq!(
        env.leftovers(source_name).await,
        Vec::<String>::new(),
        "{out}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(env.plugin_processes().is_empty(), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_provisioning_cleans_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    interrupt_when(&env, "e2e-int-prov", false, "provisioning-started").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_publishing_cleans_up() {
    // Slow publish steps so the interrupt lands while the request is being processed.
    let env = SimEnv::start(SimSetup {
        publish_step_delay: Some(Duration::from_secs(1)),
        ..SimSetup::default()
    })
    .await;
    interrupt_when(
        &env,
        "e2e-int-pub",
        true,
        "Waiting for VirtualMachinePublishRequest",
    )
    .await;
    env.stop().await;
}
