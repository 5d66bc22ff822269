//! When Packer core dies mid-build (killed, its socket gone) the plugin still cleans up from
//! the ledger before it exits. Nobody reads the build's `Ui` any more, so from then on what
//! the build says goes to stderr (Packer's log, if anybody still reads it) and to
//! [`log_path`], a file in the temporary directory that outlives both processes.
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use packer_rpc::api::{BoxError, Ui};
use tokio_util::sync::CancellationToken;

/// `$TMPDIR/packer-vsphere-supervisor-orphan-<pid>.log`
pub fn log_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "packer-vsphere-supervisor-orphan-{}.log",
        std::process::id()
    ))
}

/// Forwards to core's `Ui` until `orphaned` fires, then writes to stderr and [`log_path`].
pub struct OrphanAwareUi {
    inner: Arc<dyn Ui>,
    orphaned: CancellationToken,
    log: Mutex<Option<std::fs::File>>,
}

impl OrphanAwareUi {
    pub fn new(inner: Arc<dyn Ui>, orphaned: CancellationToken) -> Self {
        OrphanAwareUi {
            inner,
            orphaned,
            log: Mutex::new(None),
        }
    }

    fn orphaned(&self) -> bool {
        self.orphaned.is_cancelled()
    }

    /// One line to stderr and to the orphan log (opened on first use, appended to).
    fn record(&self, level: &str, msg: &str) {
        tracing::warn!("orphaned build: {msg}");
        let mut guard = match self.log.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.is_none() {
            let path = log_path();
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(
                        f,
                        "{} the connection to Packer ended during the build; cleaning up from the ledger",
                        stamp()
                    );
                    *guard = Some(f);
                }
                Err(e) => tracing::error!("opening orphan log {}: {e}", path.display()),
            }
        }
        if let Some(f) = guard.as_mut() {
            let _ = writeln!(f, "{} {level}: {msg}", stamp());
        }
    }
}

/// Seconds since the epoch: enough to order the lines and find the build in other logs.
fn stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("[{secs}]")
}

#[async_trait]
impl Ui for OrphanAwareUi {
    async fn say(&self, msg: &str) {
        if self.orphaned() {
            self.record("say", msg)
        } else {
            self.inner.say(msg).await
        }
    }
    async fn message(&self, msg: &str) {
        if self.orphaned() {
            self.record("message", msg)
        } else {
            self.inner.message(msg).await
        }
    }
    async fn error(&self, msg: &str) {
        if self.orphaned() {
            self.record("error", msg)
        } else {
            self.inner.error(msg).await
        }
    }
    async fn machine(&self, category: &str, args: &[String]) {
        if !self.orphaned() {
            self.inner.machine(category, args).await
        }
    }
    async fn ask(&self, query: &str) -> Result<String, BoxError> {
        if self.orphaned() {
            return Err("nobody to ask: the connection to Packer ended".into());
        }
        self.inner.ask(query).await
    }
    async fn new_track_progress(
        &self,
        src: &str,
        total: i64,
        current: i64,
    ) -> Result<String, BoxError> {
        if self.orphaned() {
            return Err("no progress bars: the connection to Packer ended".into());
        }
        self.inner.new_track_progress(src, total, current).await
    }
    async fn progress_add(&self, id: &str, n: i64) {
        if !self.orphaned() {
            self.inner.progress_add(id, n).await
        }
    }
    async fn progress_close(&self, id: &str) {
        if !self.orphaned() {
            self.inner.progress_close(id).await
        }
    }
}
