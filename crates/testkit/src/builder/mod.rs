//! The project's one test builder, [`FakeBuilder`], in two modes:
//!
//! * **scripted** ([`FakeBuilder::new`]): Prepare returns a fixed outcome and Run follows a
//!   [`RunScript`]; the in-process protocol tests and the capture replays use it;
//! * **configured** ([`FakeBuilder::from_config`]): Prepare parses the template with
//!   [`config::parse`] and Run connects the communicator the config names (the local shell, the
//!   project's SSH communicator, or none) and provisions through it. The root package's example
//!   `packer-builder-testkit` serves it to real Packer, for the end-to-end communicator tests and
//!   `bench/upload-256m.sh`.
//!
//! Both modes declare the same HCL2 spec ([`config::spec`]).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use packer_rpc::api::{Artifact, BoxError, Builder, Communicator, Hook, PrepareOutcome, Ui};
use packer_wire::hclspec::Spec;
use packer_wire::msgpack::Value;
use ssh_comm::{ConnectOptions, Session};
use tokio_util::sync::CancellationToken;

use crate::fakes::FakeArtifact;

pub mod config;
mod configured;

pub use config::{CommConfig, TestConfig};
pub use configured::BUILDER_ID;

/// The project's SSH communicator, connected: what provisioners get, and the session behind it
/// (closed after provisioning).
pub struct SshConnection {
    pub comm: Arc<dyn Communicator>,
    pub session: Session,
}

/// Connects the project's SSH communicator (`SshCommunicator::connect`, as the product's
/// provisioning step does). It lives in the product crate, which testkit must not depend on, so
/// whoever serves the builder passes it in.
pub type SshConnect = Arc<
    dyn Fn(ConnectOptions, CancellationToken) -> BoxFuture<'static, Result<SshConnection, BoxError>>
        + Send
        + Sync,
>;

/// How a scripted [`FakeBuilder`]'s Run behaves.
#[derive(Clone)]
pub enum RunScript {
    /// Say a few lines, run the `packer_provision` hook with `data` and `comm`, return the artifact.
    Provision {
        data: Value,
        comm: Arc<dyn Communicator>,
        artifact: Option<FakeArtifact>,
    },
    /// Say, then report `msg` on the Ui and fail with it.
    Fail(String),
    /// Say, run the hook, and wait until cancelled (bounded), then return the artifact.
    WaitForCancel {
        data: Value,
        comm: Arc<dyn Communicator>,
        artifact: Option<FakeArtifact>,
    },
}

enum Mode {
    Scripted {
        prepare: PrepareOutcome,
        run: Box<RunScript>,
    },
    /// `ssh`: `None` when served without the SSH communicator (Prepare then refuses
    /// `communicator = "ssh"`).
    Configured { ssh: Option<SshConnect> },
}

/// The test builder (see the module documentation).
pub struct FakeBuilder {
    mode: Mode,
    /// Every Prepare's configs, in order.
    pub prepared: Mutex<Vec<Vec<Value>>>,
    /// Set once Run saw its token cancelled.
    pub saw_cancel: Mutex<bool>,
    /// What the last successful Prepare parsed (configured mode).
    config: Mutex<Option<TestConfig>>,
}

impl FakeBuilder {
    /// A scripted builder, shaped like the null builder of the captures.
    pub fn new(prepare: PrepareOutcome, run: RunScript) -> Arc<Self> {
        Self::with_mode(Mode::Scripted {
            prepare,
            run: Box::new(run),
        })
    }

    /// A builder configured by its template; `ssh` connects the SSH communicator.
    pub fn from_config(ssh: Option<SshConnect>) -> Arc<Self> {
        Self::with_mode(Mode::Configured { ssh })
    }

    fn with_mode(mode: Mode) -> Arc<Self> {
        Arc::new(FakeBuilder {
            mode,
            prepared: Mutex::new(Vec::new()),
            saw_cancel: Mutex::new(false),
            config: Mutex::new(None),
        })
    }

    fn prepare_configured(&self, configs: &[Value], has_ssh: bool) -> PrepareOutcome {
        let parsed = config::parse(configs).and_then(|cfg| match cfg.comm {
            CommConfig::Ssh(_) if !has_ssh => Err(vec![
                "communicator: \"ssh\" needs the SSH communicator, which this builder was \
                 served without (use \"local\" or \"none\")"
                    .to_string(),
            ]),
            _ => Ok(cfg),
        });
        match parsed {
            Ok(cfg) => {
                *lock(&self.config) = Some(cfg);
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

    async fn run_scripted(
        &self,
        script: &RunScript,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        ui.say("Using ssh communicator to connect: 127.0.0.1").await;
        ui.say("Waiting for SSH to become available...").await;
        let (data, comm, artifact, wait) = match script {
            RunScript::Fail(msg) => {
                ui.error(msg).await;
                return Err(msg.clone().into());
            }
            RunScript::Provision {
                data,
                comm,
                artifact,
            } => (data, comm, artifact, false),
            RunScript::WaitForCancel {
                data,
                comm,
                artifact,
            } => (data, comm, artifact, true),
        };
        ui.say("Connected to SSH!").await;
        let hook_run = hook.run(
            "packer_provision",
            data.clone(),
            ui.clone(),
            comm.clone(),
            cancel.clone(),
        );
        if wait {
            let _ = tokio::time::timeout(Duration::from_secs(30), hook_run).await;
        } else {
            hook_run.await?;
        }
        Ok(artifact.clone().map(|a| Arc::new(a) as Arc<dyn Artifact>))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl Builder for FakeBuilder {
    fn config_spec(&self) -> Spec {
        config::spec()
    }

    async fn prepare(&self, configs: Vec<Value>) -> PrepareOutcome {
        lock(&self.prepared).push(configs.clone());
        match &self.mode {
            Mode::Scripted { prepare, .. } => prepare.clone(),
            Mode::Configured { ssh } => self.prepare_configured(&configs, ssh.is_some()),
        }
    }

    async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        let result = match &self.mode {
            Mode::Scripted { run, .. } => self.run_scripted(run, ui, hook, cancel.clone()).await,
            Mode::Configured { ssh } => {
                let cfg = lock(&self.config)
                    .clone()
                    .ok_or("testkit builder: Run came before a successful Prepare")?;
                configured::run(&cfg, ssh.as_ref(), ui, hook, cancel.clone()).await
            }
        };
        if cancel.is_cancelled() {
            *lock(&self.saw_cancel) = true;
        }
        result
    }
}
