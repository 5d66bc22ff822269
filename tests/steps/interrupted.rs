//! Cancellation during provisioning: the hook waits for its token, the build's token is
//! cancelled, the build says it was cancelled and cleans up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::setup::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_provisioning_cleans_up() {
    let tier = Tier::start(Default::default()).await;
    let cfg = tier.config(
        "tier-cancel",
        &[("publish_location_name", s("golden-images"))],
    );
    let started = Arc::new(Notify::new());
    let cancel = CancellationToken::new();
    let interrupt = async {
        started.notified().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    };
    let build = tier.build_cancellable(cfg, waiting_hook(started.clone()), cancel.clone());
    let (b, ()) = tokio::join!(build, interrupt);
    let err = b.error();
    assert!(err.contains("cancelled"), "{err}");
    assert!(!b.said("Publishing VM"), "{}", b.says().join("\n"));
    assert_in_order(
        &b.says(),
        &[
            "Running provisioners...",
            "Deleted VirtualMachine demo/tier-cancel",
            "Deleted Secret demo/tier-cancel",
        ],
    );
    assert_eq!(tier.leftovers("tier-cancel").await, Vec::<String>::new());
    tier.stop().await;
}
