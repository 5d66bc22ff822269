//! Controller-level faults, observed exactly as configured: no IP (per object and per run),
//! publish failures (per object annotation, per run, storage full), TTL deletion, and a missing
//! sandbox failing the VM.

mod ctl_support;

use std::time::Duration;

use ctl_support::*;
use serde_json::json;
use supervisor_sim::controllers::{ControllerFaults, FaultSource, PublishFailure};
use vmop_types::api as k;

fn spec() -> serde_json::Value {
    json!({"className": "best-effort-small", "imageName": "ubuntu-22.04-server", "storageClass": "wcp-storage"})
}

fn pubreq(
    name: &str,
    source: &str,
    item: &str,
    lib: &str,
    annotations: serde_json::Value,
    ttl: Option<i64>,
) -> serde_json::Value {
    let mut o = json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachinePublishRequest",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"source": {"name": source}, "target": {"item": {"name": item}, "location": {"name": lib}}}
    });
    if let Some(t) = ttl {
        o["spec"]["ttlSecondsAfterFinished"] = json!(t);
    }
    o
}

async fn running_vm(sim: &Sim, name: &str) {
    create(&sim.store, &k::VIRTUAL_MACHINE, Some(NS), vm(name, spec()));
    wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        name,
        "VM IP",
        20,
        |o| o.pointer("/status/network/primaryIP4").is_some(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ip_per_object_and_per_run() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let mut v = vm("noip", spec());
    v["metadata"]["annotations"] = json!({"sim.supervisor.vmware.com/no-ip": "true"});
    create(&sim.store, &k::VIRTUAL_MACHINE, Some(NS), v);
    // A VM without the annotation, created after, gets its IP: by then the faulty one had time.
    running_vm(&sim, "withip").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let o = sim
        .store
        .get(&gr(&k::VIRTUAL_MACHINE), Some(NS), "noip")
        .unwrap();
    assert_eq!(o["status"]["powerState"], "PoweredOn", "{o}");
    assert!(o.pointer("/status/network/primaryIP4").is_none(), "{o}");
    sim.stop().await;

    // Per run, switched at runtime through the fault source.
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f2 = flag.clone();
    let sim = start(move |c| {
        c.fault_source = Some(FaultSource(std::sync::Arc::new(move || ControllerFaults {
            no_ip: f2.load(std::sync::atomic::Ordering::SeqCst),
            ..Default::default()
        })))
    })
    .await;
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        vm("runnoip", spec()),
    );
    wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "runnoip",
        "powered on",
        10,
        |o| o["status"]["powerState"] == "PoweredOn",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let o = sim
        .store
        .get(&gr(&k::VIRTUAL_MACHINE), Some(NS), "runnoip")
        .unwrap();
    assert!(o.pointer("/status/network/primaryIP4").is_none(), "{o}");
    flag.store(false, std::sync::atomic::Ordering::SeqCst);
    running_vm(&sim, "later").await;
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_failures_and_ttl() {
    let _serial = SERIAL.lock().await;
    let sim = start(|_| {}).await;
    let s = &sim.store;
    running_vm(&sim, "src").await;
    library(s, "lib", true, json!({}));
    library(s, "readonly", false, json!({}));
    library(
        s,
        "tiny",
        true,
        json!({"sim.supervisor.vmware.com/capacity-bytes": "10"}),
    );

    // Per-object injected failure: reason and message exactly as given.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq(
            "p1",
            "src",
            "img1",
            "lib",
            json!({
                "sim.supervisor.vmware.com/publish-failure-reason": "UploadFailure",
                "sim.supervisor.vmware.com/publish-failure-message": "insufficient storage space on datastore1"
            }),
            None,
        ),
    );
    let o = wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p1",
        "failure",
        20,
        |o| cond_is(o, "Complete", "False", None),
    )
    .await;
    let up = condition(&o, "Uploaded").unwrap();
    assert_eq!(up["reason"], "UploadFailure", "{o}");
    assert_eq!(up["message"], "insufficient storage space on datastore1");
    // Retried until backoffLimit (default 3), then Fatal.
    let done = condition(&o, "Complete").unwrap();
    assert_eq!(done["reason"], "Fatal", "{o}");
    assert_eq!(done["message"], "insufficient storage space on datastore1");
    assert_eq!(o["status"]["attempts"], 3);
    assert_eq!(o["status"]["ready"], false);
    assert!(condition(&o, "ImageAvailable").is_none());

    // Target-type reasons land on TargetValid.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq(
            "p2",
            "src",
            "img2",
            "lib",
            json!({
                "sim.supervisor.vmware.com/publish-failure-reason": "TargetContentLibraryFailedQuotaCheck",
                "sim.supervisor.vmware.com/publish-failure-message": "quota exceeded"
            }),
            None,
        ),
    );
    let o = wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p2",
        "quota failure",
        20,
        |o| cond_is(o, "Complete", "False", None),
    )
    .await;
    assert!(
        cond_is(
            &o,
            "TargetValid",
            "False",
            Some("TargetContentLibraryFailedQuotaCheck")
        ),
        "{o}"
    );

    // Real storage-full: the library's capacity is smaller than the VM root.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq("p3", "src", "img3", "tiny", json!({}), None),
    );
    let o = wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p3",
        "storage full",
        20,
        |o| cond_is(o, "Complete", "False", None),
    )
    .await;
    let c = condition(&o, "Uploaded").unwrap();
    assert_eq!(c["reason"], "UploadFailure");
    assert!(cond_is(&o, "Complete", "False", Some("Fatal")), "{o}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("insufficient storage space"),
        "{o}"
    );

    // Validation reasons.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq("p4", "ghost", "img4", "lib", json!({}), None),
    );
    wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p4",
        "source missing",
        20,
        |o| {
            cond_is(
                o,
                "SourceValid",
                "False",
                Some("SourceVirtualMachineNotExist"),
            )
        },
    )
    .await;
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq("p5", "src", "img5", "readonly", json!({}), None),
    );
    wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p5",
        "not writable",
        20,
        |o| {
            cond_is(
                o,
                "TargetValid",
                "False",
                Some("TargetContentLibraryNotWritable"),
            )
        },
    )
    .await;
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq("p6", "src", "img6", "nolib", json!({}), None),
    );
    wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p6",
        "no library",
        20,
        |o| {
            cond_is(
                o,
                "TargetValid",
                "False",
                Some("TargetContentLibraryNotExist"),
            )
        },
    )
    .await;

    // TTL: a finished request disappears about ttl seconds after completion.
    create(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        pubreq("p7", "src", "img7", "lib", json!({}), Some(2)),
    );
    let done = wait_for(
        s,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p7",
        "complete",
        20,
        |o| cond_is(o, "Complete", "True", None),
    )
    .await;
    let finished = std::time::Instant::now();
    let image = done["status"]["imageName"].as_str().unwrap().to_string();
    assert!(s
        .get(&gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST), Some(NS), "p7")
        .is_ok());
    let gone = async {
        while s
            .get(&gr(&k::VIRTUAL_MACHINE_PUBLISH_REQUEST), Some(NS), "p7")
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gone)
        .await
        .expect("deleted after TTL");
    // completionTime has second precision, so a 2 s TTL leaves at least 1 s.
    assert!(
        finished.elapsed() >= Duration::from_millis(900),
        "deleted before its TTL"
    );
    assert!(
        s.get(&gr(&k::VIRTUAL_MACHINE_IMAGE), Some(NS), &image)
            .is_ok(),
        "image kept"
    );
    sim.stop().await;

    // Per-run publish failure.
    let sim = start(|c| {
        c.faults.publish_failure = Some(PublishFailure {
            reason: "UploadFailure".into(),
            message: "run-wide failure".into(),
        })
    })
    .await;
    running_vm(&sim, "src").await;
    library(&sim.store, "lib", true, json!({}));
    create(&sim.store, &k::VIRTUAL_MACHINE_PUBLISH_REQUEST, Some(NS), {
        let mut p8 = pubreq("p8", "src", "img8", "lib", json!({}), None);
        p8["spec"]["backoffLimit"] = json!(1);
        p8
    });
    let o = wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE_PUBLISH_REQUEST,
        Some(NS),
        "p8",
        "run-wide failure",
        20,
        |o| cond_is(o, "Complete", "False", None),
    )
    .await;
    assert_eq!(
        condition(&o, "Complete").unwrap()["message"],
        "run-wide failure"
    );
    assert_eq!(o["status"]["attempts"], 1, "backoffLimit 1: no retry");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_sandbox_fails_the_vm_with_a_clear_condition() {
    let _serial = SERIAL.lock().await;
    let sim = start(|c| c.guest.bwrap = "/nonexistent/bwrap".into()).await;
    create(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        vm("nobwrap", spec()),
    );
    let o = wait_for(
        &sim.store,
        &k::VIRTUAL_MACHINE,
        Some(NS),
        "nobwrap",
        "created false",
        20,
        |o| cond_is(o, "VirtualMachineCreated", "False", None),
    )
    .await;
    let msg = condition(&o, "VirtualMachineCreated").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("bubblewrap sandbox unavailable"), "{msg}");
    assert_ne!(o["status"]["powerState"], "PoweredOn");
    sim.stop().await;
}
