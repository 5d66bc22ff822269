//! Real Packer 1.6.6 (`/usr/bin/packer`) builds with the test plugin `packer-builder-testkit`:
//! ConfigSpec, Prepare, Run, Ui, Hook, Communicator (shell and file provisioners: start with
//! output streams, upload, upload dir, download) and Artifact, all through Go's side of the
//! protocol. Skipped (with a message) when Packer is not installed.
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_packer-builder-testkit");

fn packer() -> Option<&'static str> {
    Path::new("/usr/bin/packer")
        .exists()
        .then_some("/usr/bin/packer")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(BIN, dir.path().join("packer-builder-testkit")).unwrap();
    dir
}

#[test]
fn hcl_build_with_shell_and_file_provisioners() {
    let Some(packer) = packer() else {
        eprintln!("SKIP: /usr/bin/packer not installed");
        return;
    };
    let dir = setup();
    let d = dir.path();
    std::fs::write(d.join("upfile.txt"), "hello upload\n").unwrap();
    std::fs::create_dir(d.join("updir")).unwrap();
    std::fs::write(d.join("updir/inner.txt"), "inner\n").unwrap();
    let remote = d.join("remote");
    std::fs::create_dir(&remote).unwrap();
    let r = remote.display();
    let template = format!(
        r#"source "testkit" "x" {{
  communicator = "none"
}}
build {{
  sources = ["source.testkit.x"]
  provisioner "shell" {{
    inline = ["echo remote-hi", "echo to-stderr 1>&2", "echo $PACKER_BUILD_NAME > {r}/env.txt"]
    remote_folder = "{r}"
  }}
  provisioner "file" {{
    source = "upfile.txt"
    destination = "{r}/upfile.txt"
  }}
  provisioner "file" {{
    source = "updir"
    destination = "{r}/updir"
  }}
  provisioner "file" {{
    direction = "download"
    source = "{r}/upfile.txt"
    destination = "downloaded.txt"
  }}
}}
"#
    );
    std::fs::write(d.join("t.pkr.hcl"), template).unwrap();
    let out = Command::new(packer)
        .args(["build", "-machine-readable", "t.pkr.hcl"])
        .current_dir(d)
        .env("HOME", d)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "packer build failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("remote-hi"), "{stdout}");
    assert!(stdout.contains("to-stderr"), "{stdout}");
    assert!(
        stdout.contains("Using ssh communicator to connect"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Did not export anything. This is the null builder"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("upfile.txt")).unwrap(),
        "hello upload\n"
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("env.txt")).unwrap(),
        "x\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("downloaded.txt")).unwrap(),
        "hello upload\n"
    );
    let inner = ["updir/inner.txt", "updir/updir/inner.txt"]
        .iter()
        .any(|p| remote.join(p).exists());
    assert!(inner, "upload dir landed nowhere");
}

#[test]
fn json_build_run_error_reaches_packer() {
    let Some(packer) = packer() else {
        eprintln!("SKIP: /usr/bin/packer not installed");
        return;
    };
    let dir = setup();
    let d = dir.path();
    std::fs::write(
        d.join("t.json"),
        r#"{"builders":[{"type":"testkit","communicator":"none"}]}"#,
    )
    .unwrap();
    let out = Command::new(packer)
        .args(["build", "t.json"])
        .current_dir(d)
        .env("HOME", d)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TESTKIT_RUN", "fail")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("Timeout waiting for SSH."), "{stdout}");
}

#[test]
fn failing_remote_command_reports_its_exit_status() {
    let Some(packer) = packer() else {
        eprintln!("SKIP: /usr/bin/packer not installed");
        return;
    };
    let dir = setup();
    let d = dir.path();
    let r = d.display();
    let template = format!(
        r#"source "testkit" "x" {{
  communicator = "none"
}}
build {{
  sources = ["source.testkit.x"]
  provisioner "shell" {{
    inline = ["exit 3"]
    remote_folder = "{r}"
  }}
}}
"#
    );
    std::fs::write(d.join("t.pkr.hcl"), template).unwrap();
    let out = Command::new(packer)
        .args(["build", "t.pkr.hcl"])
        .current_dir(d)
        .env("HOME", d)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    // The gob CommandFinished carried 3 (an undecodable one would read 123).
    assert!(stdout.contains("non-zero exit status: 3"), "{stdout}");
}

/// The shipped plugin, installed the Packer 1.6 way (`packer-builder-vsphere-supervisor`
/// found in the working directory), through ConfigSpec (gob) and Prepare.
#[test]
fn real_plugin_validates_under_packer_1_6() {
    let Some(packer) = packer() else {
        eprintln!("SKIP: /usr/bin/packer not installed");
        return;
    };
    let bin = testkit::core::plugin_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(&bin, d.join("packer-builder-vsphere-supervisor")).unwrap();
    std::fs::write(
        d.join("t.pkr.hcl"),
        "source \"vsphere-supervisor\" \"x\" {\n  class_name = \"best-effort-small\"\n}\nbuild {\n  sources = [\"source.vsphere-supervisor.x\"]\n}\n",
    )
    .unwrap();
    let out = Command::new(packer)
        .args(["validate", "t.pkr.hcl"])
        .current_dir(d)
        .env("HOME", d)
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    // Packer decoded our gob spec (class_name accepted) and shows Prepare's problems.
    assert!(text.contains("storage_class: required"), "{text}");
    assert!(!text.contains("class_name: required"), "{text}");
    assert!(!text.contains("Unsupported argument"), "{text}");
}
