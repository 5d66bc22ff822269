//! Where the VM is published, checked before anything is created: the library named by
//! `publish_location_name`, or with `publish_to_default_location` the namespace's one library
//! carrying the default-library label ([`LABEL_DEFAULT_LIBRARY`]); it must allow publishing, and
//! must not hold an item named like `publish_image_name` already.
use ::kube::api::{Api, ListParams};
use vmop_types::api::IMAGEREGISTRY_GROUP;
use vmop_types::naming::LABEL_DEFAULT_LIBRARY;
use vmop_types::{ContentLibrary, ContentLibraryItem, LibraryVersion};

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

/// The object name of an item of `library` whose display name (`status.name`) is `display`
/// (a v1alpha1 item's library, `status.contentLibraryRef.name`, is read as `spec.libraryName`).
pub fn taken_by<'a>(
    items: &'a [ContentLibraryItem],
    library: &str,
    display: &str,
) -> Option<&'a str> {
    items
        .iter()
        .find(|item| {
            item.spec.library_name.as_deref() == Some(library)
                && item.status.as_ref().is_some_and(|s| s.name == display)
        })
        .and_then(|item| item.metadata.name.as_deref())
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
    let opt = option(cfg.publish_to_default_location);
    let (Some(api), Some(version)) = (
        cluster.library::<ContentLibrary>(),
        cluster.kinds.library_version,
    ) else {
        problems.push(format!(
            "{opt}: the Supervisor does not serve {IMAGEREGISTRY_GROUP} ContentLibrary (v1alpha1 or v1alpha2)"
        ));
        return Ok(None);
    };
    let lib = match cfg.publish_location_name.as_deref() {
        Some(lib) => lib.to_string(),
        None => match default_library(ctx, cluster, &api).await? {
            Ok(lib) => lib,
            Err(p) => {
                problems.push(p);
                return Ok(None);
            }
        },
    };
    ctx.say(&format!("Validating VM publish location {lib:?}..."))
        .await;
    if let Some(p) = unusable(cluster, &api, version, opt, &lib).await? {
        problems.push(p);
        return Ok(None);
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

/// The namespace's one library labelled as its default, or the problem.
async fn default_library(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    api: &Api<ContentLibrary>,
) -> Result<Result<String, String>, ObjectError> {
    let ns = &cluster.namespace;
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
    let picked = pick_default(ns, &found);
    if let Ok(lib) = &picked {
        ctx.say(&format!(
            "The namespace's default content library is {lib:?}"
        ))
        .await;
    }
    Ok(picked)
}

/// Why the library `lib` cannot be published into (missing or not writable), if it cannot.
async fn unusable(
    cluster: &Cluster,
    api: &Api<ContentLibrary>,
    version: LibraryVersion,
    opt: &str,
    lib: &str,
) -> Result<Option<String>, ObjectError> {
    let ns = &cluster.namespace;
    match read("getting the ContentLibrary", || api.get_opt(lib)).await {
        Ok(Some(found)) => {
            let (writable, field) = library_writable(version, &found);
            Ok((!writable).then(|| {
                format!("{opt} {lib:?}: ContentLibrary {ns}/{lib} is not writable ({field} is not true)")
            }))
        }
        Ok(None) => Ok(Some(format!(
            "{opt} {lib:?}: no ContentLibrary of that name in namespace {ns} (available: {})",
            names(api).await
        ))),
        Err(e) => Err(ObjectError::new(
            "getting",
            "ContentLibrary",
            Some(ns),
            lib,
            e,
        )),
    }
}

/// A problem when `library` already has an item named `display`.
async fn name_taken(
    cluster: &Cluster,
    library: &str,
    display: &str,
) -> Result<Option<String>, ObjectError> {
    let ns = &cluster.namespace;
    let Some(items_api) = cluster.library::<ContentLibraryItem>() else {
        return Ok(None);
    };
    let lp = ListParams::default();
    let list = read("listing ContentLibraryItems", || items_api.list(&lp))
        .await
        .map_err(|e| ObjectError::new("listing", "ContentLibraryItems", Some(ns), "*", e))?;
    Ok(taken_by(&list.items, library, display).map(|item| {
        format!(
            "publish_image_name {display:?}: content library {library:?} already has an item of that name (ContentLibraryItem {ns}/{item}); choose another name or delete the item"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmop_types::library::{ItemSpec, ItemStatus};
    use vmop_types::ObjectMeta;

    #[test]
    fn exactly_one_default_library() {
        assert_eq!(
            pick_default("demo", &["golden".into()]),
            Ok("golden".into())
        );
        let none = pick_default("demo", &[]).unwrap_err();
        assert_eq!(
            none,
            format!("publish_to_default_location: no ContentLibrary in namespace demo is labelled {LABEL_DEFAULT_LIBRARY}; label one or set publish_location_name")
        );
        let two = pick_default("demo", &["a".into(), "b".into()]).unwrap_err();
        assert!(
            two.contains("2 ContentLibraries") && two.contains("(a, b)"),
            "{two}"
        );
    }

    fn item(name: &str, library: &str, display: &str) -> ContentLibraryItem {
        let meta = ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        };
        let spec = ItemSpec {
            library_name: Some(library.into()),
            ..ItemSpec::default()
        };
        let mut item = ContentLibraryItem::new(&LibraryVersion::V1alpha2, meta, spec);
        item.status = Some(ItemStatus {
            name: display.into(),
            ..ItemStatus::default()
        });
        item
    }

    #[test]
    fn item_names_are_per_library() {
        let items = vec![
            item("clitem-1", "golden", "web"),
            item("clitem-2", "golden", "db"),
        ];
        assert_eq!(taken_by(&items, "golden", "web"), Some("clitem-1"));
        assert_eq!(taken_by(&items, "golden", "db"), Some("clitem-2"));
        assert_eq!(taken_by(&items, "other", "web"), None);
        assert_eq!(taken_by(&items, "golden", "new"), None);
    }
}
