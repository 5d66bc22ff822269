//! Faults during builds, through the real Packer against the simulator: a server restart
//! during provisioning and during cleanup, a persistent 500 on deleting the VM, one 500 on a
//! read, Packer core SIGKILLed mid-build, and Ctrl-C with 2 s of API latency. After each,
//! either nothing of the build is left, or the build's exit and output say exactly what is.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use supervisor_sim::faults::{FaultConfig, HttpFault};
use supervisor_sim::{RunOptions, Sim};

/// `vsphere_supervisor::steps::cleanup::CLEANUP_TIMEOUT_ENV`, spelled out as users write it.
const CLEANUP_TIMEOUT_ENV: &str = "PACKER_VSPHERE_SUPERVISOR_CLEANUP_TIMEOUT";

fn source(name: &str, extra: &str) -> String {
    format!(
        r#"
  source_name  = "{name}"
  image_name   = "ubuntu-24.04"
  ssh_username = "packer"
  ssh_timeout  = "1m"
{extra}
"#
    )
}

fn shell(lines: &[&str]) -> String {
    let inline: Vec<String> = lines.iter().map(|l| format!("{l:?}")).collect();
    format!(
        "  provisioner \"shell\" {{\n    inline = [{}]\n  }}\n",
        inline.join(", ")
    )
}

fn errored_line(out: &str) -> String {
    lines_with(out, "errored")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn sim(env: &SimEnv) -> &Sim {
    env.sim.as_ref().expect("simulator running")
}

/// Stops the simulator, waits `down`, and starts it again on the same address, state, tokens
/// and CA (the plugin keeps its kubeconfig in memory).
async fn restart(
    env_state: (std::path::PathBuf, std::path::PathBuf),
    old: Sim,
    down: Duration,
) -> Sim {
    let (kubeconfig, state_dir) = env_state;
    let addr = old.addr;
    let opts = RunOptions {
        kubeconfig: Some(kubeconfig),
        state_dir: Some(state_dir),
        admin_token: Some(old.auth.admin_token().to_string()),
        demo_token: Some(old.auth.demo_token().to_string()),
        controller_tuning: Some(Arc::new(
            |c: &mut supervisor_sim::controllers::ControllerConfig| {
                c.power_on_delay = Duration::from_millis(100);
                c.ip_delay = Duration::from_millis(100);
                c.publish_step_delay = Duration::from_millis(50);
            },
        )),
        ..RunOptions::default()
    };
    old.stop().await;
    tokio::time::sleep(down).await;
    let started = Instant::now();
    let listener = loop {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("SO_REUSEADDR");
        match sock.bind(addr).and_then(|()| sock.listen(128)) {
            Ok(l) => break l,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                eprintln!("rebinding {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("rebinding {addr}: {e}"),
        }
    };
    Sim::start(opts, listener)
        .await
        .expect("restarting supervisor-sim")
}

/// Runs a build and restarts the simulator (down for `down`) when a stdout line contains
/// `marker`. Returns the run and whether the restart happened.
async fn build_with_restart(env: &mut SimEnv, marker: &str, down: Duration) -> (PackerRun, bool) {
    let old = env.sim.take().expect("simulator running");
    let paths = (env.kubeconfig.clone(), env.state_dir.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let restarter = tokio::spawn(async move {
        match rx.await {
            Ok(()) => (restart(paths, old, down).await, true),
            Err(_) => (old, false),
        }
    });
    let tx = Mutex::new(Some(tx));
    let run = env
        .packer(&["build", "-color=false", "b.pkr.hcl"], |line, _| {
            if line.contains(marker) {
                if let Some(t) = tx.lock().expect("lock").take() {
                    let _ = t.send(());
                }
            }
        })
        .await;
    drop(tx);
    let (sim, did) = restarter.await.expect("restart task");
    env.sim = Some(sim);
    (run, did)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_during_provisioning_is_cleaned_up() {
    let mut env = SimEnv::start(SimSetup::default()).await;
    let body = shell(&["echo provisioning-started", "sleep 4", "echo provisioned"]);
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &source("e2e-rs-prov", ""), &body),
    );
    let (run, restarted) =
        build_with_restart(&mut env, "provisioning-started", Duration::from_secs(3)).await;
    let out = run.output();
    assert!(restarted, "{out}");
    assert!(!out.contains("could not delete"), "{out}");
    assert!(
        out.contains("Deleted VirtualMachine demo/e2e-rs-prov"),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-rs-prov").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_during_cleanup_is_outlasted() {
    let mut env = SimEnv::start(SimSetup::default()).await;
    env.write(
        "b.pkr.hcl",
        &template(
            &env.kubeconfig,
            &source("e2e-rs-clean", ""),
            &shell(&["echo hi"]),
        ),
    );
    let (run, restarted) = build_with_restart(
        &mut env,
        "Deleting VirtualMachineService demo/e2e-rs-clean",
        Duration::from_secs(3),
    )
    .await;
    let out = run.output();
    assert!(restarted, "{out}");
    assert_eq!(run.code, Some(0), "{out}");
    assert!(!out.contains("could not delete"), "{out}");
    assert_eq!(
        env.leftovers("e2e-rs-clean").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_500_on_deleting_the_vm_fails_the_build_and_names_it() {
    let faults = FaultConfig {
        http: vec![HttpFault {
            verb: Some("delete".into()),
            resource: Some("virtualmachines".into()),
            code: 500,
            ..HttpFault::default()
        }],
        ..FaultConfig::default()
    };
    let env = SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await;
    let src = source(
        "e2e-del500",
        "  publish_location_name = \"golden-images\"\n",
    );
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &src, &shell(&["echo hi"])),
    );
    let started = Instant::now();
    let run = env
        .packer_env(
            &["build", "-color=false", "b.pkr.hcl"],
            &[(CLEANUP_TIMEOUT_ENV, "6")],
            |_, _| {},
        )
        .await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(started.elapsed() < Duration::from_secs(90), "{out}");
    let line = errored_line(&out);
    assert!(
        line.contains("cleanup could not delete VirtualMachine demo/e2e-del500"),
        "{line}\n{out}"
    );
    assert!(
        line.contains("kubectl delete -n demo virtualmachines.vmoperator.vmware.com e2e-del500"),
        "{line}\n{out}"
    );
    assert!(line.contains("500 Internal Server Error"), "{line}");
    // The image was published and is still reported.
    assert!(line.contains("the build published"), "{line}");
    assert!(
        out.contains("Build produced: Published image vmi-"),
        "{out}"
    );
    // The others were deleted; only the VM is left.
    assert_eq!(
        env.leftovers("e2e-del500").await,
        vec!["VirtualMachine/e2e-del500".to_string()],
        "{out}"
    );
    sim(&env).faults.set(FaultConfig::default());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_500_on_listing_images_does_not_fail_the_build() {
    let faults = FaultConfig {
        http: vec![HttpFault {
            verb: Some("list".into()),
            resource: Some("virtualmachineimages".into()),
            code: 500,
            count: Some(1),
            ..HttpFault::default()
        }],
        ..FaultConfig::default()
    };
    let env = SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await;
    env.write(
        "b.pkr.hcl",
        &template(
            &env.kubeconfig,
            &source("e2e-list500", ""),
            &shell(&["echo hi"]),
        ),
    );
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        sim(&env).faults.get().http.is_empty(),
        "the fault was hit: {out}"
    );
    assert_eq!(
        env.leftovers("e2e-list500").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

/// Packer's processes, the panicwrap parent `pid` and its children, but not the plugins.
fn packer_core_pids(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in rd.flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let plugin = String::from_utf8_lossy(&cmd).contains("vsphere-supervisor");
        if ppid == Some(pid) && !plugin {
            pids.push(p);
        }
    }
    pids
}

/// Builds `source_name`, SIGKILLs Packer core (not the plugin) at the first stdout line with
/// `marker`, then expects the orphaned plugin to delete everything, log it and exit.
async fn kill_core_when(env: &SimEnv, source_name: &str, marker: &str) {
    let tmp = env.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir tmp");
    let tmp_s = tmp.display().to_string();
    let killed = Mutex::new(false);
    let run = env
        .packer_env(
            &["build", "-color=false", "b.pkr.hcl"],
            &[("TMPDIR", &tmp_s)],
            |line, pid| {
                let mut k = killed.lock().expect("lock");
                if line.contains(marker) && !*k {
                    *k = true;
                    for p in packer_core_pids(pid) {
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", &p.to_string()])
                            .status();
                    }
                }
            },
        )
        .await;
    let out = run.output();
    assert!(*killed.lock().expect("lock"), "{out}");
    assert!(!out.contains("not-reached"), "{out}");
    // Within a bounded time the orphaned plugin deletes everything and exits.
    let started = Instant::now();
    let mut left = env.leftovers(source_name).await;
    while (!left.is_empty() || !env.plugin_processes().is_empty())
        && started.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(500)).await;
        left = env.leftovers(source_name).await;
    }
    assert_eq!(left, Vec::<String>::new(), "{out}");
    assert!(
        env.plugin_processes().is_empty(),
        "plugin still running\n{out}"
    );
    let logs: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with("packer-vsphere-supervisor-orphan-")
            })
        })
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}\n{out}");
    let log = std::fs::read_to_string(&logs[0]).expect("orphan log");
    for kind in ["VirtualMachine", "VirtualMachineService", "Secret"] {
        assert!(
            log.contains(&format!("Deleted {kind} demo/{source_name}")),
            "{log}"
        );
    }
    assert!(log.contains("this log is "), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packer_core_killed_during_provisioning_the_plugin_cleans_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    let body = shell(&["echo provisioning-started", "sleep 60", "echo not-reached"]);
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &source("e2e-orphan", ""), &body),
    );
    kill_core_when(&env, "e2e-orphan", "provisioning-started").await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packer_core_killed_during_publishing_the_plugin_cleans_up() {
    let env = SimEnv::start(SimSetup {
        publish_step_delay: Some(Duration::from_secs(1)),
        ..SimSetup::default()
    })
    .await;
    let src = source(
        "e2e-orphan-pub",
        "  publish_location_name = \"golden-images\"\n",
    );
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &src, &shell(&["echo quick"])),
    );
    kill_core_when(
        &env,
        "e2e-orphan-pub",
        "Waiting for VirtualMachinePublishRequest",
    )
    .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_with_2s_api_latency_ends_within_a_second_or_two() {
    let env = SimEnv::start(SimSetup {
        faults: FaultConfig {
            latency_ms: 2000,
            ..FaultConfig::default()
        },
        ..SimSetup::default()
    })
    .await;
    env.write(
        "b.pkr.hcl",
        &template(
            &env.kubeconfig,
            &source("e2e-slow", ""),
            &shell(&["echo hi"]),
        ),
    );
    let sent: Mutex<Option<Instant>> = Mutex::new(None);
    let run = env
        .packer(&["build", "-color=false", "b.pkr.hcl"], |line, pid| {
            let mut s = sent.lock().expect("lock");
            if line.contains("Checking source image") && s.is_none() {
                *s = Some(Instant::now());
                sigint(pid);
            }
        })
        .await;
    let out = run.output();
    let sent = sent.lock().expect("lock").expect("interrupted");
    let took = sent.elapsed();
    assert_ne!(run.code, Some(0), "{out}");
    // Nothing was created yet, so there is nothing to clean up: 1 s plus Packer's own exit.
    assert!(took < Duration::from_secs(4), "took {took:?}\n{out}");
    assert!(!out.contains("Creating "), "{out}");
    sim(&env).faults.set(FaultConfig::default());
    assert_eq!(
        env.leftovers("e2e-slow").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_with_2s_api_latency_while_waiting_starts_cleanup_at_once() {
    let env = SimEnv::start(SimSetup {
        faults: FaultConfig {
            latency_ms: 2000,
            ..FaultConfig::default()
        },
        ..SimSetup::default()
    })
    .await;
    env.write(
        "b.pkr.hcl",
        &template(
            &env.kubeconfig,
            &source("e2e-slow-wait", ""),
            &shell(&["echo hi"]),
        ),
    );
    let sent: Mutex<Option<Instant>> = Mutex::new(None);
    let cleanup_started: Mutex<Option<Duration>> = Mutex::new(None);
    let run = env
        .packer(&["build", "-color=false", "b.pkr.hcl"], |line, pid| {
            let mut s = sent.lock().expect("lock");
            if line.contains("Waiting for the source VM") && s.is_none() {
                *s = Some(Instant::now());
                sigint(pid);
            }
            let mut c = cleanup_started.lock().expect("lock");
            if line.contains("Deleting ") && c.is_none() {
                *c = s.map(|t| t.elapsed());
            }
        })
        .await;
    let out = run.output();
    assert_ne!(run.code, Some(0), "{out}");
    let took = cleanup_started
        .lock()
        .expect("lock")
        .expect("cleanup started after the interrupt");
    assert!(took < Duration::from_millis(1500), "took {took:?}\n{out}");
    assert!(!out.contains("could not delete"), "{out}");
    sim(&env).faults.set(FaultConfig::default());
    assert_eq!(
        env.leftovers("e2e-slow-wait").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}
