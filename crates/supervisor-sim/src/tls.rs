//! HTTPS material: a self-signed CA and a server certificate for `localhost`, `127.0.0.1`, `::1`
//! and the listen address, generated at startup (kept in `--state DIR/tls` so kubeconfigs stay
//! valid across restarts), and the rustls server config (ring provider, HTTP/1.1 ALPN).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// TLS setup failures.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("generating the simulator's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the material.
    #[error("building the TLS server config: {0}")]
    Rustls(#[from] rustls::Error),
    /// Stored material unreadable.
    #[error("TLS material in {path}: {message}")]
    Stored {
        /// Path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The CA and server certificate, PEM encoded.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// CA certificate (goes into kubeconfig `certificate-authority-data`).
    pub ca_pem: String,
    /// Server certificate chain.
    pub cert_pem: String,
    /// Server private key.
    pub key_pem: String,
}

impl TlsMaterial {
    /// Generates a fresh CA and a server certificate valid for the given IPs plus loopback.
    pub fn generate(ips: &[IpAddr]) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "supervisor-sim CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "supervisor-sim".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "supervisor-sim");
        let mut all: Vec<IpAddr> = vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ];
        for ip in ips {
            if !ip.is_unspecified() && !all.contains(ip) {
                all.push(*ip);
            }
        }
        for ip in all {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Loads material from `dir` (files `ca.crt`, `server.crt`, `server.key`) or generates and
    /// stores it there.
    pub fn load_or_generate(dir: &Path, ips: &[IpAddr]) -> Result<Self, TlsError> {
        let stored = |e: std::io::Error| TlsError::Stored {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let read = |n: &str| std::fs::read_to_string(dir.join(n));
        if let (Ok(ca_pem), Ok(cert_pem), Ok(key_pem)) =
            (read("ca.crt"), read("server.crt"), read("server.key"))
        {
            return Ok(TlsMaterial {
                ca_pem,
                cert_pem,
                key_pem,
            });
        }
        let m = Self::generate(ips)?;
        std::fs::create_dir_all(dir).map_err(stored)?;
        std::fs::write(dir.join("ca.crt"), &m.ca_pem).map_err(stored)?;
        std::fs::write(dir.join("server.crt"), &m.cert_pem).map_err(stored)?;
        std::fs::write(dir.join("server.key"), &m.key_pem).map_err(stored)?;
        Ok(m)
    }

    /// rustls server config (HTTP/1.1 only: watches are chunked HTTP/1.1 responses).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let bad = |what: &str, e: String| TlsError::Stored {
            path: what.to_string(),
            message: e,
        };
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad("server certificate", e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad("server key", e.to_string()))?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}
