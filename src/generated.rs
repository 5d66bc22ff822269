//! The generated variables: what provisioners read as `build.<Name>` (HCL2) or
//! `{{ build `Name` }}` (JSON) while the VM is provisioned, and what the artifact's
//! `generated_data` holds afterwards. Each name means one thing: the source image and the
//! published image have names of their own, and `ImageName` is the source image, like the
//! `image_name` option (as users of HashiCorp's builder expect).
use crate::state::{PublishedImage, ResolvedImage};

/// The Supervisor namespace the build runs in.
pub const NAMESPACE: &str = "Namespace";
/// The VirtualMachine's name (`source_name`).
pub const SOURCE_NAME: &str = "SourceName";
/// The image the VM is deployed from (its `vmi-…` object name); the same as `SourceImageName`.
pub const IMAGE_NAME: &str = "ImageName";
/// The image the VM is deployed from (its `vmi-…` object name).
pub const SOURCE_IMAGE_NAME: &str = "SourceImageName";
/// The source image's display name (its content library item's name).
pub const SOURCE_IMAGE_DISPLAY_NAME: &str = "SourceImageDisplayName";
/// The content library the VM is published into (empty when it is not published).
pub const PUBLISH_LIBRARY: &str = "PublishLibrary";
/// The published image (`vmi-…`); empty until the publish finished (so: in the artifact).
pub const PUBLISHED_IMAGE_NAME: &str = "PublishedImageName";
/// The published image's display name; empty until the publish finished.
pub const PUBLISHED_IMAGE_DISPLAY_NAME: &str = "PublishedImageDisplayName";
/// The guest's IPv4 address.
pub const VM_IP: &str = "VMIP";

/// Every generated variable, as Prepare declares them to Packer.
pub const GENERATED_VARS: &[&str] = &[
    NAMESPACE,
    SOURCE_NAME,
    IMAGE_NAME,
    SOURCE_IMAGE_NAME,
    SOURCE_IMAGE_DISPLAY_NAME,
    PUBLISH_LIBRARY,
    PUBLISHED_IMAGE_NAME,
    PUBLISHED_IMAGE_DISPLAY_NAME,
    VM_IP,
];

/// What the generated variables are made from.
pub struct Generated<'a> {
    pub namespace: &'a str,
    pub source_name: &'a str,
    pub source_image: Option<&'a ResolvedImage>,
    pub publish_library: Option<&'a str>,
    pub published: Option<&'a PublishedImage>,
    pub vm_ip: Option<&'a str>,
}

impl Generated<'_> {
    /// Each variable with its value (empty when not known yet), in [`GENERATED_VARS`] order.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let source = |f: fn(&ResolvedImage) -> &str| {
            self.source_image.map(f).unwrap_or_default().to_string()
        };
        let published =
            |f: fn(&PublishedImage) -> &str| self.published.map(f).unwrap_or_default().to_string();
        let library = self
            .published
            .map(|p| p.library.as_str())
            .or(self.publish_library)
            .unwrap_or_default();
        vec![
            (NAMESPACE, self.namespace.to_string()),
            (SOURCE_NAME, self.source_name.to_string()),
            (IMAGE_NAME, source(|i| &i.name)),
            (SOURCE_IMAGE_NAME, source(|i| &i.name)),
            (SOURCE_IMAGE_DISPLAY_NAME, source(|i| &i.display_name)),
            (PUBLISH_LIBRARY, library.to_string()),
            (PUBLISHED_IMAGE_NAME, published(|p| &p.vmi_name)),
            (PUBLISHED_IMAGE_DISPLAY_NAME, published(|p| &p.display_name)),
            (VM_IP, self.vm_ip.unwrap_or_default().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_and_published_images_have_their_own_names() {
        let src = ResolvedImage {
            kind: "VirtualMachineImage".into(),
            name: "vmi-src".into(),
            display_name: "ubuntu-24.04".into(),
            image_type: "OVF".into(),
        };
        let publ = PublishedImage {
            vmi_name: "vmi-new".into(),
            display_name: "golden".into(),
            library: "golden-images".into(),
        };
        let during = Generated {
            namespace: "demo",
            source_name: "s",
            source_image: Some(&src),
            publish_library: Some("golden-images"),
            published: None,
            vm_ip: Some("10.0.0.5"),
        };
        let get = |g: &Generated<'_>, k: &str| {
            g.entries()
                .into_iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("{k}"))
        };
        assert_eq!(get(&during, IMAGE_NAME), "vmi-src");
        assert_eq!(get(&during, SOURCE_IMAGE_NAME), "vmi-src");
        assert_eq!(get(&during, PUBLISH_LIBRARY), "golden-images");
        assert_eq!(get(&during, PUBLISHED_IMAGE_NAME), "");
        let after = Generated {
            published: Some(&publ),
            ..during
        };
        // ImageName does not change meaning once the image is published.
        assert_eq!(get(&after, IMAGE_NAME), "vmi-src");
        assert_eq!(get(&after, PUBLISHED_IMAGE_NAME), "vmi-new");
        assert_eq!(get(&after, PUBLISHED_IMAGE_DISPLAY_NAME), "golden");
        let names: Vec<_> = after.entries().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, GENERATED_VARS);
    }
}
