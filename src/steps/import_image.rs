//! Step "import image" (only with `import_source_url`): checks the target ContentLibrary
//! (exists, writable, allows imports), creates a ContentLibraryItemImportRequest, watches it
//! until `Complete=True` — failing at once, with the reason, when the request reports a
//! failure (upstream waits for the timeout) — and derives the VirtualMachineImage name from the
//! new item (`clitem-…` → `vmi-…`). The request and, with `clean_imported_image`, the item go
//! into the ledger so cleanup removes them; `keep_import_request` keeps the request.
use std::collections::BTreeMap;

use ::kube::api::{Api, PostParams};
use thiserror::Error;
use vmop_types::conditions::import::{reason, COMPLETE};
use vmop_types::library::{ImportItem, ImportSource, ImportSpec, ImportTarget};
use vmop_types::{ContentLibrary, ContentLibraryItemImportRequest, LibraryVersion};

use super::create_source::{labels, metadata};
use super::Ctx;
use crate::config::ImportConfig;
use crate::kube::retry::read;
use crate::kube::wait::{human, wait_for, Target, Verdict, WaitError};
use crate::kube::{Cluster, ObjectError};
use crate::state::ObjectKind;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("import_target_location_name {library:?}: {problem}")]
    Target { library: String, problem: String },
    #[error("the Supervisor does not serve {} ContentLibrary (v1alpha1 or v1alpha2); it cannot import images", vmop_types::api::IMAGEREGISTRY_GROUP)]
    NoImageRegistry,
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
/// and `allowImport`. `Err` names the missing flags as the cluster's version spells them.
pub fn library_accepts_import(version: LibraryVersion, lib: &ContentLibrary) -> Result<(), String> {
    let mut missing = Vec::new();
    if !lib.spec.allows_publish() {
        missing.push(version.writable_field());
    }
    if !lib.spec.allows_import() {
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

/// The request at the library API version (vmop-types writes v1alpha1's library reference by
/// object, v1alpha2's by name).
pub fn request(
    version: LibraryVersion,
    imp: &ImportConfig,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> ContentLibraryItemImportRequest {
    let spec = ImportSpec {
        source: ImportSource {
            url: imp.source_url.clone(),
            ssl_certificate: imp.source_ssl_certificate.clone(),
            ..ImportSource::default()
        },
        target: ImportTarget {
            library: imp.target_location_name.clone(),
            item: Some(ImportItem {
                name: imp.target_image_name.clone().filter(|n| !n.is_empty()),
                type_: imp.target_image_type.clone(),
                ..ImportItem::default()
            }),
            ..ImportTarget::default()
        },
        ..ImportSpec::default()
    };
    let meta = metadata(&imp.request_name, namespace, labels);
    ContentLibraryItemImportRequest::new(&version, meta, spec)
}

/// The new item's resource name (v1alpha1 `status.itemRef.name`, read as `itemName`).
pub fn item_name(req: &ContentLibraryItemImportRequest) -> Option<String> {
    req.status
        .as_ref()
        .map(|s| s.item_name.clone())
        .filter(|s| !s.is_empty())
}

/// Judges an import request: done (with the item name, if any) on `Complete=True`; failed on
/// `Complete=False` or any other condition `False` with a failure reason.
pub fn judge_import(req: &ContentLibraryItemImportRequest) -> Verdict<Option<String>> {
    let conds = req
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let mut failed = None;
    let mut done = false;
    for c in conds {
        done |= c.type_ == COMPLETE && c.is_true();
        let complete = c.type_ == COMPLETE;
        if c.is_false() && (complete || !reason::IN_PROGRESS.contains(&c.reason.as_str())) {
            let (t, r) = (&c.type_, &c.reason);
            let text = if c.message.is_empty() {
                format!("{t}=False, reason {r}")
            } else {
                format!("{t}=False, reason {r}: {}", c.message)
            };
            // The specific condition says more than Complete, which repeats it.
            if failed.is_none() || !complete {
                failed = Some(text);
            }
        }
    }
    if let Some(f) = failed {
        return Verdict::Failed(f);
    }
    if done {
        return Verdict::Done(item_name(req));
    }
    let state: Vec<String> = conds
        .iter()
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect();
    Verdict::Pending((!state.is_empty()).then(|| state.join(", ")))
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), ImportError> {
    let Some(imp) = ctx.config.import.as_ref() else {
        return Ok(());
    };
    let cluster = ctx.cluster().ok_or(ImportError::NotConnected)?.clone();
    let version = cluster
        .kinds
        .library_version
        .ok_or(ImportError::NoImageRegistry)?;
    check_target(ctx, &cluster, version, imp).await?;
    let api = create_request(ctx, &cluster, version, imp).await?;
    let item = wait_imported(ctx, &api, imp).await?;
    if imp.clean_imported_image {
        let kind = ObjectKind::ContentLibraryItem;
        ctx.state.ledger.record(kind, &cluster.namespace, &item);
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

/// The target library exists and accepts imports.
async fn check_target(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    version: LibraryVersion,
    imp: &ImportConfig,
) -> Result<(), ImportError> {
    let (ns, lib) = (&cluster.namespace, imp.target_location_name.as_str());
    ctx.say(&format!("Validating import target location {lib:?}..."))
        .await;
    let libs = cluster
        .library::<ContentLibrary>()
        .ok_or(ImportError::NoImageRegistry)?;
    let target = |problem| ImportError::Target {
        library: lib.to_string(),
        problem,
    };
    match read("getting the ContentLibrary", || libs.get_opt(lib)).await {
        Ok(Some(found)) => library_accepts_import(version, &found).map_err(target),
        Ok(None) => Err(target(format!(
            "no ContentLibrary of that name in namespace {ns}"
        ))),
        Err(e) => Err(ObjectError::new("getting", "ContentLibrary", Some(ns), lib, e).into()),
    }
}

/// Creates the import request; it goes into the ledger unless `keep_import_request`.
async fn create_request(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    version: LibraryVersion,
    imp: &ImportConfig,
) -> Result<Api<ContentLibraryItemImportRequest>, ImportError> {
    let (ns, name) = (cluster.namespace.as_str(), imp.request_name.as_str());
    let body = request(
        version,
        imp,
        ns,
        &labels(&ctx.state.build_id, &ctx.config.source_name),
    );
    ctx.say(&format!(
        "Creating ContentLibraryItemImportRequest {ns}/{name} to import {} into {:?}",
        imp.source_url, imp.target_location_name
    ))
    .await;
    let api = cluster
        .library::<ContentLibraryItemImportRequest>()
        .ok_or(ImportError::NoImageRegistry)?;
    let kind = ObjectKind::ContentLibraryItemImportRequest;
    api.create(&PostParams::default(), &body)
        .await
        .map_err(|e| ObjectError::new("creating", kind.as_str(), Some(ns), name, e))?;
    if imp.keep_import_request {
        ctx.say("keep_import_request is set: the import request will be kept")
            .await;
    } else {
        ctx.state.ledger.record(kind, ns, name);
    }
    Ok(api)
}

/// Watches the request until it completes; returns the new item's resource name.
async fn wait_imported(
    ctx: &Ctx<'_>,
    api: &Api<ContentLibraryItemImportRequest>,
    imp: &ImportConfig,
) -> Result<String, ImportError> {
    let ns = api.namespace().unwrap_or_default();
    let object = format!("ContentLibraryItemImportRequest {ns}/{}", imp.request_name);
    let timeout = ctx.config.watch_import_timeout;
    ctx.say(&format!(
        "Waiting for the import to complete (up to {})...",
        human(timeout)
    ))
    .await;
    let target = Target {
        api,
        object: object.clone(),
        name: &imp.request_name,
        what: format!("{object} to complete"),
    };
    wait_for(target, timeout, &ctx.cancel, judge_import)
        .await
        .map_err(|source| ImportError::Wait {
            url: imp.source_url.clone(),
            library: imp.target_location_name.clone(),
            source,
        })?
        .ok_or(ImportError::NoItem { object })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;
    use vmop_types::library::{ContentLibrarySpec, ImportStatus};
    use vmop_types::{Condition, ObjectMeta};

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

    fn wire(r: ContentLibraryItemImportRequest) -> Json {
        serde_json::to_value(r).expect("serializes")
    }

    #[test]
    fn request_shape_per_version() {
        let l = labels("b", "s");
        let v1 = wire(request(LibraryVersion::V1alpha1, &imp(), "ns", &l));
        assert_eq!(v1["apiVersion"], LibraryVersion::V1alpha1.api_version());
        assert_eq!(v1["kind"], "ContentLibraryItemImportRequest");
        assert_eq!(v1["spec"]["target"]["library"]["kind"], "ContentLibrary");
        assert_eq!(v1["spec"]["target"]["library"]["name"], "lib");
        assert_eq!(v1["spec"]["target"]["item"]["type"], "OVF");
        assert!(v1["spec"]["target"]["item"].get("name").is_none());
        assert_eq!(v1["spec"]["source"]["sslCertificate"], "PEM");
        let mut i = imp();
        i.target_image_name = Some("mine".into());
        i.source_ssl_certificate = None;
        let v2 = wire(request(LibraryVersion::V1alpha2, &i, "ns", &l));
        assert_eq!(v2["spec"]["target"]["library"], "lib");
        assert_eq!(v2["spec"]["target"]["item"]["name"], "mine");
        assert!(v2["spec"]["source"].get("sslCertificate").is_none());
        assert_eq!(v2["metadata"]["name"], "req");
    }

    fn library(allow_publish: Option<bool>, allow_import: Option<bool>) -> ContentLibrary {
        let spec = ContentLibrarySpec {
            allow_publish,
            allow_import,
            ..ContentLibrarySpec::default()
        };
        ContentLibrary::new(&LibraryVersion::V1alpha2, ObjectMeta::default(), spec)
    }

    #[test]
    fn library_flags() {
        let ok = library(Some(true), Some(true));
        assert!(library_accepts_import(LibraryVersion::V1alpha1, &ok).is_ok());
        let no_import = library(Some(true), None);
        let e = library_accepts_import(LibraryVersion::V1alpha2, &no_import).unwrap_err();
        assert!(
            e.contains("spec.allowImport") && !e.contains("allowPublish"),
            "{e}"
        );
        let none = library(None, None);
        let e = library_accepts_import(LibraryVersion::V1alpha1, &none).unwrap_err();
        assert!(e.contains("spec.writable and spec.allowImport"), "{e}");
    }

    /// An import request as the server reports it.
    fn reported(conditions: Vec<Condition>, item: &str) -> ContentLibraryItemImportRequest {
        let mut req = request(LibraryVersion::V1alpha2, &imp(), "ns", &labels("b", "s"));
        req.status = Some(ImportStatus {
            item_name: item.to_string(),
            conditions,
            ..ImportStatus::default()
        });
        req
    }

    #[test]
    fn judging_requests() {
        let c = |t: &str, s: &str, r: &str| Condition::new(t, s, r, "m", "t");
        let pending = reported(vec![c("SourceValid", "True", "")], "");
        assert_eq!(
            judge_import(&pending),
            Verdict::Pending(Some("SourceValid=True".into()))
        );
        let uploading = reported(vec![c("TemplateUploaded", "False", "UploadInProgress")], "");
        assert!(matches!(judge_import(&uploading), Verdict::Pending(_)));
        let done = reported(vec![c("Complete", "True", "")], "clitem-2");
        assert_eq!(judge_import(&done), Verdict::Done(Some("clitem-2".into())));
        let no_item = reported(vec![c("Complete", "True", "")], "");
        assert_eq!(judge_import(&no_item), Verdict::Done(None));
        let failed = reported(
            vec![
                c("SourceValid", "False", "SourceURLHostInvalid"),
                c("Complete", "False", "SourceURLHostInvalid"),
            ],
            "",
        );
        assert_eq!(
            judge_import(&failed),
            Verdict::Failed("SourceValid=False, reason SourceURLHostInvalid: m".into())
        );
        let only_complete = reported(vec![c("Complete", "False", "UploadFailure")], "");
        assert!(
            matches!(judge_import(&only_complete), Verdict::Failed(f) if f.contains("UploadFailure"))
        );
    }
}
