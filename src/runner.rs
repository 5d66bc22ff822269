//! Runs a build: the steps in order, then cleanup from the ledger, whatever happened.
use std::sync::Arc;

use packer_rpc::api::{error_chain, Artifact, BoxError, Hook, Ui};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::artifact::{SupervisorArtifact, DESTROY_IMAGE_ENV};
use crate::config::Config;
use crate::state::BuildState;
use crate::steps::cleanup::{self, LeftBehind, Outcome};
use crate::steps::{self, Ctx, StepError};

/// A short random id for the `packer.io/build-id` label.
pub fn new_build_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

async fn run_steps(ctx: &mut Ctx<'_>) -> Result<(), StepError> {
    // A step raced against cancellation is dropped where it stands: safe because every create
    // is in the ledger before its request is sent (see `Ledger::intend`).
    macro_rules! step {
        ($name:literal, $e:expr) => {{
            step!(@run $name, {
                let cancel = ctx.cancel.clone();
                let step = $e;
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => Err(StepError::Cancelled),
                    r = step => r.map_err(StepError::from),
                }
            })
        }};
        // Provisioning runs Packer's hook, which relays the cancellation to core and waits for
        // its answer: not dropped.
        (@own $name:literal, $e:expr) => {{
            step!(@run $name, $e.await.map_err(StepError::from))
        }};
        (@run $name:literal, $e:expr) => {{
            if ctx.cancel.is_cancelled() {
                return Err(StepError::Cancelled);
            }
            $e?;
            if ctx.config.packer.debug {
                // Packer's -debug: stop after each step until the user says so.
                let _ = ctx
                    .ui
                    .ask(&format!(
                        "Pausing after step {:?}. Press enter to continue.",
                        $name
                    ))
                    .await;
            }
        }};
    }
    step!("keygen", steps::keygen::run(ctx));
    step!("connect", steps::connect::run(ctx));
    // Every check that can fail without creating anything runs before the import creates its
    // request; the imported image is checked once it exists.
    step!("check", steps::check::run(ctx));
    step!("import_image", steps::import_image::run(ctx));
    step!("check_imported_image", steps::check::imported_image(ctx));
    step!("create_source", steps::create_source::run(ctx));
    step!("wait_source", steps::wait_source::run(ctx));
    step!(@own "provision", steps::provision::run(ctx));
    step!("publish", steps::publish::run(ctx));
    if ctx.cancel.is_cancelled() {
        return Err(StepError::Cancelled);
    }
    Ok(())
}

/// Runs one build with a prepared configuration.
pub async fn run_build(
    config: Arc<Config>,
    ui: Arc<dyn Ui>,
    hook: Arc<dyn Hook>,
    cancel: CancellationToken,
) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
    let state = BuildState {
        build_id: new_build_id(),
        ..BuildState::default()
    };
    let mut ctx = Ctx {
        config: &config,
        ui: ui.clone(),
        hook,
        cancel: cancel.clone(),
        state,
    };
    let result = run_steps(&mut ctx).await;
    let outcome = match &result {
        Ok(()) => Outcome::Succeeded,
        Err(_) if cancel.is_cancelled() => Outcome::Cancelled,
        Err(_) => Outcome::Failed,
    };
    let mut state = ctx.state;
    let report = cleanup::run(&config, &ui, &mut state, outcome).await;
    let built = match result {
        // One line with the whole cause chain; Packer shows it after "Build '…' errored:".
        Err(e) => Err(error_chain(&e)),
        Ok(()) => Ok(artifact(&config, &state)),
    };
    if report.left.is_empty() {
        return built
            .map(|a| Some(Arc::new(a) as Arc<dyn Artifact>))
            .map_err(Into::into);
    }
    // Objects were left behind: the build fails so automation notices, and still says what it
    // published (the image exists and is not deleted).
    let published = match &built {
        Ok(a) if a.published.is_some() => {
            let text = a.string();
            ui.say(&format!("Build produced: {text}")).await;
            Some(text)
        }
        _ => None,
    };
    let left = LeftBehind {
        left: report.left,
        published,
    };
    match built {
        Err(e) => Err(format!("{e}; then {left}").into()),
        Ok(_) => Err(left.into()),
    }
}

/// What a successful build hands to Packer.
fn artifact(config: &Config, state: &BuildState) -> SupervisorArtifact {
    let namespace = state
        .cluster
        .as_ref()
        .map(|c| c.namespace.clone())
        .unwrap_or_default();
    SupervisorArtifact {
        namespace,
        source_name: config.source_name.clone(),
        vm_ip: state.vm_ip.clone(),
        published: state.published.clone(),
        source_image: state.image.clone(),
        vm_kept: config.keep_input_artifact,
        cluster: state.cluster.clone(),
        destroy_image: std::env::var(DESTROY_IMAGE_ENV).is_ok_and(|v| v == "1" || v == "true"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_are_label_safe_and_differ() {
        let a = new_build_id();
        assert_eq!(a.len(), 10);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_ne!(a, new_build_id());
    }
}
