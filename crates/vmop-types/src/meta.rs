//! Object metadata, conditions and references.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Kubernetes' `ObjectMeta` (k8s-openapi's, as kube's `Resource` wants it): every field of
/// `metadata` is modelled, so nothing is lost on a round trip.
pub use kube_core::ObjectMeta;

/// `metav1.Condition` (also accepts the older severity-carrying shape through `extra`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default = "unknown")]
    pub status: String,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// RFC 3339 time of the last status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Other fields (`severity` of v1alpha1 conditions).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Condition {
    /// A condition with the given type/status/reason/message and transition time.
    pub fn new(type_: &str, status: &str, reason: &str, message: &str, now_rfc3339: &str) -> Self {
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            last_transition_time: Some(now_rfc3339.to_string()),
            observed_generation: None,
            extra: Map::new(),
        }
    }

    /// Whether `status == "True"`.
    pub fn is_true(&self) -> bool {
        self.status == crate::conditions::status::TRUE
    }

    /// Whether `status == "False"`.
    pub fn is_false(&self) -> bool {
        self.status == crate::conditions::status::FALSE
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

/// A condition without a status is not known to hold or not.
fn unknown() -> String {
    crate::conditions::status::UNKNOWN.to_string()
}

/// Finds a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Inserts or replaces a condition by type; the transition time is kept when the status did not
/// change (the Kubernetes convention), so watchers can tell real transitions apart.
pub fn set_condition(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let keep_time = existing.status == new.status;
            let old_time = existing.last_transition_time.clone();
            *existing = new;
            if keep_time {
                existing.last_transition_time = old_time;
            }
        }
        None => conditions.push(new),
    }
}

/// `{apiVersion, kind, name}` reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedRef {
    /// API version of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Kind of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// `{kind, name}` reference (VM image references).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindRef {
    /// Kind of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Name of the referent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// `{name, key}` Secret key selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretKeySelector {
    /// Secret name.
    pub name: String,
    /// Key within the Secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_leniently_and_describe_themselves() {
        let c: Condition =
            serde_json::from_value(serde_json::json!({"type": "Ready", "severity": "Info"}))
                .unwrap();
        assert_eq!(c.status, "Unknown");
        assert_eq!(c.describe(), "Ready=Unknown");
        assert_eq!(serde_json::to_value(&c).unwrap()["severity"], "Info");
        let c = Condition::new(
            "VirtualMachineImageReady",
            "False",
            "NotFound",
            "image vmi-x not found",
            "t",
        );
        assert!(c.is_false() && !c.is_true());
        assert_eq!(
            c.describe(),
            "VirtualMachineImageReady=False NotFound: image vmi-x not found"
        );
    }

    #[test]
    fn set_condition_keeps_time_when_status_unchanged() {
        let mut cs = vec![Condition::new("Ready", "False", "A", "", "t1")];
        set_condition(&mut cs, Condition::new("Ready", "False", "B", "", "t2"));
        assert_eq!(cs[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(cs[0].reason, "B");
        set_condition(&mut cs, Condition::new("Ready", "True", "C", "", "t3"));
        assert_eq!(cs[0].last_transition_time.as_deref(), Some("t3"));
        assert!(find_condition(&cs, "Ready").unwrap().is_true());
    }
}
