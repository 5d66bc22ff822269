//! Simulated guests: each VM gets a root directory `<state>/vms/<namespace>/<name>/root`, a
//! first boot that applies its bootstrap data (accounts, `write_files`, `runcmd`, vApp
//! properties), and a real SSH endpoint whose commands run sandboxed in that root (see
//! [`sandbox`] for the isolation provided).

pub mod bootstrap;
pub mod identity;
pub mod sandbox;
mod ssh;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use bootstrap::{BootstrapPlan, GuestUser};
pub use sandbox::SandboxError;

/// Errors of a guest's lifecycle, naming the VM.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("preparing the root of VM {vm} at {path}: {source}")]
    Root {
        vm: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("VM {vm}: {source}")]
    Sandbox {
        vm: String,
        #[source]
        source: SandboxError,
    },
    #[error("VM {vm}: host key: {reason}")]
    HostKey { vm: String, reason: String },
    #[error("VM {vm}: listening for ssh on {addr}: {source}")]
    Listen {
        vm: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Settings shared by every guest.
#[derive(Debug, Clone)]
pub struct GuestConfig {
    /// The bubblewrap binary; a VM fails (no unsandboxed fallback) if it does not work.
    pub bwrap: PathBuf,
    /// Upper bound for the first-boot `runcmd` script.
    pub runcmd_timeout: Duration,
}

impl Default for GuestConfig {
    fn default() -> Self {
        GuestConfig {
            bwrap: PathBuf::from("bwrap"),
            runcmd_timeout: Duration::from_secs(300),
        }
    }
}

/// The directory of a VM (its root plus the simulator's private files such as the host key).
pub fn vm_dir(state_dir: &Path, namespace: &str, name: &str) -> PathBuf {
    state_dir.join("vms").join(namespace).join(name)
}

/// The root file system of a VM.
pub fn vm_root(state_dir: &Path, namespace: &str, name: &str) -> PathBuf {
    vm_dir(state_dir, namespace, name).join("root")
}

/// A booted guest. Endpoints stop on [`Guest::shutdown`] (or when dropped, as a fallback).
pub struct Guest {
    vm: String,
    ctx: Arc<ssh::GuestCtx>,
    endpoints: Vec<(SocketAddr, CancellationToken, JoinHandle<()>)>,
}

impl Drop for Guest {
    fn drop(&mut self) {
        for (_, stop, _) in &self.endpoints {
            stop.cancel();
        }
    }
}

const BOOT_MARKER: &str = "var/lib/cloud/instance/boot-finished";

impl Guest {
    /// Boots the VM `namespace/name`: on first boot copies the image content into the root and
    /// applies `plan`; later boots (e.g. after a simulator restart) only reload the plan.
    pub async fn boot(
        cfg: &GuestConfig,
        state_dir: &Path,
        namespace: &str,
        name: &str,
        image_content: Option<&Path>,
        plan: BootstrapPlan,
    ) -> Result<Guest, GuestError> {
        let vm = format!("{namespace}/{name}");
        sandbox::probe(&cfg.bwrap)
            .await
            .map_err(|source| GuestError::Sandbox {
                vm: vm.clone(),
                source,
            })?;
        let dir = vm_dir(state_dir, namespace, name);
        let root = dir.join("root");
        let root_err = |path: &Path| {
            let vm = vm.clone();
            let path = path.to_path_buf();
            move |source| GuestError::Root { vm, path, source }
        };
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(root_err(&root))?;
        let host_key = load_or_create_host_key(&dir).map_err(|reason| GuestError::HostKey {
            vm: vm.clone(),
            reason,
        })?;
        let hostname = plan.hostname.clone().unwrap_or_else(|| name.to_string());
        let sandbox = sandbox::Sandbox::new(cfg.bwrap.clone(), root.clone(), &hostname);
        let ctx = Arc::new(ssh::GuestCtx {
            plan,
            sandbox,
            host_key,
        });
        if !root.join(BOOT_MARKER).exists() {
            let r = root.clone();
            let content = image_content.map(Path::to_path_buf);
            let ctx2 = ctx.clone();
            let hostname = name.to_string();
            tokio::task::spawn_blocking(move || {
                first_boot_files(&r, content.as_deref(), &ctx2.plan, &hostname)
            })
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|r| r)
            .map_err(root_err(&root))?;
            run_first_boot_commands(&ctx, cfg.runcmd_timeout)
                .await
                .map_err(root_err(&root))?;
            let marker = root.join(BOOT_MARKER);
            tokio::fs::write(&marker, chrono::Utc::now().to_rfc3339())
                .await
                .map_err(root_err(&marker))?;
        }
        Ok(Guest {
            vm,
            ctx,
            endpoints: Vec::new(),
        })
    }

    /// The VM root directory on the host.
    pub fn root(&self) -> &Path {
        self.ctx.sandbox.root()
    }

    /// Starts an SSH endpoint on `addr` (port 0 picks one); returns the bound address.
    pub async fn listen(&mut self, addr: SocketAddr) -> Result<SocketAddr, GuestError> {
        let listen_err = |source| GuestError::Listen {
            vm: self.vm.clone(),
            addr,
            source,
        };
        let listener = TcpListener::bind(addr).await.map_err(listen_err)?;
        let bound = listener.local_addr().map_err(listen_err)?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(ssh::serve(listener, self.ctx.clone(), stop.clone()));
        self.endpoints.push((bound, stop, task));
        Ok(bound)
    }

    /// The SSH endpoints currently served.
    pub fn ssh_addrs(&self) -> Vec<SocketAddr> {
        self.endpoints.iter().map(|(a, _, _)| *a).collect()
    }

    /// Stops every endpoint and waits (bounded) for their sessions to end.
    pub async fn shutdown(mut self) {
        let endpoints = std::mem::take(&mut self.endpoints);
        for (_, stop, _) in &endpoints {
            stop.cancel();
        }
        for (_, _, task) in endpoints {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

fn load_or_create_host_key(dir: &Path) -> Result<PrivateKey, String> {
    let path = dir.join("ssh_host_ed25519_key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(k) = PrivateKey::from_openssh(text.as_bytes()) {
            return Ok(k);
        }
    }
    let seed: [u8; 32] = rand::random();
    let kp = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::from(kp);
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key)
}

/// Copies `from` into `to` recursively (regular files, directories and symlinks).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ft.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            let _ = std::fs::remove_file(&dest);
            std::os::unix::fs::symlink(target, &dest)?;
        } else if ft.is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, content)?;
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))?;
    }
    Ok(())
}

/// Makes a user's home (with `.ssh`) theirs, when sessions run under the user's uid.
fn give_home(plan: &BootstrapPlan, user: &str, home: &Path) -> std::io::Result<()> {
    let Some(uid) = identity::uid_of(plan, user).filter(|uid| *uid != 0) else {
        return Ok(());
    };
    if !identity::can_switch_users() {
        return Ok(());
    }
    for p in [
        home.to_path_buf(),
        home.join(".ssh"),
        home.join(".ssh/authorized_keys"),
    ] {
        if p.exists() {
            std::os::unix::fs::chown(&p, Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

/// The file-system part of first boot: image content, base directories, accounts, homes with
/// `authorized_keys`, `write_files`, vApp properties.
fn first_boot_files(
    root: &Path,
    image_content: Option<&Path>,
    plan: &BootstrapPlan,
    vm_name: &str,
) -> std::io::Result<()> {
    if let Some(content) = image_content.filter(|c| c.is_dir()) {
        copy_tree(content, root)?;
    }
    base_directories(root)?;
    let hostname = plan.hostname.clone().unwrap_or_else(|| vm_name.to_string());
    write_file(
        &root.join("etc/hostname"),
        format!("{hostname}\n").as_bytes(),
        None,
    )?;
    write_accounts(root, plan)?;
    for u in &plan.users {
        write_home(root, plan, u)?;
    }
    for wf in &plan.write_files {
        write_one_file(root, wf)?;
    }
    write_vapp_properties(root, plan)
}

/// The directories every guest has, with a sticky, world-writable `/tmp`.
fn base_directories(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in [
        "etc",
        "root",
        "home",
        "tmp",
        "var/log",
        "var/tmp",
        "var/lib/cloud/instance",
        "usr/local/bin",
        "usr/local/sbin",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
}

/// `/etc/passwd`, `/etc/group` and `/etc/sudoers` for root and the bootstrap's users, and the
/// `sudo` shim.
fn write_accounts(root: &Path, plan: &BootstrapPlan) -> std::io::Result<()> {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut group = String::from("root:x:0:\n");
    let mut sudoers = String::from("root ALL=(ALL:ALL) ALL\n");
    for u in &plan.users {
        let Some(uid) = identity::uid_of(plan, &u.name).filter(|uid| *uid != 0) else {
            continue;
        };
        let shell = u.shell.clone().unwrap_or_else(|| "/bin/sh".into());
        passwd.push_str(&format!("{0}:x:{uid}:{uid}::/home/{0}:{shell}\n", u.name));
        group.push_str(&format!("{}:x:{uid}:\n", u.name));
        if let Some(s) = &u.sudo {
            sudoers.push_str(&format!("{} {s}\n", u.name));
        }
    }
    write_file(&root.join("etc/passwd"), passwd.as_bytes(), Some(0o644))?;
    write_file(&root.join("etc/group"), group.as_bytes(), Some(0o644))?;
    write_file(&root.join("etc/sudoers"), sudoers.as_bytes(), Some(0o440))?;
    write_file(
        &root.join("usr/local/bin/sudo"),
        identity::SUDO_SHIM.as_bytes(),
        Some(0o755),
    )
}

/// A user's home with `.ssh` and its `authorized_keys`, owned by the user.
fn write_home(root: &Path, plan: &BootstrapPlan, u: &bootstrap::GuestUser) -> std::io::Result<()> {
    let home = if u.name == "root" {
        root.join("root")
    } else {
        root.join("home").join(&u.name)
    };
    std::fs::create_dir_all(home.join(".ssh"))?;
    if !u.authorized_keys.is_empty() {
        let mut keys = u.authorized_keys.join("\n");
        keys.push('\n');
        write_file(
            &home.join(".ssh/authorized_keys"),
            keys.as_bytes(),
            Some(0o600),
        )?;
    }
    give_home(plan, &u.name, &home)
}

/// One `write_files` entry (written or appended); one outside the VM root is skipped.
fn write_one_file(root: &Path, wf: &bootstrap::WriteFile) -> std::io::Result<()> {
    let Some(path) = sandbox::host_path(root, &wf.path) else {
        tracing::warn!(path = %wf.path, "write_files entry outside the VM root ignored");
        return Ok(());
    };
    if !wf.append {
        return write_file(&path, &wf.content, wf.permissions);
    }
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    f.write_all(&wf.content)
}

/// The vApp properties as `/etc/vapp-properties.json`, when there are any.
fn write_vapp_properties(root: &Path, plan: &BootstrapPlan) -> std::io::Result<()> {
    if plan.vapp_properties.is_empty() {
        return Ok(());
    }
    let map: serde_json::Map<String, serde_json::Value> = plan
        .vapp_properties
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let text = serde_json::to_vec_pretty(&map).map_err(std::io::Error::other)?;
    write_file(&root.join("etc/vapp-properties.json"), &text, Some(0o600))
}

/// Runs `runcmd` once, as root in the sandbox, logging to `/var/log/cloud-init-output.log`.
async fn run_first_boot_commands(ctx: &ssh::GuestCtx, limit: Duration) -> std::io::Result<()> {
    if ctx.plan.runcmd.is_empty() {
        return Ok(());
    }
    let root = ctx.sandbox.root();
    let mut script = String::from("#!/bin/sh\n");
    for c in &ctx.plan.runcmd {
        script.push_str(c);
        script.push('\n');
    }
    write_file(
        &root.join("var/lib/cloud/instance/scripts/runcmd"),
        script.as_bytes(),
        Some(0o700),
    )?;
    let log_path = root.join("var/log/cloud-init-output.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let log2 = log.try_clone()?;
    let run_as = sandbox::RunAs::root();
    let mut cmd = ctx.sandbox.command(
        &run_as,
        &[],
        &[
            "/bin/sh".to_string(),
            "/var/lib/cloud/instance/scripts/runcmd".to_string(),
        ],
    );
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(log))
        .stderr(std::process::Stdio::from(log2));
    let mut child = cmd.spawn()?;
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => {
            if !status.success() {
                // cloud-init logs a failed runcmd and boots anyway.
                tracing::warn!(root = %root.display(), %status, "guest runcmd failed");
            }
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let _ = child.kill().await;
            tracing::warn!(root = %root.display(), "guest runcmd timed out and was killed");
            Ok(())
        }
    }
}
