//! The acceptance path through the real HTTPS API: objects created with `kubectl` (v1alpha3, as
//! the builder sends them, against the default seed), OpenSSH `ssh` to the LoadBalancer ingress
//! on port 22, a publish request to the seeded writable library, the marker file in the item.

use std::time::Duration;

use serde_json::Value;
use supervisor_sim::server::{RunOptions, Sim};

fn kubectl(kubeconfig: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut c = std::process::Command::new("kubectl");
    c.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", "demo", "--request-timeout=20s"])
        .args(args);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("kubectl runs");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.unwrap_or("").as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("kubectl output");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn get_until(
    kc: &std::path::Path,
    what: &str,
    args: &[&str],
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let kc2 = kc.to_path_buf();
        let a: Vec<String> = args
            .iter()
            .map(|s| s.to_string())
            .chain(["-o".into(), "json".into()])
            .collect();
        let out = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            kubectl(&kc2, &refs, None)
        })
        .await
        .expect("join");
        let v: Value = serde_json::from_str(&out).expect("json");
        if pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_created_vm_is_reachable_over_ssh_and_publishes() {
    let tmp = tempfile::tempdir().unwrap();
    let kc = tmp.path().join("kubeconfig");
    let opts = RunOptions {
        kubeconfig: Some(kc.clone()),
        state_dir: Some(tmp.path().join("state")),
        controller_tuning: Some(std::sync::Arc::new(
            |c: &mut supervisor_sim::controllers::ControllerConfig| {
                c.power_on_delay = Duration::from_millis(100);
                c.ip_delay = Duration::from_millis(100);
                c.publish_step_delay = Duration::from_millis(50);
            },
        )),
        ..RunOptions::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Sim::start(opts, listener).await.expect("simulator starts");
    let keydir = tempfile::tempdir().unwrap();
    let key = keydir.path().join("id_ed25519");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let user_data = format!("#cloud-config\nusers:\n  - name: packer\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - {}\n", public.trim());
    let manifest = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "httpvm"}, "stringData": {"user-data": user_data}},
        {"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
         "metadata": {"name": "httpvm", "labels": {"source-selector": "httpvm"}},
         "spec": {"imageName": "ubuntu-24.04", "className": "best-effort-small", "storageClass": "wcpglobal-storage-profile",
                  "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "httpvm", "key": "user-data"}}}}},
        {"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineService",
         "metadata": {"name": "httpvm"},
         "spec": {"type": "LoadBalancer", "selector": {"source-selector": "httpvm"},
                  "ports": [{"name": "ssh", "protocol": "TCP", "port": 22, "targetPort": 22}]}}
    ]});
    let kc2 = kc.clone();
    let text = manifest.to_string();
    tokio::task::spawn_blocking(move || kubectl(&kc2, &["apply", "-f", "-"], Some(&text)))
        .await
        .unwrap();
    get_until(
        &kc,
        "VM IP",
        &[
            "get",
            "virtualmachines.v1alpha3.vmoperator.vmware.com",
            "httpvm",
        ],
        |v| v.pointer("/status/network/primaryIP4").is_some(),
    )
    .await;
    let svc = get_until(
        &kc,
        "ingress",
        &[
            "get",
            "virtualmachineservices.v1alpha3.vmoperator.vmware.com",
            "httpvm",
        ],
        |v| v.pointer("/status/loadBalancer/ingress/0/ip").is_some(),
    )
    .await;
    let ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    let k2 = key.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-i",
            ])
            .arg(&k2)
            .args([
                "-p",
                "22",
                &format!("packer@{ip}"),
                "echo hi > /tmp/marker; cat /etc/os-release",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("24.04"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let pubreq = serde_json::json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachinePublishRequest",
        "metadata": {"name": "httpvm"}, "spec": {"target": {"location": {"name": "golden-images"}}}});
    let kc2 = kc.clone();
    let text = pubreq.to_string();
    tokio::task::spawn_blocking(move || kubectl(&kc2, &["apply", "-f", "-"], Some(&text)))
        .await
        .unwrap();
    let done = get_until(
        &kc,
        "publish complete",
        &[
            "get",
            "virtualmachinepublishrequests.v1alpha3.vmoperator.vmware.com",
            "httpvm",
        ],
        |v| v["status"]["ready"] == true,
    )
    .await;
    let image_name = done["status"]["imageName"].as_str().unwrap().to_string();
    let img = get_until(
        &kc,
        "image",
        &[
            "get",
            "virtualmachineimages.v1alpha3.vmoperator.vmware.com",
            &image_name,
        ],
        |_| true,
    )
    .await;
    let uuid = img["status"]["providerItemID"].as_str().unwrap();
    assert_eq!(image_name, vmop_types::vmi_name_for_item(uuid));
    let dir = supervisor_sim::library::find_item_dir(&tmp.path().join("state"), uuid)
        .expect("item on disk");
    assert_eq!(
        std::fs::read_to_string(dir.join("rootfs/tmp/marker")).unwrap(),
        "hi\n"
    );
    sim.stop().await;
}
