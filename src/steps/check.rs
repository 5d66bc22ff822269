//! Step 3: check everything the build will reference before creating anything: the image (by
//! object name or display name), the VM class, the storage class, the publish library and the
//! published item's name ([`super::publish_target`]). It runs before the import step, so a
//! build that would fail here creates nothing; the imported image is checked after the import.
use std::fmt::Debug;

use ::kube::api::{Api, ListParams};
use ::kube::Resource;
use serde::de::DeserializeOwned;
use thiserror::Error;
use vmop_types::api::{Scope, VIRTUAL_MACHINE_IMAGE};
use vmop_types::image::{image_type, ImageKind};
use vmop_types::naming::ANNOTATION_DISPLAY_NAME;
use vmop_types::{ContentLibrary, VirtualMachineClass, VirtualMachineImage};

use super::Ctx;
use crate::config::CommKind;
use crate::kube::retry::read;
use crate::kube::{code_of, Cluster, LibraryVersion, ObjectError};
use crate::state::ResolvedImage;

#[derive(Debug, Error)]
pub enum CheckError {
    /// Everything wrong with the configuration as the Supervisor sees it, all at once.
    #[error("checking what the build needs in Supervisor namespace {namespace}: {}", problems.join("; "))]
    Problems {
        namespace: String,
        problems: Vec<String>,
    },
    #[error(transparent)]
    Api(#[from] ObjectError),
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
}

/// What the image lookup knows about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub kind: &'static str,
    pub name: String,
    pub display_name: String,
    pub image_type: String,
}

impl ImageInfo {
    /// What an image says of itself (a v1alpha1 image is read in the hub's shape by
    /// vmop-types: its display name and type in `status`).
    fn from_object(kind: &'static str, obj: &VirtualMachineImage) -> Option<Self> {
        let status = obj.status.clone().unwrap_or_default();
        let display = if status.name.is_empty() {
            obj.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_DISPLAY_NAME).cloned())
                .unwrap_or_default()
        } else {
            status.name
        };
        Some(ImageInfo {
            kind,
            name: obj.metadata.name.clone()?,
            display_name: display,
            image_type: status.type_,
        })
    }

    fn resolved(&self) -> ResolvedImage {
        ResolvedImage {
            kind: self.kind.to_string(),
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            image_type: self.image_type.clone(),
        }
    }

    fn label(&self) -> String {
        if self.display_name.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({:?})", self.name, self.display_name)
        }
    }
}

/// Finds `wanted` by object name (namespace, then cluster), else by display name (namespace,
/// then cluster); a display name must match exactly one image in the first scope that has it.
pub fn resolve_image(
    wanted: &str,
    namespace: &str,
    ns_images: &[ImageInfo],
    cluster_images: &[ImageInfo],
) -> Result<ResolvedImage, String> {
    for scope in [ns_images, cluster_images] {
        if let Some(img) = scope.iter().find(|i| i.name == wanted) {
            return Ok(img.resolved());
        }
    }
    for (scope, where_) in [
        (ns_images, format!("namespace {namespace}")),
        (cluster_images, "the cluster".to_string()),
    ] {
        let hits: Vec<&ImageInfo> = scope.iter().filter(|i| i.display_name == wanted).collect();
        match hits.as_slice() {
            [] => continue,
            [one] => return Ok(one.resolved()),
            many => {
                let names: Vec<String> = many.iter().map(|i| i.label()).collect();
                return Err(format!(
                    "image_name {wanted:?} matches {} images by display name in {where_}: {}; use the object name",
                    many.len(),
                    names.join(", ")
                ));
            }
        }
    }
    let mut all: Vec<String> = ns_images
        .iter()
        .chain(cluster_images)
        .map(ImageInfo::label)
        .collect();
    all.sort();
    all.dedup();
    const SHOWN: usize = 10;
    let more = all.len().saturating_sub(SHOWN);
    all.truncate(SHOWN);
    let listed = if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    };
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Err(format!(
        "image_name {wanted:?} matches no VirtualMachineImage in namespace {namespace} and no ClusterVirtualMachineImage, by name or display name (available: {listed}{more})"
    ))
}

async fn list_images(cluster: &Cluster, scope: Scope) -> Result<Vec<ImageInfo>, ObjectError> {
    let kind = ImageKind {
        version: cluster.kinds.vmop,
        scope,
    }
    .api_kind()
    .kind;
    let api = cluster.images(scope);
    let lp = ListParams::default();
    match read(&format!("listing {kind}s"), || api.list(&lp)).await {
        Ok(list) => Ok(list
            .items
            .iter()
            .filter_map(|o| ImageInfo::from_object(kind, o))
            .collect()),
        // Cluster images may be hidden from namespace users; then only namespace images count.
        Err(e) if scope == Scope::Cluster && matches!(code_of(&e), Some(403) | Some(404)) => {
            Ok(Vec::new())
        }
        Err(e) => Err(ObjectError::new(
            "listing",
            &format!("{kind}s"),
            (scope == Scope::Namespaced).then_some(cluster.namespace.as_str()),
            "*",
            e,
        )),
    }
}

/// The names of the objects `api` lists, for "did you mean" lists.
pub(super) async fn names<K>(api: &Api<K>) -> String
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let lp = ListParams::default();
    match read(&format!("listing {}", api.resource_url()), || api.list(&lp)).await {
        Ok(l) => {
            let mut n: Vec<String> = l
                .items
                .into_iter()
                .filter_map(|o| o.meta().name.clone())
                .collect();
            n.sort();
            if n.is_empty() {
                "none".into()
            } else {
                n.join(", ")
            }
        }
        Err(_) => "unknown".into(),
    }
}

/// Whether the library allows publishing, and the field that says so at `version`
/// (`spec.writable` in v1alpha1, `spec.allowPublish` in v1alpha2).
pub fn library_writable(version: LibraryVersion, lib: &ContentLibrary) -> (bool, &'static str) {
    (lib.spec.allows_publish(), version.writable_field())
}

/// Finds the image the VM is deployed from and checks it can be deployed: `Ok(Err(problem))`
/// when it cannot.
async fn source_image(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    wanted: &str,
) -> Result<Result<ResolvedImage, String>, ObjectError> {
    let ns = &cluster.namespace;
    ctx.say(&format!("Checking source image {wanted:?}..."))
        .await;
    let ns_images = list_images(cluster, Scope::Namespaced).await?;
    let cluster_images = list_images(cluster, Scope::Cluster).await?;
    let img = match resolve_image(wanted, ns, &ns_images, &cluster_images) {
        Ok(img) => img,
        Err(p) => return Ok(Err(p)),
    };
    if !["", image_type::OVF, image_type::ISO].contains(&img.image_type.as_str()) {
        // Upstream logs this and ends the build as a "success" with nothing built.
        return Ok(Err(format!(
            "image_name {wanted:?}: image {} has type {:?}; this builder deploys OVF and ISO images only",
            img.name, img.image_type
        )));
    }
    if img.image_type == image_type::ISO && !cluster.kinds.vmop.has_cdrom() {
        return Ok(Err(format!(
            "image_name {wanted:?}: image {} is an ISO, and an ISO build needs CD-ROMs, which {} does not have (v1alpha3 and later do)",
            img.name,
            cluster.kinds.vmop.api_version()
        )));
    }
    let scope = if img.kind == VIRTUAL_MACHINE_IMAGE.kind {
        "namespace"
    } else {
        "cluster"
    };
    let t = if img.image_type.is_empty() {
        image_type::OVF
    } else {
        img.image_type.as_str()
    };
    ctx.say(&format!(
        "Found {scope}-scoped image {} ({:?}) of type {t}",
        img.name, img.display_name
    ))
    .await;
    Ok(Ok(img))
}

/// Step 4b: after an import, checks the image it produced (unless `image_name` names another).
pub async fn imported_image(ctx: &mut Ctx<'_>) -> Result<(), CheckError> {
    if ctx.state.image.is_some() {
        return Ok(());
    }
    let Some(wanted) = ctx.state.imported_image.clone() else {
        return Ok(());
    };
    let cluster = ctx.state.cluster.clone().ok_or(CheckError::NotConnected)?;
    match source_image(ctx, &cluster, &wanted).await? {
        Ok(img) => {
            ctx.state.image = Some(img);
            Ok(())
        }
        Err(problem) => Err(CheckError::Problems {
            namespace: cluster.namespace.clone(),
            problems: vec![problem],
        }),
    }
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), CheckError> {
    let Some(cluster) = ctx.state.cluster.clone() else {
        return Err(CheckError::NotConnected);
    };
    let mut problems = Vec::new();
    if ctx.config.comm.kind == CommKind::WinRm {
        problems.push(
            "communicator \"winrm\" is not supported by this builder yet; use \"ssh\" or \"none\""
                .to_string(),
        );
    }
    check_image(ctx, &cluster, &mut problems).await?;
    check_class(ctx, &cluster, &mut problems).await?;
    check_storage_class(ctx, &cluster, &mut problems).await?;
    // Publish library (named or the namespace's default) and the new item's name.
    ctx.state.publish_library = super::publish_target::check(ctx, &cluster, &mut problems).await?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CheckError::Problems {
            namespace: cluster.namespace.clone(),
            problems,
        })
    }
}

/// The source image. image_name wins over the imported image (Prepare warned about it); an
/// image still to be imported is checked by [`imported_image`] once the import made it.
async fn check_image(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    problems: &mut Vec<String>,
) -> Result<(), ObjectError> {
    let cfg = ctx.config;
    match cfg.image_name.clone().filter(|n| !n.is_empty()) {
        Some(wanted) => match source_image(ctx, cluster, &wanted).await? {
            Ok(img) => ctx.state.image = Some(img),
            Err(p) => problems.push(p),
        },
        None if cfg.import.is_some() => {
            ctx.say("The source image is imported once every other check has passed")
                .await
        }
        None => problems.push("image_name is not set".to_string()),
    }
    Ok(())
}

/// The VM class exists in the namespace.
async fn check_class(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    problems: &mut Vec<String>,
) -> Result<(), ObjectError> {
    let (ns, class) = (&cluster.namespace, &ctx.config.class_name);
    let classes = cluster.vmop::<VirtualMachineClass>();
    match read("getting the VirtualMachineClass", || classes.get_opt(class)).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            problems.push(format!(
                "class_name {class:?}: no VirtualMachineClass of that name in namespace {ns} (available: {})",
                names(&classes).await
            ));
            Ok(())
        }
        Err(e) => Err(ObjectError::new(
            "getting",
            "VirtualMachineClass",
            Some(ns),
            class,
            e,
        )),
    }
}

/// The storage class exists (cluster-scoped; some Supervisor users may not read them, then
/// the check is skipped).
async fn check_storage_class(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    problems: &mut Vec<String>,
) -> Result<(), ObjectError> {
    let Some(scs) = cluster.storage_classes() else {
        return Ok(());
    };
    let sc = &ctx.config.storage_class;
    match read("getting the StorageClass", || scs.get_opt(sc)).await {
        Ok(Some(_)) => {}
        Ok(None) => problems.push(format!(
            "storage_class {sc:?}: no StorageClass of that name (available: {})",
            names(&scs).await
        )),
        Err(e) if code_of(&e) == Some(403) => {
            ctx.say(&format!(
                "Not allowed to read StorageClass {sc:?}; not checking it"
            ))
            .await;
        }
        Err(e) => return Err(ObjectError::new("getting", "StorageClass", None, sc, e)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmop_types::api::CLUSTER_VIRTUAL_MACHINE_IMAGE;
    use vmop_types::library::ContentLibrarySpec;
    use vmop_types::ObjectMeta;

    fn img(kind: &'static str, name: &str, display: &str) -> ImageInfo {
        ImageInfo {
            kind,
            name: name.into(),
            display_name: display.into(),
            image_type: "OVF".into(),
        }
    }

    fn fixtures() -> (Vec<ImageInfo>, Vec<ImageInfo>) {
        let ns = vec![
            img(VIRTUAL_MACHINE_IMAGE.kind, "vmi-aaa", "ubuntu-22.04"),
            img(VIRTUAL_MACHINE_IMAGE.kind, "vmi-bbb", "dup"),
            img(VIRTUAL_MACHINE_IMAGE.kind, "vmi-ccc", "dup"),
        ];
        let cl = vec![
            img(CLUSTER_VIRTUAL_MACHINE_IMAGE.kind, "vmi-ddd", "photon-5"),
            img(
                CLUSTER_VIRTUAL_MACHINE_IMAGE.kind,
                "vmi-eee",
                "ubuntu-22.04",
            ),
            img(CLUSTER_VIRTUAL_MACHINE_IMAGE.kind, "vmi-fff", "cdup"),
            img(CLUSTER_VIRTUAL_MACHINE_IMAGE.kind, "vmi-ggg", "cdup"),
        ];
        (ns, cl)
    }

    #[test]
    fn by_object_name_namespace_then_cluster() {
        let (ns, cl) = fixtures();
        assert_eq!(
            resolve_image("vmi-aaa", "demo", &ns, &cl).unwrap().kind,
            "VirtualMachineImage"
        );
        let r = resolve_image("vmi-ddd", "demo", &ns, &cl).unwrap();
        assert_eq!(
            (r.kind.as_str(), r.display_name.as_str()),
            ("ClusterVirtualMachineImage", "photon-5")
        );
    }

    #[test]
    fn by_display_name_namespace_first() {
        let (ns, cl) = fixtures();
        assert_eq!(
            resolve_image("ubuntu-22.04", "demo", &ns, &cl)
                .unwrap()
                .name,
            "vmi-aaa"
        );
        assert_eq!(
            resolve_image("photon-5", "demo", &ns, &cl).unwrap().name,
            "vmi-ddd"
        );
    }

    #[test]
    fn ambiguous_display_name_lists_candidates() {
        let (ns, cl) = fixtures();
        let e = resolve_image("dup", "demo", &ns, &cl).unwrap_err();
        assert!(
            e.contains("matches 2 images") && e.contains("vmi-bbb") && e.contains("vmi-ccc"),
            "{e}"
        );
        assert!(e.contains("namespace demo"), "{e}");
        let e = resolve_image("cdup", "demo", &ns, &cl).unwrap_err();
        assert!(
            e.contains("the cluster") && e.contains("vmi-fff") && e.contains("vmi-ggg"),
            "{e}"
        );
    }

    #[test]
    fn not_found_lists_what_exists() {
        let (ns, cl) = fixtures();
        let e = resolve_image("centos", "demo", &ns, &cl).unwrap_err();
        assert!(
            e.contains("matches no VirtualMachineImage in namespace demo"),
            "{e}"
        );
        assert!(e.contains("vmi-aaa (\"ubuntu-22.04\")"), "{e}");
        let e = resolve_image("centos", "demo", &[], &[]).unwrap_err();
        assert!(e.contains("available: none"), "{e}");
    }

    fn library(allow_publish: Option<bool>, allow_delete: Option<bool>) -> ContentLibrary {
        let spec = ContentLibrarySpec {
            allow_publish,
            allow_delete,
            ..ContentLibrarySpec::default()
        };
        ContentLibrary::new(&LibraryVersion::V1alpha2, ObjectMeta::default(), spec)
    }

    #[test]
    fn writable_flag_per_version() {
        let publish = library(Some(true), Some(false));
        let delete_only = library(None, Some(true));
        assert_eq!(
            library_writable(LibraryVersion::V1alpha1, &publish),
            (true, "spec.writable")
        );
        assert_eq!(
            library_writable(LibraryVersion::V1alpha2, &publish),
            (true, "spec.allowPublish")
        );
        assert!(!library_writable(LibraryVersion::V1alpha2, &delete_only).0);
        assert!(!library_writable(LibraryVersion::V1alpha1, &library(None, None)).0);
    }
}
