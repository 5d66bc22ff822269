//! Where the VM is published, checked before anything is created: the library named by
//! `publish_location_name`, or with `publish_to_default_location` the namespace's one library
//! labelled `imageregistry.vmware.com/default`; it must allow publishing, and must not hold an
//! item named like `publish_image_name` already.
use ::kube::api::ListParams;
use serde_json::Value as Json;
use vmop_types::api::IMAGEREGISTRY_GROUP;
use vmop_types::naming::LABEL_DEFAULT_LIBRARY;

use super::check::{library_writable, names};
use super::Ctx;
use crate::kube::retry::read;
use crate::kube::{Cluster, ObjectError};

/// The option a problem is reported against.
fn option(default: bool) -> &'static str {
    if default {
        "publish_to_default_location"
    } else {
        "publish_location_name"
    }
}

/// The namespace's default library among the libraries carrying the default label.
pub fn pick_default(namespace: &str, labelled: &[String]) -> Result<String, String> {
    match labelled {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "publish_to_default_location: no ContentLibrary in namespace {namespace} is labelled {LABEL_DEFAULT_LIBRARY}; label one or set publish_location_name"
        )),
        many => Err(format!(
            "publish_to_default_location: {} ContentLibraries in namespace {namespace} are labelled {LABEL_DEFAULT_LIBRARY} ({}); set publish_location_name to choose one",
            many.len(),
            many.join(", ")
        )),
    }
}

/// The library a ContentLibraryItem belongs to: `spec.libraryName` (v1alpha2) or
/// `status.contentLibraryRef.name` (v1alpha1).
fn item_library(data: &Json) -> Option<&str> {
    data.pointer("/spec/libraryName")
        .and_then(Json::as_str)
        .filter(|l| !l.is_empty())
        .or_else(|| {
            data.pointer("/status/contentLibraryRef/name")
                .and_then(Json::as_str)
        })
}

/// The object name of an item of `library` whose display name (`status.name`) is `display`.
pub fn taken_by<'a>(items: &'a [(String, Json)], library: &str, display: &str) -> Option<&'a str> {
    items
        .iter()
        .find(|(_, data)| {
            item_library(data) == Some(library)
                && data.pointer("/status/name").and_then(Json::as_str) == Some(display)
        })
        .map(|(name, _)| name.as_str())
}

/// Finds the library to publish into and checks it; problems go to `problems`. `None` when the
/// build does not publish or the library is unusable.
pub async fn check(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    problems: &mut Vec<String>,
) -> Result<Option<String>, ObjectError> {
    let cfg = ctx.config;
    if !cfg.publishes() {
        ctx.say("Neither publish_location_name nor publish_to_default_location is set; the VM will not be published")
            .await;
        return Ok(None);
    }
    let default = cfg.publish_to_default_location;
    let (Some(res), Some(version)) = (&cluster.kinds.library, cluster.kinds.library_version) else {
        problems.push(format!(
            "{}: the Supervisor does not serve {IMAGEREGISTRY_GROUP} ContentLibrary (v1alpha1 or v1alpha2)",
            option(default)
        ));
        return Ok(None);
    };
    let ns = &cluster.namespace;
    let api = cluster.api(res);
    let lib = match cfg.publish_location_name.as_deref() {
        Some(lib) => lib.to_string(),
        None => {
            ctx.say(&format!(
                "Looking for the namespace's default content library (label {LABEL_DEFAULT_LIBRARY})..."
            ))
            .await;
            let lp = ListParams::default().labels(LABEL_DEFAULT_LIBRARY);
            let labelled = read("listing ContentLibraries", || api.list(&lp))
                .await
                .map_err(|e| ObjectError::new("listing", "ContentLibraries", Some(ns), "*", e))?;
            let mut found: Vec<String> = labelled
                .items
                .into_iter()
                .filter_map(|o| o.metadata.name)
                .collect();
            found.sort();
            match pick_default(ns, &found) {
                Ok(lib) => {
                    ctx.say(&format!(
                        "The namespace's default content library is {lib:?}"
                    ))
                    .await;
                    lib
                }
                Err(p) => {
                    problems.push(p);
                    return Ok(None);
                }
            }
        }
    };
    let opt = option(default);
    ctx.say(&format!("Validating VM publish location {lib:?}..."))
        .await;
    match read("getting the ContentLibrary", || api.get_opt(&lib)).await {
        Ok(Some(obj)) => {
            let (writable, field) = library_writable(version, &obj.data);
            if !writable {
                problems.push(format!(
                    "{opt} {lib:?}: ContentLibrary {ns}/{lib} is not writable ({field} is not true)"
                ));
                return Ok(None);
            }
        }
        Ok(None) => {
            problems.push(format!(
                "{opt} {lib:?}: no ContentLibrary of that name in namespace {ns} (available: {})",
                names(cluster, res, true).await
            ));
            return Ok(None);
        }
        Err(e) => {
            return Err(ObjectError::new(
                "getting",
                "ContentLibrary",
                Some(ns),
                &lib,
                e,
            ))
        }
    }
    if let Some(display) = cfg.publish_image_name.as_deref() {
        if let Some(p) = name_taken(cluster, &lib, display).await? {
            problems.push(p);
            return Ok(None);
        }
    }
    ctx.say(&format!("VM publish location {lib:?} is valid"))
        .await;
    Ok(Some(lib))
}

/// A problem when `library` already has an item named `display`.
async fn name_taken(
    cluster: &Cluster,
    library: &str,
    display: &str,
) -> Result<Option<String>, ObjectError> {
    let ns = &cluster.namespace;
    let items_api = cluster.api(&cluster.kinds.library_item);
    let lp = ListParams::default();
    let list = read("listing ContentLibraryItems", || items_api.list(&lp))
        .await
        .map_err(|e| ObjectError::new("listing", "ContentLibraryItems", Some(ns), "*", e))?;
    let items: Vec<(String, Json)> = list
        .items
        .into_iter()
        .filter_map(|o| Some((o.metadata.name?, o.data)))
        .collect();
    Ok(taken_by(&items, library, display).map(|item| {
        format!(
            "publish_image_name {display:?}: content library {library:?} already has an item of that name (ContentLibraryItem {ns}/{item}); choose another name or delete the item"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exactly_one_default_library() {
        assert_eq!(
            pick_default("demo", &["golden".into()]),
            Ok("golden".into())
        );
        let none = pick_default("demo", &[]).unwrap_err();
        assert_eq!(
            none,
            "publish_to_default_location: no ContentLibrary in namespace demo is labelled imageregistry.vmware.com/default; label one or set publish_location_name"
        );
        let two = pick_default("demo", &["a".into(), "b".into()]).unwrap_err();
        assert!(
            two.contains("2 ContentLibraries") && two.contains("(a, b)"),
            "{two}"
        );
    }

    #[test]
    fn item_names_are_per_library_in_either_version() {
        let items = vec![
            (
                "clitem-1".to_string(),
                json!({"spec": {"libraryName": "golden"}, "status": {"name": "web"}}),
            ),
            (
                "clitem-2".to_string(),
                json!({"status": {"name": "db", "contentLibraryRef": {"name": "golden"}}}),
            ),
        ];
        assert_eq!(taken_by(&items, "golden", "web"), Some("clitem-1"));
        assert_eq!(taken_by(&items, "golden", "db"), Some("clitem-2"));
        assert_eq!(taken_by(&items, "other", "web"), None);
        assert_eq!(taken_by(&items, "golden", "new"), None);
    }
}
