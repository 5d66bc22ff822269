//! The real Packer 1.6.6 drives the test builder (`examples/packer-builder-testkit.rs`,
//! `communicator = "ssh"`) against a throwaway OpenSSH server (`scripts/sshd-local.sh`): the
//! `shell`, `file` and `shell-local` provisioners over our Communicator server and the SSH
//! communicator, end to end.
//!
//! Needs `/usr/bin/packer` (or `PACKER_BIN`) and root (for sshd-local.sh); the test builder is
//! built on first use (or taken from `PACKER_TEST_BUILDER_BIN`).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::sshd::Sshd;

use super::harness::{prefixed, Work};

/// The test builder's source block for `sshd`.
fn source_block(sshd: &Sshd) -> String {
    format!(
        "source \"testkit\" \"x\" {{\n  communicator = \"ssh\"\n  ssh_host = \"127.0.0.1\"\n  \
         ssh_port = {}\n  ssh_username = \"{}\"\n  ssh_private_key_file = \"{}\"\n  \
         ssh_timeout = \"30s\"\n}}\n",
        sshd.port,
        sshd.user,
        sshd.key.display()
    )
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
        "{}build {{\n  sources = [\"source.testkit.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"echo out-1\", \"echo err-1 1>&2\", \"echo 'out-2 \\\"quoted\\\" $HOME'\", \
         \"echo err-2 >&2\"]\n  }}\n  provisioner \"shell\" {{\n    script = \"script.sh\"\n  }}\n}}\n",
        source_block(&sshd)
    );
    work.write("t.pkr.hcl", &tpl);
    let run = work.build("t.pkr.hcl", true);
    run.assert_ok();
    let out = run.remote_lines();
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
    let said: Vec<String> = run
        .say_lines()
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
        "{}build {{\n  sources = [\"source.testkit.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"echo before\", \"exit 7\"]\n  }}\n  provisioner \"shell\" {{\n    \
         inline = [\"echo never-reached\"]\n  }}\n}}\n",
        source_block(&sshd)
    );
    work.write("fail.pkr.hcl", &failing);
    let run = work.build("fail.pkr.hcl", false);
    run.assert_failed();
    let all = run.all();
    assert!(
        all.contains("Script exited with non-zero exit status: 7"),
        "{}",
        run.describe()
    );
    assert!(!all.contains("never-reached"), "{}", run.describe());

    let allowed = format!(
        "{}build {{\n  sources = [\"source.testkit.x\"]\n  provisioner \"shell\" {{\n    \
         inline = [\"exit 7\"]\n    valid_exit_codes = [0, 7]\n  }}\n  provisioner \"shell\" {{\n    \
         inline = [\"echo after-allowed\"]\n  }}\n}}\n",
        source_block(&sshd)
    );
    work.write("allowed.pkr.hcl", &allowed);
    let run = work.build("allowed.pkr.hcl", false);
    run.assert_ok();
    assert!(
        run.remote_lines().contains(&"after-allowed".to_string()),
        "{}",
        run.describe()
    );
}

#[test]
fn file_provisioner_uploads_and_downloads_files_and_directories() {
    let sshd = Sshd::start();
    let remote = PathBuf::from(sshd.remote_dir("packer-files"));
    let work = Work::new();
    work.write("up.txt", "hello file\n");
    work.write("tree/a.txt", "A\n");
    work.write("tree/sub/b.txt", "B\n");
    let r = remote.display();
    // Remote content for the downloads, made by the shell provisioner first.
    let tpl = format!(
        "{src}build {{\n  sources = [\"source.testkit.x\"]\n\
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
        src = source_block(&sshd),
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
    let remote = PathBuf::from(sshd.remote_dir("packer-big"));
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
        "{}build {{\n  sources = [\"source.testkit.x\"]\n  provisioner \"file\" {{\n    \
         source = \"big.bin\"\n    destination = \"{}\"\n  }}\n}}\n",
        source_block(&sshd),
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
            "type": "testkit",
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
        "source \"testkit\" \"x\" {\n  communicator = \"ssh\"\n  ssh_port = 99999\n}\n\
         build { sources = [\"source.testkit.x\"] }\n",
    );
    let run = work.build("t.pkr.hcl", false);
    run.assert_failed();
    let all = run.all();
    for want in [
        "ssh_host must be specified",
        "ssh_username must be specified",
        "ssh_port: 99999 is not a port number",
    ] {
        assert!(all.contains(want), "missing {want:?}\n{}", run.describe());
    }
}
