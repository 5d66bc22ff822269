//! Step 6: connect the communicator to the VM and run Packer's provisioners through the hook.
use std::sync::Arc;

use packer_rpc::api::{BoxError, Communicator, RemoteCommand};
use packer_wire::msgpack::Value;
use thiserror::Error;

use super::no_comm::NoCommunicator;
use super::Ctx;
use crate::config::{CommKind, Config};
use crate::generated::Generated;
use crate::state::BuildState;

#[derive(Debug, Error)]
pub enum ProvisionError {
    #[error("connecting to the source VM over SSH: {0}")]
    Connect(String),
    #[error("the WinRM communicator is not supported yet; use ssh or none")]
    WinRmUnsupported,
    #[error("internal error: no address to connect to")]
    NoHost,
    #[error("provisioning: {0}")]
    Hook(String),
    #[error("the build was cancelled")]
    Cancelled,
    #[error("provisioning: {}", super::no_comm::NONE_MSG)]
    NoCommunicator,
    #[error("removing the temporary SSH key from authorized_keys: {0}")]
    ClearKey(String),
}

/// The hook's generated data, the same keys as the SDK's builders (protocol notes §3.3).
pub fn hook_data(cfg: &Config, state: &BuildState, namespace: &str, run_uuid: &str) -> Value {
    let s = |v: &str| Value::Str(v.to_string());
    let ssh = &cfg.comm.ssh;
    let (conn_type, port, user, password) = match cfg.comm.kind {
        CommKind::Ssh => (
            "ssh",
            ssh.port,
            ssh.username.as_str(),
            ssh.password.clone().unwrap_or_default(),
        ),
        CommKind::WinRm => (
            "winrm",
            cfg.comm.winrm.port,
            cfg.comm.winrm.username.as_str(),
            cfg.comm.winrm.password.clone().unwrap_or_default(),
        ),
        CommKind::None => ("none", 0, "", String::new()),
    };
    let key = state.temp_key.as_ref();
    let entries: Vec<(&str, Value)> = vec![
        ("ID", s(&format!("{namespace}/{}", cfg.source_name))),
        ("Host", s(state.comm_host.as_deref().unwrap_or_default())),
        ("Port", Value::Int(i64::from(port))),
        ("User", s(user)),
        ("Password", s(&password)),
        ("ConnType", s(conn_type)),
        (
            "SSHPrivateKey",
            s(key.map(|k| k.private_openssh.as_str()).unwrap_or_default()),
        ),
        (
            "SSHPublicKey",
            s(key.map(|k| k.public_openssh.as_str()).unwrap_or_default()),
        ),
        (
            "SSHPrivateKeyFile",
            s(&ssh
                .private_key_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()),
        ),
        ("SSHAgentAuth", Value::Bool(ssh.agent_auth)),
        (
            "WinRMPassword",
            s(cfg.comm.winrm.password.as_deref().unwrap_or_default()),
        ),
        ("PackerRunUUID", s(run_uuid)),
        ("PackerHTTPIP", s("ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER")),
        (
            "PackerHTTPPort",
            s("ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER"),
        ),
        (
            "PackerHTTPAddr",
            s("ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"),
        ),
    ];
    let generated = Generated {
        namespace,
        source_name: &cfg.source_name,
        source_image: state.image.as_ref(),
        publish_library: state.publish_library.as_deref(),
        published: None,
        vm_ip: state.vm_ip.as_deref(),
    };
    Value::Map(
        entries
            .into_iter()
            .chain(generated.entries().into_iter().map(|(k, v)| (k, s(&v))))
            .map(|(k, v)| (Value::Str(k.to_string()), v))
            .collect(),
    )
}

async fn connect_ssh(ctx: &Ctx<'_>, host: &str) -> Result<Arc<dyn Communicator>, ProvisionError> {
    let ssh = &ctx.config.comm.ssh;
    let key = ctx
        .state
        .temp_key
        .as_ref()
        .map(|k| k.private_openssh.as_str());
    let opts = crate::comm::connect_options_from(ssh, host, key)
        .map_err(|e| ProvisionError::Connect(e.to_string()))?;
    ctx.say(&format!(
        "Waiting for SSH to become available on {}...",
        opts.target()
    ))
    .await;
    let comm = tokio::select! {
        r = crate::comm::SshCommunicator::connect(opts, ctx.cancel.clone()) => {
            r.map_err(|e| ProvisionError::Connect(packer_rpc::api::error_chain(&e)))?
        }
        _ = ctx.cancel.cancelled() => return Err(ProvisionError::Cancelled),
    };
    ctx.say("Connected to SSH!").await;
    Ok(Arc::new(comm))
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), ProvisionError> {
    let cfg = ctx.config;
    let namespace = ctx
        .state
        .cluster
        .as_ref()
        .map(|c| c.namespace.clone())
        .unwrap_or_default();
    // The hook's own token: the none-communicator stops the hook through it.
    let hook_cancel = ctx.cancel.child_token();
    let mut none_comm: Option<Arc<NoCommunicator>> = None;
    let comm: Arc<dyn Communicator> = match cfg.comm.kind {
        CommKind::None => {
            let c = Arc::new(NoCommunicator::new(hook_cancel.clone()));
            none_comm = Some(c.clone());
            c
        }
        CommKind::WinRm => return Err(ProvisionError::WinRmUnsupported),
        CommKind::Ssh => {
            let pause = cfg.comm.pause_before_connecting;
            if !pause.is_zero() {
                ctx.say(&format!(
                    "Pausing {} before connecting...",
                    crate::kube::wait::human(pause)
                ))
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = ctx.cancel.cancelled() => return Err(ProvisionError::Cancelled),
                }
            }
            let host = ctx.state.comm_host.clone().ok_or(ProvisionError::NoHost)?;
            connect_ssh(ctx, &host).await?
        }
    };
    let run_uuid = std::env::var("PACKER_RUN_UUID").unwrap_or_default();
    let data = hook_data(cfg, &ctx.state, &namespace, &run_uuid);
    ctx.say("Running provisioners...").await;
    let result = ctx
        .hook
        .run(
            "packer_provision",
            data,
            ctx.ui.clone(),
            comm.clone(),
            hook_cancel,
        )
        .await;
    if ctx.cancel.is_cancelled() {
        // Core answers a cancelled hook with "context canceled"; say what happened.
        return Err(ProvisionError::Cancelled);
    }
    if none_comm.is_some_and(|c| c.was_used()) {
        return Err(ProvisionError::NoCommunicator);
    }
    result.map_err(|e| ProvisionError::Hook(packer_rpc::api::error_chain(e.as_ref())))?;
    if cfg.comm.kind == CommKind::Ssh && cfg.comm.ssh.clear_authorized_keys {
        if let Some(key) = ctx.state.temp_key.as_ref() {
            clear_authorized_key(ctx, comm.as_ref(), &key.public_openssh).await?;
        }
    }
    Ok(())
}

/// The shell command that removes `public_key` from the user's `authorized_keys`, so the
/// published image does not trust the build's temporary key. Matching is on the key's base64
/// body as a fixed string, so no character in it can act as a pattern.
pub fn clear_key_command(public_key: &str) -> Option<String> {
    let body = public_key.split_whitespace().nth(1)?;
    if !body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
    {
        return None;
    }
    Some(format!(
        "f=\"$HOME/.ssh/authorized_keys\"; [ -f \"$f\" ] || exit 0; grep -vF -- '{body}' \"$f\" > \"$f.packer\" ; mv -f \"$f.packer\" \"$f\""
    ))
}

async fn clear_authorized_key(
    ctx: &Ctx<'_>,
    comm: &dyn Communicator,
    public_key: &str,
) -> Result<(), ProvisionError> {
    let Some(command) = clear_key_command(public_key) else {
        return Ok(());
    };
    ctx.say("Removing the temporary SSH key from authorized_keys (ssh_clear_authorized_keys)")
        .await;
    let cmd = RemoteCommand {
        command,
        stdin: None,
        stdout: None,
        stderr: None,
    };
    let fail = |e: BoxError| ProvisionError::ClearKey(packer_rpc::api::error_chain(e.as_ref()));
    let status = comm.start(cmd).await.map_err(fail)?.await.map_err(fail)?;
    if status != 0 {
        return Err(ProvisionError::ClearKey(format!(
            "the command exited with status {status}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TempKey;

    fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
        match v {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| *k == Value::Str(key.into()))
                .map(|(_, v)| v)
                .unwrap(),
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn hook_data_has_the_sdk_keys() {
        let mut cfg = Config {
            source_name: "source-abcde".into(),
            ..Config::default()
        };
        cfg.comm.ssh.port = 22;
        cfg.comm.ssh.username = "packer".into();
        let state = BuildState {
            comm_host: Some("127.77.0.9".into()),
            temp_key: Some(TempKey {
                private_openssh: "PRIV".into(),
                public_openssh: "ssh-ed25519 AAA packer".into(),
            }),
            ..BuildState::default()
        };
        let d = hook_data(&cfg, &state, "demo", "uuid-1");
        assert_eq!(get(&d, "Host"), &Value::Str("127.77.0.9".into()));
        assert_eq!(get(&d, "Port"), &Value::Int(22));
        assert_eq!(get(&d, "User"), &Value::Str("packer".into()));
        assert_eq!(get(&d, "ConnType"), &Value::Str("ssh".into()));
        assert_eq!(get(&d, "SSHPrivateKey"), &Value::Str("PRIV".into()));
        assert_eq!(
            get(&d, "SSHPublicKey"),
            &Value::Str("ssh-ed25519 AAA packer".into())
        );
        assert_eq!(get(&d, "ID"), &Value::Str("demo/source-abcde".into()));
        assert_eq!(get(&d, "PackerRunUUID"), &Value::Str("uuid-1".into()));
        assert_eq!(
            get(&d, "PackerHTTPAddr"),
            &Value::Str("ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER".into())
        );
    }

    #[test]
    fn clear_key_command_matches_the_key_body_only() {
        let cmd = clear_key_command("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+/x= packer").unwrap();
        assert!(
            cmd.contains("grep -vF -- 'AAAAC3NzaC1lZDI1NTE5AAAAI+/x='"),
            "{cmd}"
        );
        assert!(clear_key_command("garbage").is_none());
        assert!(clear_key_command("ssh-ed25519 AAA'$(rm) x").is_none());
    }
}
