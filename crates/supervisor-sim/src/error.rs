//! `ApiError`: an error as the Kubernetes API reports it (a `Status` object with an HTTP code).
//! The store, admission hooks and the HTTP layer all speak it, so whatever a controller refuses
//! reaches kubectl in the API server's own words.

use serde_json::{json, Value};

/// One `details.causes[]` entry of a `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Field path (`spec.powerState`).
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, …
    pub reason: String,
    /// Human-readable message (`Unsupported value: "On": supported values: …`).
    pub message: String,
}

/// A failed API operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `StatusReason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, …).
    pub reason: String,
    /// The message kubectl prints.
    pub message: String,
    /// `details` (name, group, kind, causes).
    pub details: Option<Value>,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

/// Identifies the object an error is about, for `details`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// API group (empty for core).
    pub group: &'a str,
    /// Resource (plural).
    pub resource: &'a str,
    /// Object name.
    pub name: &'a str,
}

impl Target<'_> {
    fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    fn details(&self) -> Value {
        json!({"name": self.name, "group": self.group, "kind": self.resource})
    }
}

impl ApiError {
    fn new(code: u16, reason: &str, message: String) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message,
            details: None,
            retry_after: None,
        }
    }

    /// 404 `virtualmachines.vmoperator.vmware.com "x" not found`.
    pub fn not_found(t: Target<'_>) -> Self {
        let mut e = Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", t.group_resource(), t.name),
        );
        e.details = Some(t.details());
        e
    }

    /// 409 `… "x" already exists`.
    pub fn already_exists(t: Target<'_>) -> Self {
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", t.group_resource(), t.name),
        );
        e.details = Some(t.details());
        e
    }

    /// 409 optimistic-concurrency conflict.
    pub fn conflict(t: Target<'_>) -> Self {
        let mut e = Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                t.group_resource(),
                t.name
            ),
        );
        e.details = Some(t.details());
        e
    }

    /// 409 conflict with a custom message.
    pub fn conflict_msg(message: impl Into<String>) -> Self {
        Self::new(409, "Conflict", message.into())
    }

    /// 422 `Kind.group "x" is invalid: cause; cause`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let summary = match causes.as_slice() {
            [] => String::new(),
            [one] => format!(": {}", cause_text(one)),
            many => format!(
                ": [{}]",
                many.iter().map(cause_text).collect::<Vec<_>>().join(", ")
            ),
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid{summary}"),
        );
        e.details = Some(json!({
            "name": name,
            "group": group,
            "kind": kind,
            "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>(),
        }));
        e
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".to_string())
    }

    /// 403 `User "x" cannot verb resource.group in the namespace "ns"`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message.into())
    }

    /// 405.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message.into())
    }

    /// 410 for a watch or list resuming from a compacted resourceVersion.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into())
    }

    /// 415.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/merge-patch+json, application/json-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"))
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later"
                .to_string(),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message.into())
    }

    /// 404 for a URL that names no resource.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_string(),
        )
    }

    /// Builds an error from any code/reason/message (used by fault injection).
    pub fn custom(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self::new(code, reason, message.into())
    }

    /// The `Status` object sent on the wire.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        if let Some(r) = self.retry_after {
            s["details"]["retryAfterSeconds"] = json!(r);
        }
        s
    }
}

fn cause_text(c: &Cause) -> String {
    if c.field.is_empty() {
        c.message.clone()
    } else {
        format!("{}: {}", c.field, c.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_message_matches_api_server_format() {
        let e = ApiError::invalid(
            "VirtualMachine",
            "vmoperator.vmware.com",
            "x",
            vec![Cause {
                field: "spec.powerState".into(),
                reason: "FieldValueNotSupported".into(),
                message: "Unsupported value: \"On\": supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\"".into(),
            }],
        );
        assert_eq!(e.message, "VirtualMachine.vmoperator.vmware.com \"x\" is invalid: spec.powerState: Unsupported value: \"On\": supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\"");
        assert_eq!(
            e.to_status()["details"]["causes"][0]["field"],
            "spec.powerState"
        );
        let nf = ApiError::not_found(Target {
            group: "vmoperator.vmware.com",
            resource: "virtualmachines",
            name: "x",
        });
        assert_eq!(
            nf.message,
            "virtualmachines.vmoperator.vmware.com \"x\" not found"
        );
        assert_eq!(nf.to_status()["code"], 404);
    }
}
