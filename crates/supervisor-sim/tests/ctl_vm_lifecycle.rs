//! VirtualMachine webhook and controller: dependency conditions with vSphere's reasons,
//! watch-driven recovery when the missing object appears, display-name resolution.

mod ctl_support;

use ctl_support::*;
use serde_json::json;
use supervisor_sim::store::WriteOptions;
use vmop_types::api as k;

fn base_spec() -> serde_json::Value {
    json!({"className": "best-effort-small", "imageName": "ubuntu-22.04-server", "storageClass": "wcp-storage"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_dependencies_are_reported_then_recovered() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let s = &sim.store;

    // Missing class → VirtualMachineClassReady=False/NotFound; creating it lets the VM proceed.
    let mut spec = base_spec();
    spec["className"] = json!("no-such-class");
    create(s, &k::VIRTUAL_MACHINE, Some(NS), vm("noclass", spec));
    let v = wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "noclass",
        "class NotFound",
        10,
        |o| cond_is(o, "VirtualMachineClassReady", "False", Some("NotFound")),
    )
    .await;
    assert!(cond_is(&v, "VirtualMachineImageReady", "True", None), "{v}");
    assert!(v.pointer("/status/uniqueID").is_none(), "{v}");
    create(
        s,
        &k::VIRTUAL_MACHINE_CLASS,
        Some(NS),
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineClass", "metadata": {"name": "no-such-class"}, "spec": {}}),
    );
    let v = wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "noclass",
        "powered on with IP",
        20,
        |o| {
            o.pointer("/status/network/primaryIP4").is_some()
                && o["status"]["powerState"] == "PoweredOn"
        },
    )
    .await;
    assert!(cond_is(&v, "VirtualMachineClassReady", "True", None));
    assert!(cond_is(&v, "VirtualMachineCreated", "True", None));
    assert!(cond_is(&v, "Ready", "True", None));
    assert!(cond_is(&v, "VirtualMachineTools", "True", Some("Running")));
    assert!(cond_is(&v, "GuestCustomization", "True", Some("Succeeded")));
    assert!(cond_is(&v, "VirtualMachineNetworkReady", "True", None));
    let uid = v["status"]["uniqueID"].as_str().unwrap();
    assert!(uid.starts_with("vm-"), "{uid}");
    assert!(v["status"]["biosUUID"]
        .as_str()
        .is_some_and(|s| s.len() == 36));
    let ip: std::net::Ipv4Addr = v["status"]["network"]["primaryIP4"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(&ip.octets()[..2], &[127, 88]);
    // The guest root got the image's content.
    let root = supervisor_sim::guest::vm_root(&sim.state_dir(), NS, "noclass");
    let os = std::fs::read_to_string(root.join("etc/os-release")).unwrap();
    assert!(os.contains("VERSION_ID=\"22.04\""), "{os}");

    // Missing image (object-name form passes the webhook) → VirtualMachineImageReady=False/NotFound.
    let mut spec = base_spec();
    spec["imageName"] = json!("vmi-doesnotexist0000");
    create(s, &k::VIRTUAL_MACHINE, Some(NS), vm("noimage", spec));
    let v = wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "noimage",
        "image NotFound",
        10,
        |o| cond_is(o, "VirtualMachineImageReady", "False", Some("NotFound")),
    )
    .await;
    assert_eq!(
        v["spec"]["image"],
        json!({"kind": "VirtualMachineImage", "name": "vmi-doesnotexist0000"})
    );

    // Missing storage class.
    let mut spec = base_spec();
    spec["storageClass"] = json!("gold");
    create(s, &k::VIRTUAL_MACHINE, Some(NS), vm("nostorage", spec));
    wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "nostorage",
        "storage NotFound",
        10,
        |o| cond_is(o, "VirtualMachineStorageReady", "False", Some("NotFound")),
    )
    .await;

    // Missing bootstrap Secret: the webhook accepts, the controller reports, the Secret fixes it.
    let mut spec = base_spec();
    spec["bootstrap"] =
        json!({"cloudInit": {"rawCloudConfig": {"name": "later", "key": "user-data"}}});
    create(s, &k::VIRTUAL_MACHINE, Some(NS), vm("nosecret", spec));
    wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "nosecret",
        "bootstrap not ready",
        10,
        |o| cond_is(o, "VirtualMachineBootstrapReady", "False", None),
    )
    .await;
    create(
        s,
        &k::SECRET,
        Some(NS),
        secret("later", &[("user-data", "#cloud-config\nusers: []\n")]),
    );
    wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "nosecret",
        "bootstrap ready and created",
        20,
        |o| {
            cond_is(o, "VirtualMachineBootstrapReady", "True", None)
                && cond_is(o, "VirtualMachineCreated", "True", None)
        },
    )
    .await;

    // Deleting a VM stops its guest endpoint.
    let addr = sim
        .ctl
        .as_ref()
        .unwrap()
        .guests
        .lock()
        .unwrap()
        .get(&(NS.to_string(), "noclass".to_string()))
        .copied()
        .expect("guest registered");
    assert!(tokio::net::TcpStream::connect(addr.ssh).await.is_ok());
    s.delete(
        &gr(&k::VIRTUAL_MACHINE),
        Some(NS),
        "noclass",
        &Default::default(),
    )
    .unwrap();
    let gone = async {
        loop {
            if tokio::net::TcpStream::connect(addr.ssh).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), gone)
        .await
        .expect("guest endpoint torn down");
    // ...and its disk goes with the object, so a new VM of the same name starts fresh.
    let dir = supervisor_sim::guest::vm_dir(&sim.state_dir(), NS, "noclass");
    let wiped = async {
        while dir.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wiped)
        .await
        .expect("disk removed");
    let mut spec = base_spec();
    spec["bootstrap"] =
        json!({"cloudInit": {"rawCloudConfig": {"name": "later", "key": "user-data"}}});
    create(s, &k::VIRTUAL_MACHINE, Some(NS), vm("noclass", spec));
    wait_for(
        s,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "noclass",
        "re-created VM runs",
        20,
        |o| o.pointer("/status/network/primaryIP4").is_some(),
    )
    .await;
    assert!(root.join("var/lib/cloud/instance/boot-finished").exists());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_defaults_resolves_display_names_and_validates() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let s = &sim.store;
    let opts = WriteOptions { dry_run: true };
    let try_create = |name: &str, spec: serde_json::Value| {
        s.create(&gr(&k::VIRTUAL_MACHINE), Some(NS), vm(name, spec), &opts)
    };

    // Namespaced display name → VMI; defaults filled.
    let v = try_create("a", base_spec()).expect("namespaced display name resolves");
    assert_eq!(
        v["spec"]["image"],
        json!({"kind": "VirtualMachineImage", "name": "vmi-0000000000000ubu"})
    );
    assert_eq!(v["spec"]["powerState"], "PoweredOn");
    assert!(v["spec"]["biosUUID"]
        .as_str()
        .is_some_and(|u| u.len() == 36));
    // Cluster display name → CVMI; object names work too.
    let mut spec = base_spec();
    spec["imageName"] = json!("photon-5.0");
    let v = try_create("b", spec).unwrap();
    assert_eq!(
        v["spec"]["image"],
        json!({"kind": "ClusterVirtualMachineImage", "name": "vmi-00000000000photon"})
    );
    let mut spec = base_spec();
    spec["imageName"] = json!("vmi-00000000000photon");
    assert_eq!(
        try_create("c", spec).unwrap()["spec"]["image"]["kind"],
        "ClusterVirtualMachineImage"
    );
    // Namespace wins over cluster for the same display name.
    add_image(s, None, "vmi-000000000000cubu", "ubuntu-22.04-server");
    assert_eq!(
        try_create("d", base_spec()).unwrap()["spec"]["image"]["name"],
        "vmi-0000000000000ubu"
    );

    // Ambiguous display name → rejected, listing the candidates.
    add_image(s, Some(NS), "vmi-00000000000dup01", "dup");
    add_image(s, Some(NS), "vmi-00000000000dup02", "dup");
    let mut spec = base_spec();
    spec["imageName"] = json!("dup");
    let e = try_create("e", spec).unwrap_err();
    assert_eq!(e.code, 422, "{e:?}");
    assert!(
        e.message.contains("vmi-00000000000dup01") && e.message.contains("vmi-00000000000dup02"),
        "{}",
        e.message
    );
    // Unknown display name → rejected.
    let mut spec = base_spec();
    spec["imageName"] = json!("windows-2022");
    assert!(try_create("f", spec)
        .unwrap_err()
        .message
        .contains("no VM image exists"));

    // Validations.
    let mut spec = base_spec();
    spec["powerState"] = json!("Suspended");
    assert!(try_create("g", spec)
        .unwrap_err()
        .message
        .contains("Suspended"));
    let mut spec = base_spec();
    spec["bootstrap"] = json!({"cloudInit": {"rawCloudConfig": {"name": "x"}}, "vAppConfig": {"rawProperties": "x"}});
    assert!(try_create("h", spec)
        .unwrap_err()
        .message
        .contains("CloudInit"));
    let mut spec = base_spec();
    spec["bootstrap"] = json!({"sysprep": {"rawSysprep": {"name": "x", "key": "unattend"}}});
    assert!(try_create("a-very-long-windows-name", spec.clone())
        .unwrap_err()
        .message
        .contains("15 characters"));
    assert!(try_create("win-short", spec).is_ok());
    let mut spec = base_spec();
    spec["hardware"] =
        json!({"cdrom": [{"name": "cdrom", "image": {"name": "vmi-0000000000000ubu"}}]});
    assert!(try_create("i", spec.clone())
        .unwrap_err()
        .message
        .contains("guestID"));
    spec["guestID"] = json!("ubuntu64Guest");
    spec.as_object_mut().unwrap().remove("imageName");
    let v = try_create("j", spec).unwrap();
    assert_eq!(v["spec"]["imageName"], "vmi-0000000000000ubu");
    assert_eq!(
        v["spec"]["hardware"]["cdrom"][0]["image"]["kind"],
        "VirtualMachineImage"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_request_webhook_requires_a_location_and_keeps_spec_immutable() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let s = &sim.store;
    let g = gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST);
    // The builder's feature probe: an empty dry-run create fails on the location only.
    let e = s
        .create(&g, Some(NS), json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest", "metadata": {"name": "probe"}, "spec": {}}), &WriteOptions { dry_run: true })
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("spec.target.location.name: Required value"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("WCP_VM_Image_Registry"));
    let e = s
        .create(&g, Some(NS), json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest", "metadata": {"name": "bad"},
            "spec": {"source": {"apiVersion": "v1", "kind": "Pod"}, "target": {"location": {"name": "l", "kind": "Bucket"}}}}), &WriteOptions::default())
        .unwrap_err();
    assert!(
        e.message.contains("spec.source.apiVersion")
            && e.message.contains("spec.source.kind")
            && e.message.contains("spec.target.location.kind"),
        "{}",
        e.message
    );
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest", "metadata": {"name": "ok"},
        "spec": {"target": {"location": {"name": "somewhere"}}}}),
    );
    let e = s
        .modify(
            &g,
            Some(NS),
            "ok",
            supervisor_sim::store::Subresource::Main,
            |o| {
                o["spec"]["target"]["location"]["name"] = json!("elsewhere");
                Ok(())
            },
        )
        .unwrap_err();
    assert!(e.message.contains("immutable"), "{}", e.message);
    sim.stop().await;
}
