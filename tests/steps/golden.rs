//! A build that succeeds: every step says what it does, the image is published, nothing of the
//! build is left.

use crate::setup::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_build_publishes_a_vmi_and_leaves_nothing() {
    let tier = Tier::start(Default::default()).await;
    let cfg = tier.config(
        "tier-golden",
        &[("publish_location_name", s("golden-images"))],
    );
    let hook = ok_hook();
    let b = tier.build(cfg, hook.clone()).await;
    let id = b.artifact_id();
    assert!(id.starts_with("vmi-"), "{id}");
    assert_in_order(
        &b.says(),
        &[
            "Connecting to Supervisor...",
            "Connected to Supervisor https://127.0.0.1:",
            "Checking source image \"ubuntu-24.04\"...",
            "Found namespace-scoped image vmi-",
            "VM publish location \"golden-images\" is valid",
            "Creating Secret demo/tier-golden",
            "Creating VirtualMachine demo/tier-golden",
            "Skip creating VirtualMachineService as communicator type is 'none'",
            "Obtained VM IP: 127.",
            "Running provisioners...",
            "Publishing VM demo/tier-golden to content library \"golden-images\"...",
            "Publish request: source VM is valid",
            "Publish request: target content library is valid",
            "Publish request: VM uploaded to the content library",
            "Publish request: VirtualMachineImage is available",
            "Publish request: complete",
            &format!("Published as image {id} (\"tier-golden-image\")"),
            "Deleted VirtualMachinePublishRequest demo/tier-golden",
            "Deleted VirtualMachine demo/tier-golden",
            "Deleted Secret demo/tier-golden",
        ],
    );
    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "packer_provision");
    assert_eq!(tier.leftovers("tier-golden").await, Vec::<String>::new());
    tier.stop().await;
}
