//! What cleanup leaves: what `keep_input_artifact` keeps, and a VM whose delete keeps failing,
//! which fails the build and is named with the command to delete it.

use std::time::{Duration, Instant};

use packer_wire::msgpack::Value;
use supervisor_sim::faults::{FaultConfig, HttpFault};

use crate::setup::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_input_artifact_keeps_the_vm_and_says_so() {
    let tier = Tier::start(Default::default()).await;
    let cfg = tier.config(
        "tier-keep",
        &[
            ("publish_location_name", s("golden-images")),
            ("keep_input_artifact", Value::Bool(true)),
        ],
    );
    let b = tier.build(cfg, ok_hook()).await;
    assert!(b.artifact_id().starts_with("vmi-"));
    assert!(
        b.said("keep_input_artifact is set: keeping VirtualMachinePublishRequest demo/tier-keep, VirtualMachine demo/tier-keep, Secret demo/tier-keep"),
        "{}",
        b.says().join("\n")
    );
    assert!(!b.said("Deleting "), "{}", b.says().join("\n"));
    assert_eq!(
        tier.leftovers("tier-keep").await,
        [
            "Secret/tier-keep",
            "VirtualMachine/tier-keep",
            "VirtualMachinePublishRequest/tier-keep"
        ]
    );
    tier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_delete_that_keeps_failing_fails_the_build_and_names_the_vm() {
    let faults = FaultConfig {
        http: vec![HttpFault {
            verb: Some("delete".into()),
            resource: Some("virtualmachines".into()),
            code: 500,
            ..HttpFault::default()
        }],
        ..FaultConfig::default()
    };
    let tier = Tier::start(faults).await;
    let cfg = tier.config(
        "tier-del500",
        &[("publish_location_name", s("golden-images"))],
    );
    let started = Instant::now();
    let b = tier.build(cfg, ok_hook()).await;
    // Cleanup gave up at its deadline (CLEANUP_SECS), not much later.
    assert!(
        started.elapsed() < Duration::from_secs(CLEANUP_SECS.parse::<u64>().unwrap_or(8) + 10),
        "{:?}",
        started.elapsed()
    );
    let err = b.error();
    assert!(
        err.contains("cleanup could not delete VirtualMachine demo/tier-del500"),
        "{err}"
    );
    assert!(
        err.contains("kubectl delete -n demo virtualmachines.vmoperator.vmware.com tier-del500"),
        "{err}"
    );
    assert!(err.contains("500 Internal Server Error"), "{err}");
    assert!(err.contains("the build published"), "{err}");
    assert!(b.said("Retrying the deletion of VirtualMachine demo/tier-del500"));
    assert!(b.said("Build produced: Published image vmi-"));
    assert_eq!(
        tier.leftovers("tier-del500").await,
        ["VirtualMachine/tier-del500"]
    );
    tier.sim.faults.set(FaultConfig::default());
    tier.stop().await;
}
