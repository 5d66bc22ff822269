//! Failing builds: each fails fast with one clear line, exits 1 and leaves nothing behind.

use std::time::{Duration, Instant};

use crate::common::*;
use supervisor_sim::faults::{ControllerFaults, FaultConfig, PublishFailure};

fn basic_source(source_name: &str, extra: &str) -> String {
    format!(
        r#"
  source_name  = "{source_name}"
  image_name   = "ubuntu-24.04"
  ssh_username = "packer"
  ssh_timeout  = "1m"
{extra}
"#
    )
}

const ECHO: &str = r#"
  provisioner "shell" {
    inline = ["echo provisioned"]
  }
"#;

/// A simulator whose vm-operator fails every publish request with `reason` and `message`.
async fn sim_failing_publishes(reason: &str, message: &str) -> SimEnv {
    let faults = FaultConfig {
        controllers: ControllerFaults {
            publish_failure: Some(PublishFailure {
                reason: reason.into(),
                message: message.into(),
            }),
            ..ControllerFaults::default()
        },
        ..FaultConfig::default()
    };
    SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await
}

/// The `Build '…' errored: <line>` line of Packer's output.
fn errored_line(out: &str) -> String {
    lines_with(out, "errored")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_failure_fails_at_once_with_reason_and_cleans_up() {
    let env = sim_failing_publishes("UploadFailure", "datastore is full").await;
    let src = basic_source(
        "e2e-pubfail",
        "  publish_location_name = \"golden-images\"\n  watch_publish_timeout_sec = 300\n",
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, ECHO));
    let started = Instant::now();
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    // Far below the 300 s publish timeout: the failure condition ended the wait.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}\n{out}",
        started.elapsed()
    );
    let line = errored_line(&out);
    assert!(
        line.contains("UploadFailure") && line.contains("datastore is full"),
        "{out}"
    );
    assert!(
        line.contains("VirtualMachinePublishRequest demo/e2e-pubfail"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-pubfail").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

/// `TargetLocationNotFound` is documented as terminal but was not in the builder's list: the
/// build waited for the whole publish timeout. Now it ends as soon as the condition appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_location_not_found_ends_the_publish_within_two_seconds() {
    let env = sim_failing_publishes(
        "TargetLocationNotFound",
        "content library golden-images is gone",
    )
    .await;
    let src = basic_source(
        "e2e-pubtarget",
        "  publish_location_name = \"golden-images\"\n  watch_publish_timeout_sec = 300\n",
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, ECHO));
    let mut publish_started = None;
    let run = env
        .packer(&["build", "-color=false", "b.pkr.hcl"], |line, _| {
            if publish_started.is_none() && line.contains("Publishing VM demo/e2e-pubtarget") {
                publish_started = Some(Instant::now());
            }
        })
        .await;
    let out = run.output();
    let took = publish_started
        .expect("the build reached the publish step")
        .elapsed();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(took < Duration::from_secs(2), "took {took:?}\n{out}");
    let line = errored_line(&out);
    assert!(
        line.contains("TargetValid=False TargetLocationNotFound")
            && line.contains("content library golden-images is gone"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-pubtarget").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

/// A reason the VM Operator documentation does not name is shown as soon as it appears; the
/// build goes on waiting (here until vm-operator gives up with `Complete=False Fatal`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_publish_reason_is_shown_as_it_appears() {
    let env = sim_failing_publishes("DatastoreHiccup", "datastore1 blinked").await;
    let src = basic_source(
        "e2e-pubodd",
        "  publish_location_name = \"golden-images\"\n  watch_publish_timeout_sec = 300\n",
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, ECHO));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    let shown = "Publish request: Uploaded=False DatastoreHiccup: datastore1 blinked (reason not documented by VM Operator; still waiting)";
    assert_eq!(lines_with(&out, shown).len(), 1, "{out}");
    let line = errored_line(&out);
    assert!(line.contains("Complete=False Fatal"), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_without_ip_times_out_clearly_and_cleans_up() {
    let faults = FaultConfig {
        controllers: ControllerFaults {
            vm_no_ip: true,
            ..ControllerFaults::default()
        },
        ..FaultConfig::default()
    };
    let env = SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await;
    let src = basic_source("e2e-noip", "  watch_source_timeout_sec = 3\n");
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, ECHO));
    let started = Instant::now();
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(started.elapsed() < Duration::from_secs(60), "{out}");
    let line = errored_line(&out);
    assert!(
        line.contains("timed out after 3s waiting for VirtualMachine demo/e2e-noip to be powered on with an IPv4 address"),
        "{out}"
    );
    assert!(line.contains("PoweredOn"), "last state is reported: {out}");
    assert!(
        out.contains("Deleting VirtualMachine demo/e2e-noip"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-noip").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_and_class_are_reported_before_creating_anything() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name  = "e2e-check"
  image_name   = "no-such-image"
  ssh_username = "packer"
"#;
    let tpl = template(&env.kubeconfig, src, ECHO).replace("best-effort-small", "huge");
    env.write("b.pkr.hcl", &tpl);
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    let line = errored_line(&out);
    assert!(
        line.contains("image_name \"no-such-image\" matches no VirtualMachineImage"),
        "{out}"
    );
    assert!(line.contains("ubuntu-24.04"), "candidates listed: {out}");
    assert!(
        line.contains("class_name \"huge\"") && line.contains("best-effort-small"),
        "{out}"
    );
    assert!(!out.contains("Creating "), "{out}");
    assert_eq!(env.leftovers("e2e-check").await, Vec::<String>::new());
    env.stop().await;
}

async fn assert_connect_failure(env: &SimEnv, kubeconfig: &std::path::Path, expect: &[&str]) {
    let src = basic_source("e2e-conn", "");
    env.write("c.pkr.hcl", &template(kubeconfig, &src, ECHO));
    let run = env.build("c.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    let line = errored_line(&out);
    assert!(
        line.contains("connecting to Supervisor https://127.0.0.1:"),
        "{out}"
    );
    assert!(line.contains("(context supervisor-sim)"), "{out}");
    for e in expect {
        assert!(line.contains(e), "expected {e:?} in {line:?}\n{out}");
    }
    // One line: the message is not a multi-line dump, and no panic.
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(
        lines_with(&out, "connecting to Supervisor").len(),
        2,
        "once in the error, once in the summary: {out}"
    );
    // Packer killed the plugin when it finished.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        env.plugin_processes().is_empty(),
        "plugin processes left: {:?}",
        env.plugin_processes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_cluster_is_one_clear_line() {
    let env = SimEnv::start(SimSetup::default()).await;
    // A port with nothing listening.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let kc = env.kubeconfig_variant("dead.kubeconfig", |t| {
        let re_start = t.find("https://127.0.0.1:").expect("server line");
        let rest = &t[re_start + "https://127.0.0.1:".len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        t.replace(
            &t[re_start..re_start + "https://127.0.0.1:".len() + digits],
            &format!("https://127.0.0.1:{port}"),
        )
    });
    assert_connect_failure(
        &env,
        &kc,
        &[&format!("https://127.0.0.1:{port}"), "Connection refused"],
    )
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorised_cluster_is_one_clear_line() {
    let env = SimEnv::start(SimSetup::default()).await;
    let kc = env.kubeconfig_variant("bad-token.kubeconfig", |t| {
        t.lines()
            .map(|l| match l.find("token: ") {
                Some(i) => format!("{}token: not-the-token", &l[..i]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    assert_connect_failure(&env, &kc, &["401 Unauthorized"]).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_without_vm_operator_is_one_clear_line() {
    // Every vmoperator version the CRDs define (v1alpha1..v1alpha5) is one this builder speaks;
    // a Supervisor whose VM Service is off serves none at all.
    let env = SimEnv::start(SimSetup {
        vmop_versions: Some(Vec::new()),
        ..SimSetup::default()
    })
    .await;
    let src = basic_source("e2e-old", "");
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, ECHO));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    let line = errored_line(&out);
    assert!(
        line.contains(
            "does not serve the vmoperator.vmware.com API group (is the VM Service enabled on it?)"
        ),
        "{out}"
    );
    assert!(line.contains("(context supervisor-sim)"), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_provisioner_fails_the_build_and_cleans_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = basic_source(
        "e2e-provfail",
        "  publish_location_name = \"golden-images\"\n",
    );
    let body = "  provisioner \"shell\" {\n    inline = [\"echo failing\", \"exit 3\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    let line = errored_line(&out);
    assert!(line.contains("non-zero exit status: 3"), "{line}\n{out}");
    assert!(
        !out.contains("Creating VirtualMachinePublishRequest"),
        "{out}"
    );
    assert!(
        out.contains("Deleting VirtualMachine demo/e2e-provfail"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-provfail").await,
        Vec::<String>::new(),
        "{out}"
    );
    assert!(env.plugin_processes().is_empty(), "{out}");
    env.stop().await;
}
