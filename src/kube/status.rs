//! Reading VM Operator statuses: pure functions over the typed objects, so every rule is
//! testable without a cluster.
use vmop_types::conditions::vm::{reason, PREREQUISITES};
use vmop_types::vm::power;
use vmop_types::{Condition, VirtualMachine, VirtualMachineService};

use super::wait::Verdict;

/// One `metav1.Condition`.
pub type Cond = Condition;

/// The first VM condition that makes waiting pointless: a failure reason on any condition, or
/// any reason but a transient one on a prerequisite (class, image, storage, bootstrap).
pub fn vm_failure(conds: &[Cond]) -> Option<&Cond> {
    conds.iter().find(|c| {
        if !c.is_false() {
            return false;
        }
        let reason_fails = reason::FAILURE
            .iter()
            .any(|r| c.reason == *r || c.reason.ends_with(r));
        let prerequisite = PREREQUISITES.contains(&c.type_.as_str());
        reason_fails || (prerequisite && !reason::TRANSIENT.contains(&c.reason.as_str()))
    })
}

/// What the guest looks like now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmReady {
    pub ip: String,
}

/// Judges a VirtualMachine for "powered on with an IPv4 address" (a v1alpha1 VM's
/// `status.vmIp` and `poweredOn` are read in the hub's shape by vmop-types).
pub fn judge_vm(vm: &VirtualMachine) -> Verdict<VmReady> {
    let status = vm.status.clone().unwrap_or_default();
    if let Some(c) = vm_failure(&status.conditions) {
        return Verdict::Failed(c.describe());
    }
    let power = status.power_state.as_deref().unwrap_or("");
    let ip = status
        .network
        .as_ref()
        .and_then(|n| n.primary_ip4.as_deref())
        .unwrap_or("");
    if power.eq_ignore_ascii_case(power::ON) && !ip.is_empty() {
        return Verdict::Done(VmReady { ip: ip.to_string() });
    }
    let power = if power.is_empty() {
        "no power state yet"
    } else {
        power
    };
    let ip = if ip.is_empty() {
        "no IPv4 address yet"
    } else {
        ip
    };
    let mut state = format!("powerState {power}, {ip}");
    let pending: Vec<String> = status
        .conditions
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
pub fn judge_service(service: &VirtualMachineService) -> Verdict<String> {
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.iter().find(|i| !i.ip.is_empty()));
    match ingress {
        Some(i) => Verdict::Done(i.ip.clone()),
        None => Verdict::Pending(Some("no load-balancer ingress IP yet".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value as Json};

    fn cond(t: &str, s: &str, r: &str) -> Json {
        json!({"type": t, "status": s, "reason": r, "message": format!("{t} says {r}")})
    }

    fn vm(v: Json) -> VirtualMachine {
        serde_json::from_value(v).expect("a VirtualMachine")
    }

    fn service(v: Json) -> VirtualMachineService {
        serde_json::from_value(v).expect("a VirtualMachineService")
    }

    #[test]
    fn vm_ready_needs_power_and_ip() {
        let off = json!({"status": {"powerState": "PoweredOff"}});
        assert!(
            matches!(judge_vm(&vm(off)), Verdict::Pending(Some(s)) if s.contains("PoweredOff"))
        );
        let on_no_ip = json!({"status": {"powerState": "PoweredOn", "network": {}}});
        assert!(matches!(judge_vm(&vm(on_no_ip)), Verdict::Pending(_)));
        let ready =
            json!({"status": {"powerState": "PoweredOn", "network": {"primaryIP4": "10.0.0.5"}}});
        assert_eq!(
            judge_vm(&vm(ready)),
            Verdict::Done(VmReady {
                ip: "10.0.0.5".into()
            })
        );
    }

    #[test]
    fn a_v1alpha1_vm_is_judged_in_the_hub_shape() {
        let v1 = json!({"apiVersion": vmop_types::VmopVersion::V1alpha1.api_version(),
            "kind": "VirtualMachine", "status": {"powerState": "poweredOn", "vmIp": "10.0.0.7"}});
        assert_eq!(
            judge_vm(&vm(v1)),
            Verdict::Done(VmReady {
                ip: "10.0.0.7".into()
            })
        );
    }

    #[test]
    fn vm_failure_conditions_end_the_wait() {
        let bad_image = json!({"status": {"conditions": [
            cond("VirtualMachineClassReady", "True", ""),
            cond("VirtualMachineImageReady", "False", "NotFound"),
        ]}});
        match judge_vm(&vm(bad_image)) {
            Verdict::Failed(r) => assert!(
                r.starts_with("VirtualMachineImageReady=False NotFound"),
                "{r}"
            ),
            other => panic!("{other:?}"),
        }
        let bad_class = json!({"status": {"conditions": [cond("VirtualMachineClassReady", "False", "ClassMissing")]}});
        assert!(matches!(judge_vm(&vm(bad_class)), Verdict::Failed(_)));
        // Guest customization still running, tools not running yet, image still syncing: wait.
        let busy = json!({"status": {"powerState": "PoweredOn", "conditions": [
            cond("GuestCustomization", "False", "Running"),
            cond("VirtualMachineTools", "False", "NotRunning"),
            cond("VirtualMachineImageReady", "False", "NotSynced"),
        ]}});
        assert!(matches!(judge_vm(&vm(busy)), Verdict::Pending(_)));
        let cust_failed =
            json!({"status": {"conditions": [cond("GuestCustomization", "False", "Failed")]}});
        assert!(matches!(judge_vm(&vm(cust_failed)), Verdict::Failed(_)));
    }

    #[test]
    fn service_ingress_ip() {
        assert!(matches!(
            judge_service(&service(json!({"status": {}}))),
            Verdict::Pending(_)
        ));
        let hostname_only =
            json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}});
        assert!(matches!(
            judge_service(&service(hostname_only)),
            Verdict::Pending(_)
        ));
        let ip = json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.77.0.3"}]}}});
        assert_eq!(
            judge_service(&service(ip)),
            Verdict::Done("127.77.0.3".into())
        );
    }
}
