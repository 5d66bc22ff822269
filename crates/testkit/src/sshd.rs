//! A throwaway OpenSSH server on loopback, started with the project's `scripts/sshd-local.sh`
//! (needs root), and [`Capture`], a shared output sink. Used by ssh-comm's tests and bench and by
//! the plugin's SSH tests.
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use ssh_comm::{Auth, ConnectOptions, KeySource};

/// The launcher: `$PACKER_SSHD_LOCAL`, else the workspace's `scripts/sshd-local.sh`.
pub fn script() -> PathBuf {
    if let Ok(p) = std::env::var("PACKER_SSHD_LOCAL") {
        return PathBuf::from(p);
    }
    // The workspace root is two levels above this crate.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/sshd-local.sh")
}

/// A running sshd; stopped (and its directory removed) on drop.
pub struct Sshd {
    pub port: u16,
    pub user: String,
    pub pass: String,
    pub key: PathBuf,
    pub dir: PathBuf,
}

impl Sshd {
    /// Starts a server on a free port.
    ///
    /// # Panics
    /// When the script is missing or fails: tests must not silently skip.
    pub fn start() -> Sshd {
        Self::start_args(&[])
    }

    pub fn start_on(port: u16) -> Sshd {
        Self::start_args(&[port.to_string()])
    }

    fn start_args(extra: &[String]) -> Sshd {
        let script = script();
        assert!(
            script.exists(),
            "sshd-local.sh not found at {} (set PACKER_SSHD_LOCAL)",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run sshd-local.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sshd-local.sh failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("export "))
            .expect("export line");
        let mut vars = std::collections::HashMap::new();
        for kv in line.trim_start_matches("export ").split_whitespace() {
            if let Some((k, v)) = kv.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        let get = |k: &str| {
            vars.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
        };
        Sshd {
            port: get("SSHD_PORT").parse().expect("port"),
            user: get("SSH_USER"),
            pass: get("SSH_PASS"),
            key: PathBuf::from(get("SSH_KEY")),
            dir: PathBuf::from(get("SSHD_DIR")),
        }
    }

    pub fn opts(&self) -> ConnectOptions {
        let mut o = ConnectOptions::new("127.0.0.1", self.port, self.user.clone());
        o.auth = vec![Auth::PrivateKey {
            key: KeySource::File(self.key.clone()),
            passphrase: None,
            certificate: None,
        }];
        o.ssh_timeout = Duration::from_secs(20);
        o.retry_interval = Duration::from_millis(200);
        o
    }

    pub fn password_opts(&self, pass: &str) -> ConnectOptions {
        let mut o = self.opts();
        o.auth = vec![Auth::Password(pass.to_string())];
        o
    }

    /// A fresh directory in the test user's home, removed on drop of the guard.
    pub fn remote_dir(&self, name: &str) -> String {
        let d = format!("/home/{}/t-{}-{}", self.user, name, std::process::id());
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir remote dir");
        let _ = std::process::Command::new("chown")
            .args(["-R", &format!("{0}:{0}", self.user), &d])
            .status();
        d
    }

    pub fn authorize(&self, public_line: &str) {
        use std::io::Write;
        let p = self.dir.join("keys").join(&self.user);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .expect("open authorized_keys");
        writeln!(f, "{public_line}").expect("append key");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// An `AsyncWrite` collecting into shared memory, readable while the command runs.
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
