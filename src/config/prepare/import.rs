//! The image import options (`import_*`): used only when `import_source_url` is set.
use rand::Rng;

use super::super::bounds::quote;
use super::super::names::dns1123_subdomain;
use super::super::options::{self, Group};
use super::super::suggest::suggest_case;
use super::super::ImportConfig;
use super::Preparer;

/// `import_request_name`'s default: a fixed prefix and 5 random hex digits.
fn random_request_name() -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..5)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
        .collect();
    format!("packer-vsphere-supervisor-import-req-{suffix}")
}

impl Preparer<'_> {
    pub(super) fn import(&mut self, have_image_name: bool) -> Option<ImportConfig> {
        let url = self.d.non_empty("import_source_url");
        let cert = self.d.non_empty("import_source_ssl_certificate");
        let location = self.d.non_empty("import_target_location_name");
        let image_type = self.d.non_empty("import_target_image_type");
        let image_name = self.d.non_empty("import_target_image_name");
        let request_name = self.d.non_empty("import_request_name");
        let keep = self.flag("keep_import_request");
        let clean = self.flag("clean_imported_image");
        let Some(url) = url else {
            self.warn_import_options_without_url();
            return None;
        };
        self.import_source(&url, cert.as_deref());
        if location.is_none() {
            self.required("import_target_location_name", "required when import_source_url is set (a writable ContentLibrary that allows imports)");
        }
        let target_image_type = self.import_image_type(image_type.as_deref(), &url);
        let request_name = request_name.unwrap_or_else(random_request_name);
        if let Err(e) = dns1123_subdomain(&request_name) {
            self.invalid(
                "import_request_name",
                format!("{} is not a valid name: {e}", quote(&request_name)),
            );
        }
        if have_image_name {
            self.warnings
                .push("image_name is set, so the build deploys it, not the imported image".into());
        }
        Some(ImportConfig {
            source_url: url,
            source_ssl_certificate: cert,
            target_location_name: location.unwrap_or_default(),
            target_image_type,
            target_image_name: image_name,
            request_name,
            keep_import_request: keep,
            clean_imported_image: clean,
        })
    }

    fn warn_import_options_without_url(&mut self) {
        let ignored: Vec<&str> = options::group(Group::Import)
            .map(|o| o.name)
            .filter(|k| *k != "import_source_url" && self.d.is_set(k))
            .collect();
        if !ignored.is_empty() {
            self.warnings.push(format!(
                "{} ignored because import_source_url is not set",
                ignored.join(", ")
            ));
        }
    }

    /// The URL's scheme and the certificate an `https://` URL needs.
    fn import_source(&mut self, url: &str, cert: Option<&str>) {
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        if !https && !lower.starts_with("http://") {
            self.invalid(
                "import_source_url",
                format!("{} must be an http:// or https:// URL", quote(url)),
            );
        }
        const CERT: &str = "import_source_ssl_certificate";
        match cert {
            None if https => self.required(CERT, "required when import_source_url is an https:// URL (the PEM certificate of the server)"),
            Some(c) if !c.contains("-----BEGIN CERTIFICATE-----") => {
                self.invalid(CERT, "must be a PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
            _ => {}
        }
    }

    /// `OVF` or `ISO`: as set (lower case), else from the URL's suffix.
    fn import_image_type(&mut self, given: Option<&str>, url: &str) -> String {
        const KEY: &str = "import_target_image_type";
        match given {
            Some("ovf") => "OVF".to_string(),
            Some("iso") => "ISO".to_string(),
            Some(other) => {
                let hint = suggest_case(other, &["ovf", "iso"]);
                self.invalid(
                    KEY,
                    format!(
                        "unknown type {}; use \"ovf\" or \"iso\"{hint}",
                        quote(other)
                    ),
                );
                String::new()
            }
            None => {
                let lower = url.to_ascii_lowercase();
                let path = lower.split(['?', '#']).next().unwrap_or_default();
                if path.ends_with(".iso") {
                    "ISO".to_string()
                } else if path.ends_with(".ovf") || path.ends_with(".ova") {
                    "OVF".to_string()
                } else {
                    self.required(KEY, "cannot infer the image type from import_source_url (it does not end in .ovf, .ova or .iso); set \"ovf\" or \"iso\"");
                    String::new()
                }
            }
        }
    }
}
