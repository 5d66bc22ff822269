//! The real Packer 1.6.6 drives `examples/packer-builder-sshtest.rs` against a throwaway
//! OpenSSH server (`scripts/sshd-local.sh`): the `shell`, `file` and `shell-local` provisioners over our
//! Communicator server and the SSH communicator, end to end.
//!
//! Needs `/usr/bin/packer` (or `PACKER_BIN`), root (for sshd-local.sh) and the example binary,
//! which `cargo test` builds alongside this test (`cargo build --example packer-builder-sshtest`
//! when running this file alone).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Packer runs are serialized: the machine has two cores, and the 256 MiB upload's timing
/// should not depend on what else happens to run.
static PACKER: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sshd_script() -> PathBuf {
    match std::env::var_os("PACKER_SSHD_LOCAL") {
        Some(p) => PathBuf::from(p),
        None => workspace().join("scripts/sshd-local.sh"),
    }
}

fn packer_bin() -> PathBuf {
    std::env::var_os("PACKER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/packer"))
}

/// The example binary: `target/<profile>/examples/`, beside this test's `deps/` directory.
fn plugin_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let p = profile_dir.join("examples/packer-builder-sshtest");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo test` (it builds examples) or \
         `cargo build --example packer-builder-sshtest` first",
        p.display()
    );
    p
}

/// A throwaway sshd, stopped on drop.
struct Sshd {
    port: u16,
    user: String,
    key: PathBuf,
    dir: PathBuf,
}

impl Sshd {
    fn start() -> Sshd {
        let script = sshd_script();
        assert!(
            script.is_file(),
            "sshd-local.sh not found at {} (set PACKER_SSHD_LOCAL)",
            script.display()
        );
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("run sshd-local.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sshd-local.sh failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("export "))
            .expect("sshd-local.sh printed no export line");
        let var = |k: &str| {
            line.trim_start_matches("export ")
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
        };
        Sshd {
            port: var("SSHD_PORT").parse().expect("SSHD_PORT"),
            user: var("SSH_USER"),
            key: PathBuf::from(var("SSH_KEY")),
            dir: PathBuf::from(var("SSHD_DIR")),
        }
    }

    /// A fresh directory owned by the SSH user (the server is this machine, so the test can
    /// inspect it directly).
    fn remote_dir(&self, name: &str) -> PathBuf {
        let d = PathBuf::from(format!(
            "/home/{}/comm-packer-{name}-{}",
            self.user,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create remote dir");
        let st = Command::new("chown")
            .args(["-R", &format!("{0}:{0}", self.user)])
            .arg(&d)
            .status()
            .expect("chown");
        assert!(st.success());
        d
    }

    fn source_block(&self, extra: &str) -> String {
        format!(
            "source \"sshtest\" \"x\" {{\n  communicator = \"ssh\"\n  ssh_host = \"127.0.0.1\"\n  \
             ssh_port = {}\n  ssh_username = \"{}\"\n  ssh_private_key_file = \"{}\"\n  \
             ssh_timeout = \"30s\"\n{extra}}}\n",
            self.port,
            self.user,
            self.key.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(sshd_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// A working directory with the plugin beside the template.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::Builder::new()
            .prefix("comm-packer-")
            .tempdir()
            .expect("temp dir");
        std::os::unix::fs::symlink(plugin_bin(), dir.path().join("packer-builder-sshtest"))
            .expect("symlink plugin");
        std::fs::create_dir_all(dir.path().join("home")).expect("home");
        Work { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `packer build` of `template` (a file name in the work dir), bounded in time.
    fn build(&self, template: &str, log: bool) -> Run {
        let _serial = PACKER.lock().unwrap_or_else(|p| p.into_inner());
        let mut cmd = Command::new(packer_bin());
        cmd.args(["build", "-color=false", template])
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

struct Run {
    out: Output,
    secs: f64,
    log: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn describe(&self) -> String {
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
    fn assert_ok(&self) {
        assert!(self.out.status.success(), "{}", self.describe());
    }
    fn assert_failed(&self) {
        assert!(!self.out.status.success(), "{}", self.describe());
    }
    /// Remote stdout lines as Packer prints them for build `sshtest.x` (`ui.Message`), prefix
    /// removed.
    fn remote_lines(text: &str) -> Vec<String> {
        prefixed(text, "    sshtest.x: ")
    }
    /// Remote stderr lines (`ui.Error`, which Packer prints as `==> sshtest.x: …`) and the
    /// builder's own `ui.Say` lines.
    fn say_lines(text: &str) -> Vec<String> {
        prefixed(text, "==> sshtest.x: ")
    }
}

fn prefixed(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn shell_output_is_streamed_exactly_and_separately() {
    let sshd = Sshd::start();
    let work = Work::new();
    work.write(
        "script.sh",
        "#!/bin/sh\necho \"script-out $((6*7))\"\necho 'script-err  two  spaces' 1>&2\n\
         printf 'no-newline-at-end'\n",
    );
    let tpl = format!(
        "{}build {{\n  sources = [\"source.sshtest.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"echo out-1\", \"echo err-1 1>&2\", \"echo 'out-2 \\\"quoted\\\" $HOME'\", \
         \"echo err-2 >&2\"]\n  }}\n  provisioner \"shell\" {{\n    script = \"script.sh\"\n  }}\n}}\n",
        sshd.source_block("")
    );
    work.write("t.pkr.hcl", &tpl);
    let run = work.build("t.pkr.hcl", true);
    run.assert_ok();
    let out = Run::remote_lines(&run.stdout());
    assert_eq!(
        out,
        [
            "out-1".to_string(),
            "out-2 \"quoted\" $HOME".to_string(),
            "script-out 42".to_string(),
            "no-newline-at-end".to_string(),
        ],
        "{}",
        run.describe()
    );
    // stderr comes back through ui.Error: the other prefix, and never as stdout.
    let said: Vec<String> = Run::say_lines(&run.stdout())
        .into_iter()
        .filter(|l| l.starts_with("err-") || l.starts_with("script-err"))
        .collect();
    assert_eq!(
        said,
        ["err-1", "err-2", "script-err  two  spaces"],
        "{}",
        run.describe()
    );
}

#[test]
fn shell_exit_codes_fail_the_build_or_are_allowed() {
    let sshd = Sshd::start();
    let work = Work::new();
    let failing = format!(
        "{}build {{\n  sources = [\"source.sshtest.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"echo before\", \"exit 7\"]\n  }}\n  provisioner \"shell\" {{\n    \
         inline = [\"echo never-reached\"]\n  }}\n}}\n",
        sshd.source_block("")
    );
    work.write("fail.pkr.hcl", &failing);
    let run = work.build("fail.pkr.hcl", false);
    run.assert_failed();
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        all.contains("Script exited with non-zero exit status: 7"),
        "{}",
        run.describe()
    );
    assert!(!all.contains("never-reached"), "{}", run.describe());

    let allowed = format!(
        "{}build {{\n  sources = [\"source.sshtest.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"exit 7\"]\n    valid_exit_codes = [0, 7]\n  }}\n  provisioner \"shell\" {{\n    \
         inline = [\"echo after-allowed\"]\n  }}\n}}\n",
        sshd.source_block("")
    );
    work.write("allowed.pkr.hcl", &allowed);
    let run = work.build("allowed.pkr.hcl", false);
    run.assert_ok();
    assert!(
        Run::remote_lines(&run.stdout()).contains(&"after-allowed".to_string()),
        "{}",
        run.describe()
    );
}

#[test]
fn file_provisioner_uploads_and_downloads_files_and_directories() {
    let sshd = Sshd::start();
    let remote = sshd.remote_dir("files");
    let work = Work::new();
    work.write("up.txt", "hello file\n");
    work.write("tree/a.txt", "A\n");
    work.write("tree/sub/b.txt", "B\n");
    let r = remote.display();
    // Remote content for the downloads, made by the shell provisioner first.
    let tpl = format!(
        "{src}build {{\n  sources = [\"source.sshtest.x\"]\n\
         provisioner \"file\" {{\n    source = \"up.txt\"\n    destination = \"{r}/up.txt\"\n  }}\n\
         provisioner \"shell\" {{\n    inline = [\"mkdir -p {r}/with {r}/without {r}/dl/inner\", \
         \"printf remote-data > {r}/dl/inner/c.txt\", \"printf top > {r}/dl/top.txt\"]\n  }}\n\
         provisioner \"file\" {{\n    source = \"tree\"\n    destination = \"{r}/without\"\n  }}\n\
         provisioner \"file\" {{\n    source = \"tree/\"\n    destination = \"{r}/with\"\n  }}\n\
         provisioner \"file\" {{\n    source = \"tree\"\n    destination = \"{r}/fresh\"\n  }}\n\
         provisioner \"file\" {{\n    direction = \"download\"\n    source = \"{r}/up.txt\"\n    \
         destination = \"down.txt\"\n  }}\n\
         provisioner \"file\" {{\n    direction = \"download\"\n    source = \"{r}/dl/\"\n    \
         destination = \"downdir/\"\n  }}\n}}\n",
        src = sshd.source_block(""),
    );
    work.write("t.pkr.hcl", &tpl);
    let run = work.build("t.pkr.hcl", true);
    run.assert_ok();
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).unwrap_or_else(|e| {
            panic!("{}: {e}\n{}", p.display(), run.describe());
        })
    };
    assert_eq!(read(remote.join("up.txt")), "hello file\n");
    // Without a trailing slash the directory itself is copied into the destination…
    assert_eq!(read(remote.join("without/tree/a.txt")), "A\n");
    assert_eq!(read(remote.join("without/tree/sub/b.txt")), "B\n");
    // …unless the destination does not exist yet: then, as with Go's scp, it becomes the copy.
    assert_eq!(read(remote.join("fresh/a.txt")), "A\n");
    assert_eq!(read(remote.join("fresh/sub/b.txt")), "B\n");
    // …with one, only its contents.
    assert_eq!(read(remote.join("with/a.txt")), "A\n");
    assert_eq!(read(remote.join("with/sub/b.txt")), "B\n");
    assert!(!remote.join("with/tree").exists());
    assert_eq!(read(work.path().join("down.txt")), "hello file\n");
    // Like Packer's Go communicator, a directory download creates the directory itself
    // inside the destination.
    assert_eq!(
        read(work.path().join("downdir/dl/inner/c.txt")),
        "remote-data"
    );
    assert_eq!(read(work.path().join("downdir/dl/top.txt")), "top");
    let _ = std::fs::remove_dir_all(&remote);
}

#[test]
fn upload_of_256_mib_arrives_intact() {
    const MIB: usize = 256;
    let sshd = Sshd::start();
    let remote = sshd.remote_dir("big");
    let work = Work::new();
    let local = work.path().join("big.bin");
    {
        // Streamed to disk one MiB at a time; the file is never held in memory.
        let f = std::fs::File::create(&local).expect("create big file");
        let mut w = std::io::BufWriter::new(f);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..MIB {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            w.write_all(&block).expect("write big file");
        }
        w.flush().expect("flush big file");
    }
    let dst = remote.join("big.bin");
    let tpl = format!(
        "{}build {{\n  sources = [\"source.sshtest.x\"]\n  provisioner \"file\" {{\n    \
         source = \"big.bin\"\n    destination = \"{}\"\n  }}\n}}\n",
        sshd.source_block(""),
        dst.display()
    );
    work.write("t.pkr.hcl", &tpl);
    let run = work.build("t.pkr.hcl", false);
    run.assert_ok();
    eprintln!(
        "256 MiB upload through packer build: {:.1} s ({:.0} MB/s including packer start-up)",
        run.secs,
        (MIB << 20) as f64 / 1e6 / run.secs
    );
    let len = std::fs::metadata(&dst).map(|m| m.len()).unwrap_or(0);
    assert_eq!(len, (MIB as u64) << 20, "{}", run.describe());
    assert_eq!(sha256sum(&dst), sha256sum(&local));
    // Generous for a loaded CI machine; the target is a few seconds (see bench/).
    assert!(
        run.secs < 60.0,
        "256 MiB upload took {:.1} s: a performance regression",
        run.secs
    );
    let _ = std::fs::remove_dir_all(&remote);
}

#[test]
fn json_template_with_shell_local_and_shell() {
    let sshd = Sshd::start();
    let work = Work::new();
    let tpl = serde_json::json!({
        "variables": {"greeting": "hi"},
        "builders": [{
            "type": "sshtest",
            "name": "x",
            "communicator": "ssh",
            "ssh_host": "127.0.0.1",
            "ssh_port": sshd.port,
            "ssh_username": sshd.user,
            "ssh_private_key_file": sshd.key.display().to_string(),
            "ssh_timeout": "30s"
        }],
        "provisioners": [
            {"type": "shell-local", "inline": ["echo local-{{user `greeting`}} > local-marker.txt", "echo local-done"]},
            {"type": "shell", "inline": ["echo remote-{{user `greeting`}}"]}
        ]
    });
    work.write("t.json", &tpl.to_string());
    let run = work.build("t.json", true);
    run.assert_ok();
    // JSON templates name the build by its `name` alone.
    let lines = prefixed(&run.stdout(), "    x: ");
    assert!(
        lines.contains(&"local-done".to_string()),
        "{}",
        run.describe()
    );
    assert!(
        lines.contains(&"remote-hi".to_string()),
        "{}",
        run.describe()
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("local-marker.txt")).unwrap_or_default(),
        "local-hi\n"
    );
}

#[test]
fn prepare_errors_reach_the_user() {
    let work = Work::new();
    work.write(
        "t.pkr.hcl",
        "source \"sshtest\" \"x\" {\n  communicator = \"ssh\"\n  ssh_port = 99999\n}\n\
         build { sources = [\"source.sshtest.x\"] }\n",
    );
    let run = work.build("t.pkr.hcl", false);
    run.assert_failed();
    let all = format!("{}{}", run.stdout(), run.stderr());
    for want in [
        "ssh_host must be specified",
        "ssh_username must be specified",
        "ssh_port: 99999 is not a port number",
    ] {
        assert!(all.contains(want), "missing {want:?}\n{}", run.describe());
    }
}
