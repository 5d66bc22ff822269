//! Checks of a write request's query options and patch type that kube-apiserver makes before
//! touching the object: `dryRun` values, `force` and `fieldManager` for server-side apply, and
//! strategic merge patches (built-in kinds only).

use crate::catalog::ResourceInfo;
use crate::error::{ApiError, Cause};
use std::collections::HashMap;

fn invalid(
    info: &ResourceInfo,
    name: &str,
    field: &str,
    reason: &str,
    message: String,
) -> ApiError {
    let cause = Cause {
        field: field.into(),
        reason: reason.into(),
        message,
    };
    ApiError::invalid(&info.kind, &info.gr.group, name, vec![cause])
}

/// Refuses what kube-apiserver refuses for `verb` with these query options and content type.
pub fn check(
    info: &ResourceInfo,
    verb: &str,
    name: &str,
    query: &HashMap<String, String>,
    content_type: &str,
) -> Result<(), ApiError> {
    if !matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    ) {
        return Ok(());
    }
    if let Some(v) = query.get("dryRun").filter(|v| *v != "All") {
        let message = format!("Unsupported value: {v:?}: supported values: \"All\"");
        return Err(invalid(
            info,
            name,
            "dryRun",
            "FieldValueNotSupported",
            message,
        ));
    }
    if verb != "patch" {
        return Ok(());
    }
    let ct = content_type.split(';').next().unwrap_or_default().trim();
    let apply = ct.starts_with("application/apply-patch");
    if ct == "application/strategic-merge-patch+json" && info.custom {
        return Err(ApiError::unsupported_media_type(ct));
    }
    if query.contains_key("force") && !apply {
        let message = "Forbidden: may not be specified for non-apply patch".to_string();
        return Err(invalid(info, name, "force", "FieldValueForbidden", message));
    }
    if apply && query.get("fieldManager").is_none_or(|m| m.is_empty()) {
        let message = "Required value: is required for apply patch".to_string();
        return Err(invalid(
            info,
            name,
            "fieldManager",
            "FieldValueRequired",
            message,
        ));
    }
    Ok(())
}
