//! Reading VM Operator statuses: pure functions over the objects' JSON, so every rule is
//! testable without a cluster.
use serde_json::Value as Json;

use super::wait::Verdict;

/// One `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Cond {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
    pub fn is_false(&self) -> bool {
        self.status == "False"
    }
    /// `VirtualMachineImageReady=False NotFound: image vmi-x not found`.
    pub fn describe(&self) -> String {
        let mut s = format!("{}={}", self.type_, self.status);
        if !self.reason.is_empty() {
            s.push(' ');
            s.push_str(&self.reason);
        }
        if !self.message.is_empty() {
            s.push_str(": ");
            s.push_str(&self.message);
        }
        s
    }
}

fn str_at<'a>(v: &'a Json, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// `status.conditions`, skipping malformed entries.
pub fn conditions(data: &Json) -> Vec<Cond> {
    let Some(list) = data
        .get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Json::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            Some(Cond {
                type_: c.get("type")?.as_str()?.to_string(),
                status: c
                    .get("status")
                    .and_then(Json::as_str)
                    .unwrap_or("Unknown")
                    .to_string(),
                reason: c
                    .get("reason")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                message: c
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect()
}

/// VM conditions whose False means "this VM cannot be built as specified": a missing class,
/// image, storage or bootstrap input does not fix itself.
const VM_PREREQUISITES: &[&str] = &[
    "VirtualMachineClassReady",
    "VirtualMachineImageReady",
    "VirtualMachineStorageReady",
    "VirtualMachineBootstrapReady",
];

/// Reasons that mean "not yet" even on a prerequisite condition.
const VM_TRANSIENT_REASONS: &[&str] = &[
    "NotSynced",
    "Pending",
    "NotReady",
    "Creating",
    "Reconciling",
    "Unknown",
];

/// Reasons that mean failure on any VM condition.
const VM_FAILURE_REASONS: &[&str] = &[
    "NotFound",
    "Failed",
    "Error",
    "Invalid",
    "NotSupported",
    "Fatal",
];

/// The first VM condition that makes waiting pointless.
pub fn vm_failure(conds: &[Cond]) -> Option<&Cond> {
    conds.iter().find(|c| {
        if !c.is_false() {
            return false;
        }
        let reason_fails = VM_FAILURE_REASONS
            .iter()
            .any(|r| c.reason == *r || c.reason.ends_with(r));
        let prerequisite = VM_PREREQUISITES.contains(&c.type_.as_str());
        reason_fails || (prerequisite && !VM_TRANSIENT_REASONS.contains(&c.reason.as_str()))
    })
}

/// What the guest looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmReady {
    pub ip: String,
}

/// Judges a VirtualMachine for "powered on with an IPv4 address".
pub fn judge_vm(data: &Json) -> Verdict<VmReady> {
    let conds = conditions(data);
    if let Some(c) = vm_failure(&conds) {
        return Verdict::Failed(c.describe());
    }
    let power = str_at(data, &["status", "powerState"]).unwrap_or("");
    // v1alpha1 says `poweredOn` and `status.vmIp`; later versions `PoweredOn` and
    // `status.network.primaryIP4`.
    let ip = str_at(data, &["status", "network", "primaryIP4"])
        .or_else(|| str_at(data, &["status", "vmIp"]))
        .unwrap_or("");
    if power.eq_ignore_ascii_case(vmop_types::vm::power::ON) && !ip.is_empty() {
        return Verdict::Done(VmReady { ip: ip.to_string() });
    }
    let power = if power.is_empty() {
        "no power state yet"
    } else {
        power
    };
    let mut state = format!(
        "powerState {power}, {}",
        if ip.is_empty() {
            "no IPv4 address yet"
        } else {
            ip
        }
    );
    let pending: Vec<String> = conds
        .iter()
        .filter(|c| !c.is_true())
        .map(Cond::describe)
        .collect();
    if !pending.is_empty() {
        state.push_str("; ");
        state.push_str(&pending.join("; "));
    }
    Verdict::Pending(Some(state))
}

/// Judges a VirtualMachineService for "has a load-balancer ingress IP".
pub fn judge_service(data: &Json) -> Verdict<String> {
    let ingress = data
        .get("status")
        .and_then(|s| s.get("loadBalancer"))
        .and_then(|l| l.get("ingress"))
        .and_then(Json::as_array)
        .and_then(|a| {
            a.iter().find_map(|i| {
                i.get("ip")
                    .and_then(Json::as_str)
                    .filter(|ip| !ip.is_empty())
            })
        });
    match ingress {
        Some(ip) => Verdict::Done(ip.to_string()),
        None => Verdict::Pending(Some("no load-balancer ingress IP yet".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(t: &str, s: &str, r: &str) -> Json {
        json!({"type": t, "status": s, "reason": r, "message": format!("{t} says {r}")})
    }

    #[test]
    fn vm_ready_needs_power_and_ip() {
        let off = json!({"status": {"powerState": "PoweredOff"}});
        assert!(matches!(judge_vm(&off), Verdict::Pending(Some(s)) if s.contains("PoweredOff")));
        let on_no_ip = json!({"status": {"powerState": "PoweredOn", "network": {}}});
        assert!(matches!(judge_vm(&on_no_ip), Verdict::Pending(_)));
        let ready =
            json!({"status": {"powerState": "PoweredOn", "network": {"primaryIP4": "10.0.0.5"}}});
        assert_eq!(
            judge_vm(&ready),
            Verdict::Done(VmReady {
                ip: "10.0.0.5".into()
            })
        );
    }

    #[test]
    fn vm_failure_conditions_end_the_wait() {
        let bad_image = json!({"status": {"conditions": [
            cond("VirtualMachineClassReady", "True", ""),
            cond("VirtualMachineImageReady", "False", "NotFound"),
        ]}});
        match judge_vm(&bad_image) {
            Verdict::Failed(r) => assert!(
                r.starts_with("VirtualMachineImageReady=False NotFound"),
                "{r}"
            ),
            other => panic!("{other:?}"),
        }
        let bad_class = json!({"status": {"conditions": [cond("VirtualMachineClassReady", "False", "ClassMissing")]}});
        assert!(matches!(judge_vm(&bad_class), Verdict::Failed(_)));
        // Guest customization still running, tools not running yet, image still syncing: wait.
        let busy = json!({"status": {"powerState": "PoweredOn", "conditions": [
            cond("GuestCustomization", "False", "Running"),
            cond("VirtualMachineTools", "False", "NotRunning"),
            cond("VirtualMachineImageReady", "False", "NotSynced"),
        ]}});
        assert!(matches!(judge_vm(&busy), Verdict::Pending(_)));
        let cust_failed =
            json!({"status": {"conditions": [cond("GuestCustomization", "False", "Failed")]}});
        assert!(matches!(judge_vm(&cust_failed), Verdict::Failed(_)));
    }

    #[test]
    fn service_ingress_ip() {
        assert!(matches!(
            judge_service(&json!({"status": {}})),
            Verdict::Pending(_)
        ));
        let hostname_only =
            json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}});
        assert!(matches!(judge_service(&hostname_only), Verdict::Pending(_)));
        let ip = json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.77.0.3"}]}}});
        assert_eq!(judge_service(&ip), Verdict::Done("127.77.0.3".into()));
    }
}
