//! Step 3: check everything the build will reference before creating anything: the image (by
//! object name or display name), the VM class, the storage class, the publish library and the
//! published item's name ([`super::publish_target`]). It runs before the import step, so a
//! build that would fail here creates nothing; the imported image is checked after the import.
use ::kube::api::{DynamicObject, ListParams};
use serde_json::Value as Json;
use thiserror::Error;

use super::Ctx;
use crate::config::CommKind;
use crate::kube::retry::read;
use crate::kube::{code_of, Cluster, LibraryVersion, ObjectError, VmopVersion};
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
    fn from_object(kind: &'static str, obj: &DynamicObject, version: VmopVersion) -> Option<Self> {
        // v1alpha1 images describe themselves in `spec` and name the display name
        // `status.imageName`: read them in the hub's shape.
        let mut data = obj.data.clone();
        if version == VmopVersion::V1alpha1 {
            vmop_types::spoke_v1alpha1::image_to_hub(&mut data);
        }
        let status = data.get("status");
        let s = |k: &str| {
            status
                .and_then(|st| st.get(k))
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let display = s("name");
        let display = if display.is_empty() {
            obj.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("vmware.com/display-name").cloned())
                .unwrap_or_default()
        } else {
            display
        };
        Some(ImageInfo {
            kind,
            name: obj.metadata.name.clone()?,
            display_name: display,
            image_type: s("type"),
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

async fn list_images(
    cluster: &Cluster,
    kind: &'static str,
    namespaced: bool,
) -> Result<Vec<ImageInfo>, ObjectError> {
    let res = if namespaced {
        &cluster.kinds.vmi
    } else {
        &cluster.kinds.cvmi
    };
    let api = if namespaced {
        cluster.api(res)
    } else {
        cluster.cluster_api(res)
    };
    let lp = ListParams::default();
    match read(&format!("listing {kind}s"), || api.list(&lp)).await {
        Ok(list) => Ok(list
            .items
            .iter()
            .filter_map(|o| ImageInfo::from_object(kind, o, cluster.kinds.vmop))
            .collect()),
        // Cluster images may be hidden from namespace users; then only namespace images count.
        Err(e) if !namespaced && matches!(code_of(&e), Some(403) | Some(404)) => Ok(Vec::new()),
        Err(e) => Err(ObjectError::new(
            "listing",
            &format!("{kind}s"),
            namespaced.then_some(cluster.namespace.as_str()),
            "*",
            e,
        )),
    }
}

/// The names of the objects of a kind, for "did you mean" lists.
pub(super) async fn names(
    cluster: &Cluster,
    res: &::kube::api::ApiResource,
    namespaced: bool,
) -> String {
    let api = if namespaced {
        cluster.api(res)
    } else {
        cluster.cluster_api(res)
    };
    let lp = ListParams::default();
    match read(&format!("listing {}", res.plural), || api.list(&lp)).await {
        Ok(l) => {
            let mut n: Vec<String> = l
                .items
                .into_iter()
                .filter_map(|o| o.metadata.name)
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

/// `spec.writable` (v1alpha1) or `spec.allowPublish` (v1alpha2).
pub fn library_writable(version: LibraryVersion, data: &Json) -> (bool, &'static str) {
    let spec = data.get("spec");
    let flag = |k: &str| {
        spec.and_then(|s| s.get(k))
            .and_then(Json::as_bool)
            .unwrap_or(false)
    };
    match version {
        LibraryVersion::V1alpha1 => (flag("writable"), "spec.writable"),
        LibraryVersion::V1alpha2 => (flag("allowPublish"), "spec.allowPublish"),
    }
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
    let ns_images = list_images(cluster, "VirtualMachineImage", true).await?;
    let cluster_images = list_images(cluster, "ClusterVirtualMachineImage", false).await?;
    let img = match resolve_image(wanted, ns, &ns_images, &cluster_images) {
        Ok(img) => img,
        Err(p) => return Ok(Err(p)),
    };
    if !matches!(img.image_type.as_str(), "" | "OVF" | "ISO") {
        // Upstream logs this and ends the build as a "success" with nothing built.
        return Ok(Err(format!(
            "image_name {wanted:?}: image {} has type {:?}; this builder deploys OVF and ISO images only",
            img.name, img.image_type
        )));
    }
    if img.image_type == "ISO" && !cluster.kinds.vmop.has_cdrom() {
        return Ok(Err(format!(
            "image_name {wanted:?}: image {} is an ISO, and an ISO build needs CD-ROMs, which {} does not have (v1alpha3 and later do)",
            img.name,
            cluster.kinds.vmop.api_version()
        )));
    }
    let scope = if img.kind == "VirtualMachineImage" {
        "namespace"
    } else {
        "cluster"
    };
    let t = if img.image_type.is_empty() {
        "OVF"
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
    let cfg = ctx.config;
    let Some(cluster) = ctx.state.cluster.clone() else {
        return Err(CheckError::NotConnected);
    };
    let ns = cluster.namespace.clone();
    let mut problems = Vec::new();
    if cfg.comm.kind == CommKind::WinRm {
        problems.push(
            "communicator \"winrm\" is not supported by this builder yet; use \"ssh\" or \"none\""
                .to_string(),
        );
    }

    // Image. image_name wins over the imported image (Prepare warned about it); an image still
    // to be imported is checked by [`imported_image`] once the import made it.
    match cfg.image_name.clone().filter(|n| !n.is_empty()) {
        Some(wanted) => match source_image(ctx, &cluster, &wanted).await? {
            Ok(img) => ctx.state.image = Some(img),
            Err(p) => problems.push(p),
        },
        None if cfg.import.is_some() => {
            ctx.say("The source image is imported once every other check has passed")
                .await
        }
        None => problems.push("image_name is not set".to_string()),
    }

    // VM class.
    let classes = cluster.api(&cluster.kinds.vm_class);
    match read("getting the VirtualMachineClass", || classes.get_opt(&cfg.class_name)).await {
        Ok(Some(_)) => {}
        Ok(None) => problems.push(format!(
            "class_name {:?}: no VirtualMachineClass of that name in namespace {ns} (available: {})",
            cfg.class_name,
            names(&cluster, &cluster.kinds.vm_class, true).await
        )),
        Err(e) => return Err(ObjectError::new("getting", "VirtualMachineClass", Some(&ns), &cfg.class_name, e).into()),
    }

    // Storage class (cluster-scoped; some Supervisor users may not read them, then skip).
    if let Some(sc) = &cluster.kinds.storage_class {
        let scs = cluster.cluster_api(sc);
        match read("getting the StorageClass", || {
            scs.get_opt(&cfg.storage_class)
        })
        .await
        {
            Ok(Some(_)) => {}
            Ok(None) => problems.push(format!(
                "storage_class {:?}: no StorageClass of that name (available: {})",
                cfg.storage_class,
                names(&cluster, sc, false).await
            )),
            Err(e) if code_of(&e) == Some(403) => {
                ctx.say(&format!(
                    "Not allowed to read StorageClass {:?}; not checking it",
                    cfg.storage_class
                ))
                .await;
            }
            Err(e) => {
                return Err(ObjectError::new(
                    "getting",
                    "StorageClass",
                    None,
                    &cfg.storage_class,
                    e,
                )
                .into())
            }
        }
    }

    // Publish library (named or the namespace's default) and the new item's name.
    ctx.state.publish_library = super::publish_target::check(ctx, &cluster, &mut problems).await?;

    if problems.is_empty() {
        Ok(())
    } else {
        Err(CheckError::Problems {
            namespace: ns,
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
            img("VirtualMachineImage", "vmi-aaa", "ubuntu-22.04"),
            img("VirtualMachineImage", "vmi-bbb", "dup"),
            img("VirtualMachineImage", "vmi-ccc", "dup"),
        ];
        let cl = vec![
            img("ClusterVirtualMachineImage", "vmi-ddd", "photon-5"),
            img("ClusterVirtualMachineImage", "vmi-eee", "ubuntu-22.04"),
            img("ClusterVirtualMachineImage", "vmi-fff", "cdup"),
            img("ClusterVirtualMachineImage", "vmi-ggg", "cdup"),
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

    #[test]
    fn writable_flag_per_version() {
        let v1 = json!({"spec": {"writable": true}});
        let v2 = json!({"spec": {"allowPublish": true, "allowDelete": false}});
        assert!(library_writable(LibraryVersion::V1alpha1, &v1).0);
        assert!(!library_writable(LibraryVersion::V1alpha2, &v1).0);
        assert!(library_writable(LibraryVersion::V1alpha2, &v2).0);
        assert!(!library_writable(LibraryVersion::V1alpha1, &json!({"spec": {}})).0);
    }
}
