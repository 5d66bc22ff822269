//! The communicator provisioners get with `communicator = "none"`.
//!
//! Local provisioners (`shell-local`) never call it and run as usual. The first call from a
//! provisioner that needs the VM (`shell`, `file`, ...) fails with [`NONE_MSG`] and stops the
//! hook, so the build ends at once with that line instead of waiting out the provisioner's
//! `start_retry_timeout` (Packer's `shell` retries a failed upload for 5 minutes by default).
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use packer_rpc::api::{
    BoxError, BoxRead, BoxWrite, Communicator, ExitFuture, FileInfo, RemoteCommand,
};
use tokio_util::sync::CancellationToken;

/// The one line a provisioner that needs the VM fails with.
pub const NONE_MSG: &str = "communicator = \"none\": this build has no connection to the source VM, so only local provisioners such as shell-local can run; set communicator = \"ssh\" for provisioners that need the VM";

/// Fails every operation, and cancels `stop` (the hook's token) the first time it is used.
pub struct NoCommunicator {
    stop: CancellationToken,
    used: AtomicBool,
}

impl NoCommunicator {
    pub fn new(stop: CancellationToken) -> Self {
        NoCommunicator {
            stop,
            used: AtomicBool::new(false),
        }
    }

    /// Whether a provisioner tried to reach the VM.
    pub fn was_used(&self) -> bool {
        self.used.load(Ordering::SeqCst)
    }

    fn refuse(&self) -> BoxError {
        self.used.store(true, Ordering::SeqCst);
        self.stop.cancel();
        NONE_MSG.into()
    }
}

#[async_trait]
impl Communicator for NoCommunicator {
    async fn start(&self, _cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        Err(self.refuse())
    }
    async fn upload(
        &self,
        _path: &str,
        _data: BoxRead,
        _info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        Err(self.refuse())
    }
    async fn upload_dir(
        &self,
        _dst: &str,
        _src: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        Err(self.refuse())
    }
    async fn download(&self, _path: &str, _sink: BoxWrite) -> Result<(), BoxError> {
        Err(self.refuse())
    }
    async fn download_dir(
        &self,
        _src: &str,
        _dst: &Path,
        _exclude: &[String],
    ) -> Result<(), BoxError> {
        Err(self.refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_use_fails_with_one_line_and_stops_the_hook() {
        let stop = CancellationToken::new();
        let c = NoCommunicator::new(stop.clone());
        assert!(!c.was_used() && !stop.is_cancelled());
        let e = c
            .download("/etc/hostname", Box::new(tokio::io::sink()))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("communicator = \"none\": ") && !e.contains('\n'),
            "{e}"
        );
        assert!(c.was_used() && stop.is_cancelled());
    }
}
