//! `kubectl get vmpub -w` shows a publish request's conditions change as the simulator's
//! controller walks them, with every kubectl on the machine that can be found: the
//! google-cloud-cli dispatcher (`/usr/bin/kubectl`, 1.27-1.33) and Debian's 1.20 (`KUBECTL_120`).

use std::process::Stdio;
use std::time::Duration;

use supervisor_sim::server::{RunOptions, Sim};
use tokio::io::AsyncReadExt;

fn kubectls() -> Vec<String> {
    let mut found = Vec::new();
    if std::path::Path::new("/usr/bin/kubectl").exists() {
        found.push("/usr/bin/kubectl".to_string());
    }
    if let Ok(p) = std::env::var("KUBECTL_120") {
        if std::path::Path::new(&p).exists() {
            found.push(p);
        }
    }
    found
}

async fn kubectl(bin: &str, kc: &std::path::Path, args: &[&str], stdin: &str) -> String {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(kc)
        .args(["-n", "demo", "--request-timeout=20s"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes()).await.expect("stdin");
    }
    let out = child.wait_with_output().await.expect("kubectl output");
    assert!(
        out.status.success(),
        "{bin} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_w_shows_publish_conditions_turn_true() {
    let bins = kubectls();
    if bins.is_empty() {
        eprintln!("SKIP: no kubectl on this machine");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let kc = tmp.path().join("kubeconfig");
    let opts = RunOptions {
        kubeconfig: Some(kc.clone()),
        state_dir: Some(tmp.path().join("state")),
        controller_tuning: Some(std::sync::Arc::new(
            |c: &mut supervisor_sim::controllers::ControllerConfig| {
                c.power_on_delay = Duration::from_millis(100);
                c.ip_delay = Duration::from_millis(100);
                // Slow enough that a watcher sees each condition arrive on its own.
                c.publish_step_delay = Duration::from_millis(400);
            },
        )),
        ..RunOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sim = Sim::start(opts, listener).await.expect("simulator starts");

    for (i, bin) in bins.iter().enumerate() {
        let name = format!("watchvm{i}");
        let objects = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
             "stringData": {"user-data": "#cloud-config\n"}},
            {"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
             "metadata": {"name": name},
             "spec": {"imageName": "ubuntu-24.04", "className": "best-effort-small",
                      "storageClass": "wcpglobal-storage-profile",
                      "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": name, "key": "user-data"}}}}}
        ]});
        kubectl(bin, &kc, &["apply", "-f", "-"], &objects.to_string()).await;

        // Watch first, then create the request, so every change is an event.
        let mut watch = tokio::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(&kc)
            .args([
                "-n",
                "demo",
                "get",
                "vmpub",
                "-w",
                "-o",
                "custom-columns=NAME:.metadata.name,READY:.status.ready,CONDITIONS:.status.conditions[*].type,STATUS:.status.conditions[*].status",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl get -w runs");
        let mut stdout = watch.stdout.take().expect("stdout");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let request = serde_json::json!({"apiVersion": "vmoperator.vmware.com/v1alpha3",
            "kind": "VirtualMachinePublishRequest", "metadata": {"name": name},
            "spec": {"target": {"location": {"name": "golden-images"}}}});
        kubectl(bin, &kc, &["apply", "-f", "-"], &request.to_string()).await;

        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        let done = |s: &str| {
            s.lines().any(|l| {
                l.starts_with(name.as_str()) && l.contains("true") && l.contains("Complete")
            })
        };
        while !done(&seen) {
            let n = tokio::time::timeout_at(deadline, stdout.read(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("{bin}: no completed request within 60 s:\n{seen}"))
                .expect("read watch output");
            assert!(n > 0, "{bin}: kubectl get -w ended early:\n{seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        watch.kill().await.ok();

        // One line per change: the number of True conditions only grows, every condition shows
        // up, and the request is ready only at the end.
        let rows: Vec<&str> = seen
            .lines()
            .filter(|l| l.starts_with(name.as_str()))
            .collect();
        let trues: Vec<usize> = rows.iter().map(|l| l.matches("True").count()).collect();
        assert!(
            trues.windows(2).all(|w| w[0] <= w[1]),
            "{bin}: a condition went back to False {trues:?}:\n{seen}"
        );
        assert_eq!(
            trues.last(),
            Some(&5),
            "{bin}: not all five conditions True:\n{seen}"
        );
        let distinct: std::collections::BTreeSet<usize> = trues.iter().copied().collect();
        assert!(
            distinct.len() >= 3,
            "{bin}: the watch saw too few intermediate states {trues:?}:\n{seen}"
        );
        let last = rows.last().copied().unwrap_or_default();
        for cond in [
            "SourceValid",
            "TargetValid",
            "Uploaded",
            "ImageAvailable",
            "Complete",
        ] {
            assert!(last.contains(cond), "{bin}: {cond} missing:\n{seen}");
        }
        assert!(
            !rows.first().copied().unwrap_or_default().contains("true"),
            "{bin}: ready from the first line:\n{seen}"
        );
    }
    sim.stop().await;
}
