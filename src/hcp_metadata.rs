//! HCP Packer metadata: what the artifact answers to `State("par.artifact.metadata")`, the key
//! Packer core reads before it records an image in an HCP Packer registry
//! (`hcp_packer_registry` blocks). The shape is the Packer SDK's registry image
//! (`packer/registry/image.Image`) as a Go plugin's RPC reply carries it: a list of maps keyed by
//! the struct's field names.
use std::collections::BTreeMap;

use packer_wire::msgpack::Value;

use crate::state::{PublishedImage, ResolvedImage};

/// The state key Packer core asks for (the SDK's `image.ArtifactStateURI`).
pub const ARTIFACT_STATE_URI: &str = "par.artifact.metadata";
/// `ProviderName`: the platform the image lives on, as HashiCorp's vSphere builders name it.
pub const PROVIDER_NAME: &str = "vsphere";

/// One registry image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryImage {
    /// The published VirtualMachineImage (`vmi-…`).
    pub image_id: String,
    pub provider_name: String,
    /// The Supervisor namespace the image lives in.
    pub provider_region: String,
    pub labels: BTreeMap<String, String>,
    /// The image the VM was deployed from (`vmi-…`).
    pub source_image_id: String,
}

impl RegistryImage {
    /// The registry image for a published build; `None` when nothing was published.
    pub fn for_build(
        namespace: &str,
        published: Option<&PublishedImage>,
        source: Option<&ResolvedImage>,
    ) -> Option<Self> {
        let p = published?;
        let mut labels = BTreeMap::from([
            ("library".to_string(), p.library.clone()),
            ("display_name".to_string(), p.display_name.clone()),
            ("namespace".to_string(), namespace.to_string()),
        ]);
        if let Some(s) = source {
            labels.insert("source_image".into(), s.name.clone());
            labels.insert("source_image_display_name".into(), s.display_name.clone());
        }
        Some(RegistryImage {
            image_id: p.vmi_name.clone(),
            provider_name: PROVIDER_NAME.to_string(),
            provider_region: namespace.to_string(),
            labels,
            source_image_id: source.map(|s| s.name.clone()).unwrap_or_default(),
        })
    }

    /// The map a Go plugin's reply holds for an `image.Image`.
    pub fn to_value(&self) -> Value {
        let s = |v: &str| Value::Str(v.to_string());
        let labels = self
            .labels
            .iter()
            .map(|(k, v)| (s(k), s(v)))
            .collect::<Vec<_>>();
        Value::Map(vec![
            (s("ImageID"), s(&self.image_id)),
            (s("ProviderName"), s(&self.provider_name)),
            (s("ProviderRegion"), s(&self.provider_region)),
            (s("Labels"), Value::Map(labels)),
            (s("SourceImageID"), s(&self.source_image_id)),
        ])
    }
}

/// The state value: a list with the one image, or nil when nothing was published.
pub fn state_value(image: Option<&RegistryImage>) -> Value {
    match image {
        Some(i) => Value::Array(vec![i.to_value()]),
        None => Value::Nil,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> PublishedImage {
        PublishedImage {
            vmi_name: "vmi-0123456789abcdef0".into(),
            display_name: "golden".into(),
            library: "golden-images".into(),
        }
    }

    fn source() -> ResolvedImage {
        ResolvedImage {
            kind: "VirtualMachineImage".into(),
            name: "vmi-aaaaaaaaaaaaaaaaa".into(),
            display_name: "ubuntu-24.04".into(),
            image_type: "OVF".into(),
        }
    }

    #[test]
    fn image_names_id_provider_region_labels_and_source() {
        let img = RegistryImage::for_build("demo", Some(&published()), Some(&source()))
            .expect("published");
        assert_eq!(img.image_id, "vmi-0123456789abcdef0");
        assert_eq!(img.provider_name, "vsphere");
        assert_eq!(img.provider_region, "demo");
        assert_eq!(img.source_image_id, "vmi-aaaaaaaaaaaaaaaaa");
        assert_eq!(img.labels["library"], "golden-images");
        assert_eq!(img.labels["display_name"], "golden");
        assert_eq!(img.labels["source_image_display_name"], "ubuntu-24.04");
        let Value::Array(list) = state_value(Some(&img)) else {
            panic!("not a list")
        };
        let Value::Map(fields) = &list[0] else {
            panic!("not a map")
        };
        let keys: Vec<_> = fields.iter().map(|(k, _)| k.clone()).collect();
        let want: Vec<Value> = [
            "ImageID",
            "ProviderName",
            "ProviderRegion",
            "Labels",
            "SourceImageID",
        ]
        .iter()
        .map(|k| Value::Str((*k).into()))
        .collect();
        assert_eq!(keys, want);
    }

    #[test]
    fn nothing_published_is_nil() {
        assert_eq!(
            RegistryImage::for_build("demo", None, Some(&source())),
            None
        );
        assert_eq!(state_value(None), Value::Nil);
    }
}
