//! Authentication: the configured methods loaded once, then tried in order on each connection.
//!
//! A password is offered twice, as Packer's SDK communicator does: by the `password` method,
//! then by `keyboard-interactive` with every prompt answered with the password, so servers that
//! take passwords only through PAM's challenge-response (`PasswordAuthentication no`,
//! `KbdInteractiveAuthentication yes`, common on golden images) accept it too.
use std::sync::Arc;

use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::{Certificate, HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use russh::{MethodKind, MethodSet};
use tracing::debug;

use crate::error::SshError;
use crate::options::{Auth, ConnectOptions, KeySource};
use crate::session::{AttemptError, ClientHandler};

/// How many rounds of keyboard-interactive prompts are answered before giving up on a server
/// that keeps asking (PAM stacks ask once or twice).
const MAX_PROMPT_ROUNDS: usize = 8;

/// Authentication material loaded once, before any attempt.
pub(crate) enum Prepared {
    Password(String),
    /// The password again, for the `keyboard-interactive` method.
    KeyboardInteractive(String),
    Key(Arc<PrivateKey>, Option<Box<Certificate>>),
    Agent,
}

impl Prepared {
    /// The method's name in "authentication failed (tried: …)".
    fn name(&self) -> &'static str {
        match self {
            Prepared::Password(_) => "password",
            Prepared::KeyboardInteractive(_) => "keyboard-interactive",
            Prepared::Key(_, None) => "publickey",
            Prepared::Key(_, Some(_)) => "publickey (certificate)",
            Prepared::Agent => "agent",
        }
    }
}

/// Loads every configured method (keys and certificates are read and parsed here, so a bad
/// file is reported before the first connection attempt).
pub(crate) fn prepare_auth(opts: &ConnectOptions) -> Result<Vec<Prepared>, SshError> {
    let target = opts.target();
    let mut out = Vec::new();
    for a in &opts.auth {
        match a {
            Auth::Password(p) => {
                out.push(Prepared::Password(p.clone()));
                out.push(Prepared::KeyboardInteractive(p.clone()));
            }
            Auth::Agent => out.push(Prepared::Agent),
            Auth::PrivateKey {
                key,
                passphrase,
                certificate,
            } => out.push(prepare_key(
                &target,
                key,
                passphrase.as_deref(),
                certificate,
            )?),
        }
    }
    Ok(out)
}

fn prepare_key(
    target: &str,
    key: &KeySource,
    passphrase: Option<&str>,
    certificate: &Option<KeySource>,
) -> Result<Prepared, SshError> {
    let key_error = |what: String, e: &dyn std::fmt::Display| SshError::Key {
        target: target.to_string(),
        what,
        msg: e.to_string(),
    };
    let text = read_source(target, "private key", key)?;
    let what = match key {
        KeySource::File(p) => format!("private key {}", p.display()),
        KeySource::Inline(_) => "private key".to_string(),
    };
    let pk = russh::keys::decode_secret_key(&text, passphrase).map_err(|e| key_error(what, &e))?;
    let cert = match certificate {
        None => None,
        Some(c) => {
            let text = read_source(target, "certificate", c)?;
            let cert = Certificate::from_openssh(text.trim())
                .map_err(|e| key_error("certificate".into(), &e))?;
            Some(Box::new(cert))
        }
    };
    Ok(Prepared::Key(Arc::new(pk), cert))
}

fn read_source(target: &str, what: &str, src: &KeySource) -> Result<String, SshError> {
    match src {
        KeySource::Inline(s) => Ok(s.clone()),
        KeySource::File(p) => std::fs::read_to_string(p).map_err(|e| SshError::Key {
            target: target.to_string(),
            what: format!("{what} {}", p.display()),
            msg: e.to_string(),
        }),
    }
}

/// Tries the methods in order until one succeeds. A method the server's last refusal did not
/// list as allowed is skipped only for keyboard-interactive (it always follows the password
/// attempt, whose refusal says whether the server speaks it).
pub(crate) async fn authenticate(
    handle: &mut Handle<ClientHandler>,
    opts: &ConnectOptions,
    auth: &[Prepared],
) -> Result<(), AttemptError> {
    let target = opts.target();
    let user = opts.username.as_str();
    let mut tried: Vec<&str> = Vec::new();
    let mut allowed: Option<MethodSet> = None;
    for method in auth {
        if matches!(method, Prepared::KeyboardInteractive(_))
            && allowed
                .as_ref()
                .is_some_and(|a| !a.contains(&MethodKind::KeyboardInteractive))
        {
            continue;
        }
        tried.push(method.name());
        let result = try_method(handle, user, method).await.map_err(|e| {
            AttemptError::Handshake(SshError::Handshake {
                target: target.clone(),
                source: Box::new(e),
            })
        })?;
        match result {
            Some(AuthResult::Success) => return Ok(()),
            Some(AuthResult::Failure {
                remaining_methods, ..
            }) => allowed = Some(remaining_methods),
            None => {}
        }
    }
    Err(AttemptError::Handshake(SshError::Auth {
        target,
        tried: tried.join(", "),
        allowed: allowed.map_or_else(|| "unknown".to_string(), |a| method_list(&a)),
    }))
}

fn method_list(methods: &MethodSet) -> String {
    methods
        .iter()
        .map(<&str>::from)
        .collect::<Vec<_>>()
        .join(",")
}

/// One method; `None` when it had nothing to offer (an empty or unreachable agent).
async fn try_method(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    method: &Prepared,
) -> Result<Option<AuthResult>, russh::Error> {
    let result = match method {
        Prepared::Password(p) => handle.authenticate_password(user, p.clone()).await?,
        Prepared::KeyboardInteractive(p) => return keyboard_interactive(handle, user, p).await,
        Prepared::Key(key, None) => {
            let hash = if key.algorithm().is_rsa() {
                handle
                    .best_supported_rsa_hash()
                    .await?
                    .unwrap_or(Some(HashAlg::Sha256))
            } else {
                None
            };
            handle
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                .await?
        }
        Prepared::Key(key, Some(cert)) => {
            handle
                .authenticate_openssh_cert(user, key.clone(), (**cert).clone())
                .await?
        }
        Prepared::Agent => match agent_auth(handle, user).await {
            Ok(r) => return Ok(r),
            Err(msg) => {
                debug!("agent auth: {msg}");
                return Ok(None);
            }
        },
    };
    Ok(Some(result))
}

/// The keyboard-interactive exchange, answering every prompt of every round with the password
/// (rounds without prompts, which carry only a message, are answered with nothing); `None`
/// when the server is still prompting after [`MAX_PROMPT_ROUNDS`].
async fn keyboard_interactive(
    handle: &mut Handle<ClientHandler>,
    user: &str,
    password: &str,
) -> Result<Option<AuthResult>, russh::Error> {
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user, None)
        .await?;
    for _ in 0..MAX_PROMPT_ROUNDS {
        let prompts = match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(Some(AuthResult::Success)),
            KeyboardInteractiveAuthResponse::Failure {
                remaining_methods,
                partial_success,
            } => {
                return Ok(Some(AuthResult::Failure {
                    remaining_methods,
                    partial_success,
                }))
            }
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => prompts,
        };
        debug!(
            prompts = prompts.len(),
            "keyboard-interactive: answering every prompt with the password"
        );
        let answers = vec![password.to_string(); prompts.len()];
        reply = handle
            .authenticate_keyboard_interactive_respond(answers)
            .await?;
    }
    debug!("keyboard-interactive: still prompting after {MAX_PROMPT_ROUNDS} rounds; giving up");
    Ok(None)
}

/// Tries every agent identity; `Ok(None)` when the agent holds none.
async fn agent_auth(
    handle: &mut Handle<ClientHandler>,
    user: &str,
) -> Result<Option<AuthResult>, String> {
    let mut agent = russh::keys::agent::client::AgentClient::connect_env()
        .await
        .map_err(|e| format!("connect to SSH_AUTH_SOCK: {e}"))?;
    let ids = agent
        .request_identities()
        .await
        .map_err(|e| e.to_string())?;
    let mut last = None;
    for id in ids {
        let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else {
            continue;
        };
        let hash = if key.algorithm().is_rsa() {
            Some(HashAlg::Sha256)
        } else {
            None
        };
        match handle
            .authenticate_publickey_with(user, key, hash, &mut agent)
            .await
        {
            Ok(r) if r.success() => return Ok(Some(r)),
            Ok(r) => last = Some(r),
            Err(e) => debug!("agent key refused: {e}"),
        }
    }
    Ok(last)
}
