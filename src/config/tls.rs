//! The TLS material of the kubeconfig's cluster and user, parsed at Prepare: the CA
//! (`certificate-authority-data` or the `certificate-authority` file) must hold real X.509
//! certificates, the client certificate too, and the client key a PEM private key. Each
//! message names the kubeconfig file, the cluster or user, and the field.
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml::Value as Yaml;

use super::files;
use super::kubeconfig::Named;

/// What a field must hold.
#[derive(Clone, Copy)]
enum Holds {
    Certificate,
    PrivateKey,
}

impl Holds {
    fn check(self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Holds::Certificate => files::pem_certificates(bytes),
            Holds::PrivateKey => files::pem_private_key(bytes),
        }
    }
}

/// Problems with the cluster's CA.
pub(crate) fn cluster(n: &Named) -> Vec<String> {
    pair(
        n,
        "cluster",
        "certificate-authority-data",
        "certificate-authority",
        Holds::Certificate,
    )
    .into_iter()
    .collect()
}

/// Problems with the user's client certificate and key.
pub(crate) fn user(n: &Named) -> Vec<String> {
    [
        pair(
            n,
            "user",
            "client-certificate-data",
            "client-certificate",
            Holds::Certificate,
        ),
        pair(
            n,
            "user",
            "client-key-data",
            "client-key",
            Holds::PrivateKey,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The warning for a cluster with `insecure-skip-tls-verify: true`.
pub(crate) fn insecure_warning(n: &Named) -> Option<String> {
    let insecure = match n.body.get("insecure-skip-tls-verify") {
        Some(Yaml::Bool(b)) => *b,
        Some(Yaml::String(s)) => s == "true",
        _ => false,
    };
    insecure.then(|| {
        format!(
            "kubeconfig cluster {:?} ({}) sets insecure-skip-tls-verify: TLS verification is off, so the Supervisor's identity is not checked and the token can be intercepted; set certificate-authority-data instead",
            n.name,
            n.file.display()
        )
    })
}

/// Checks one `X-data` / `X` (file) pair of fields; the inline data wins, as in kubectl.
fn pair(n: &Named, what: &str, data_key: &str, file_key: &str, holds: Holds) -> Option<String> {
    let at = |field: &str, why: String| {
        format!("{}: {what} {:?}: {field} {why}", n.file.display(), n.name)
    };
    if let Some(v) = n.body.get(data_key).filter(|v| !v.is_null()) {
        let Some(text) = v.as_str() else {
            return Some(at(data_key, "is not a string".into()));
        };
        let compact: String = text.split_whitespace().collect();
        let bytes = match base64::engine::general_purpose::STANDARD.decode(compact) {
            Ok(b) => b,
            Err(e) => return Some(at(data_key, format!("is not base64: {e}"))),
        };
        return holds.check(&bytes).err().map(|why| at(data_key, why));
    }
    let v = n.body.get(file_key).filter(|v| !v.is_null())?;
    let Some(name) = v.as_str().filter(|s| !s.is_empty()) else {
        return Some(at(file_key, "is not a file name".into()));
    };
    let path = relative_to(&n.file, name);
    let result = files::read(&path).and_then(|bytes| {
        holds
            .check(&bytes)
            .map_err(|why| format!("{} {why}", path.display()))
    });
    result.err().map(|why| at(file_key, why))
}

/// A path from a kubeconfig: relative ones are relative to the kubeconfig's directory.
fn relative_to(kubeconfig: &Path, name: &str) -> PathBuf {
    let p = PathBuf::from(name);
    if p.is_absolute() {
        return p;
    }
    kubeconfig
        .parent()
        .map_or_else(|| p.clone(), |dir| dir.join(&p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::files::tests::{CERT, KEY};

    fn named(body: &str) -> Named {
        Named {
            name: "sim".into(),
            body: serde_yaml::from_str(body).expect("yaml"),
            file: PathBuf::from("/k/config"),
        }
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn ca_data_must_be_a_certificate() {
        assert!(cluster(&named("server: https://x")).is_empty());
        let good = named(&format!("certificate-authority-data: {}", b64(CERT)));
        assert!(cluster(&good).is_empty(), "{:?}", cluster(&good));
        let e = cluster(&named(&format!(
            "certificate-authority-data: {}",
            b64("hello")
        )));
        assert_eq!(
            e,
            vec!["/k/config: cluster \"sim\": certificate-authority-data holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_string()]
        );
        let e = cluster(&named("certificate-authority-data: '%%%'"));
        assert!(
            e[0].contains("certificate-authority-data is not base64"),
            "{e:?}"
        );
    }

    #[test]
    fn ca_files_are_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.pem"), CERT).expect("write");
        let mut n = named("certificate-authority: ca.pem");
        n.file = dir.path().join("config");
        assert!(cluster(&n).is_empty(), "{:?}", cluster(&n));
        n.body = serde_yaml::from_str("certificate-authority: missing.pem").expect("yaml");
        let e = cluster(&n);
        assert!(e[0].contains("certificate-authority file "), "{e:?}");
        assert!(e[0].ends_with("missing.pem not found"), "{e:?}");
    }

    #[test]
    fn client_certificate_and_key() {
        let good = named(&format!(
            "client-certificate-data: {}\nclient-key-data: {}",
            b64(CERT),
            b64(KEY)
        ));
        assert!(user(&good).is_empty(), "{:?}", user(&good));
        let bad = named(&format!(
            "client-certificate-data: {}\nclient-key-data: {}",
            b64(KEY),
            b64(CERT)
        ));
        let e = user(&bad);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("user \"sim\": client-certificate-data holds no PEM certificate"));
        assert!(e[1].contains("client-key-data holds no PEM private key"));
    }

    #[test]
    fn insecure_clusters_warn() {
        let w = insecure_warning(&named("insecure-skip-tls-verify: true")).expect("warning");
        assert!(w.contains("TLS verification is off"), "{w}");
        assert!(insecure_warning(&named("insecure-skip-tls-verify: false")).is_none());
    }
}
