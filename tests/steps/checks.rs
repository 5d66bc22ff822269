//! The checks: everything missing is reported together, before anything is created.

use crate::setup::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_class_and_library_are_reported_together_before_creating() {
    let tier = Tier::start(Default::default()).await;
    let cfg = tier.config(
        "tier-check",
        &[
            ("image_name", s("no-such-image")),
            ("class_name", s("huge")),
            ("publish_location_name", s("no-such-library")),
        ],
    );
    let before = tier.sim.store.current_rv();
    let hook = ok_hook();
    let b = tier.build(cfg, hook.clone()).await;
    let err = b.error();
    assert!(
        err.contains("image_name \"no-such-image\" matches no VirtualMachineImage"),
        "{err}"
    );
    assert!(err.contains("ubuntu-24.04"), "candidates listed: {err}");
    assert!(
        err.contains("class_name \"huge\"") && err.contains("best-effort-small"),
        "{err}"
    );
    assert!(err.contains("no-such-library"), "{err}");
    assert!(!b.said("Creating "), "{}", b.says().join("\n"));
    assert!(hook.calls().is_empty());
    assert_eq!(tier.sim.store.current_rv(), before, "the store changed");
    tier.stop().await;
}
