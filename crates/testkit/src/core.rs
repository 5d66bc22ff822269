//! Plays Packer core against a plugin binary: start it, read the handshake, connect, and
//! drive its Builder with the same client proxies core's side would use.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use packer_rpc::api::{Hook, PrepareOutcome, Ui};
use packer_rpc::broker::Broker;
use packer_rpc::mux::Session;
use packer_rpc::netrpc::{Client, RpcError};
use packer_rpc::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use packer_rpc::service::{ArtifactClient, BuilderClient, StreamBroker};
use packer_wire::msgpack::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Core waits this long for the handshake line (Packer's StartTimeout is one minute).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("start plugin {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin handshake: {0}")]
    Handshake(String),
    #[error("connect to plugin socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("dial the main rpc stream: {0}")]
    Dial(String),
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// The parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    /// `None` for the Packer 1.6 form `5|unix|path`, `Some("0")` for `5|0|unix|path`.
    pub minor: Option<String>,
    pub network: String,
    pub address: String,
}

/// Accepts both forms, as the core of the matching Packer version would.
pub fn parse_handshake(line: &str) -> Result<HandshakeLine, String> {
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    match parts.as_slice() {
        ["5", network, address] => Ok(HandshakeLine {
            minor: None,
            network: network.to_string(),
            address: address.to_string(),
        }),
        ["5", minor, network, address] => Ok(HandshakeLine {
            minor: Some(minor.to_string()),
            network: network.to_string(),
            address: address.to_string(),
        }),
        _ => Err(format!("unexpected handshake line {line:?}")),
    }
}

/// A running plugin process and core's side of its connection.
pub struct PluginUnderTest {
    pub child: Child,
    pub handshake: HandshakeLine,
    pub broker: Arc<Broker>,
    pub builder: BuilderClient,
}

impl PluginUnderTest {
    /// Starts `bin args…` with the magic cookie and connects as core.
    pub async fn start(bin: &Path, args: &[&str]) -> Result<Self, HarnessError> {
        let mut child = Command::new(bin)
            .args(args)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .env("PACKER_PLUGIN_MIN_PORT", "10000")
            .env("PACKER_PLUGIN_MAX_PORT", "25000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                path: bin.to_path_buf(),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| HarnessError::Handshake("no stdout pipe".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(HANDSHAKE_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| HarnessError::Handshake(format!("no line within {HANDSHAKE_TIMEOUT:?}")))?
            .map_err(|e| HarnessError::Handshake(e.to_string()))?
            .ok_or_else(|| {
                HarnessError::Handshake("plugin closed stdout without a handshake".into())
            })?;
        // Core drains and discards later stdout lines.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let handshake = parse_handshake(&line).map_err(HarnessError::Handshake)?;
        if handshake.network != "unix" {
            return Err(HarnessError::Handshake(format!(
                "network {:?} is not unix",
                handshake.network
            )));
        }
        let path = PathBuf::from(&handshake.address);
        let conn = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|source| HarnessError::Connect {
                path: path.clone(),
                source,
            })?;
        let broker = Broker::new(Session::client(conn));
        let main = broker
            .dial(0)
            .await
            .map_err(|e| HarnessError::Dial(e.to_string()))?;
        let dyn_broker: Arc<dyn StreamBroker> = broker.clone();
        let builder = BuilderClient::new(Client::new(main), dyn_broker);
        Ok(PluginUnderTest {
            child,
            handshake,
            broker,
            builder,
        })
    }

    pub async fn config_spec(&self) -> Result<Vec<u8>, RpcError> {
        self.builder.config_spec().await
    }

    pub async fn prepare(&self, configs: Vec<Value>) -> Result<PrepareOutcome, RpcError> {
        self.builder.prepare(configs).await
    }

    pub async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
    ) -> Result<Option<ArtifactClient>, RpcError> {
        self.builder.run(ui, hook).await
    }

    pub async fn cancel(&self) -> Result<(), RpcError> {
        self.builder.cancel().await
    }

    /// Ends the plugin the way core does: SIGKILL, then wait (bounded).
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

/// A binary of the root package that tests run, and the variable that names a prebuilt one.
struct RootBinary {
    env: &'static str,
    /// `--bin` or `--example`.
    kind: &'static str,
    name: &'static str,
    /// Where cargo puts it, relative to `target/<profile>`.
    subdir: &'static str,
}

const PLUGIN: RootBinary = RootBinary {
    env: "PACKER_PLUGIN_BIN",
    kind: "--bin",
    name: "packer-plugin-vsphere-supervisor",
    subdir: "",
};

const TEST_BUILDER: RootBinary = RootBinary {
    env: "PACKER_TEST_BUILDER_BIN",
    kind: "--example",
    name: "packer-builder-testkit",
    subdir: "examples",
};

type Built = std::sync::OnceLock<Result<PathBuf, String>>;

/// Finds the plugin binary (`packer-plugin-vsphere-supervisor`): `$PACKER_PLUGIN_BIN`, else
/// builds it with cargo into the running test's target dir (a no-op when it is fresh) and returns
/// `target/<profile>/packer-plugin-vsphere-supervisor`. Built once per test process.
pub fn plugin_binary() -> Result<PathBuf, String> {
    static BUILT: Built = Built::new();
    root_binary(&PLUGIN, &BUILT)
}

/// Finds the test builder binary (the root package's example `packer-builder-testkit`, which
/// serves [`crate::builder::FakeBuilder`] with the product's SSH communicator):
/// `$PACKER_TEST_BUILDER_BIN`, else built like [`plugin_binary`] and returned from
/// `target/<profile>/examples/`.
pub fn test_builder_binary() -> Result<PathBuf, String> {
    static BUILT: Built = Built::new();
    root_binary(&TEST_BUILDER, &BUILT)
}

fn root_binary(what: &RootBinary, built: &Built) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(what.env) {
        return Ok(PathBuf::from(p));
    }
    built.get_or_init(|| build_root_binary(what)).clone()
}

fn build_root_binary(what: &RootBinary) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // target/<profile>/deps/<test> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test binary has no target dir")?;
    let target_dir = profile_dir.parent().ok_or("no target dir")?;
    let bin = profile_dir.join(what.subdir).join(what.name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-p", "packer-plugin-vsphere", what.kind, what.name])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // Cargo sets these for the running test; build scripts that track one (ring's tracks
    // CARGO_MANIFEST_DIR) would otherwise be rebuilt, and rebuilt again by the next plain
    // `cargo test`, every time.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_per_crate_cargo_var) {
            cmd.env_remove(&name);
        }
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let st = cmd
        .status()
        .map_err(|e| format!("build {}: run cargo build: {e}", what.name))?;
    if !st.success() || !bin.exists() {
        return Err(format!(
            "build {}: cargo build failed ({st}); expected {} (or set {})",
            what.name,
            bin.display(),
            what.env
        ));
    }
    Ok(bin)
}

/// The variables cargo sets for one crate's build or run, never configuration.
fn is_per_crate_cargo_var(name: &str) -> bool {
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_EXE_"];
    const NAMES: &[&str] = &[
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_handshake_forms() {
        assert_eq!(
            parse_handshake("5|unix|/tmp/packer-plugin1\n").unwrap(),
            HandshakeLine {
                minor: None,
                network: "unix".into(),
                address: "/tmp/packer-plugin1".into()
            }
        );
        assert_eq!(
            parse_handshake("5|0|unix|/tmp/p").unwrap().minor.as_deref(),
            Some("0")
        );
        assert!(parse_handshake("4|unix|/x").is_err());
        assert!(parse_handshake("garbage").is_err());
    }

    #[test]
    fn only_per_crate_cargo_variables_are_dropped_for_nested_builds() {
        for dropped in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_x",
            "OUT_DIR",
        ] {
            assert!(is_per_crate_cargo_var(dropped), "{dropped}");
        }
        for kept in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_INCREMENTAL",
            "CARGO",
        ] {
            assert!(!is_per_crate_cargo_var(kept), "{kept}");
        }
    }
}
