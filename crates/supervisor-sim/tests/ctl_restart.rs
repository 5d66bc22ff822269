//! Robustness: a simulator restarted on the same state directory brings its running VMs back
//! (same IP, same root, first-boot commands not re-run); a load-balancer port that cannot be
//! bound is reported in a condition; powering a VM off takes its SSH endpoint away.

mod ctl_support;

use std::time::Duration;

use ctl_support::*;
use serde_json::json;
use supervisor_sim::server::{RunOptions, Sim as Server};
use supervisor_sim::store::Subresource;
use vmop_types::api as k;

fn opts(state: &std::path::Path) -> RunOptions {
    RunOptions {
        state_dir: Some(state.to_path_buf()),
        controller_tuning: Some(std::sync::Arc::new(
            |c: &mut supervisor_sim::controllers::ControllerConfig| {
                c.power_on_delay = Duration::from_millis(100);
                c.ip_delay = Duration::from_millis(100);
                c.guest_ssh_port = 0;
            },
        )),
        ..RunOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_state_brings_vms_back() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let (key, public) = keygen(tmp.path());
    let ud = format!("#cloud-config\nusers:\n  - name: packer\n    ssh_authorized_keys: [\"{public}\"]\nruncmd:\n  - echo boot >> /var/tmp/boots\n");

    let sim = Server::start(
        opts(&state),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    create(
        &sim.store,
        &k::SECRET,
        Some(NS),
        secret("rs", &[("user-data", &ud)]),
    );
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        vm(
            "rs",
            json!({
                "className": "best-effort-small", "imageName": "ubuntu-24.04", "storageClass": "wcpglobal-storage-profile",
                "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "rs", "key": "user-data"}}}
            }),
        ),
    );
    let before = wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "rs",
        "IP",
        20,
        |o| o.pointer("/status/network/primaryIP4").is_some(),
    )
    .await;
    sim.stop().await;

    let sim = Server::start(
        opts(&state),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let ctl = sim.controllers.as_ref().expect("controllers run");
    let ep = async {
        loop {
            if let Some(e) = ctl
                .guests
                .lock()
                .unwrap()
                .get(&(NS.to_string(), "rs".to_string()))
                .copied()
            {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ep = tokio::time::timeout(Duration::from_secs(20), ep)
        .await
        .expect("guest back after restart");
    assert_eq!(
        ep.ip.to_string(),
        before["status"]["network"]["primaryIP4"].as_str().unwrap()
    );
    let out = ssh(
        &key,
        ep.ssh.port(),
        &format!("packer@{}", ep.ssh.ip()),
        "cat /var/tmp/boots",
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "boot\n",
        "runcmd must run once"
    );
    let after = sim
        .store
        .get(&gr(&k::VIRTUAL_MACHINE), Some(NS), "rs")
        .unwrap();
    assert_eq!(after["status"]["uniqueID"], before["status"]["uniqueID"]);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_addresses_are_skipped_and_unbindable_ports_reported() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let svc = |name: &str, status: serde_json::Value| {
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineService",
            "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"name": "ssh", "protocol": "TCP", "port": 2222, "targetPort": 22}]},
            "status": status
        })
    };
    // Hold the first candidate address this process can bind (other simulators on the machine
    // may hold earlier ones): the controller must skip it, as it skips theirs.
    let hold = |from: u32| {
        (from..60000).find_map(|n| {
            let ip = std::net::Ipv4Addr::new(127, 77, (n / 254) as u8, (n % 254 + 1) as u8);
            std::net::TcpListener::bind((ip, 2222))
                .ok()
                .map(|l| (ip, l))
        })
    };
    let (held_ip, _held) = hold(1).expect("a free 127.77 address");
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        svc("skip", json!({})),
    );
    let o = wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        "skip",
        "ingress",
        10,
        |o| o.pointer("/status/loadBalancer/ingress/0/ip").is_some(),
    )
    .await;
    let got: std::net::Ipv4Addr = o["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(got, held_ip);
    assert!(cond_is(&o, "LoadBalancerReady", "True", None), "{o}");
    // An address the service already owns (e.g. after a restart) whose port is taken: reported.
    let (busy_ip, _held2) = hold(40000).expect("a free 127.77 address");
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        svc(
            "busy",
            json!({"loadBalancer": {"ingress": [{"ip": busy_ip.to_string()}]}}),
        ),
    );
    let o = wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        "busy",
        "bind failure",
        10,
        |o| cond_is(o, "LoadBalancerReady", "False", Some("BindFailed")),
    )
    .await;
    let msg = condition(&o, "LoadBalancerReady").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains(&format!("{busy_ip}:2222")), "{msg}");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_off_removes_the_ssh_endpoint() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        vm(
            "pw",
            json!({"className": "best-effort-small", "imageName": "ubuntu-22.04-server", "storageClass": "wcp-storage"}),
        ),
    );
    wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "pw",
        "IP",
        20,
        |o| o.pointer("/status/network/primaryIP4").is_some(),
    )
    .await;
    let ep = sim
        .ctl
        .as_ref()
        .unwrap()
        .guests
        .lock()
        .unwrap()
        .get(&(NS.to_string(), "pw".to_string()))
        .copied()
        .unwrap();
    sim.store
        .modify(
            &gr(&k::VIRTUAL_MACHINE),
            Some(NS),
            "pw",
            Subresource::Main,
            |o| {
                o["spec"]["powerState"] = json!("PoweredOff");
                Ok(())
            },
        )
        .unwrap();
    wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "pw",
        "powered off",
        10,
        |o| o["status"]["powerState"] == "PoweredOff",
    )
    .await;
    let closed = async {
        while tokio::net::TcpStream::connect(ep.ssh).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("endpoint closed");
    sim.stop().await;
}
