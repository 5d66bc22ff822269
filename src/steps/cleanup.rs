//! After the build, whatever happened: walk the ledger backwards and delete what the build
//! created, under a deadline of its own (a cancelled build still cleans up). Honours
//! `keep_input_artifact` and `-on-error=abort`, and says exactly what it kept or left.
use std::sync::Arc;
use std::time::Duration;

use ::kube::api::DeleteParams;
use packer_rpc::api::Ui;
use tokio::time::Instant;

use crate::config::Config;
use crate::kube::code_of;
use crate::kube::wait::{wait_gone, Target};
use crate::state::{BuildState, CreatedObject};

/// How long cleanup may take in all, finalizers included.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(180);

/// How the build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
}

/// What cleanup should do, from the outcome and Packer's `-on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Clean,
    /// Leave everything for inspection.
    Abort,
}

/// `-on-error=abort` leaves a failed build's objects; cancellations and successes are always
/// cleaned up. `ask` is answered by the user (see [`run`]).
pub fn decide(outcome: Outcome, on_error: &str) -> Option<Decision> {
    match (outcome, on_error) {
        (Outcome::Failed, "abort") => Some(Decision::Abort),
        (Outcome::Failed, "ask") => None,
        _ => Some(Decision::Clean),
    }
}

fn list(objs: &[CreatedObject]) -> String {
    objs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn run(cfg: &Config, ui: &Arc<dyn Ui>, state: &mut BuildState, outcome: Outcome) {
    if state.ledger.is_empty() {
        return;
    }
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let decision = match decide(outcome, &cfg.packer.on_error) {
        Some(d) => d,
        None => {
            let answer = ui
                .ask("[c] Clean up and exit, [a] abort without cleanup?")
                .await
                .unwrap_or_default();
            if answer.trim().eq_ignore_ascii_case("a") {
                Decision::Abort
            } else {
                Decision::Clean
            }
        }
    };
    if decision == Decision::Abort {
        let left: Vec<CreatedObject> = state.ledger.entries().iter().rev().cloned().collect();
        ui.say(&format!(
            "Build failed and -on-error=abort: leaving {} for inspection",
            list(&left)
        ))
        .await;
        return;
    }
    let plan = state.ledger.plan(cfg.keep_input_artifact);
    if !plan.keep.is_empty() {
        ui.say(&format!(
            "keep_input_artifact is set: keeping {}",
            list(&plan.keep)
        ))
        .await;
    }
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    let mut left = Vec::new();
    for obj in &plan.delete {
        let res = cluster.kinds.of(obj.kind).clone();
        let api = cluster.api(&res);
        ui.say(&format!("Deleting {obj}")).await;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let deleted = tokio::time::timeout(
            remaining,
            api.delete(&obj.name, &DeleteParams::background()),
        )
        .await;
        match deleted {
            Err(_) => {
                ui.error(&format!(
                    "deleting {obj}: no answer before the cleanup deadline"
                ))
                .await;
                left.push(obj.clone());
                continue;
            }
            Ok(Err(e)) if code_of(&e) == Some(404) => {}
            Ok(Err(e)) => {
                ui.error(&format!("deleting {obj}: {}", crate::kube::ApiError(e)))
                    .await;
                left.push(obj.clone());
                continue;
            }
            Ok(Ok(_)) => {}
        }
        let target = Target {
            api: &api,
            object: obj.to_string(),
            name: &obj.name,
            what: format!("{obj} to be deleted"),
        };
        match wait_gone(
            target,
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        )
        .await
        {
            Ok(()) => state.ledger.forget(obj.kind, &obj.name),
            Err(e) => {
                ui.error(&format!("deleting {obj}: {e}")).await;
                left.push(obj.clone());
            }
        }
    }
    if !left.is_empty() {
        ui.error(&format!(
            "Cleanup could not delete {}; delete them by hand",
            list(&left)
        ))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_only_leaves_failed_builds() {
        assert_eq!(decide(Outcome::Failed, "abort"), Some(Decision::Abort));
        assert_eq!(decide(Outcome::Cancelled, "abort"), Some(Decision::Clean));
        assert_eq!(decide(Outcome::Succeeded, "abort"), Some(Decision::Clean));
        assert_eq!(decide(Outcome::Failed, "cleanup"), Some(Decision::Clean));
        assert_eq!(decide(Outcome::Failed, ""), Some(Decision::Clean));
        assert_eq!(decide(Outcome::Failed, "ask"), None);
    }
}
