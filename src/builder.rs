//! The `vsphere-supervisor` builder as Packer sees it: spec, prepare, run.
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use packer_rpc::api::{Artifact, BoxError, Builder, Hook, PrepareOutcome, Ui};
use packer_wire::hclspec::Spec;
use packer_wire::msgpack::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::orphan::{self, OrphanAwareUi};
use crate::runner;

/// Names of the generated data this builder hands to provisioners (`build.<Name>` in HCL2).
pub use crate::generated::GENERATED_VARS;

/// The builder; Packer calls `prepare` once and then `run` once per process.
#[derive(Default)]
pub struct SupervisorBuilder {
    /// Set by a successful `prepare`; `run` refuses to start without it.
    config: Mutex<Option<Arc<Config>>>,
    /// Fires when the connection to Packer core ends during a build.
    orphaned: CancellationToken,
}

impl SupervisorBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn prepared(&self) -> Option<Arc<Config>> {
        // A poisoned lock only means a panic elsewhere while holding it; the value is still a
        // whole Arc, so reading it is sound.
        match self.config.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn store(&self, cfg: Config) {
        let mut g = match self.config.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Some(Arc::new(cfg));
    }
}

#[async_trait]
impl Builder for SupervisorBuilder {
    fn config_spec(&self) -> Spec {
        config::hcl_spec()
    }

    async fn prepare(&self, configs: Vec<Value>) -> PrepareOutcome {
        match config::prepare(&configs) {
            Ok(prepared) => {
                self.store(prepared.config);
                let warnings = prepared.warnings;
                PrepareOutcome {
                    generated_vars: Some(GENERATED_VARS.iter().map(|s| s.to_string()).collect()),
                    warnings: if warnings.is_empty() {
                        None
                    } else {
                        Some(warnings)
                    },
                    error: None,
                }
            }
            Err(errors) => PrepareOutcome {
                generated_vars: None,
                warnings: None,
                error: Some(errors.to_string()),
            },
        }
    }

    async fn run(
        &self,
        ui: Arc<dyn Ui>,
        hook: Arc<dyn Hook>,
        cancel: CancellationToken,
    ) -> Result<Option<Arc<dyn Artifact>>, BoxError> {
        let Some(config) = self.prepared() else {
            return Err(
                "the vsphere-supervisor builder was run before a successful prepare".into(),
            );
        };
        let ui: Arc<dyn Ui> = Arc::new(OrphanAwareUi::new(ui, self.orphaned.clone()));
        let result = runner::run_build(config, ui.clone(), hook, cancel).await;
        if self.orphaned.is_cancelled() {
            let outcome = match &result {
                Ok(_) => "finished".to_string(),
                Err(e) => format!("ended: {e}"),
            };
            ui.say(&format!(
                "build {outcome}; this log is {}",
                orphan::log_path().display()
            ))
            .await;
        }
        result
    }

    fn session_lost(&self) {
        self.orphaned.cancel();
    }
}
