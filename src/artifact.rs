//! The build's result as Packer sees it: the published image (or the source VM's name).
use ::kube::api::DeleteParams;
use async_trait::async_trait;
use packer_rpc::api::{Artifact, BoxError};
use packer_wire::msgpack::Value;
use vmop_types::api::Scope;
use vmop_types::{ContentLibraryItem, VirtualMachineImage};

use crate::generated::Generated;
use crate::hcp_metadata::{self, RegistryImage};
use crate::kube::{code_of, ApiError, Cluster};
use crate::state::{PublishedImage, ResolvedImage};

/// Builder id Packer and post-processors see.
pub const BUILDER_ID: &str = "vsphere.supervisor";

/// Environment variable that lets `Artifact.Destroy` delete the published image. Packer calls
/// Destroy when a post-processor does not keep its input, which must not silently delete an
/// image others may already use; so deleting it is opt-in.
pub const DESTROY_IMAGE_ENV: &str = "PACKER_VSPHERE_SUPERVISOR_DESTROY_IMAGE";

pub struct SupervisorArtifact {
    pub namespace: String,
    pub source_name: String,
    pub vm_ip: Option<String>,
    pub published: Option<PublishedImage>,
    /// The image the VM was deployed from.
    pub source_image: Option<ResolvedImage>,
    /// Whether the source VM outlives the build (`keep_input_artifact`).
    pub vm_kept: bool,
    pub cluster: Option<Cluster>,
    pub destroy_image: bool,
}

impl SupervisorArtifact {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let p = self.published.as_ref();
        vec![
            (
                "image_name",
                p.map(|p| p.vmi_name.clone()).unwrap_or_default(),
            ),
            (
                "vmi_name",
                p.map(|p| p.vmi_name.clone()).unwrap_or_default(),
            ),
            (
                "display_name",
                p.map(|p| p.display_name.clone()).unwrap_or_default(),
            ),
            ("library", p.map(|p| p.library.clone()).unwrap_or_default()),
            ("namespace", self.namespace.clone()),
            ("source_name", self.source_name.clone()),
            ("vm_ip", self.vm_ip.clone().unwrap_or_default()),
        ]
    }

    /// `build.*`-style generated data, the same names as the builder's generated vars (the
    /// published image's now filled in), plus the artifact's `ID`.
    fn generated_data(&self) -> Value {
        let generated = Generated {
            namespace: &self.namespace,
            source_name: &self.source_name,
            source_image: self.source_image.as_ref(),
            publish_library: None,
            published: self.published.as_ref(),
            vm_ip: self.vm_ip.as_deref(),
        };
        Value::Map(
            std::iter::once(("ID", self.id()))
                .chain(generated.entries())
                .map(|(k, v)| (Value::Str(k.into()), Value::Str(v)))
                .collect(),
        )
    }
}

#[async_trait]
impl Artifact for SupervisorArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.to_string()
    }

    fn files(&self) -> Vec<String> {
        Vec::new()
    }

    fn id(&self) -> String {
        match &self.published {
            Some(p) => p.vmi_name.clone(),
            None => format!("{}/{}", self.namespace, self.source_name),
        }
    }

    fn string(&self) -> String {
        match &self.published {
            Some(p) => {
                let display = if p.display_name.is_empty() { String::new() } else { format!(" ({:?})", p.display_name) };
                format!(
                    "Published image {}{display} to content library {:?} in Supervisor namespace {} (source VM {}/{})",
                    p.vmi_name, p.library, self.namespace, self.namespace, self.source_name
                )
            }
            None if self.vm_kept => format!(
                "VirtualMachine {}/{} (not published; kept by keep_input_artifact)",
                self.namespace, self.source_name
            ),
            None => format!(
                "VirtualMachine {}/{} (not published: neither publish_location_name nor publish_to_default_location is set; deleted at cleanup)",
                self.namespace, self.source_name
            ),
        }
    }

    fn state(&self, name: &str) -> Value {
        if name == "generated_data" {
            return self.generated_data();
        }
        if name == hcp_metadata::ARTIFACT_STATE_URI {
            let image = RegistryImage::for_build(
                &self.namespace,
                self.published.as_ref(),
                self.source_image.as_ref(),
            );
            return hcp_metadata::state_value(image.as_ref());
        }
        self.pairs()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| {
                if v.is_empty() {
                    Value::Nil
                } else {
                    Value::Str(v)
                }
            })
            .unwrap_or(Value::Nil)
    }

    async fn destroy(&self) -> Result<(), BoxError> {
        let Some(p) = &self.published else {
            tracing::info!(
                "artifact {}: nothing was published, nothing to destroy",
                self.id()
            );
            return Ok(());
        };
        if !self.destroy_image {
            tracing::info!(
                "keeping published image {} in content library {:?} (set {DESTROY_IMAGE_ENV}=1 to let Destroy delete it)",
                p.vmi_name,
                p.library
            );
            return Ok(());
        }
        let Some(cluster) = &self.cluster else {
            return Err(format!("deleting image {}: no Supervisor connection", p.vmi_name).into());
        };
        match published_image(cluster, &p.vmi_name).await? {
            Some(vmi) => delete_image(cluster, vmi, &p.vmi_name).await,
            None => {
                tracing::info!("published image {} is already gone", p.vmi_name);
                Ok(())
            }
        }
    }
}

/// The published image, if it still exists.
async fn published_image(
    cluster: &Cluster,
    name: &str,
) -> Result<Option<VirtualMachineImage>, BoxError> {
    let images = cluster.images(Scope::Namespaced);
    images.get_opt(name).await.map_err(|e| {
        let ns = &cluster.namespace;
        format!("getting VirtualMachineImage {ns}/{name}: {}", ApiError(e)).into()
    })
}

/// Deletes the image: through its content library item, which owns it (deleting the item
/// removes both), when the image names it and the cluster serves the item kind; else the
/// image itself. Already gone counts as deleted.
async fn delete_image(
    cluster: &Cluster,
    vmi: VirtualMachineImage,
    name: &str,
) -> Result<(), BoxError> {
    let ns = &cluster.namespace;
    let dp = DeleteParams::background();
    let item = vmi.spec.provider_ref.map(|r| r.name);
    if let (Some(item), Some(items)) = (item, cluster.library::<ContentLibraryItem>()) {
        match items.delete(&item, &dp).await {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some(404) => {}
            Err(e) => {
                let e = ApiError(e);
                return Err(format!(
                    "deleting ContentLibraryItem {ns}/{item} of image {name}: {e}"
                )
                .into());
            }
        }
        tracing::info!("deleted ContentLibraryItem {item} behind published image {name}");
        return Ok(());
    }
    match cluster.images(Scope::Namespaced).delete(name, &dp).await {
        Ok(_) => tracing::info!("deleted published image {name}"),
        Err(e) if code_of(&e) == Some(404) => {}
        Err(e) => {
            let e = ApiError(e);
            return Err(format!("deleting VirtualMachineImage {ns}/{name}: {e}").into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(published: bool) -> SupervisorArtifact {
        SupervisorArtifact {
            namespace: "demo".into(),
            source_name: "source-abcde".into(),
            vm_ip: Some("10.0.0.5".into()),
            published: published.then(|| PublishedImage {
                vmi_name: "vmi-0123456789abcdef0".into(),
                display_name: "golden".into(),
                library: "lib".into(),
            }),
            source_image: None,
            vm_kept: false,
            cluster: None,
            destroy_image: false,
        }
    }

    #[test]
    fn published_artifact() {
        let a = art(true);
        assert_eq!(a.builder_id(), "vsphere.supervisor");
        assert_eq!(a.id(), "vmi-0123456789abcdef0");
        assert!(a.string().contains("vmi-0123456789abcdef0") && a.string().contains("\"golden\""));
        assert_eq!(
            a.state("vmi_name"),
            Value::Str("vmi-0123456789abcdef0".into())
        );
        assert_eq!(
            a.state("image_name"),
            Value::Str("vmi-0123456789abcdef0".into())
        );
        assert_eq!(a.state("library"), Value::Str("lib".into()));
        assert_eq!(a.state("vm_ip"), Value::Str("10.0.0.5".into()));
        assert_eq!(a.state("nope"), Value::Nil);
        match a.state("generated_data") {
            Value::Map(m) => assert!(m.contains(&(
                Value::Str("PublishedImageName".into()),
                Value::Str("vmi-0123456789abcdef0".into())
            ))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unpublished_artifact() {
        let a = art(false);
        assert_eq!(a.id(), "demo/source-abcde");
        assert_eq!(a.state("vmi_name"), Value::Nil);
        assert!(a.string().contains("not published"));
    }

    #[tokio::test]
    async fn destroy_keeps_the_image_unless_asked() {
        // No cluster: if Destroy tried to delete anything it would fail.
        assert!(art(true).destroy().await.is_ok());
        let mut a = art(true);
        a.destroy_image = true;
        assert!(a.destroy().await.is_err());
    }
}
