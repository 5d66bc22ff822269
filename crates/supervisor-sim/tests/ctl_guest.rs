//! Simulated guests: bootstrap applied to the VM root, real OpenSSH clients against the guest's
//! russh endpoint, commands sandboxed inside the VM root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use supervisor_sim::guest::bootstrap::{apply_cloud_init, apply_sysprep, BootstrapPlan};
use supervisor_sim::guest::{Guest, GuestConfig};

fn keygen(dir: &Path) -> (PathBuf, String) {
    keygen_type(dir, "ed25519")
}

fn keygen_type(dir: &Path, kind: &str) -> (PathBuf, String) {
    let key = dir.join(format!("id_{kind}"));
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    (key, public.trim().to_string())
}

fn ssh_base(port: u16) -> Command {
    let mut c = Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        "-p",
    ])
    .arg(port.to_string());
    c
}

async fn run(mut c: Command) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || c.output().expect("client runs")),
    )
    .await
    .expect("client finished in time")
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_init_guest_serves_ssh_exec_scp_sftp_inside_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    // Packer's own temporary keys are RSA: rsa-sha2 signatures must verify too.
    let (rsa_key, rsa_public) = keygen_type(tmp.path(), "rsa");
    let image = tmp.path().join("image");
    std::fs::create_dir_all(image.join("etc")).unwrap();
    std::fs::write(
        image.join("etc/os-release"),
        "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n",
    )
    .unwrap();
    let user_data = format!(
        "#cloud-config\nssh_pwauth: true\nusers:\n  - name: packer\n    plain_text_passwd: pw\n    lock_passwd: false\n    shell: /bin/bash\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys:\n      - {public}\n      - {rsa_public}\nwrite_files:\n  - path: /etc/written\n    content: hello\nruncmd:\n  - echo ran-at-boot > /var/tmp/boot\n  - [sh, -c, 'echo from-runcmd']\n"
    );
    let mut plan = BootstrapPlan::default();
    apply_cloud_init(&mut plan, user_data.as_bytes()).unwrap();
    let state = tmp.path().join("state");
    let mut guest = Guest::boot(
        &GuestConfig::default(),
        &state,
        "ns",
        "vm1",
        Some(&image),
        plan,
    )
    .await
    .expect("guest boots");
    let root = guest.root().to_path_buf();
    assert_eq!(
        std::fs::read_to_string(root.join("etc/written")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("var/tmp/boot")).unwrap(),
        "ran-at-boot\n"
    );
    let log = std::fs::read_to_string(root.join("var/log/cloud-init-output.log")).unwrap();
    assert!(log.contains("from-runcmd"), "{log}");
    let addr = guest.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();

    // exec: stdout/stderr separated, exit status, writes land inside the VM root.
    let host_marker = format!("/tmp/ctl-guest-{}", std::process::id());
    let mut c = ssh_base(addr.port());
    c.args(["-o", "BatchMode=yes", "-i"]).arg(&key).arg("packer@127.0.0.1").arg(format!(
        "echo out; echo err >&2; echo x | sudo tee /etc/x >/dev/null; echo t > {host_marker}; cat /etc/os-release; echo $HOME; echo user=$(id -un); touch /etc/y 2>/dev/null || echo etc-refused; exit 7"
    ));
    let out = run(c).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("out\n"), "{stdout}");
    assert!(stdout.contains("VERSION_ID=\"22.04\""), "{stdout}");
    assert!(stdout.contains("/home/packer"), "{stdout}");
    // Commands run as the login, not as root: /etc needs sudo.
    assert!(stdout.contains("user=packer\n"), "{stdout}");
    assert!(stdout.contains("etc-refused\n"), "{stdout}");
    assert!(!root.join("etc/y").exists());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "err");
    assert!(root.join("etc/x").exists());
    assert!(root.join(host_marker.trim_start_matches('/')).exists());
    assert!(
        !Path::new(&host_marker).exists(),
        "sandbox escaped to the host /tmp"
    );

    let mut c = ssh_base(addr.port());
    c.args(["-o", "BatchMode=yes", "-i"])
        .arg(&rsa_key)
        .arg("packer@127.0.0.1")
        .arg("echo rsa-ok");
    let out = run(c).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "rsa-ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Packer-style privilege escalation works: passwordless sudo for the cloud-config's user.
    let mut c = ssh_base(addr.port());
    c.args(["-o", "BatchMode=yes", "-i"])
        .arg(&key)
        .arg("packer@127.0.0.1")
        .arg("echo 'pw' | sudo -S -E sh -c 'id -u'; sudo -n -u root true && echo sudo-ok");
    let out = run(c).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0\nsudo-ok\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // stdin reaches the command.
    let mut c = ssh_base(addr.port());
    c.arg("-i")
        .arg(&key)
        .arg("packer@127.0.0.1")
        .arg("cat > /tmp/in; wc -c < /tmp/in");
    c.stdin(std::fs::File::open(root.join("etc/os-release")).unwrap());
    let out = run(c).await;
    let n = std::fs::metadata(root.join("etc/os-release"))
        .unwrap()
        .len();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n.to_string());

    // scp (legacy protocol, runs `scp -t` in the sandbox) and sftp-backed scp.
    let local = tmp.path().join("upload.txt");
    std::fs::write(&local, "payload").unwrap();
    for (mode, dest) in [("-O", "/tmp/legacy.txt"), ("-s", "/tmp/sftp.txt")] {
        let mut c = Command::new("scp");
        c.args([
            "-F",
            "/dev/null",
            mode,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-P",
        ])
        .arg(addr.port().to_string())
        .arg("-i")
        .arg(&key)
        .arg(&local)
        .arg(format!("packer@127.0.0.1:{dest}"));
        let out = run(c).await;
        assert!(
            out.status.success(),
            "scp {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(root.join(dest.trim_start_matches('/'))).unwrap(),
            "payload"
        );
    }

    // A key that is not in the bootstrap data is refused.
    let other = tempfile::tempdir().unwrap();
    let (other_key, _) = keygen(other.path());
    let mut c = ssh_base(addr.port());
    c.arg("-i")
        .arg(&other_key)
        .arg("packer@127.0.0.1")
        .arg("true");
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(255));

    guest.shutdown().await;
    // After shutdown nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysprep_guest_accepts_administrator_password_only() {
    let tmp = tempfile::tempdir().unwrap();
    let xml = "<unattend><UserAccounts><AdministratorPassword><Value>Adm1n!</Value><PlainText>true</PlainText></AdministratorPassword></UserAccounts></unattend>";
    let mut plan = BootstrapPlan::default();
    apply_sysprep(&mut plan, xml.as_bytes());
    let mut guest = Guest::boot(&GuestConfig::default(), tmp.path(), "ns", "win", None, plan)
        .await
        .unwrap();
    let addr = guest.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    // OpenSSH cannot take a password non-interactively; use SSH_ASKPASS.
    let askpass = tmp.path().join("askpass.sh");
    for (pw, want) in [("Adm1n!", Some(0)), ("wrong", Some(255))] {
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{pw}'\n")).unwrap();
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(&askpass)
            .status()
            .unwrap();
        let mut c = ssh_base(addr.port());
        c.args([
            "-o",
            "BatchMode=no",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "NumberOfPasswordPrompts=1",
        ])
        .arg("Administrator@127.0.0.1")
        .arg("echo ok")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(std::process::Stdio::null());
        let out = run(c).await;
        assert_eq!(
            out.status.code(),
            want,
            "pw {pw}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    guest.shutdown().await;
}

#[tokio::test]
async fn missing_bubblewrap_fails_the_guest_instead_of_running_unsandboxed() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = GuestConfig {
        bwrap: PathBuf::from("/nonexistent/bwrap"),
        ..GuestConfig::default()
    };
    let err = match Guest::boot(&cfg, tmp.path(), "ns", "vm", None, BootstrapPlan::default()).await
    {
        Ok(_) => panic!("guest booted without a sandbox"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("bubblewrap sandbox unavailable"), "{err}");
    assert!(!tmp.path().join("vms/ns/vm/root").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vapp_properties_are_recorded_and_gzip_base64_user_data_is_honoured() {
    use base64::Engine;
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (key, public) = keygen(tmp.path());
    let ud = format!("#cloud-config\nusers:\n  - name: ops\n    ssh_authorized_keys: [\"{public}\"]\nwrite_files:\n  - path: /etc/from-vapp\n    content: yes\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ud.as_bytes()).unwrap();
    let ud_b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let mut plan = BootstrapPlan::default();
    supervisor_sim::guest::bootstrap::apply_vapp(
        &mut plan,
        &[
            ("guestinfo.userdata".into(), ud_b64),
            ("hostname".into(), "appliance".into()),
            ("password".into(), "vapp-pw".into()),
        ],
    )
    .unwrap();
    let mut guest = Guest::boot(
        &GuestConfig::default(),
        tmp.path(),
        "ns",
        "vapp",
        None,
        plan,
    )
    .await
    .unwrap();
    let root = guest.root().to_path_buf();
    let props: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("etc/vapp-properties.json")).unwrap())
            .unwrap();
    assert_eq!(props["hostname"], "appliance");
    assert_eq!(props["password"], "vapp-pw");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/from-vapp")).unwrap(),
        "yes"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "appliance\n"
    );
    let addr = guest.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let mut c = ssh_base(addr.port());
    c.args(["-o", "BatchMode=yes", "-i"])
        .arg(&key)
        .arg("ops@127.0.0.1")
        .arg("hostname; cat /etc/hostname");
    let out = run(c).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "appliance\nappliance\n"
    );
    guest.shutdown().await;
}
