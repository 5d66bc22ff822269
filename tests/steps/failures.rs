//! Failures after objects exist: each ends its wait at once with the reason, and cleanup
//! deletes what the build created.

use std::sync::Arc;
use std::time::{Duration, Instant};

use packer_rpc::api::Ui;
use packer_wire::msgpack::Value;
use supervisor_sim::faults::{ControllerFaults, FaultConfig, PublishFailure};
use testkit::fakes::RecordingUi;
use tokio_util::sync::CancellationToken;
use vsphere_supervisor::config::Config;
use vsphere_supervisor::runner::new_build_id;
use vsphere_supervisor::state::BuildState;
use vsphere_supervisor::steps::cleanup::{self, Outcome};
use vsphere_supervisor::steps::{self, Ctx, StepError};

use crate::setup::*;

/// The steps up to the source VM's wait, the way the runner orders them; `check` runs with
/// `checked`, the rest with `created` (so a VM can be made that the checks would refuse).
async fn create_and_wait(ctx: &mut Ctx<'_>, created: &Config) -> Result<(), StepError> {
    steps::keygen::run(ctx).await?;
    steps::connect::run(ctx).await?;
    steps::check::run(ctx).await?;
    let mut after_check = Ctx {
        config: created,
        ui: ctx.ui.clone(),
        hook: ctx.hook.clone(),
        cancel: ctx.cancel.clone(),
        state: std::mem::take(&mut ctx.state),
    };
    let result = create_then_wait(&mut after_check).await;
    ctx.state = after_check.state;
    result
}

async fn create_then_wait(ctx: &mut Ctx<'_>) -> Result<(), StepError> {
    steps::create_source::run(ctx).await?;
    steps::wait_source::run(ctx).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_failure_condition_ends_the_wait_at_once_and_cleanup_deletes_the_vm() {
    let tier = Tier::start(Default::default()).await;
    let checked = tier.config(
        "tier-vmfail",
        &[("watch_source_timeout_sec", Value::Int(300))],
    );
    let created = tier.config(
        "tier-vmfail",
        &[
            ("watch_source_timeout_sec", Value::Int(300)),
            ("class_name", s("no-such-class")),
        ],
    );
    let recording = RecordingUi::new();
    let ui: Arc<dyn Ui> = recording.clone();
    let mut ctx = Ctx {
        config: &checked,
        ui: ui.clone(),
        hook: ok_hook(),
        cancel: CancellationToken::new(),
        state: BuildState {
            build_id: new_build_id(),
            ..BuildState::default()
        },
    };
    let started = Instant::now();
    let err = create_and_wait(&mut ctx, &created)
        .await
        .expect_err("the VM cannot be ready");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("VirtualMachine demo/tier-vmfail")
            && text.contains("VirtualMachineClassReady=False NotFound"),
        "{text}"
    );
    assert_eq!(
        tier.leftovers("tier-vmfail").await,
        ["Secret/tier-vmfail", "VirtualMachine/tier-vmfail"]
    );
    let report = cleanup::run(&checked, &ui, &mut ctx.state, Outcome::Failed).await;
    assert!(report.left.is_empty(), "{:?}", report.left);
    assert_eq!(report.deleted.len(), 2, "{:?}", report.deleted);
    assert_eq!(tier.leftovers("tier-vmfail").await, Vec::<String>::new());
    tier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_failure_ends_at_once_with_the_reason_and_cleans_up() {
    let faults = FaultConfig {
        controllers: ControllerFaults {
            publish_failure: Some(PublishFailure {
                reason: "UploadFailure".into(),
                message: "datastore is full".into(),
            }),
            ..ControllerFaults::default()
        },
        ..FaultConfig::default()
    };
    let tier = Tier::start(faults).await;
    let cfg = tier.config(
        "tier-pubfail",
        &[
            ("publish_location_name", s("golden-images")),
            ("watch_publish_timeout_sec", Value::Int(300)),
        ],
    );
    let started = Instant::now();
    let b = tier.build(cfg, ok_hook()).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let err = b.error();
    assert!(
        err.contains("VirtualMachinePublishRequest demo/tier-pubfail")
            && err.contains("UploadFailure")
            && err.contains("datastore is full"),
        "{err}"
    );
    assert_in_order(
        &b.says(),
        &[
            "Publishing VM demo/tier-pubfail",
            "Deleted VirtualMachinePublishRequest demo/tier-pubfail",
            "Deleted VirtualMachine demo/tier-pubfail",
            "Deleted Secret demo/tier-pubfail",
        ],
    );
    assert_eq!(tier.leftovers("tier-pubfail").await, Vec::<String>::new());
    tier.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_provisioner_fails_the_build_and_cleans_up() {
    let tier = Tier::start(Default::default()).await;
    let cfg = tier.config(
        "tier-provfail",
        &[("publish_location_name", s("golden-images"))],
    );
    let b = tier
        .build(cfg, failing_hook("script exited with status 3"))
        .await;
    let err = b.error();
    assert!(
        err.contains("provisioning: script exited with status 3"),
        "{err}"
    );
    assert!(!b.said("Publishing VM"), "{}", b.says().join("\n"));
    assert!(b.said("Deleted VirtualMachine demo/tier-provfail"));
    assert_eq!(tier.leftovers("tier-provfail").await, Vec::<String>::new());
    tier.stop().await;
}
