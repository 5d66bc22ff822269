//! After the build, whatever happened: walk the ledger backwards and delete what the build
//! created, under a deadline of its own (a cancelled build still cleans up). Honours
//! `keep_input_artifact` and `-on-error=abort`, and says exactly what it kept or left.
//!
//! Each delete is retried with backoff through connection errors, 5xx and 429 (a 404 counts as
//! gone), then cleanup waits for the object to be really gone. What is still there at the
//! deadline is reported with the `kubectl delete` command for it, and the runner turns it into
//! the build's error ([`LeftBehind`]).
use std::sync::Arc;
use std::time::Duration;

use ::kube::api::{Api, ApiResource, DeleteParams, DynamicObject};
use packer_rpc::api::Ui;
use tokio::time::Instant;
use vmop_types::naming::LABEL_BUILD_ID;

use crate::config::Config;
use crate::kube::retry::{retry, Backoff, RetryError};
use crate::kube::wait::{wait_gone, Target};
use crate::kube::Cluster;
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

/// What cleanup did: what it deleted (gone for good) and what it could not delete.
#[derive(Debug, Default)]
pub struct Report {
    pub deleted: Vec<CreatedObject>,
    pub left: Vec<Leftover>,
}

/// An object cleanup could not delete, why, and how to delete it by hand.
#[derive(Debug, Clone)]
pub struct Leftover {
    pub object: CreatedObject,
    pub reason: String,
    /// `kubectl delete -n NS RESOURCE NAME`
    pub command: String,
}

/// Environment variable that shortens (or lengthens) [`CLEANUP_TIMEOUT`], in seconds: for CI
/// jobs with a budget of their own, and for the tests of cleanup's deadline.
pub const CLEANUP_TIMEOUT_ENV: &str = "PACKER_VSPHERE_SUPERVISOR_CLEANUP_TIMEOUT";

/// [`CLEANUP_TIMEOUT`], or the whole seconds in [`CLEANUP_TIMEOUT_ENV`] (1 s to 1 h).
pub fn cleanup_timeout() -> Duration {
    std::env::var(CLEANUP_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.clamp(1, 3600)))
        .unwrap_or(CLEANUP_TIMEOUT)
}

/// Asks the user (`-on-error=ask`) or decides from the outcome.
async fn decision(cfg: &Config, ui: &Arc<dyn Ui>, outcome: Outcome) -> Decision {
    if let Some(d) = decide(outcome, &cfg.packer.on_error) {
        return d;
    }
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

/// Deletes what the ledger holds (unless kept or aborted) and reports what is left. Not
/// cancellable: it runs after a cancellation, under [`cleanup_timeout`].
pub async fn run(
    cfg: &Config,
    ui: &Arc<dyn Ui>,
    state: &mut BuildState,
    outcome: Outcome,
) -> Report {
    let mut report = Report::default();
    if state.ledger.is_empty() {
        return report;
    }
    let Some(cluster) = state.cluster.clone() else {
        return report;
    };
    if decision(cfg, ui, outcome).await == Decision::Abort {
        let left: Vec<CreatedObject> = state.ledger.entries().iter().rev().cloned().collect();
        ui.say(&format!(
            "Build failed and -on-error=abort: leaving {} for inspection",
            list(&left)
        ))
        .await;
        return report;
    }
    let plan = state.ledger.plan(cfg.keep_input_artifact);
    if !plan.keep.is_empty() {
        ui.say(&format!(
            "keep_input_artifact is set: keeping {}",
            list(&plan.keep)
        ))
        .await;
    }
    let deadline = Instant::now() + cleanup_timeout();
    let deleter = Deleter {
        cluster: &cluster,
        build_id: &state.build_id,
    };
    // First round: each object gets a fair share of the deadline, so one that cannot be
    // deleted does not starve the others; second round: what failed gets all that is left.
    let mut failed = Vec::new();
    for (i, obj) in plan.delete.iter().enumerate() {
        ui.say(&format!("Deleting {obj}")).await;
        let left_in_round = u32::try_from(plan.delete.len() - i).unwrap_or(u32::MAX);
        let share = deadline.saturating_duration_since(Instant::now()) / left_in_round.max(1);
        match deleter.delete(obj, Instant::now() + share).await {
            Ok(()) => report.deleted.push(obj.clone()),
            Err(reason) => failed.push((obj.clone(), reason)),
        }
    }
    for (obj, first_reason) in failed {
        let reason = if Instant::now() < deadline {
            ui.say(&format!("Retrying the deletion of {obj}")).await;
            match deleter.delete(&obj, deadline).await {
                Ok(()) => {
                    report.deleted.push(obj);
                    continue;
                }
                Err(r) => r,
            }
        } else {
            first_reason
        };
        report.left.push(Leftover {
            command: deleter.command(&obj),
            object: obj,
            reason,
        });
    }
    for obj in &report.deleted {
        state.ledger.forget(obj.kind, &obj.name);
        ui.say(&format!("Deleted {obj}")).await;
    }
    for l in &report.left {
        ui.error(&format!(
            "Cleanup could not delete {}: {}; delete it with: {}",
            l.object, l.reason, l.command
        ))
        .await;
    }
    report
}

/// Deletes one object and waits for it to be gone.
struct Deleter<'a> {
    cluster: &'a Cluster,
    build_id: &'a str,
}

impl Deleter<'_> {
    fn resource(&self, obj: &CreatedObject) -> ApiResource {
        self.cluster.kinds.of(obj.kind).clone()
    }

    /// `kubectl delete -n demo <plural>.<group> source-x`, e.g. for a VirtualMachine
    fn command(&self, obj: &CreatedObject) -> String {
        let res = self.resource(obj);
        let kind = if res.group.is_empty() {
            res.plural.clone()
        } else {
            format!("{}.{}", res.plural, res.group)
        };
        format!("kubectl delete -n {} {kind} {}", obj.namespace, obj.name)
    }

    /// Deletes `obj` (retrying until `until`) and waits until it is gone (finalizers done).
    async fn delete(&self, obj: &CreatedObject, until: Instant) -> Result<(), String> {
        let api = self.cluster.api(&self.resource(obj));
        if !obj.confirmed && !self.is_ours(&api, obj, until).await? {
            return Ok(());
        }
        let what = format!("deleting {obj}");
        let params = DeleteParams::background();
        let sent = retry(&what, until, None, Backoff::requests(), || {
            api.delete(&obj.name, &params)
        })
        .await;
        match sent {
            Ok(_) => {}
            Err(e) if e.code() == Some(404) => return Ok(()),
            Err(RetryError::Deadline) => return Err("no answer before the deadline".into()),
            Err(e) => return Err(e.to_string()),
        }
        let target = Target {
            api: &api,
            object: obj.to_string(),
            name: &obj.name,
            what: format!("{obj} to be deleted"),
        };
        let remaining = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        wait_gone(target, remaining)
            .await
            .map_err(|e| e.to_string())
    }

    /// For an object whose create was never answered: does it exist with this build's label?
    async fn is_ours(
        &self,
        api: &Api<DynamicObject>,
        obj: &CreatedObject,
        until: Instant,
    ) -> Result<bool, String> {
        let what = format!("reading {obj}");
        match retry(&what, until, None, Backoff::requests(), || {
            api.get_opt(&obj.name)
        })
        .await
        {
            Ok(Some(o)) => Ok(o
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_BUILD_ID))
                .is_some_and(|id| id == self.build_id)),
            Ok(None) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The error a build ends with when cleanup left objects behind (so `packer build` exits
/// non-zero): the objects, the commands to delete them and, if one was published, the image.
#[derive(Debug, thiserror::Error)]
#[error("{}cleanup could not delete {}; delete them with: {}", published.as_deref().map(|p| format!("the build published {p}, but ")).unwrap_or_default(), objects(left), commands(left))]
pub struct LeftBehind {
    pub left: Vec<Leftover>,
    /// `VirtualMachineImage demo/vmi-… ("name") in content library lib`
    pub published: Option<String>,
}

fn objects(left: &[Leftover]) -> String {
    left.iter()
        .map(|l| format!("{} ({})", l.object, l.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

fn commands(left: &[Leftover]) -> String {
    left.iter()
        .map(|l| l.command.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ObjectKind;

    fn leftover(kind: ObjectKind, name: &str, command: &str) -> Leftover {
        Leftover {
            object: CreatedObject {
                kind,
                namespace: "demo".into(),
                name: name.into(),
                confirmed: true,
            },
            reason: "500 Internal Server Error: boom".into(),
            command: command.into(),
        }
    }

    #[test]
    fn leftovers_are_one_line_with_their_commands_and_the_published_image() {
        let vm_command = format!(
            "kubectl delete -n demo {} x",
            vmop_types::api::VIRTUAL_MACHINE.group_resource()
        );
        let left = vec![
            leftover(ObjectKind::VirtualMachine, "x", &vm_command),
            leftover(ObjectKind::Secret, "x", "kubectl delete -n demo secrets x"),
        ];
        let e = LeftBehind {
            left: left.clone(),
            published: None,
        }
        .to_string();
        assert_eq!(
            e,
            format!("cleanup could not delete VirtualMachine demo/x (500 Internal Server Error: boom), Secret demo/x (500 Internal Server Error: boom); delete them with: {vm_command}; kubectl delete -n demo secrets x")
        );
        let e = LeftBehind {
            left,
            published: Some("Published image vmi-1".into()),
        }
        .to_string();
        assert!(
            e.starts_with("the build published Published image vmi-1, but cleanup could not delete VirtualMachine demo/x"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn the_cleanup_deadline_can_be_set_within_bounds() {
        // One test owns the variable, so parallel tests do not race on it.
        std::env::remove_var(CLEANUP_TIMEOUT_ENV);
        assert_eq!(cleanup_timeout(), CLEANUP_TIMEOUT);
        std::env::set_var(CLEANUP_TIMEOUT_ENV, "7");
        assert_eq!(cleanup_timeout(), Duration::from_secs(7));
        std::env::set_var(CLEANUP_TIMEOUT_ENV, "0");
        assert_eq!(cleanup_timeout(), Duration::from_secs(1));
        std::env::set_var(CLEANUP_TIMEOUT_ENV, "99999999999999999999");
        assert_eq!(cleanup_timeout(), CLEANUP_TIMEOUT);
        std::env::set_var(CLEANUP_TIMEOUT_ENV, "1e9");
        assert_eq!(cleanup_timeout(), CLEANUP_TIMEOUT);
        std::env::remove_var(CLEANUP_TIMEOUT_ENV);
    }

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
