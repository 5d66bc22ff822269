//! Reading a VirtualMachinePublishRequest's status: which conditions hold, which reasons end the
//! request for good, which mean "not yet", and which are unknown (shown to the user at once).
use vmop_types::conditions::publish::reason;
use vmop_types::VirtualMachinePublishRequest;

use super::status::Cond;
use super::wait::Verdict;

/// The publish request's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub image_name: String,
}

/// What a False publish condition's reason says about the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    /// The request cannot succeed: end the build now.
    Terminal,
    /// Still under way.
    InProgress,
    /// Not documented: keep waiting, but tell the user.
    Unknown,
}

/// Classifies a False condition's reason (an empty reason is "not yet").
pub fn classify(reason: &str) -> ReasonClass {
    if reason::TERMINAL.contains(&reason) {
        ReasonClass::Terminal
    } else if reason.is_empty() || reason::IN_PROGRESS.contains(&reason) {
        ReasonClass::InProgress
    } else {
        ReasonClass::Unknown
    }
}

/// What the judge tells the caller about while it waits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PublishEvent<'a> {
    /// A condition is True.
    Reached(&'a Cond),
    /// A condition is False with a reason the VM Operator documentation does not name.
    UnknownReason(&'a Cond),
}

/// Judges a VirtualMachinePublishRequest; `announce` sees every True condition and every False
/// condition with an unknown reason on each look (the caller de-duplicates).
pub fn judge_publish(
    request: &VirtualMachinePublishRequest,
    mut announce: impl FnMut(PublishEvent<'_>),
) -> Verdict<Published> {
    let status = request.status.clone().unwrap_or_default();
    let conds = &status.conditions;
    for c in conds {
        if c.is_true() {
            announce(PublishEvent::Reached(c));
        } else if c.is_false() && classify(&c.reason) == ReasonClass::Unknown {
            announce(PublishEvent::UnknownReason(c));
        }
    }
    if let Some(c) = conds
        .iter()
        .find(|c| c.is_false() && classify(&c.reason) == ReasonClass::Terminal)
    {
        return Verdict::Failed(c.describe());
    }
    if status.ready && !status.image_name.is_empty() {
        return Verdict::Done(Published {
            image_name: status.image_name.clone(),
        });
    }
    let pending: Vec<String> = conds
        .iter()
        .filter(|c| !c.is_true())
        .map(Cond::describe)
        .collect();
    Verdict::Pending(Some(if pending.is_empty() {
        "no conditions yet".to_string()
    } else {
        pending.join("; ")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value as Json};

    fn request(v: Json) -> VirtualMachinePublishRequest {
        serde_json::from_value(v).expect("a VirtualMachinePublishRequest")
    }

    fn cond(t: &str, s: &str, r: &str) -> Json {
        json!({"type": t, "status": s, "reason": r, "message": format!("{t} says {r}")})
    }

    fn failed(conds: Json) -> String {
        match judge_publish(&request(json!({"status": {"conditions": conds}})), |_| {}) {
            Verdict::Failed(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn progress_is_announced_and_waited_for() {
        let mut seen = Vec::new();
        let uploading = json!({"status": {"conditions": [
            cond("SourceValid", "True", ""), cond("TargetValid", "True", ""),
            cond("Uploaded", "False", "Uploading"),
        ]}});
        let verdict = judge_publish(&request(uploading), |e| {
            if let PublishEvent::Reached(c) = e {
                seen.push(c.type_.clone())
            }
        });
        assert!(matches!(verdict, Verdict::Pending(_)));
        assert_eq!(seen, ["SourceValid", "TargetValid"]);
        let queued = json!({"status": {"conditions": [cond("Uploaded", "False", "Queued")]}});
        assert!(matches!(
            judge_publish(&request(queued), |_| {}),
            Verdict::Pending(_)
        ));
    }

    #[test]
    fn documented_terminal_reasons_end_the_wait() {
        let r = failed(json!([
            cond("SourceValid", "True", ""),
            cond("TargetValid", "False", "TargetItemAlreadyExists")
        ]));
        assert!(r.contains("TargetItemAlreadyExists"), "{r}");
        // The newer spellings waited for the timeout before.
        let r = failed(json!([cond(
            "TargetValid",
            "False",
            "TargetLocationNotFound"
        )]));
        assert_eq!(
            r,
            "TargetValid=False TargetLocationNotFound: TargetValid says TargetLocationNotFound"
        );
        let r = failed(json!([cond("SourceValid", "False", "SourceNotFound")]));
        assert!(r.starts_with("SourceValid=False SourceNotFound"), "{r}");
        let r = failed(json!([cond("Complete", "False", "Fatal")]));
        assert!(r.starts_with("Complete=False Fatal"), "{r}");
        for terminal in reason::TERMINAL {
            assert_eq!(classify(terminal), ReasonClass::Terminal, "{terminal}");
        }
        for waiting in reason::IN_PROGRESS {
            assert_eq!(classify(waiting), ReasonClass::InProgress, "{waiting}");
        }
    }

    #[test]
    fn unknown_reasons_are_announced_but_not_fatal() {
        let odd = json!({"status": {"conditions": [cond("Uploaded", "False", "StorageHiccup")]}});
        let mut unknown = Vec::new();
        let verdict = judge_publish(&request(odd), |e| {
            if let PublishEvent::UnknownReason(c) = e {
                unknown.push(c.describe())
            }
        });
        assert!(matches!(verdict, Verdict::Pending(_)));
        assert_eq!(
            unknown,
            ["Uploaded=False StorageHiccup: Uploaded says StorageHiccup"]
        );
    }

    #[test]
    fn done_needs_ready_and_an_image_name() {
        let done = json!({"status": {"ready": true, "imageName": "vmi-0123456789abcdef0", "conditions": [
            cond("Complete", "True", ""),
        ]}});
        assert_eq!(
            judge_publish(&request(done), |_| {}),
            Verdict::Done(Published {
                image_name: "vmi-0123456789abcdef0".into()
            })
        );
        let ready_no_image = json!({"status": {"ready": true}});
        assert!(matches!(
            judge_publish(&request(ready_no_image), |_| {}),
            Verdict::Pending(_)
        ));
    }
}
