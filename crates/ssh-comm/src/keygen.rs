//! Temporary key pairs for builds (`temporary_key_pair_type`): generated per build, installed
//! into the new machine, thrown away afterwards.
use russh::keys::ssh_key::private::{EcdsaKeypair, KeypairData, RsaKeypair};
use russh::keys::ssh_key::{EcdsaCurve, HashAlg, LineEnding, PrivateKey};

use crate::error::SshError;

/// Which kind of key to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ed25519,
    /// RSA with this modulus size (2048 minimum; Packer's default is 4096).
    Rsa {
        bits: u32,
    },
    /// ECDSA on NIST P-256, P-384 or P-521.
    Ecdsa {
        bits: u32,
    },
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Ed25519 => f.write_str("ed25519"),
            KeyKind::Rsa { bits } => write!(f, "rsa-{bits}"),
            KeyKind::Ecdsa { bits } => write!(f, "ecdsa-{bits}"),
        }
    }
}

/// A generated key pair.
#[derive(Clone)]
pub struct KeyPair {
    /// The private key in OpenSSH format (unencrypted), ready for `Auth::PrivateKey`.
    pub private_openssh: String,
    /// One `authorized_keys` line: `ssh-ed25519 AAAA… packer`.
    pub public_authorized: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_authorized", &self.public_authorized)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Generates a key pair whose public half carries the comment `packer`.
pub fn generate(kind: KeyKind) -> Result<KeyPair, SshError> {
    generate_with_comment(kind, "packer")
}

/// [`generate`] with a chosen comment.
pub fn generate_with_comment(kind: KeyKind, comment: &str) -> Result<KeyPair, SshError> {
    let fail = |msg: String| SshError::Keygen {
        kind: kind.to_string(),
        msg,
    };
    let mut rng = rand_core_rng::rng();
    let data = match kind {
        KeyKind::Ed25519 => {
            return finish(
                PrivateKey::random(&mut rng, russh::keys::Algorithm::Ed25519)
                    .map_err(|e| fail(e.to_string()))?,
                comment,
                kind,
            )
        }
        KeyKind::Rsa { bits } => {
            if !(2048..=16384).contains(&bits) {
                return Err(fail("RSA keys need 2048 to 16384 bits".into()));
            }
            KeypairData::from(
                RsaKeypair::random(&mut rng, bits as usize).map_err(|e| fail(e.to_string()))?,
            )
        }
        KeyKind::Ecdsa { bits } => {
            let curve = match bits {
                256 => EcdsaCurve::NistP256,
                384 => EcdsaCurve::NistP384,
                521 => EcdsaCurve::NistP521,
                _ => return Err(fail("ECDSA keys are 256, 384 or 521 bits".into())),
            };
            KeypairData::from(
                EcdsaKeypair::random(&mut rng, curve).map_err(|e| fail(e.to_string()))?,
            )
        }
    };
    let key = PrivateKey::try_from(data).map_err(|e| fail(e.to_string()))?;
    finish(key, comment, kind)
}

fn finish(mut key: PrivateKey, comment: &str, kind: KeyKind) -> Result<KeyPair, SshError> {
    let fail = |msg: String| SshError::Keygen {
        kind: kind.to_string(),
        msg,
    };
    key.set_comment(comment);
    let private_openssh = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?
        .to_string();
    let public_authorized = key
        .public_key()
        .to_openssh()
        .map_err(|e| fail(e.to_string()))?;
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    Ok(KeyPair {
        private_openssh,
        public_authorized,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in [
            KeyKind::Ed25519,
            KeyKind::Ecdsa { bits: 256 },
            KeyKind::Ecdsa { bits: 384 },
            KeyKind::Ecdsa { bits: 521 },
            KeyKind::Rsa { bits: 2048 },
        ] {
            let kp = generate(kind).unwrap();
            assert!(
                kp.public_authorized.ends_with(" packer"),
                "{kind}: {}",
                kp.public_authorized
            );
            assert!(kp.fingerprint.starts_with("SHA256:"));
            let back = russh::keys::decode_secret_key(&kp.private_openssh, None).unwrap();
            assert_eq!(
                back.public_key().fingerprint(HashAlg::Sha256).to_string(),
                kp.fingerprint
            );
            let prefix = match kind {
                KeyKind::Ed25519 => "ssh-ed25519 ",
                KeyKind::Rsa { .. } => "ssh-rsa ",
                KeyKind::Ecdsa { bits } => &format!("ecdsa-sha2-nistp{bits} ").leak()[..],
            };
            assert!(
                kp.public_authorized.starts_with(prefix),
                "{}",
                kp.public_authorized
            );
        }
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(generate(KeyKind::Ecdsa { bits: 255 }).is_err());
        assert!(generate(KeyKind::Rsa { bits: 1024 }).is_err());
    }

    #[test]
    fn debug_hides_the_private_key() {
        let kp = generate(KeyKind::Ed25519).unwrap();
        assert!(!format!("{kp:?}").contains("PRIVATE"));
    }
}
