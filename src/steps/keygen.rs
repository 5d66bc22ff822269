//! Step 1: the temporary SSH key pair the default cloud-config installs.
use ssh_comm::keygen::{self, KeyKind};
use thiserror::Error;

use super::Ctx;
use crate::config::{CommKind, Config, KeyType};
use crate::state::TempKey;

#[derive(Debug, Error)]
pub enum KeygenError {
    #[error("generating the temporary {kind} SSH key pair: {source}")]
    Generate {
        kind: String,
        source: Box<ssh_comm::SshError>,
    },
    #[error("generating the temporary {kind} SSH key pair: the key generator stopped: {source}")]
    Join {
        kind: String,
        source: tokio::task::JoinError,
    },
}

/// The key kind `temporary_key_pair_type`/`_bits` ask for.
pub fn key_kind(t: KeyType, bits: u32) -> KeyKind {
    match t {
        KeyType::Ed25519 => KeyKind::Ed25519,
        KeyType::Rsa => KeyKind::Rsa {
            bits: if bits == 0 { 4096 } else { bits },
        },
        KeyType::Ecdsa => KeyKind::Ecdsa {
            bits: if bits == 0 { 521 } else { bits },
        },
    }
}

/// The comment of the generated public key: `temporary_key_pair_name`, else `packer`.
pub fn key_comment(name: Option<&str>) -> String {
    name.map_or_else(|| DEFAULT_COMMENT.to_string(), str::to_string)
}

const DEFAULT_COMMENT: &str = "packer";

/// The `authorized_keys` line for a private key file (so the default cloud-config can
/// authorise the user's own key, which upstream leaves empty).
pub fn public_key_of(path: &std::path::Path) -> Result<String, String> {
    let key = russh::keys::load_secret_key(path, None).map_err(|e| e.to_string())?;
    key.public_key().to_openssh().map_err(|e| e.to_string())
}

/// The key to generate, if any, and its comment. One rule, shared with Prepare
/// ([`Config::uses_temporary_key`]): no key of the user's, and the built-in cloud-config (which
/// installs the temporary key) in use.
pub fn planned_key(cfg: &Config) -> Option<(KeyKind, String)> {
    let ssh = &cfg.comm.ssh;
    cfg.uses_temporary_key().then(|| {
        (
            key_kind(ssh.temporary_key_pair_type, ssh.temporary_key_pair_bits),
            key_comment(ssh.temporary_key_pair_name.as_deref()),
        )
    })
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), KeygenError> {
    let ssh = &ctx.config.comm.ssh;
    if ctx.config.comm.kind == CommKind::Ssh {
        if let Some(file) = &ssh.private_key_file {
            match public_key_of(file) {
                Ok(public) => ctx.state.user_public_key = Some(public),
                // Not fatal: the key may only work with a user-supplied bootstrap, and the
                // communicator reports a bad key file itself when it connects.
                Err(e) => {
                    ctx.say(&format!(
                        "Could not read the public key of ssh_private_key_file {} ({e}); the default cloud-config will not authorise it",
                        file.display()
                    ))
                    .await
                }
            }
        }
    }
    let Some((kind, comment)) = planned_key(ctx.config) else {
        return Ok(());
    };
    // RSA generation takes a while; keep it off the async workers.
    let pair = tokio::task::spawn_blocking(move || {
        keygen::generate_with_comment(kind, &comment).map_err(Box::new)
    })
    .await
    .map_err(|source| KeygenError::Join {
        kind: kind.to_string(),
        source,
    })?
    .map_err(|source| KeygenError::Generate {
        kind: kind.to_string(),
        source,
    })?;
    ctx.say(&format!(
        "Generated a temporary {kind} SSH key pair ({})",
        pair.fingerprint
    ))
    .await;
    ctx.state.temp_key = Some(TempKey {
        private_openssh: pair.private_openssh,
        public_openssh: pair.public_authorized,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_of_a_private_key_file() {
        let pair = keygen::generate(KeyKind::Ed25519).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, &pair.private_openssh).unwrap();
        let public = public_key_of(&path).unwrap();
        let body = |k: &str| k.split_whitespace().nth(1).unwrap_or_default().to_string();
        assert_eq!(body(&public), body(&pair.public_authorized));
        assert!(public_key_of(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn a_key_is_planned_only_where_the_built_in_cloud_config_installs_it() {
        let mut cfg = Config::default();
        cfg.comm.kind = CommKind::Ssh;
        cfg.comm.ssh.temporary_key_pair_name = Some("packer_e2e".into());
        assert_eq!(
            planned_key(&cfg),
            Some((KeyKind::Ed25519, "packer_e2e".to_string()))
        );
        // User bootstrap data replaces the cloud-config: nothing would install the key.
        cfg.bootstrap_data_file = Some("/data.yaml".into());
        assert_eq!(planned_key(&cfg), None);
        cfg.bootstrap_data_file = None;
        cfg.comm.ssh.private_key_file = Some("/id".into());
        assert_eq!(planned_key(&cfg), None);
        cfg.comm.ssh.private_key_file = None;
        for kind in [CommKind::None, CommKind::WinRm] {
            cfg.comm.kind = kind;
            assert_eq!(planned_key(&cfg), None);
        }
    }

    #[test]
    fn key_kinds() {
        assert_eq!(key_kind(KeyType::Ed25519, 0), KeyKind::Ed25519);
        assert_eq!(key_kind(KeyType::Rsa, 0), KeyKind::Rsa { bits: 4096 });
        assert_eq!(key_kind(KeyType::Rsa, 2048), KeyKind::Rsa { bits: 2048 });
        assert_eq!(key_kind(KeyType::Ecdsa, 256), KeyKind::Ecdsa { bits: 256 });
        assert_eq!(key_comment(None), "packer");
        assert_eq!(key_comment(Some("packer_build-7")), "packer_build-7");
    }
}
