//! The bootstrap Secret's data: the default cloud-config, or the user's `bootstrap_data_file`.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use crate::config::BootstrapProvider;

/// Secret key holding CloudInit user-data (what the VM's `rawCloudConfig` points at).
pub const KEY_USER_DATA: &str = "user-data";
/// Secret key holding the Sysprep answer file.
pub const KEY_UNATTEND: &str = "unattend";

#[derive(Debug, Error)]
pub enum BootstrapError {
    #[error("reading bootstrap_data_file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} must be {expected}: {reason}")]
    NotAMap {
        path: String,
        /// What the provider accepts, in words.
        expected: &'static str,
        reason: String,
    },
    #[error("{path} has no {key:?} key, which the bootstrap reads (or give the document itself)")]
    MissingKey { path: String, key: &'static str },
    #[error("{path} is empty")]
    Empty { path: String },
    #[error("{path} is not {what}: {reason}")]
    Malformed {
        path: String,
        /// The document kind, in words.
        what: &'static str,
        reason: String,
    },
    #[error("bootstrap_provider {provider} needs bootstrap_data_file")]
    Missing { provider: &'static str },
    #[error("rendering the default cloud-config: {0}")]
    Render(#[from] serde_yaml::Error),
}

#[derive(Serialize)]
struct CloudConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_pwauth: Option<bool>,
    users: Vec<CloudUser<'a>>,
}

#[derive(Serialize)]
struct CloudUser<'a> {
    name: &'a str,
    lock_passwd: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_text_passwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sudo: Option<&'a str>,
    shell: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ssh_authorized_keys: Vec<&'a str>,
}

/// A `#cloud-config` that creates `user` (with passwordless sudo when `sudo`), the given
/// authorized key and/or password. Rendered through a YAML serialiser so odd passwords cannot
/// break the document.
pub fn default_cloud_config(
    user: &str,
    password: Option<&str>,
    public_key: Option<&str>,
    sudo: bool,
) -> Result<String, BootstrapError> {
    let password = password.filter(|p| !p.is_empty());
    let key = public_key.map(str::trim).filter(|k| !k.is_empty());
    let doc = CloudConfig {
        ssh_pwauth: password.map(|_| true),
        users: vec![CloudUser {
            name: user,
            lock_passwd: password.is_none(),
            plain_text_passwd: password,
            sudo: sudo.then_some("ALL=(ALL) NOPASSWD:ALL"),
            shell: "/bin/bash",
            ssh_authorized_keys: key.into_iter().collect(),
        }],
    };
    Ok(format!("#cloud-config\n{}", serde_yaml::to_string(&doc)?))
}

/// A flat YAML map of strings, if the text is one (upstream's file format).
fn string_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    let serde_yaml::Value::Mapping(m) = v else {
        return Err("not a map".into());
    };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let key = match k {
            serde_yaml::Value::String(s) => s,
            other => return Err(format!("key {other:?} is not a string")),
        };
        let value = match v {
            serde_yaml::Value::String(s) => s,
            serde_yaml::Value::Bool(b) => b.to_string(),
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::Null => String::new(),
            _ => return Err(format!("value of {key:?} is not a string")),
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// The Secret's `stringData` for `provider` given the user's file text (if any).
///
/// CloudInit and Sysprep accept either upstream's format (a YAML map that holds the
/// `user-data` / `unattend` key) or the document itself, which is stored verbatim under that
/// key. vAppConfig needs the map: every entry becomes a vApp property.
pub fn secret_data(
    provider: BootstrapProvider,
    file: Option<(&Path, &str)>,
    default_cloud_config: impl FnOnce() -> Result<String, BootstrapError>,
) -> Result<BTreeMap<String, String>, BootstrapError> {
    let Some((path, text)) = file else {
        return match provider {
            BootstrapProvider::CloudInit => Ok(BTreeMap::from([(
                KEY_USER_DATA.to_string(),
                default_cloud_config()?,
            )])),
            BootstrapProvider::Sysprep => Err(BootstrapError::Missing {
                provider: "Sysprep",
            }),
            BootstrapProvider::VAppConfig => Err(BootstrapError::Missing {
                provider: "vAppConfig",
            }),
        };
    };
    let path = path.display().to_string();
    if text.trim().is_empty() {
        return Err(BootstrapError::Empty { path });
    }
    let document_key = match provider {
        BootstrapProvider::CloudInit => KEY_USER_DATA,
        BootstrapProvider::Sysprep => KEY_UNATTEND,
        BootstrapProvider::VAppConfig => {
            return string_map(text).map_err(|reason| BootstrapError::NotAMap {
                path,
                expected: "a YAML map of vApp property names to string values",
                reason,
            });
        }
    };
    if is_raw_document(provider, text) {
        check_document(provider, &path, text)?;
        return Ok(BTreeMap::from([(
            document_key.to_string(),
            text.to_string(),
        )]));
    }
    // Otherwise upstream's format: a flat map that must carry the document under its key.
    let map = string_map(text).map_err(|reason| BootstrapError::NotAMap {
        path: path.clone(),
        expected: match provider {
            BootstrapProvider::Sysprep => {
                "the unattend XML itself or a YAML map of string keys to string values"
            }
            _ => "the user-data itself (#cloud-config, a script, ...) or a YAML map of string keys to string values",
        },
        reason,
    })?;
    let Some(document) = map.get(document_key) else {
        return Err(BootstrapError::MissingKey {
            path,
            key: document_key,
        });
    };
    check_document(provider, &path, document)?;
    Ok(map)
}

/// Parses the document the guest will read, so a malformed one stops the build before the
/// VM exists: a `#cloud-config` must be a YAML map, an unattend file well-formed XML whose
/// root is `<unattend>`. Other user-data (scripts, `#include`, MIME) is opaque.
fn check_document(
    provider: BootstrapProvider,
    path: &str,
    doc: &str,
) -> Result<(), BootstrapError> {
    let malformed = |what, reason: String| BootstrapError::Malformed {
        path: path.to_string(),
        what,
        reason,
    };
    match provider {
        BootstrapProvider::CloudInit if doc.trim_start().starts_with("#cloud-config") => {
            const WHAT: &str = "valid #cloud-config YAML";
            match serde_yaml::from_str::<serde_yaml::Value>(doc) {
                Err(e) => Err(malformed(WHAT, e.to_string())),
                Ok(serde_yaml::Value::Mapping(_) | serde_yaml::Value::Null) => Ok(()),
                Ok(_) => Err(malformed(WHAT, "the document is not a YAML map".into())),
            }
        }
        BootstrapProvider::Sysprep => {
            const WHAT: &str = "well-formed Sysprep unattend XML";
            let xml =
                roxmltree::Document::parse(doc).map_err(|e| malformed(WHAT, e.to_string()))?;
            let root = xml.root_element().tag_name().name();
            if root != "unattend" {
                return Err(malformed(
                    WHAT,
                    format!("the root element is <{}>, not <unattend>", short(root)),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// At most 40 characters of a name from the user's file, for a message.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Whether `text` is the bootstrap document itself rather than upstream's key/value map.
/// cloud-init user-data always announces its format on the first line (`#cloud-config`,
/// `#!` scripts, `#include`, MIME multipart); a Sysprep answer file is XML.
fn is_raw_document(provider: BootstrapProvider, text: &str) -> bool {
    let start = text.trim_start();
    match provider {
        BootstrapProvider::CloudInit => {
            start.starts_with('#') || start.to_ascii_lowercase().starts_with("content-type:")
        }
        BootstrapProvider::Sysprep => start.starts_with('<'),
        BootstrapProvider::VAppConfig => false,
    }
}

/// Reads the data file (if configured) and builds the Secret data.
pub fn load_secret_data(
    provider: BootstrapProvider,
    file: Option<&Path>,
    default_cloud_config: impl FnOnce() -> Result<String, BootstrapError>,
) -> Result<BTreeMap<String, String>, BootstrapError> {
    match file {
        None => secret_data(provider, None, default_cloud_config),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| BootstrapError::Read {
                path: path.display().to_string(),
                source,
            })?;
            secret_data(provider, Some((path, &text)), default_cloud_config)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: &str) -> serde_yaml::Value {
        assert!(doc.starts_with("#cloud-config\n"), "{doc}");
        serde_yaml::from_str(doc).unwrap()
    }

    #[test]
    fn default_cloud_config_with_key() {
        let doc = default_cloud_config("packer", None, Some("ssh-ed25519 AAAAC3Nz packer\n"), true)
            .unwrap();
        let v = parse(&doc);
        let user = &v["users"][0];
        assert_eq!(user["name"], "packer");
        assert_eq!(user["sudo"], "ALL=(ALL) NOPASSWD:ALL");
        assert_eq!(
            user["ssh_authorized_keys"][0],
            "ssh-ed25519 AAAAC3Nz packer"
        );
        assert_eq!(user["lock_passwd"], true);
        assert!(v.get("ssh_pwauth").is_none());
        assert!(user.get("plain_text_passwd").is_none());
    }

    #[test]
    fn default_cloud_config_without_sudo_has_no_sudo_rule() {
        let doc =
            default_cloud_config("packer", None, Some("ssh-ed25519 AAAAC3Nz k"), false).unwrap();
        let v = parse(&doc);
        assert!(v["users"][0].get("sudo").is_none(), "{doc}");
        assert_eq!(v["users"][0]["name"], "packer");
    }

    #[test]
    fn default_cloud_config_with_awkward_password() {
        let pw = "p: #'\"\n{x}";
        let doc = default_cloud_config("ops", Some(pw), None, true).unwrap();
        let v = parse(&doc);
        assert_eq!(v["ssh_pwauth"], true);
        assert_eq!(v["users"][0]["plain_text_passwd"], pw);
        assert_eq!(v["users"][0]["lock_passwd"], false);
        assert!(v["users"][0].get("ssh_authorized_keys").is_none());
    }

    #[test]
    fn cloud_init_file_verbatim_or_map() {
        let p = Path::new("/x/user-data.yml");
        let doc = "#cloud-config\nhostname: web\n";
        let m = secret_data(
            BootstrapProvider::CloudInit,
            Some((p, doc)),
            || unreachable!(),
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[KEY_USER_DATA], doc);
        let upstream = "user-data: |\n  #cloud-config\n  hostname: web\n";
        let m = secret_data(
            BootstrapProvider::CloudInit,
            Some((p, upstream)),
            || unreachable!(),
        )
        .unwrap();
        assert_eq!(m[KEY_USER_DATA], "#cloud-config\nhostname: web\n");
    }

    #[test]
    fn sysprep_xml_goes_under_unattend() {
        let xml = "<?xml version=\"1.0\"?><unattend/>";
        let m = secret_data(
            BootstrapProvider::Sysprep,
            Some((Path::new("u.xml"), xml)),
            || unreachable!(),
        )
        .unwrap();
        assert_eq!(m[KEY_UNATTEND], xml);
        assert!(matches!(
            secret_data(BootstrapProvider::Sysprep, None, || unreachable!()),
            Err(BootstrapError::Missing { .. })
        ));
    }

    #[test]
    fn vapp_properties_must_be_a_map() {
        let m = secret_data(
            BootstrapProvider::VAppConfig,
            Some((
                Path::new("p.yml"),
                "hostname: web\nport: 22\nenabled: true\n",
            )),
            || unreachable!(),
        )
        .unwrap();
        assert_eq!(m["hostname"], "web");
        assert_eq!(m["port"], "22");
        assert_eq!(m["enabled"], "true");
        let err = secret_data(
            BootstrapProvider::VAppConfig,
            Some((Path::new("p.yml"), "- a\n- b\n")),
            || unreachable!(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("p.yml") && err.contains("YAML map"), "{err}");
    }

    #[test]
    fn malformed_documents_are_refused() {
        let p = Path::new("d");
        let e = |provider, text: &str| {
            secret_data(provider, Some((p, text)), || unreachable!())
                .unwrap_err()
                .to_string()
        };
        let ci = e(
            BootstrapProvider::CloudInit,
            "#cloud-config\nusers: [a\nb: : c\n",
        );
        assert!(
            ci.starts_with("d is not valid #cloud-config YAML: "),
            "{ci}"
        );
        let ci = e(BootstrapProvider::CloudInit, "#cloud-config\n- a\n");
        assert!(ci.ends_with("the document is not a YAML map"), "{ci}");
        let ci = e(
            BootstrapProvider::CloudInit,
            "user-data: \"#cloud-config\\nx: [\"\n",
        );
        assert!(ci.contains("not valid #cloud-config YAML"), "{ci}");
        let xml = e(BootstrapProvider::Sysprep, "<unattend><a></unattend>");
        assert!(
            xml.starts_with("d is not well-formed Sysprep unattend XML: "),
            "{xml}"
        );
        let xml = e(BootstrapProvider::Sysprep, "<html/>");
        assert!(
            xml.ends_with("the root element is <html>, not <unattend>"),
            "{xml}"
        );
        // Scripts are opaque.
        secret_data(
            BootstrapProvider::CloudInit,
            Some((p, "#!/bin/sh\necho [\n")),
            || unreachable!(),
        )
        .expect("a script");
    }

    #[test]
    fn default_is_used_only_for_cloud_init() {
        let m = secret_data(BootstrapProvider::CloudInit, None, || {
            Ok("#cloud-config\n{}".into())
        })
        .unwrap();
        assert_eq!(m[KEY_USER_DATA], "#cloud-config\n{}");
    }
}
