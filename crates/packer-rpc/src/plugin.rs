//! The plugin process: `describe`, the magic-cookie check, the handshake line, and serving one
//! builder on the single connection Packer makes.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;

use crate::api::{error_chain, BoxError, Builder};
use crate::netrpc::Server;
use crate::service::{BoxStream, BuilderServer, SpecEncoding, StreamBroker};

#[async_trait::async_trait]
impl StreamBroker for crate::broker::Broker {
    fn next_id(&self) -> u32 {
        crate::broker::Broker::next_id(self)
    }
    async fn accept(&self, id: u32) -> Result<BoxStream, BoxError> {
        Ok(Box::new(crate::broker::Broker::accept(self, id).await?))
    }
    async fn dial(&self, id: u32) -> Result<BoxStream, BoxError> {
        Ok(Box::new(crate::broker::Broker::dial(self, id).await?))
    }
}

pub const MAGIC_COOKIE_KEY: &str = "PACKER_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The Go SDK release whose protocol we speak (reported by `describe`).
pub const SDK_VERSION: &str = "0.6.10";
pub const API_VERSION: &str = "x5.0";
/// The builder name that makes Packer >= 1.7 register the builder under the plugin's own name
/// (`packer-plugin-NAME` → `NAME`), as the Go SDK's `plugin.DEFAULT_NAME` does.
pub const DEFAULT_NAME: &str = "-packer-default-plugin-name-";
/// How long core may take to connect after the handshake line (core dials at once).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a build still running when core goes away may take to clean up before we exit.
const ORPHAN_LINGER: Duration = Duration::from_secs(300);

/// What `describe` and the handshake need to know about the plugin.
#[derive(Debug, Clone, Copy)]
pub struct PluginInfo {
    /// The plugin's version (from Cargo), without a leading `v`; `-dev` for development builds.
    pub version: &'static str,
    /// The plugin's name: its binary is `packer-plugin-<name>`.
    pub plugin_name: &'static str,
    /// The source address `required_plugins` names it by (`github.com/ORG/<name>`).
    pub source: &'static str,
    /// The builder's name inside a multi-component plugin ([`DEFAULT_NAME`]: the plugin's name).
    pub builder_name: &'static str,
    /// The name Packer 1.6 knows it by, from the file name `packer-builder-<name>`.
    pub single_component_name: &'static str,
}

/// Which handshake line to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Packer 1.6: `5|unix|/path`.
    Legacy,
    /// Packer ≥ 1.7: `5|0|unix|/path`.
    V5_0,
}

impl Handshake {
    pub fn line(self, path: &Path) -> String {
        match self {
            Handshake::Legacy => format!("5|unix|{}", path.display()),
            Handshake::V5_0 => format!("5|0|unix|{}", path.display()),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Describe,
    Serve {
        handshake: Handshake,
        encoding: SpecEncoding,
    },
}

/// `describe`'s JSON line (without the newline): keys in the SDK's order, lists sorted.
pub fn describe_json(info: &PluginInfo) -> String {
    // Built by hand so the key order never depends on serde_json's `preserve_order` feature.
    let builders = serde_json::to_string(&[info.builder_name]).unwrap_or_else(|_| "[]".into());
    format!(
        "{{\"version\":{},\"sdk_version\":\"{SDK_VERSION}\",\"api_version\":\"{API_VERSION}\",\"builders\":{builders},\"post_processors\":[],\"provisioners\":[],\"datasources\":[],\"protocol_version\":\"v2\"}}",
        serde_json::Value::String(info.version.to_string())
    )
}

/// Parses `argv[1..]`. `Err` holds the usage message.
pub fn parse_args(args: &[String], info: &PluginInfo) -> Result<Command, String> {
    if args.is_empty() {
        return Ok(Command::Serve {
            handshake: Handshake::Legacy,
            encoding: SpecEncoding::Gob,
        });
    }
    let protobuf = args.iter().any(|a| a == "--protobuf");
    let rest: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--protobuf")
        .collect();
    match rest.as_slice() {
        ["describe"] if !protobuf => Ok(Command::Describe),
        ["start", "builder", name] if *name == info.builder_name => Ok(Command::Serve {
            handshake: Handshake::V5_0,
            encoding: if protobuf {
                SpecEncoding::Protobuf
            } else {
                SpecEncoding::Gob
            },
        }),
        ["start", kind, name] => Err(format!(
            "unknown {kind} {name:?}: this plugin only has the builder {:?}",
            info.builder_name
        )),
        _ => Err(usage(info)),
    }
}

fn usage(info: &PluginInfo) -> String {
    let bin = format!("packer-plugin-{}", info.plugin_name);
    format!(
        "usage:\n  {bin} describe\n  {bin} start builder [--protobuf] {}\n  \
         (run with no arguments as packer-builder-{} for Packer 1.6)",
        info.builder_name, info.single_component_name
    )
}

fn not_from_packer(info: &PluginInfo) -> String {
    format!(
        "This is a Packer plugin; Packer runs it, you do not run it directly.\n\
         To install it:\n  \
         Packer >= 1.10: packer plugins install --path <this binary> {source}\n  \
         Packer 1.7-1.9: scripts/install-plugin.sh from the source tree, or unpack a release\n                  \
         archive into ~/.packer.d/plugins/{source}/\n  \
         Packer 1.6:     copy or symlink it as ~/.packer.d/plugins/packer-builder-{single}\n\
         Then use the builder type \"{single}\" in your template.",
        source = info.source,
        single = info.single_component_name
    )
}

fn init_logging() {
    // Packer decides whether plugin stderr reaches a log: it copies every line into its own log
    // when the user set PACKER_LOG, and drops them otherwise (it even starts plugins with
    // PACKER_LOG set to the empty string), exactly as Go plugins `log.Printf` unconditionally.
    // So log our own crates at debug; PACKER_PLUGIN_LOG takes a full filter to change that
    // (e.g. `trace`, or `warn`).
    let filter = std::env::var("PACKER_PLUGIN_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| {
            tracing_subscriber::EnvFilter::new(
                "info,packer_rpc=debug,packer_rpc::mux=info,vsphere_supervisor=debug,ssh_comm=debug",
            )
        });
    // When core dies its end of our stderr goes with it: writes then fail, and reporting that
    // (tracing-subscriber's eprintln!) would panic and kill the plugin before its cleanup.
    let _ = tracing_subscriber::fmt()
        .log_internal_errors(false)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// The process entry point of the plugin binary.
pub fn serve_main(info: PluginInfo, make_builder: impl Fn() -> Arc<dyn Builder>) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args, &info) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    };
    let (handshake, encoding) = match cmd {
        Command::Describe => {
            let mut out = std::io::stdout().lock();
            return match writeln!(out, "{}", describe_json(&info)).and_then(|_| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            };
        }
        Command::Serve {
            handshake,
            encoding,
        } => (handshake, encoding),
    };
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprintln!("{}", not_from_packer(&info));
        return ExitCode::from(1);
    }
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("start async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let res = rt.block_on(serve(handshake, encoding, make_builder()));
    rt.shutdown_timeout(Duration::from_secs(1));
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", error_chain(e.as_ref()));
            eprintln!("plugin: {}", error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("listen on unix socket {path}: {source}")]
    Listen {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("print handshake line: {0}")]
    Handshake(std::io::Error),
    #[error("wait for Packer to connect to {path}: {detail}")]
    Connect { path: PathBuf, detail: String },
    #[error("accept the main rpc stream (broker id 0): {0}")]
    MainStream(String),
}

/// Binds a fresh `$TMPDIR/packer-plugin<random>` socket (the SDK's temp-file trick).
fn listen() -> Result<(UnixListener, PathBuf), PluginError> {
    let dir = std::env::temp_dir();
    let mut last = None;
    for _ in 0..16 {
        let path = dir.join(format!("packer-plugin{}", rand::random::<u32>()));
        match UnixListener::bind(&path) {
            Ok(l) => return Ok((l, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some((path, e)),
            Err(source) => return Err(PluginError::Listen { path, source }),
        }
    }
    let (path, source) = last.unwrap_or_else(|| (dir, std::io::Error::other("no free name")));
    Err(PluginError::Listen { path, source })
}

/// Ctrl-C reaches the whole process group; cancellation comes over RPC instead.
fn ignore_signals() {
    use tokio::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
    ] {
        match signal(kind) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while s.recv().await.is_some() {
                        n += 1;
                        tracing::warn!(
                            "received {name} ({n} so far); ignoring it, Packer cancels over RPC"
                        );
                    }
                });
            }
            Err(e) => tracing::warn!("cannot catch {name}: {e}"),
        }
    }
}

/// Serves one builder on one connection and returns when Packer goes away.
pub async fn serve(
    handshake: Handshake,
    encoding: SpecEncoding,
    builder: Arc<dyn Builder>,
) -> Result<(), BoxError> {
    let (listener, path) = listen()?;
    let guard = RemoveOnDrop(path.clone());
    ignore_signals();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handshake.line(&path))
            .and_then(|_| out.flush())
            .map_err(PluginError::Handshake)?;
    }
    let (conn, _) = match tokio::time::timeout(CONNECT_TIMEOUT, listener.accept()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Err(PluginError::Connect {
                path,
                detail: e.to_string(),
            }
            .into())
        }
        Err(_) => {
            return Err(PluginError::Connect {
                path,
                detail: format!("no connection within {CONNECT_TIMEOUT:?}"),
            }
            .into())
        }
    };
    // Exactly one connection: nobody else may connect later.
    drop(listener);
    drop(guard);
    tracing::debug!("Packer connected");
    let mux = crate::broker::Broker::new(crate::mux::Session::server(conn));
    let broker: Arc<dyn StreamBroker> = mux.clone();
    let main = broker
        .accept(0)
        .await
        .map_err(|e| PluginError::MainStream(error_chain(e.as_ref())))?;
    let server = Server::new();
    let builder_server = Arc::new(BuilderServer::new(builder, broker.clone(), encoding));
    server.register("Builder", builder_server.clone());
    tokio::select! {
        r = server.serve(main) => match r {
            Ok(()) => tracing::debug!("main rpc stream closed; exiting"),
            // Core going away mid-read is the normal end, not a failure.
            Err(e) if mux.session().is_closed() => tracing::debug!(error = %e, "session ended; exiting"),
            Err(e) => return Err(e.into()),
        },
        r = mux.session().closed() => tracing::debug!(result = ?r, "session ended; exiting"),
    }
    // Core is gone (a normal exit kills us first): let a build still running clean up.
    builder_server.session_lost(ORPHAN_LINGER).await;
    Ok(())
}

struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: PluginInfo = PluginInfo {
        version: "0.1.0",
        plugin_name: "vsphere-supervisor",
        source: "github.com/example/vsphere-supervisor",
        builder_name: "supervisor",
        single_component_name: "vsphere-supervisor",
    };

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn describe_is_exact() {
        assert_eq!(
            describe_json(&INFO),
            r#"{"version":"0.1.0","sdk_version":"0.6.10","api_version":"x5.0","builders":["supervisor"],"post_processors":[],"provisioners":[],"datasources":[],"protocol_version":"v2"}"#
        );
    }

    #[test]
    fn command_lines() {
        assert_eq!(
            parse_args(&[], &INFO),
            Ok(Command::Serve {
                handshake: Handshake::Legacy,
                encoding: SpecEncoding::Gob
            })
        );
        assert_eq!(
            parse_args(&args(&["describe"]), &INFO),
            Ok(Command::Describe)
        );
        let proto = Ok(Command::Serve {
            handshake: Handshake::V5_0,
            encoding: SpecEncoding::Protobuf,
        });
        assert_eq!(
            parse_args(
                &args(&["start", "builder", "--protobuf", "supervisor"]),
                &INFO
            ),
            proto
        );
        assert_eq!(
            parse_args(
                &args(&["--protobuf", "start", "builder", "supervisor"]),
                &INFO
            ),
            proto
        );
        assert_eq!(
            parse_args(&args(&["start", "builder", "supervisor"]), &INFO),
            Ok(Command::Serve {
                handshake: Handshake::V5_0,
                encoding: SpecEncoding::Gob
            })
        );
        assert!(parse_args(&args(&["start", "builder", "other"]), &INFO).is_err());
        assert!(parse_args(&args(&["start", "provisioner", "supervisor"]), &INFO).is_err());
        assert!(parse_args(&args(&["start", "builder"]), &INFO).is_err());
        assert!(parse_args(&args(&["bogus"]), &INFO).is_err());
    }

    #[test]
    fn handshake_lines() {
        let p = Path::new("/tmp/packer-plugin1");
        assert_eq!(Handshake::Legacy.line(p), "5|unix|/tmp/packer-plugin1");
        assert_eq!(Handshake::V5_0.line(p), "5|0|unix|/tmp/packer-plugin1");
    }
}
