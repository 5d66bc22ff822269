//! The builder's waits against a real supervisor-sim, without Packer: failure conditions end a
//! wait at once, cancellation ends it at once, and deletion waits see finalizers through.

use std::time::{Duration, Instant};

use crate::common::*;
use ::kube::api::{DynamicObject, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use vmop_types::VirtualMachine;
use vsphere_supervisor::kube::status::judge_vm;
use vsphere_supervisor::kube::wait::{
    wait_for, wait_for_with_stats, wait_gone, Target, WaitError, WaitStats,
};

async fn create_vm(env: &SimEnv, name: &str, class: &str) {
    let c = env.cluster().await;
    let vm: DynamicObject = serde_json::from_value(json!({
        "apiVersion": c.kinds.vm.api_version,
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "className": class,
            "storageClass": "wcpglobal-storage-profile",
            "imageName": "ubuntu-24.04",
            "powerState": "PoweredOn",
        },
    }))
    .unwrap();
    c.api(&c.kinds.vm)
        .create(&PostParams::default(), &vm)
        .await
        .expect("creating VM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_failure_condition_ends_the_wait_at_once() {
    let env = SimEnv::start(SimSetup::default()).await;
    create_vm(&env, "w-badclass", "no-such-class").await;
    let c = env.cluster().await;
    let api = c.vmop::<VirtualMachine>();
    let started = Instant::now();
    let r = wait_for(
        Target {
            api: &api,
            object: "VirtualMachine demo/w-badclass".into(),
            name: "w-badclass",
            what: "VM ready".into(),
        },
        Duration::from_secs(60),
        &CancellationToken::new(),
        judge_vm,
    )
    .await;
    match r {
        Err(WaitError::Failed { object, reason }) => {
            assert_eq!(object, "VirtualMachine demo/w-badclass");
            assert!(
                reason.starts_with("VirtualMachineClassReady=False NotFound"),
                "{reason}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_are_cancellable_and_ready_vms_are_seen() {
    let env = SimEnv::start(SimSetup::default()).await;
    create_vm(&env, "w-good", "best-effort-small").await;
    let c = env.cluster().await;
    let api = c.vmop::<VirtualMachine>();
    let target = || Target {
        api: &api,
        object: "VirtualMachine demo/w-good".into(),
        name: "w-good",
        what: "never".into(),
    };

    // A wait that can never succeed ends as soon as it is cancelled.
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.cancel();
    });
    let started = Instant::now();
    let r = wait_for::<_, ()>(target(), Duration::from_secs(60), &cancel, |_| {
        vsphere_supervisor::kube::wait::Verdict::Pending(None)
    })
    .await;
    assert!(matches!(r, Err(WaitError::Cancelled { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The same VM does become ready.
    let ready = wait_for(
        target(),
        Duration::from_secs(30),
        &CancellationToken::new(),
        judge_vm,
    )
    .await
    .expect("VM ready");
    assert!(!ready.ip.is_empty());

    // And deleting it is seen through to the end.
    api.delete("w-good", &Default::default())
        .await
        .expect("delete");
    wait_gone(target(), Duration::from_secs(30))
        .await
        .expect("VM gone");
    assert!(api.get_opt("w-good").await.expect("get").is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_resume_dropped_watches_and_relist_after_410() {
    // Every watch ends after one event, and the first two watch requests are answered
    // 410 Gone (their position expired): the wait must relist and resume until the VM is ready.
    let faults = supervisor_sim::faults::FaultConfig {
        watch: vec![supervisor_sim::faults::WatchFault {
            after_events: Some(1),
            ..Default::default()
        }],
        http: vec![supervisor_sim::faults::HttpFault {
            verb: Some("watch".into()),
            resource: Some("virtualmachines".into()),
            code: 410,
            count: Some(2),
            ..Default::default()
        }],
        ..Default::default()
    };
    let env = SimEnv::start(SimSetup {
        faults,
        ..SimSetup::default()
    })
    .await;
    let c = env.cluster().await;
    let api = c.vmop::<VirtualMachine>();
    create_vm(&env, "w-410", "best-effort-small").await;
    let mut stats = WaitStats::default();
    let ready = wait_for_with_stats(
        Target {
            api: &api,
            object: "VirtualMachine demo/w-410".into(),
            name: "w-410",
            what: "VM ready".into(),
        },
        Duration::from_secs(30),
        &CancellationToken::new(),
        judge_vm,
        &mut stats,
    )
    .await
    .expect("VM ready despite dropped and expired watches");
    assert!(!ready.ip.is_empty());
    assert_eq!(stats.expired, 2, "{stats:?}");
    assert!(stats.lists >= 3 && stats.watches >= 3, "{stats:?}");
    env.stop().await;
}
