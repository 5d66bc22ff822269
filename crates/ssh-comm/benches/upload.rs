//! Uploads 256 MiB to a local OpenSSH server with this crate (scp and sftp) and with OpenSSH's
//! own `scp`, in the same run, and prints MB/s and the ratio. Also reports this process's peak
//! RSS during each of our uploads (the plugin's memory bound).
//!
//! `cargo bench -p ssh-comm --bench upload` (needs root for sshd-local.sh); size override:
//! `SSH_BENCH_MIB=64`.
#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::time::Instant;

use ssh_comm::{CancellationToken, Session, TransferMethod};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // "5" resets VmHWM to the current RSS (Linux >= 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let mib: u64 = std::env::var("SSH_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = mib * 1024 * 1024;
    let sshd = common::Sshd::start();
    let dir = sshd.remote_dir("bench");
    let local = tempfile::NamedTempFile::new().expect("temp file");
    {
        let mut f = std::io::BufWriter::new(local.as_file());
        let block = common::pattern(1024 * 1024, 42);
        for _ in 0..mib {
            f.write_all(&block).expect("write source");
        }
        f.flush().expect("flush source");
    }
    let mbps = |secs: f64| size as f64 / 1e6 / secs;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut ours = Vec::new();
    for method in [TransferMethod::Scp, TransferMethod::Sftp] {
        let secs = rt.block_on(async {
            let mut o = sshd.opts();
            o.transfer = method;
            let s = Session::connect(&o, &CancellationToken::new())
                .await
                .expect("connect");
            let f = tokio::fs::File::open(local.path())
                .await
                .expect("open source");
            reset_peak_rss();
            let t0 = Instant::now();
            s.upload(&format!("{dir}/ours-{method:?}"), f, Some(size), 0o644)
                .await
                .expect("upload");
            t0.elapsed().as_secs_f64()
        });
        let got = std::fs::metadata(format!("{dir}/ours-{method:?}"))
            .map(|m| m.len())
            .unwrap_or(0);
        assert_eq!(got, size, "{method:?} upload incomplete");
        let rss = peak_rss_kib();
        println!(
            "ssh-comm {:<5} {mib} MiB: {secs:6.2} s  {:8.1} MB/s  peak RSS {:.1} MiB",
            format!("{method:?}"),
            mbps(secs),
            rss as f64 / 1024.0
        );
        ours.push(secs);
    }

    // OpenSSH with its default cipher (chacha20-poly1305) and with the AES-GCM we prefer.
    let mut theirs = Vec::new();
    for (label, cipher) in [
        ("default", None),
        ("aes128-gcm", Some("aes128-gcm@openssh.com")),
    ] {
        let mut cmd = std::process::Command::new("scp");
        cmd.args(["-q", "-i"])
            .arg(&sshd.key)
            .args(["-P", &sshd.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=yes"]);
        if let Some(c) = cipher {
            cmd.args(["-c", c]);
        }
        cmd.arg(local.path())
            .arg(format!("{}@127.0.0.1:{dir}/openssh", sshd.user));
        let t0 = Instant::now();
        let st = cmd.status().expect("run scp");
        let secs = t0.elapsed().as_secs_f64();
        assert!(st.success(), "OpenSSH scp failed");
        println!(
            "OpenSSH  scp ({label:<10}) {mib} MiB: {secs:6.2} s  {:8.1} MB/s",
            mbps(secs)
        );
        theirs.push(secs);
    }
    println!(
        "time ratio ssh-comm scp / OpenSSH scp: {:.2}x (default cipher), {:.2}x (same cipher); sftp {:.2}x / {:.2}x",
        ours[0] / theirs[0],
        ours[0] / theirs[1],
        ours[1] / theirs[0],
        ours[1] / theirs[1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
