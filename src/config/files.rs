//! Files named by options, checked at Prepare for what the build will do with them: a path is
//! a readable file (a directory says so), an SSH key is a key the SSH client can load, and a
//! certificate is a real X.509 certificate. Messages have no option name; the caller adds it.
use std::collections::BTreeMap;
use std::path::Path;

use super::BootstrapProvider;

use x509_parser::pem::Pem;

/// Files larger than this are refused before reading: no key, certificate or kubeconfig is
/// near it, and a huge file would only slow `packer validate` down.
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why `path` is not a readable regular file, if it is not.
pub(crate) fn not_a_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("file {} not found", path.display()))
        }
        Err(e) => Some(format!("cannot read {}: {e}", path.display())),
        Ok(m) if m.is_dir() => Some(format!("{} is a directory, not a file", path.display())),
        Ok(m) if !m.is_file() => Some(format!("{} is not a regular file", path.display())),
        Ok(m) if m.len() > MAX_FILE_BYTES => Some(format!(
            "{} is {} bytes; at most {MAX_FILE_BYTES} are accepted",
            path.display(),
            m.len()
        )),
        Ok(_) => None,
    }
}

/// Reads a file checked with [`not_a_file`].
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    if let Some(why) = not_a_file(path) {
        return Err(why);
    }
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read(path)?).map_err(|_| format!("{} is not a text file", path.display()))
}

/// `ssh_private_key_file`, `ssh_bastion_private_key_file`: an unencrypted private key in a
/// format the SSH client reads (OpenSSH, PEM, PKCS#8, PuTTY).
pub(crate) fn ssh_private_key(path: &Path) -> Result<(), String> {
    let text = read_text(path)?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) if key.is_encrypted() => Err(encrypted(path)),
        Ok(_) => Ok(()),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(encrypted(path)),
        Err(e) => Err(format!(
            "{} is not a private key the SSH client can read: {e}",
            path.display()
        )),
    }
}

fn encrypted(path: &Path) -> String {
    format!(
        "{} is encrypted with a passphrase, which this plugin cannot supply; decrypt it (ssh-keygen -p) or use ssh_agent_auth",
        path.display()
    )
}

/// `ssh_certificate_file`, `ssh_bastion_certificate_file`: an OpenSSH certificate.
pub(crate) fn ssh_certificate(path: &Path) -> Result<(), String> {
    let text = read_text(path)?;
    russh::keys::Certificate::from_openssh(text.trim())
        .map(|_| ())
        .map_err(|e| format!("{} is not an OpenSSH certificate: {e}", path.display()))
}

/// PEM text holding at least one X.509 certificate, every CERTIFICATE block of which parses.
pub(crate) fn pem_certificates(bytes: &[u8]) -> Result<(), String> {
    let mut found = 0;
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|e| format!("is not valid PEM: {e}"))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        block.parse_x509().map_err(|e| {
            format!("holds a CERTIFICATE block that is not an X.509 certificate: {e}")
        })?;
        found += 1;
    }
    if found == 0 {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(())
}

/// PEM text holding a private key (PKCS#8, PKCS#1 RSA or SEC1 EC) whose body is DER.
pub(crate) fn pem_private_key(bytes: &[u8]) -> Result<(), String> {
    const LABELS: [&str; 3] = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|e| format!("is not valid PEM: {e}"))?;
        if LABELS.contains(&block.label.as_str()) {
            // Every one of these is a DER SEQUENCE.
            return match block.contents.first() {
                Some(0x30) => Ok(()),
                _ => Err(format!("holds a {} block that is not DER", block.label)),
            };
        }
    }
    Err("holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC)".into())
}

/// The largest `bootstrap_data_file`: Kubernetes refuses Secrets over 1 MiB.
const MAX_BOOTSTRAP_BYTES: usize = 1024 * 1024;

/// Reads `bootstrap_data_file` and turns it into the Secret's data the way the build will
/// (`crate::bootstrap::secret_data`), so every problem with it surfaces at Prepare.
pub(crate) fn bootstrap_data(
    provider: BootstrapProvider,
    path: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let bytes = read(path)?;
    if bytes.len() > MAX_BOOTSTRAP_BYTES {
        return Err(format!(
            "{} is {} bytes; the bootstrap Secret holds at most {MAX_BOOTSTRAP_BYTES} (1 MiB)",
            path.display(),
            bytes.len()
        ));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    // A file is given, so the default cloud-config is never rendered.
    crate::bootstrap::secret_data(provider, Some((path, &text)), || Ok(String::new()))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed test certificate and its key (test fixtures, never used for anything).
    pub(crate) const CERT: &str = include_str!("../../tests/fixtures/validate/tls/ca.pem");
    pub(crate) const KEY: &str = include_str!("../../tests/fixtures/validate/tls/client-key.pem");
    pub(crate) const SSH_KEY: &str = include_str!("../../tests/fixtures/validate/tls/id_ed25519");
    pub(crate) const SSH_CERT: &str =
        include_str!("../../tests/fixtures/validate/tls/id_ed25519-cert.pub");
    const ENCRYPTED: &str = include_str!("../../tests/fixtures/validate/tls/id_encrypted");

    #[test]
    fn directories_and_missing_files_are_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = not_a_file(dir.path()).expect("a directory");
        assert!(d.ends_with("is a directory, not a file"), "{d}");
        let m = not_a_file(&dir.path().join("nope")).expect("missing");
        assert!(m.starts_with("file ") && m.ends_with(" not found"), "{m}");
    }

    #[test]
    fn ssh_keys_are_parsed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "not a key\n").expect("write");
        assert!(ssh_private_key(&bad)
            .unwrap_err()
            .contains("is not a private key"));
        let kp = ssh_comm::keygen::generate(ssh_comm::keygen::KeyKind::Ed25519).expect("keygen");
        let good = dir.path().join("good");
        std::fs::write(&good, &kp.private_openssh).expect("write");
        ssh_private_key(&good).expect("a valid key");
        let enc = dir.path().join("enc");
        std::fs::write(&enc, ENCRYPTED).expect("write");
        assert!(ssh_private_key(&enc).unwrap_err().contains("encrypted"));
        let cert = dir.path().join("cert");
        std::fs::write(&cert, SSH_CERT).expect("write");
        ssh_certificate(&cert).expect("a certificate");
        assert!(ssh_certificate(&good)
            .unwrap_err()
            .contains("not an OpenSSH certificate"));
    }

    #[test]
    fn certificates_and_keys_are_parsed() {
        assert!(pem_certificates(b"hello")
            .unwrap_err()
            .contains("no PEM certificate"));
        let fake = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        assert!(pem_certificates(fake.as_bytes())
            .unwrap_err()
            .contains("not an X.509 certificate"));
        assert!(pem_private_key(b"x")
            .unwrap_err()
            .contains("no PEM private key"));
        pem_certificates(CERT.as_bytes()).expect("a real certificate");
        pem_private_key(KEY.as_bytes()).expect("a real key");
    }
}
