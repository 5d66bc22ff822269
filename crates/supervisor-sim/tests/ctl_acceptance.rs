//! Acceptance: Secret (cloud-init user + a fresh ed25519 key) + VM + LoadBalancer VMService →
//! IP and ingress → OpenSSH `ssh` on port 22 of the ingress IP runs a command in the guest →
//! publish request watched to Complete → the marker file is inside the published item on disk,
//! and the new image is named by the `vmi-` rule.

mod ctl_support;

use ctl_support::*;
use serde_json::{json, Value};
use supervisor_sim::library;
use vmop_types::api as k;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_through_load_balancer_then_publish_captures_the_guest() {
    let _serial = SERIAL.lock().await;
    let sim = start(|c| c.guest_ssh_port = 22).await;
    let s = &sim.store;
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keygen(keys.path());
    let user_data = format!(
        "#cloud-config\nssh_pwauth: true\nusers:\n  - name: packer\n    plain_text_passwd: packer-pw\n    lock_passwd: false\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - {public}\n"
    );
    create(
        s,
        &k::SECRET,
        Some(NS),
        secret("src1", &[("user-data", &user_data)]),
    );
    let mut v = vm(
        "src1",
        json!({
            "className": "best-effort-small", "imageName": "ubuntu-22.04-server", "storageClass": "wcp-storage",
            "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "src1", "key": "user-data"}}}
        }),
    );
    v["metadata"]["labels"] = json!({"source-selector": "src1"});
    create(s, &k::VIRTUAL_MACHINE, Some(NS), v);
    create(
        s,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineService",
            "metadata": {"name": "src1"},
            "spec": {"type": "LoadBalancer", "selector": {"source-selector": "src1"},
                     "ports": [{"name": "ssh", "protocol": "TCP", "port": 22, "targetPort": 22}]}
        }),
    );

    let vmobj = wait_for(s, &k::VIRTUAL_MACHINE, Some(NS), "src1", "VM IP", 30, |o| {
        o["status"]["powerState"] == "PoweredOn"
            && o.pointer("/status/network/primaryIP4").is_some()
    })
    .await;
    let svc = wait_for(
        s,
        &k::VIRTUAL_MACHINE_SERVICE,
        Some(NS),
        "src1",
        "ingress IP",
        30,
        |o| o.pointer("/status/loadBalancer/ingress/0/ip").is_some(),
    )
    .await;
    let ingress = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ingress.starts_with("127.77."), "{ingress}");
    assert!(cond_is(&svc, "LoadBalancerReady", "True", None), "{svc}");
    assert_ne!(
        vmobj["status"]["network"]["primaryIP4"].as_str().unwrap(),
        ingress
    );

    let out = ssh(
        &key,
        22,
        &format!("packer@{ingress}"),
        "echo hi > /tmp/marker; cat /etc/os-release",
    )
    .await;
    assert!(
        out.status.success(),
        "ssh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("PRETTY_NAME=\"ubuntu-22.04-server\""),
        "{stdout}"
    );
    let root = supervisor_sim::guest::vm_root(&sim.state_dir(), NS, "src1");
    assert_eq!(
        std::fs::read_to_string(root.join("tmp/marker")).unwrap(),
        "hi\n"
    );

    // Publish, recording the order in which conditions turn True.
    library(s, "cl-writable", true, json!({}));
    let mut w = s
        .watch(&gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST), Some(NS), None)
        .unwrap();
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest",
            "metadata": {"name": "src1"},
            "spec": {"target": {"location": {"name": "cl-writable"}}}
        }),
    );
    let mut order: Vec<String> = Vec::new();
    let done = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(ev) = w.next().await {
            let o = ev.unwrap().object;
            for c in o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let t = c["type"].as_str().unwrap_or_default().to_string();
                if c["status"] == "True" && !order.contains(&t) {
                    order.push(t);
                }
            }
            if cond_is(&o, "Complete", "True", None) {
                return (*o).clone();
            }
            assert!(
                !cond_is(&o, "Complete", "False", None),
                "publish failed: {o}"
            );
        }
        panic!("watch ended");
    })
    .await
    .expect("publish completes");
    assert_eq!(
        order,
        [
            "SourceValid",
            "TargetValid",
            "Uploaded",
            "ImageAvailable",
            "Complete"
        ]
    );
    assert_eq!(done["status"]["ready"], true);
    assert_eq!(done["status"]["attempts"], 1);
    assert!(
        done["status"]["completionTime"].is_string() && done["status"]["startTime"].is_string()
    );
    assert_eq!(done["status"]["sourceRef"]["name"], "src1");
    assert_eq!(done["status"]["targetRef"]["item"]["name"], "src1-image");
    assert_eq!(
        done["metadata"]["finalizers"],
        json!(["vmoperator.vmware.com/virtualmachinepublishrequest"])
    );

    let image_name = done["status"]["imageName"].as_str().unwrap();
    let image = s
        .get(&gr(&k::VIRTUAL_MACHINE_IMAGE), Some(NS), image_name)
        .unwrap();
    let item_uuid = image["status"]["providerItemID"].as_str().unwrap();
    assert_eq!(image_name, vmop_types::vmi_name_for_item(item_uuid));
    assert_eq!(image["status"]["name"], "src1-image");
    assert_eq!(image["status"]["type"], "OVF");
    let item = s
        .get(
            &gr(&k::CONTENT_LIBRARY_ITEM),
            Some(NS),
            &vmop_types::naming::item_name_for_item(item_uuid),
        )
        .unwrap();
    assert_eq!(item["status"]["name"], "src1-image");
    assert_eq!(item["spec"]["id"], item_uuid);
    let dir = library::find_item_dir(&sim.state_dir(), item_uuid).expect("item stored on disk");
    assert!(dir.starts_with(sim.state_dir().join("libraries/cl-writable")));
    assert_eq!(
        std::fs::read_to_string(dir.join("rootfs/tmp/marker")).unwrap(),
        "hi\n"
    );

    // A second publish with the same item name is stuck on TargetItemAlreadyExists.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest",
            "metadata": {"name": "again"},
            "spec": {"source": {"name": "src1"}, "target": {"item": {"name": "src1-image"}, "location": {"name": "cl-writable"}}}
        }),
    );
    wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "again",
        "item exists",
        20,
        |o| cond_is(o, "TargetValid", "False", Some("TargetItemAlreadyExists")),
    )
    .await;

    // Deleting the request drops its finalizer only: the request goes, the image stays.
    s.delete(
        &gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST),
        Some(NS),
        "src1",
        &Default::default(),
    )
    .unwrap();
    let gone = async {
        while s
            .get(&gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST), Some(NS), "src1")
            .is_ok()
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), gone)
        .await
        .expect("request deleted");
    assert!(s
        .get(&gr(&k::VIRTUAL_MACHINE_IMAGE), Some(NS), image_name)
        .is_ok());
    sim.stop().await;
}
