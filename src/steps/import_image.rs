//! Step "import image" (only with `import_source_url`): checks the target ContentLibrary
//! (exists, writable, allows imports), creates a ContentLibraryItemImportRequest, watches it
//! until `Complete=True` — failing at once, with the reason, when the request reports a
//! failure (upstream waits for the timeout) — and derives the VirtualMachineImage name from the
//! new item (`clitem-…` → `vmi-…`). The request and, with `clean_imported_image`, the item go
//! into the ledger so cleanup removes them; `keep_import_request` keeps the request.
use ::kube::api::{DynamicObject, PostParams};
use serde_json::{json, Value as Json};
use thiserror::Error;

use super::create_source::labels;
use super::Ctx;
use crate::config::ImportConfig;
use crate::kube::wait::{wait_for, Target, Verdict, WaitError};
use crate::kube::{LibraryVersion, ObjectError};
use crate::state::ObjectKind;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("import_target_location_name {library:?}: {problem}")]
    Target { library: String, problem: String },
    #[error("the Supervisor does not serve {} ContentLibrary (v1alpha1 or v1alpha2); it cannot import images", vmop_types::api::IMAGEREGISTRY_GROUP)]
    NoImageRegistry,
    #[error("building the ContentLibraryItemImportRequest {name}: {source}")]
    Encode {
        name: String,
        source: serde_json::Error,
    },
    #[error("importing {url} into ContentLibrary {library}: {source}")]
    Wait {
        url: String,
        library: String,
        source: WaitError,
    },
    #[error("ContentLibraryItemImportRequest {object} completed without naming the new item (status.itemRef.name)")]
    NoItem { object: String },
    #[error("the imported item {item} is not named clitem-…, so its VirtualMachineImage name cannot be derived")]
    ItemName { item: String },
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
    #[error(transparent)]
    Api(#[from] ObjectError),
}

/// Whether a library accepts imports: writable (v1alpha1 `writable`, v1alpha2 `allowPublish`)
/// and `allowImport`. `Err` names the missing flags.
pub fn library_accepts_import(version: LibraryVersion, data: &Json) -> Result<(), String> {
    let (writable, field) = super::check::library_writable(version, data);
    let import = data
        .pointer("/spec/allowImport")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let mut missing = Vec::new();
    if !writable {
        missing.push(field);
    }
    if !import {
        missing.push("spec.allowImport");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the ContentLibrary does not accept imports ({} not true)",
            missing.join(" and ")
        ))
    }
}

/// The request body at the library API version (v1alpha1 references the library by object,
/// v1alpha2 by name).
pub fn request_json(
    version: LibraryVersion,
    imp: &ImportConfig,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Json {
    let library = match version {
        LibraryVersion::V1alpha1 => json!({
            "apiVersion": LibraryVersion::V1alpha1.api_version(),
            "kind": "ContentLibrary",
            "name": imp.target_location_name,
        }),
        LibraryVersion::V1alpha2 => json!(imp.target_location_name),
    };
    let mut item = json!({"type": imp.target_image_type});
    if let Some(n) = imp.target_image_name.as_deref().filter(|n| !n.is_empty()) {
        item["name"] = json!(n);
    }
    let mut source = json!({"url": imp.source_url});
    if let Some(c) = imp.source_ssl_certificate.as_deref() {
        source["sslCertificate"] = json!(c);
    }
    json!({
        "apiVersion": version.api_version(),
        "kind": "ContentLibraryItemImportRequest",
        "metadata": {"name": imp.request_name, "namespace": namespace, "labels": labels},
        "spec": {"source": source, "target": {"library": library, "item": item}},
    })
}

/// Condition reasons that mean "still working", not "failed".
const IN_PROGRESS_REASONS: &[&str] = &["UploadInProgress", "TargetLibraryItemNotReady"];

/// The new item's resource name: v1alpha1 `status.itemRef.name`, v1alpha2 `status.itemName`.
pub fn item_name(data: &Json) -> Option<String> {
    data.pointer("/status/itemRef/name")
        .or_else(|| data.pointer("/status/itemName"))
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Judges an import request: done (with the item name, if any) on `Complete=True`; failed on
/// `Complete=False` or any other condition `False` with a failure reason.
pub fn judge_import(data: &Json) -> Verdict<Option<String>> {
    let conds = data
        .pointer("/status/conditions")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let field = |c: &Json, k: &str| c.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let mut failed = None;
    let mut done = false;
    for c in &conds {
        let (t, st, reason) = (field(c, "type"), field(c, "status"), field(c, "reason"));
        if t == "Complete" && st == "True" {
            done = true;
        }
        if st == "False" && (t == "Complete" || !IN_PROGRESS_REASONS.contains(&reason.as_str())) {
            let msg = field(c, "message");
            let text = if msg.is_empty() {
                format!("{t}=False, reason {reason}")
            } else {
                format!("{t}=False, reason {reason}: {msg}")
            };
            // The specific condition says more than Complete, which repeats it.
            if failed.is_none() || t != "Complete" {
                failed = Some(text);
            }
        }
    }
    if let Some(f) = failed {
        return Verdict::Failed(f);
    }
    if done {
        return Verdict::Done(item_name(data));
    }
    let state: Vec<String> = conds
        .iter()
        .map(|c| format!("{}={}", field(c, "type"), field(c, "status")))
        .collect();
    Verdict::Pending((!state.is_empty()).then(|| state.join(", ")))
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let cfg = ctx.config;
    let Some(imp) = cfg.import.as_ref() else {
        return Ok(());
    };
    let cluster = ctx.cluster().ok_or(ImportError::NotConnected)?.clone();
    let ns = cluster.namespace.clone();
    let (Some(lib_res), Some(version)) = (&cluster.kinds.library, cluster.kinds.library_version)
    else {
        return Err(ImportError::NoImageRegistry);
    };
    let lib = imp.target_location_name.as_str();
    ctx.say(&format!("Validating import target location {lib:?}..."))
        .await;
    let libs = cluster.api(lib_res);
    match crate::kube::retry::read("getting the ContentLibrary", || libs.get_opt(lib)).await {
        Ok(Some(obj)) => {
            library_accepts_import(version, &obj.data).map_err(|problem| ImportError::Target {
                library: lib.to_string(),
                problem,
            })?
        }
        Ok(None) => {
            return Err(ImportError::Target {
                library: lib.to_string(),
                problem: format!("no ContentLibrary of that name in namespace {ns}"),
            })
        }
        Err(e) => {
            return Err(ObjectError::new("getting", "ContentLibrary", Some(&ns), lib, e).into())
        }
    }

    let res = cluster.kinds.import_request.clone();
    let body = request_json(
        version,
        imp,
        &ns,
        &labels(&ctx.state.build_id, &cfg.source_name),
    );
    let obj: DynamicObject =
        serde_json::from_value(body).map_err(|source| ImportError::Encode {
            name: imp.request_name.clone(),
            source,
        })?;
    ctx.say(&format!(
        "Creating ContentLibraryItemImportRequest {ns}/{} to import {} into {lib:?}",
        imp.request_name, imp.source_url
    ))
    .await;
    let api = cluster.api(&res);
    api.create(&PostParams::default(), &obj)
        .await
        .map_err(|e| {
            ObjectError::new(
                "creating",
                "ContentLibraryItemImportRequest",
                Some(&ns),
                &imp.request_name,
                e,
            )
        })?;
    if imp.keep_import_request {
        ctx.say("keep_import_request is set: the import request will be kept")
            .await;
    } else {
        ctx.state.ledger.record(
            ObjectKind::ContentLibraryItemImportRequest,
            &ns,
            &imp.request_name,
        );
    }

    let object = format!("ContentLibraryItemImportRequest {ns}/{}", imp.request_name);
    ctx.say(&format!(
        "Waiting for the import to complete (up to {})...",
        crate::kube::wait::human(cfg.watch_import_timeout)
    ))
    .await;
    let item = wait_for(
        Target {
            api: &api,
            object: object.clone(),
            name: &imp.request_name,
            what: format!("{object} to complete"),
        },
        cfg.watch_import_timeout,
        &ctx.cancel,
        |o| judge_import(&o.data),
    )
    .await
    .map_err(|source| ImportError::Wait {
        url: imp.source_url.clone(),
        library: lib.to_string(),
        source,
    })?
    .ok_or(ImportError::NoItem { object })?;
    if imp.clean_imported_image {
        ctx.state
            .ledger
            .record(ObjectKind::ContentLibraryItem, &ns, &item);
    }
    let vmi = vmop_types::naming::vmi_name_for_item_resource(&item)
        .ok_or_else(|| ImportError::ItemName { item: item.clone() })?;
    ctx.say(&format!(
        "Imported {} as ContentLibraryItem {item}; its image is {vmi}",
        imp.source_url
    ))
    .await;
    ctx.state.imported_image = Some(vmi);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp() -> ImportConfig {
        ImportConfig {
            source_url: "https://127.0.0.1/x.ova".into(),
            source_ssl_certificate: Some("PEM".into()),
            target_location_name: "lib".into(),
            target_image_type: "OVF".into(),
            target_image_name: None,
            request_name: "req".into(),
            keep_import_request: false,
            clean_imported_image: false,
        }
    }

    #[test]
    fn request_shape_per_version() {
        let l = labels("b", "s");
        let v1 = request_json(LibraryVersion::V1alpha1, &imp(), "ns", &l);
        assert_eq!(v1["apiVersion"], "imageregistry.vmware.com/v1alpha1");
        assert_eq!(v1["spec"]["target"]["library"]["kind"], "ContentLibrary");
        assert_eq!(v1["spec"]["target"]["library"]["name"], "lib");
        assert_eq!(v1["spec"]["target"]["item"]["type"], "OVF");
        assert!(v1["spec"]["target"]["item"].get("name").is_none());
        assert_eq!(v1["spec"]["source"]["sslCertificate"], "PEM");
        let mut i = imp();
        i.target_image_name = Some("mine".into());
        i.source_ssl_certificate = None;
        let v2 = request_json(LibraryVersion::V1alpha2, &i, "ns", &l);
        assert_eq!(v2["spec"]["target"]["library"], "lib");
        assert_eq!(v2["spec"]["target"]["item"]["name"], "mine");
        assert!(v2["spec"]["source"].get("sslCertificate").is_none());
        assert_eq!(v2["metadata"]["name"], "req");
    }

    #[test]
    fn library_flags() {
        let ok = json!({"spec": {"writable": true, "allowImport": true}});
        assert!(library_accepts_import(LibraryVersion::V1alpha1, &ok).is_ok());
        let no_import = json!({"spec": {"allowPublish": true}});
        let e = library_accepts_import(LibraryVersion::V1alpha2, &no_import).unwrap_err();
        assert!(
            e.contains("spec.allowImport") && !e.contains("allowPublish"),
            "{e}"
        );
        let none = json!({"spec": {}});
        let e = library_accepts_import(LibraryVersion::V1alpha1, &none).unwrap_err();
        assert!(e.contains("spec.writable and spec.allowImport"), "{e}");
    }

    #[test]
    fn judging_requests() {
        let c = |t: &str, s: &str, r: &str| json!({"type": t, "status": s, "reason": r, "message": "m"});
        let pending = json!({"status": {"conditions": [c("SourceValid", "True", "")]}});
        assert_eq!(
            judge_import(&pending),
            Verdict::Pending(Some("SourceValid=True".into()))
        );
        let uploading =
            json!({"status": {"conditions": [c("TemplateUploaded", "False", "UploadInProgress")]}});
        assert!(matches!(judge_import(&uploading), Verdict::Pending(_)));
        let done_v1 = json!({"status": {"itemRef": {"name": "clitem-1"}, "conditions": [c("Complete", "True", "")]}});
        assert_eq!(
            judge_import(&done_v1),
            Verdict::Done(Some("clitem-1".into()))
        );
        let done_v2 =
            json!({"status": {"itemName": "clitem-2", "conditions": [c("Complete", "True", "")]}});
        assert_eq!(
            judge_import(&done_v2),
            Verdict::Done(Some("clitem-2".into()))
        );
        let failed = json!({"status": {"conditions": [
            c("SourceValid", "False", "SourceURLHostInvalid"),
            c("Complete", "False", "SourceURLHostInvalid"),
        ]}});
        assert_eq!(
            judge_import(&failed),
            Verdict::Failed("SourceValid=False, reason SourceURLHostInvalid: m".into())
        );
        let only_complete =
            json!({"status": {"conditions": [c("Complete", "False", "UploadFailure")]}});
        assert!(
            matches!(judge_import(&only_complete), Verdict::Failed(f) if f.contains("UploadFailure"))
        );
    }
}
