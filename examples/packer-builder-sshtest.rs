//! `packer-builder-sshtest`: a minimal builder for tests and benchmarks, **not shipped**.
//!
//! It connects to an existing SSH server (no machine is created) and serves the project's SSH
//! communicator to Packer's provisioners through `Hook.Run("packer_provision", …)`, so the real
//! Packer can drive `shell`, `file` and friends over exactly the code path the product uses:
//! yamux → MuxBroker → Communicator server → `SshCommunicator` → ssh-comm → russh.
//!
//! Packer 1.6 starts it as `packer-builder-sshtest` (a copy or symlink in the working
//! directory, `~/.packer.d/plugins` or `PACKER_PLUGIN_PATH`); the builder type is `sshtest`.
//!
//! Configuration (HCL2 or JSON): `communicator` (`ssh`, the default, or `none`), `ssh_host`,
//! `ssh_port` (22), `ssh_username`, `ssh_password`, `ssh_private_key_file`, `ssh_timeout`
//! (`30s`, `5m`…; default 5m), `ssh_file_transfer_method` (`scp`, the default, or `sftp`), plus
//! the `packer_*` keys Packer adds.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use packer_rpc::api::{
    Artifact, BoxError, BoxRead, BoxWrite, Builder, Communicator, ExitFuture, FileInfo, Hook,
    PrepareOutcome, RemoteCommand, Ui,
};
use packer_rpc::plugin::{serve_main, PluginInfo};
use packer_wire::hclspec::{CtyType, Spec};
use packer_wire::msgpack::Value;
use serde_json::Value as J;
use ssh_comm::{Auth, ConnectOptions, KeySource, Session, TransferMethod};
use tokio_util::sync::CancellationToken;
use vsphere_supervisor::comm::SshCommunicator;

const BUILDER_ID: &str = "packer-plugin-vsphere.sshtest";

fn main() -> ExitCode {
    serve_main(
        PluginInfo {
            version: env!("CARGO_PKG_VERSION"),
            plugin_name: "sshtest",
            source: "github.com/example/sshtest",
            builder_name: "sshtest",
            single_component_name: "sshtest",
        },
        || Arc::new(SshTestBuilder::default()) as Arc<dyn Builder>,
    )
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// The keys this builder understands, with their cty types (the HCL2 spec is built from this).
const KEYS: &[(&str, Ty)] = &[
    ("communicator", Ty::Str),
    ("ssh_host", Ty::Str),
    ("ssh_port", Ty::Num),
    ("ssh_username", Ty::Str),
    ("ssh_password", Ty::Str),
    ("ssh_private_key_file", Ty::Str),
    ("ssh_timeout", Ty::Str),
    ("ssh_file_transfer_method", Ty::Str),
    ("packer_build_name", Ty::Str),
    ("packer_builder_type", Ty::Str),
    ("packer_core_version", Ty::Str),
    ("packer_debug", Ty::Bool),
    ("packer_force", Ty::Bool),
    ("packer_on_error", Ty::Str),
    ("packer_template_path", Ty::Str),
    ("packer_user_variables", Ty::StrMap),
    ("packer_sensitive_variables", Ty::StrList),
];

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Num,
    Bool,
    StrMap,
    StrList,
}

impl Ty {
    fn cty(self) -> CtyType {
        match self {
            Ty::Str => CtyType::String,
            Ty::Num => CtyType::Number,
            Ty::Bool => CtyType::Bool,
            Ty::StrMap => CtyType::Map(Box::new(CtyType::String)),
            Ty::StrList => CtyType::List(Box::new(CtyType::String)),
        }
    }
}

fn spec() -> Spec {
    let attrs: BTreeMap<String, Spec> = KEYS
        .iter()
        .map(|(name, ty)| {
            (
                name.to_string(),
                Spec::Attr {
                    name: name.to_string(),
                    ty: ty.cty(),
                    required: false,
                },
            )
        })
        .collect();
    Spec::Object(attrs)
}

/// What `prepare` accepted.
#[derive(Debug, Clone)]
struct Config {
    /// `None` for `communicator = "none"`.
    ssh: Option<ConnectOptions>,
    build_name: String,
}

/// Merges Prepare's configs in order (later ones win; nulls are "unset"). Elements are msgpack
/// maps (JSON templates, Packer's own keys) or bin holding cty JSON (HCL2 blocks).
fn merge(configs: &[Value], errors: &mut Vec<String>) -> serde_json::Map<String, J> {
    let mut out = serde_json::Map::new();
    for (i, c) in configs.iter().enumerate() {
        let obj = match c {
            Value::Bin(b) => match packer_wire::ctyjson::decode(b) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("config {i}: {e}"));
                    continue;
                }
            },
            Value::Map(_) => packer_wire::msgpack::to_json(c),
            Value::Nil => continue,
            other => {
                errors.push(format!(
                    "config {i}: expected a map or cty JSON, got {}",
                    packer_wire::msgpack::to_json(other)
                ));
                continue;
            }
        };
        if let J::Object(map) = obj {
            for (k, v) in map {
                if !v.is_null() {
                    out.insert(k, v);
                }
            }
        }
    }
    out
}

fn get_str(m: &serde_json::Map<String, J>, key: &str, errors: &mut Vec<String>) -> Option<String> {
    match m.get(key)? {
        J::String(s) => Some(s.clone()),
        // Weakly typed, as the Go SDK's decoder: numbers and bools read as their text.
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        other => {
            errors.push(format!("{key}: expected a string, got {other}"));
            None
        }
    }
}

/// `ssh_port`: JSON templates send numbers as Go float64s (`2222.0`), HCL2 as cty numbers,
/// and strings are accepted as the Go SDK's weak decoding does.
fn get_port(m: &serde_json::Map<String, J>) -> Result<u16, String> {
    let bad = |v: &J| format!("ssh_port: {v} is not a port number");
    match m.get("ssh_port") {
        None => Ok(22),
        Some(v @ J::Number(n)) => {
            let f = n.as_f64().ok_or_else(|| bad(v))?;
            if f.fract() == 0.0 && (1.0..=65535.0).contains(&f) {
                Ok(f as u16)
            } else {
                Err(bad(v))
            }
        }
        Some(v @ J::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// `30s`, `5m`, `1h`, `500ms`, or a bare number of seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

fn parse_config(configs: &[Value]) -> Result<Config, Vec<String>> {
    let mut errors = Vec::new();
    let m = merge(configs, &mut errors);
    for k in m.keys() {
        if !KEYS.iter().any(|(name, _)| name == k) {
            errors.push(format!("unknown configuration key: {k:?}"));
        }
    }
    let communicator = get_str(&m, "communicator", &mut errors).unwrap_or_else(|| "ssh".into());
    let build_name = get_str(&m, "packer_build_name", &mut errors).unwrap_or_default();
    let ssh = match communicator.as_str() {
        "none" => None,
        "ssh" => {
            let host = get_str(&m, "ssh_host", &mut errors).unwrap_or_default();
            if host.is_empty() {
                errors.push("ssh_host must be specified".into());
            }
            let user = get_str(&m, "ssh_username", &mut errors).unwrap_or_default();
            if user.is_empty() {
                errors.push("ssh_username must be specified".into());
            }
            let port = match get_port(&m) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    22
                }
            };
            let mut o = ConnectOptions::new(host, port, user);
            if let Some(p) = get_str(&m, "ssh_private_key_file", &mut errors) {
                o.auth.push(Auth::PrivateKey {
                    key: KeySource::File(PathBuf::from(p)),
                    passphrase: None,
                    certificate: None,
                });
            }
            if let Some(p) = get_str(&m, "ssh_password", &mut errors) {
                o.auth.push(Auth::Password(p));
            }
            if o.auth.is_empty() {
                errors.push("one of ssh_password or ssh_private_key_file must be specified".into());
            }
            if let Some(t) = get_str(&m, "ssh_timeout", &mut errors) {
                match parse_duration(&t) {
                    Some(d) => o.ssh_timeout = d,
                    None => errors.push(format!("ssh_timeout: {t:?} is not a duration")),
                }
            }
            match get_str(&m, "ssh_file_transfer_method", &mut errors).as_deref() {
                None | Some("scp") => o.transfer = TransferMethod::Scp,
                Some("sftp") => o.transfer = TransferMethod::Sftp,
                Some(other) => errors.push(format!(
                    "ssh_file_transfer_method: {other:?} is neither \"scp\" nor \"sftp\""
                )),
            }
            Some(o)
        }
        other => {
            errors.push(format!(
                "communicator: {other:?} is not supported (use \"ssh\" or \"none\")"
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(Config { ssh, build_name })
    } else {
        Err(errors)
    }
}

// ---------------------------------------------------------------------------------------------
// Builder

#[derive(Default)]
struct SshTestBuilder {
    config: Mutex<Option<Config>>,
}

impl SshTestBuilder {
    fn config(&self) -> Option<Config> {
        match self.config.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// The generated data handed to provisioners, shaped like the Go SDK's (protocol notes §3.3).
fn provision_data(cfg: &Config) -> Value {
    let s = |v: &str| Value::Str(v.to_string());
    let (conn_type, host, port, user, password, key_file) = match &cfg.ssh {
        None => (
            "none",
            String::new(),
            0,
            String::new(),
            String::new(),
            String::new(),
        ),
        Some(o) => {
            let password = o.auth.iter().find_map(|a| match a {
                Auth::Password(p) => Some(p.clone()),
                _ => None,
            });
            let key = o.auth.iter().find_map(|a| match a {
                Auth::PrivateKey {
                    key: KeySource::File(p),
                    ..
                } => Some(p.display().to_string()),
                _ => None,
            });
            (
                "ssh",
                o.host.clone(),
                o.port,
                o.username.clone(),
                password.unwrap_or_default(),
                key.unwrap_or_default(),
            )
        }
    };
    let run_uuid = std::env::var("PACKER_RUN_UUID").unwrap_or_default();
    Value::Map(vec![
        (s("Password"), s(&password)),
        (s("ConnType"), s(conn_type)),
        (s("WinRMPassword"), s("")),
        (
            s("PackerHTTPPort"),
            s("ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER"),
        ),
        (s("Host"), s(&host)),
        (s("User"), s(&user)),
        (s("ID"), s("sshtest")),
        (s("Port"), Value::Int(i64::from(port))),
        (s("SSHAgentAuth"), Value::Bool(false)),
        (s("SSHPublicKey"), s("")),
        (s("SSHPrivateKeyFile"), s(&key_file)),
        (s("SSHPrivateKey"), s("")),
        (s("PackerRunUUID"), s(&run_uuid)),
        (
            s("PackerHTTPIP"),
            s("ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER"),
        ),
        (
            s("PackerHTTPAddr"),
            s("ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"),
        ),
    ])
}

#[async_trait]
impl Builder for SshTestBuilder {
    fn config_spec(&self) -> Spec {
        spec()
    }

    async fn prepare(&self, configs: Vec<Value>) -> PrepareOutcome {
        match parse_config(&configs) {
            Ok(cfg) => {
                match self.config.lock() {
                    Ok(mut g) => *g = Some(cfg),
                    Err(p) => *p.into_inner() = Some(cfg),
                }
                PrepareOutcome {
                    generated_vars: Some(Vec::new()),
                    warnings: None,
                    error: None,
                }
            }
            Err(errors) => PrepareOutcome {
                generated_vars: None,
                warnings: None,
                error: Some(errors.join("\n")),
            },
        }
    }

    async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        let cfg = self
            .config()
            .ok_or("the sshtest builder was run before a successful prepare")?;
        let data = provision_data(&cfg);
        let (comm, session): (Arc<dyn Communicator>, Option<Session>) = match &cfg.ssh {
            None => (Arc::new(NoCommunicator), None),
            Some(o) => {
                ui.say(&format!("Connecting to {} over SSH...", o.target()))
                    .await;
                let session = Session::connect(o, &cancel).await?;
                ui.say("Connected to SSH!").await;
                (
                    Arc::new(SshCommunicator::from_session(session.clone())),
                    Some(session),
                )
            }
        };
        let res = hook
            .run("packer_provision", data, ui.clone(), comm, cancel.clone())
            .await;
        if let Some(s) = session {
            let _ = s.close().await;
        }
        res?;
        if cancel.is_cancelled() {
            return Err("build was cancelled".into());
        }
        Ok(Some(Arc::new(SshTestArtifact {
            build_name: cfg.build_name.clone(),
            target: cfg.ssh.as_ref().map(ConnectOptions::target),
        })))
    }
}

/// `communicator = "none"`: every call fails, as Packer's `none` communicator does.
struct NoCommunicator;

fn no_comm<T>() -> Result<T, BoxError> {
    Err("the sshtest builder was configured with communicator = \"none\"".into())
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

struct SshTestArtifact {
    build_name: String,
    target: Option<String>,
}

#[async_trait]
impl Artifact for SshTestArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.into()
    }
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    fn id(&self) -> String {
        "sshtest".into()
    }
    fn string(&self) -> String {
        match &self.target {
            Some(t) => format!("Provisioned {t} over SSH (build {:?})", self.build_name),
            None => format!("Ran without a communicator (build {:?})", self.build_name),
        }
    }
    fn state(&self, name: &str) -> Value {
        match name {
            "generated_data" => Value::Map(vec![(
                Value::Str("ID".into()),
                Value::Str("sshtest".into()),
            )]),
            _ => Value::Nil,
        }
    }
    async fn destroy(&self) -> Result<(), BoxError> {
        Ok(())
    }
}
