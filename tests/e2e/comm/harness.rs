//! What the scenarios with real Packer share: a working directory with the test builder
//! (`examples/packer-builder-testkit.rs`, builder type `testkit`) installed the Packer 1.6 way,
//! and a bounded `packer build` in it.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Packer runs are serialized: the machine has two cores, and the 256 MiB upload's timing
/// should not depend on what else happens to run.
static PACKER: Mutex<()> = Mutex::new(());

/// Debian's Packer 1.6.6, or `$PACKER_BIN`.
fn packer_bin() -> PathBuf {
    std::env::var_os("PACKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/packer"))
}

/// A working directory with the test builder beside the template.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        let bin = testkit::core::test_builder_binary().unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::Builder::new()
            .prefix("comm-packer-")
            .tempdir()
            .expect("temp dir");
        std::os::unix::fs::symlink(bin, dir.path().join("packer-builder-testkit"))
            .expect("symlink the test builder");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Work { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `packer build` of `template` (a file name in the work dir), bounded in time.
    pub fn build(&self, template: &str, log: bool) -> Run {
        self.build_with(&["-color=false"], template, log)
    }

    /// Like [`Work::build`], with other `packer build` flags.
    pub fn build_with(&self, flags: &[&str], template: &str, log: bool) -> Run {
        let _serial = PACKER.lock().unwrap_or_else(|p| p.into_inner());
        let mut cmd = Command::new(packer_bin());
        cmd.arg("build")
            .args(flags)
            .arg(template)
            .current_dir(self.path())
            .env("HOME", self.path().join("home"))
            .env("PACKER_CONFIG_DIR", self.path().join("home"))
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("PACKER_PLUGIN_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if log {
            cmd.env("PACKER_LOG", "1")
                .env("PACKER_LOG_PATH", self.path().join("packer.log"));
        } else {
            cmd.env_remove("PACKER_LOG").env_remove("PACKER_LOG_PATH");
        }
        let t0 = Instant::now();
        let child = cmd.spawn().expect("start packer");
        let out = wait_bounded(child, Duration::from_secs(180));
        Run {
            out,
            secs: t0.elapsed().as_secs_f64(),
            log: std::fs::read_to_string(self.path().join("packer.log")).unwrap_or_default(),
        }
    }
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let killer = std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut v);
        v
    });
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
    let err = err_reader.join().unwrap_or_default();
    let status = child.wait().expect("wait for packer");
    let _ = tx.send(());
    let _ = killer.join();
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

pub struct Run {
    out: Output,
    pub secs: f64,
    log: String,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// Everything Packer printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }
    pub fn describe(&self) -> String {
        let log_tail: String = {
            let lines: Vec<&str> = self.log.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        format!(
            "packer exited with {} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}\n--- log tail\n{}",
            self.out.status,
            self.secs,
            self.stdout(),
            self.stderr(),
            log_tail
        )
    }
    pub fn assert_ok(&self) {
        assert!(self.out.status.success(), "{}", self.describe());
    }
    pub fn assert_failed(&self) {
        assert!(!self.out.status.success(), "{}", self.describe());
    }
    /// Remote stdout lines as Packer prints them for build `testkit.x` (`ui.Message`), prefix
    /// removed.
    pub fn remote_lines(&self) -> Vec<String> {
        prefixed(&self.stdout(), "    testkit.x: ")
    }
    /// Remote stderr lines (`ui.Error`, which Packer prints as `==> testkit.x: …`) and the
    /// builder's own `ui.Say` lines.
    pub fn say_lines(&self) -> Vec<String> {
        prefixed(&self.stdout(), "==> testkit.x: ")
    }
}

pub fn prefixed(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}
