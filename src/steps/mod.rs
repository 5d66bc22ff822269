//! The build's steps, one file each, in the order [`crate::runner`] runs them:
//! [`keygen`], [`connect`], [`check`] (with [`publish_target`]), [`import_image`] and the
//! imported image's check, [`create_source`], [`wait_source`], [`provision`], [`publish`];
//! [`cleanup`] walks the ledger afterwards.
pub mod check;
pub mod cleanup;
pub mod connect;
pub mod create_source;
pub mod import_image;
pub mod iso_console;
pub mod keygen;
pub mod no_comm;
pub mod provision;
pub mod publish;
pub mod publish_target;
pub mod wait_source;

use std::sync::Arc;

use packer_rpc::api::{Hook, Ui};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kube::Cluster;
use crate::state::BuildState;

/// What every step gets.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub ui: Arc<dyn Ui>,
    pub hook: Arc<dyn Hook>,
    pub cancel: CancellationToken,
    pub state: BuildState,
}

impl Ctx<'_> {
    pub async fn say(&self, msg: &str) {
        self.ui.say(msg).await;
    }

    /// The cluster connection; steps after `connect` may rely on it.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.state.cluster.as_ref()
    }
}

/// Why a build stopped. Each variant carries the step's own error, which names the operation
/// and the object.
#[derive(Debug, Error)]
pub enum StepError {
    #[error("the build was cancelled")]
    Cancelled,
    #[error(transparent)]
    Keygen(#[from] keygen::KeygenError),
    #[error(transparent)]
    Connect(#[from] crate::kube::ConnectError),
    #[error(transparent)]
    Check(#[from] check::CheckError),
    #[error(transparent)]
    Import(#[from] import_image::ImportError),
    #[error(transparent)]
    Create(#[from] create_source::CreateError),
    #[error(transparent)]
    Wait(#[from] wait_source::WaitSourceError),
    #[error(transparent)]
    Provision(#[from] provision::ProvisionError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
}
