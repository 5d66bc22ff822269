//! Run from a parsed [`TestConfig`]: connect the communicator it names, hand it to the
//! `packer_provision` hook with generated data shaped like the Go SDK's, and return an artifact
//! saying what was provisioned.
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use packer_rpc::api::{
    Artifact, BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, Hook, RemoteCommand,
    Ui,
};
use packer_wire::msgpack::Value;
use ssh_comm::{Auth, ConnectOptions, KeySource, Session};
use tokio_util::sync::CancellationToken;

use super::config::{CommConfig, TestConfig};
use super::SshConnect;
use crate::fakes::{FakeArtifact, LocalCommunicator};

/// The artifact's builder id.
pub const BUILDER_ID: &str = "packer-plugin-vsphere.testkit";

pub(super) async fn run(
    cfg: &TestConfig,
    ssh: Option<&SshConnect>,
    ui: Arc<dyn Ui>,
    hook: Arc<dyn Hook>,
    cancel: CancellationToken,
) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
    if let Some(msg) = &cfg.run_error {
        ui.error(msg).await;
        return Err(msg.clone().into());
    }
    let (comm, session) = connect(&cfg.comm, ssh, ui.as_ref(), &cancel).await?;
    let data = provision_data(&cfg.comm);
    let provisioned = hook
        .run("packer_provision", data, ui.clone(), comm, cancel.clone())
        .await;
    if let Some(s) = session {
        let _ = s.close().await;
    }
    provisioned?;
    if cancel.is_cancelled() {
        return Err("build was cancelled".into());
    }
    Ok(Some(Arc::new(artifact(cfg))))
}

/// The Communicator for `comm`, and the SSH session behind it (closed after provisioning).
async fn connect(
    comm: &CommConfig,
    ssh: Option<&SshConnect>,
    ui: &dyn Ui,
    cancel: &CancellationToken,
) -> Result<(Arc<dyn Communicator>, Option<Session>), BoxError> {
    match comm {
        CommConfig::None => {
            ui.say("Not connecting anywhere (communicator = \"none\")")
                .await;
            Ok((Arc::new(NoCommunicator), None))
        }
        CommConfig::Local => {
            ui.say("Using the local shell as the communicator").await;
            Ok((Arc::new(LocalCommunicator), None))
        }
        CommConfig::Ssh(o) => {
            let connect = ssh.ok_or(
                "testkit builder: communicator = \"ssh\" but it was served without an SSH communicator",
            )?;
            ui.say(&format!("Connecting to {} over SSH...", o.target()))
                .await;
            let connected = connect(o.as_ref().clone(), cancel.clone()).await?;
            ui.say("Connected to SSH!").await;
            Ok((connected.comm, Some(connected.session)))
        }
    }
}

/// The generated data handed to provisioners, shaped like the Go SDK's (protocol notes §3.3).
fn provision_data(comm: &CommConfig) -> Value {
    let s = |v: &str| Value::Str(v.to_string());
    let (conn_type, ssh) = match comm {
        CommConfig::Ssh(o) => ("ssh", SshData::of(o)),
        CommConfig::Local | CommConfig::None => ("none", SshData::default()),
    };
    let run_uuid = std::env::var("PACKER_RUN_UUID").unwrap_or_default();
    let not_implemented = |what: &str| s(&format!("ERR_{what}_NOT_IMPLEMENTED_BY_BUILDER"));
    Value::Map(vec![
        (s("Password"), s(&ssh.password)),
        (s("ConnType"), s(conn_type)),
        (s("WinRMPassword"), s("")),
        (s("PackerHTTPPort"), not_implemented("HTTP_PORT")),
        (s("Host"), s(&ssh.host)),
        (s("User"), s(&ssh.user)),
        (s("ID"), s("testkit")),
        (s("Port"), Value::Int(i64::from(ssh.port))),
        (s("SSHAgentAuth"), Value::Bool(false)),
        (s("SSHPublicKey"), s("")),
        (s("SSHPrivateKeyFile"), s(&ssh.key_file)),
        (s("SSHPrivateKey"), s("")),
        (s("PackerRunUUID"), s(&run_uuid)),
        (s("PackerHTTPIP"), not_implemented("HTTP_IP")),
        (s("PackerHTTPAddr"), not_implemented("HTTP_ADDR")),
    ])
}

/// The SSH fields of the generated data (empty without SSH).
#[derive(Default)]
struct SshData {
    host: String,
    port: u16,
    user: String,
    password: String,
    key_file: String,
}

impl SshData {
    fn of(o: &ConnectOptions) -> SshData {
        let password = o.auth.iter().find_map(|a| match a {
            Auth::Password(p) => Some(p.clone()),
            _ => None,
        });
        let key_file = o.auth.iter().find_map(|a| match a {
            Auth::PrivateKey {
                key: KeySource::File(p),
                ..
            } => Some(p.display().to_string()),
            _ => None,
        });
        SshData {
            host: o.host.clone(),
            port: o.port,
            user: o.username.clone(),
            password: password.unwrap_or_default(),
            key_file: key_file.unwrap_or_default(),
        }
    }
}

fn artifact(cfg: &TestConfig) -> FakeArtifact {
    let build = &cfg.build_name;
    let text = match &cfg.comm {
        CommConfig::Ssh(o) => format!("Provisioned {} over SSH (build {build:?})", o.target()),
        CommConfig::Local => format!("Provisioned the local machine (build {build:?})"),
        CommConfig::None => format!("Ran without a communicator (build {build:?})"),
    };
    let id = |v: &str| Value::Map(vec![(Value::Str("ID".into()), Value::Str(v.into()))]);
    FakeArtifact {
        builder_id: BUILDER_ID.into(),
        id: "testkit".into(),
        files: Vec::new(),
        text,
        state: vec![("generated_data".into(), id("testkit"))],
        destroy_error: None,
    }
}

/// `communicator = "none"`: every call fails, as Packer's `none` communicator does.
struct NoCommunicator;

fn no_comm<T>() -> Result<T, BoxError> {
    Err("testkit builder: there is no communicator (communicator = \"none\")".into())
}

#[async_trait]
impl Communicator for NoCommunicator {
    async fn start(&self, _cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        no_comm()
    }
    async fn upload(
        &self,
        _path: &str,
        _data: BoxRead,
        _info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        no_comm()
    }
    async fn upload_dir(
        &self,
        _dst: &str,
        _src: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        no_comm()
    }
    async fn download(&self, _path: &str, _sink: BoxWrite) -> Result<(), BoxError> {
        no_comm()
    }
    async fn download_dir(
        &self,
        _src: &str,
        _dst: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        no_comm()
    }
}
