//! Running guest commands inside a VM's root directory with bubblewrap.
//!
//! Isolation provided (and nothing more): the VM root is bound as `/` (read-write), the host's
//! `/usr` is bound read-only (with `/bin`, `/sbin`, `/lib*` as symlinks into it) and the VM's own
//! `<root>/usr/local` is bound over `/usr/local`; `/proc` and `/dev` are fresh; `/tmp` is the
//! root's own `tmp` directory. All namespaces are unshared (user, pid, ipc, uts, cgroup, network:
//! the guest has no network, not even loopback to the host), the environment is cleared, and
//! `--die-with-parent` kills the sandbox with the simulator. A session runs as its SSH user
//! ([`super::identity`]): when the simulator runs as root on the host (as in CI) the sandbox has
//! no user namespace, keeps only CAP_SETUID/CAP_SETGID, and `setpriv` drops to the user's uid
//! before the command starts; otherwise, and for first boot's `runcmd`, commands run as uid 0 of
//! a user namespace. A guest therefore controls its own root directory (as root through `sudo`)
//! and nothing else of the host file system except reading `/usr`.
//! No host path other than `/usr` is visible, so a command writing `/etc/x` or `/tmp/x` writes
//! `<root>/etc/x` / `<root>/tmp/x`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Errors while preparing or probing the sandbox.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// bubblewrap is missing or cannot create namespaces here; the VM must not run commands.
    #[error("bubblewrap sandbox unavailable ({path}): {reason}; refusing to run guest commands unsandboxed")]
    Unavailable { path: String, reason: String },
}

pub use super::identity::RunAs;

/// A bubblewrap launcher for one VM root.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    root: PathBuf,
    hostname: String,
}

fn host_lib_links() -> Vec<&'static str> {
    ["lib", "lib64", "lib32", "libx32"]
        .into_iter()
        .filter(|d| Path::new("/usr").join(d).is_dir())
        .collect()
}

/// Checks once per bwrap path that a trivial sandbox starts.
pub async fn probe(bwrap: &Path) -> Result<(), SandboxError> {
    let unavailable = |reason: String| SandboxError::Unavailable {
        path: bwrap.display().to_string(),
        reason,
    };
    let mut cmd = tokio::process::Command::new(bwrap);
    cmd.args(["--ro-bind", "/usr", "/usr"]);
    for d in host_lib_links() {
        cmd.args(["--symlink", &format!("usr/{d}"), &format!("/{d}")]);
    }
    cmd.args(["--unshare-all", "--die-with-parent", "/usr/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), cmd.output())
        .await
        .map_err(|_| unavailable("probe timed out".into()))?
        .map_err(|e| unavailable(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(unavailable(format!(
            "probe exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Sandbox {
    pub fn new(bwrap: PathBuf, root: PathBuf, hostname: &str) -> Self {
        // sethostname(2) refuses names longer than 64 bytes, and the UTS namespace needs a
        // non-empty one.
        let mut name: String = hostname
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(63)
            .collect();
        if name.is_empty() {
            name = "localhost".into();
        }
        Sandbox {
            bwrap,
            root,
            hostname: name,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A command running `argv` inside the sandbox. stdio is left for the caller to set.
    pub fn command(
        &self,
        run_as: &RunAs,
        extra_env: &[(String, String)],
        argv: &[String],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bwrap);
        self.bind_file_system(&mut cmd);
        let switch = run_as.switches_user();
        isolate(&mut cmd, switch);
        cmd.args([
            "--die-with-parent",
            "--new-session",
            "--hostname",
            &self.hostname,
            "--clearenv",
        ]);
        for (k, v) in &session_env(run_as, extra_env) {
            cmd.args(["--setenv", k, v]);
        }
        let home_on_disk = self.root.join(run_as.home.trim_start_matches('/'));
        let chdir = if home_on_disk.is_dir() {
            run_as.home.as_str()
        } else {
            "/"
        };
        cmd.args(["--chdir", chdir, "--"]);
        if switch {
            cmd.args(run_as.setpriv_prefix());
        }
        cmd.args(argv);
        cmd.kill_on_drop(true);
        cmd
    }

    /// The VM root as `/`, the host's `/usr` read-only under the VM's own `/usr/local`, the
    /// usual top-level links into `/usr`, `/proc` and `/dev`.
    fn bind_file_system(&self, cmd: &mut tokio::process::Command) {
        let root = self.root.to_string_lossy().to_string();
        cmd.arg("--bind").arg(&root).arg("/");
        cmd.args(["--ro-bind", "/usr", "/usr"]);
        cmd.arg("--bind")
            .arg(format!("{root}/usr/local"))
            .arg("/usr/local");
        // The root is bound read-write, so bwrap's symlinks persist in it; a second
        // `--symlink` over an existing path fails, hence only create what is missing.
        for d in ["bin", "sbin"].into_iter().chain(host_lib_links()) {
            if std::fs::symlink_metadata(self.root.join(d)).is_err() {
                cmd.args(["--symlink", &format!("usr/{d}"), &format!("/{d}")]);
            }
        }
        cmd.args(["--proc", "/proc", "--dev", "/dev"]);
    }
}

/// The namespaces: all of them, or, when the session switches to the user's uid, every one but
/// the user namespace.
fn isolate(cmd: &mut tokio::process::Command, switch: bool) {
    if switch {
        // Every namespace but the user one, so setpriv can reach the user's real uid; the
        // two capabilities setpriv (and the user's sudo) need, and none other.
        cmd.args([
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
        ]);
    } else {
        cmd.arg("--unshare-all");
    }
}

/// The session's environment: the login variables, then the client's terminal and locale hints
/// (never anything that could change `PATH` or `HOME`).
fn session_env(run_as: &RunAs, extra_env: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), run_as.home.clone()),
        ("USER".into(), run_as.user.clone()),
        ("LOGNAME".into(), run_as.user.clone()),
        ("SHELL".into(), run_as.shell.clone()),
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    for (k, v) in extra_env {
        if k == "TERM" || k.starts_with("LC_") || k == "LANG" {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
    }
    env
}

/// Resolves a guest path to a host path inside `root`, refusing `..` and symlinked components
/// so bootstrap writes cannot leave the VM root.
pub fn host_path(root: &Path, guest_path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for comp in Path::new(guest_path).components() {
        match comp {
            std::path::Component::Normal(c) => {
                out.push(c);
                if let Ok(md) = std::fs::symlink_metadata(&out) {
                    if md.file_type().is_symlink() {
                        return None;
                    }
                }
            }
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    (out != root).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_stays_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(host_path(root, "/etc/x"), Some(root.join("etc/x")));
        assert_eq!(host_path(root, "../x"), None);
        assert_eq!(host_path(root, "/"), None);
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        assert_eq!(host_path(root, "/link/passwd"), None);
    }
}
