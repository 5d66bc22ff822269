//! The real Packer 1.6.6 drives the test builder with `communicator = "local"` (the local shell):
//! ConfigSpec, Prepare, Run, Ui, Hook, Communicator (the shell and file provisioners: start with
//! output streams, upload, upload dir, download) and Artifact, all through Go's side of the
//! protocol, with no sshd.
use super::harness::Work;

#[test]
fn hcl_build_with_shell_and_file_provisioners() {
    let work = Work::new();
    let d = work.path();
    work.write("upfile.txt", "hello upload\n");
    work.write("updir/inner.txt", "inner\n");
    let remote = d.join("remote");
    std::fs::create_dir(&remote).expect("create the 'remote' directory");
    let r = remote.display();
    let template = format!(
        r#"source "testkit" "x" {{
  communicator = "local"
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
    work.write("t.pkr.hcl", &template);
    let run = work.build_with(&["-machine-readable"], "t.pkr.hcl", false);
    run.assert_ok();
    let stdout = run.stdout();
    for want in [
        "remote-hi",
        "to-stderr",
        "Using the local shell as the communicator",
        "Provisioned the local machine (build \"x\")",
    ] {
        assert!(
            stdout.contains(want),
            "missing {want:?}\n{}",
            run.describe()
        );
    }
    let read = |p: std::path::PathBuf| {
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), run.describe()))
    };
    assert_eq!(read(remote.join("upfile.txt")), "hello upload\n");
    assert_eq!(read(remote.join("env.txt")), "x\n");
    assert_eq!(read(d.join("downloaded.txt")), "hello upload\n");
    let inner = ["updir/inner.txt", "updir/updir/inner.txt"]
        .iter()
        .any(|p| remote.join(p).exists());
    assert!(inner, "upload dir landed nowhere\n{}", run.describe());
}

#[test]
fn json_build_run_error_reaches_packer() {
    let work = Work::new();
    work.write(
        "t.json",
        r#"{"builders":[{"type":"testkit","communicator":"local","run_error":"Timeout waiting for SSH."}]}"#,
    );
    let run = work.build("t.json", false);
    run.assert_failed();
    assert!(
        run.stdout().contains("Timeout waiting for SSH."),
        "{}",
        run.describe()
    );
}

#[test]
fn failing_remote_command_reports_its_exit_status() {
    let work = Work::new();
    let r = work.path().display();
    let template = format!(
        r#"source "testkit" "x" {{
  communicator = "local"
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
    work.write("t.pkr.hcl", &template);
    let run = work.build("t.pkr.hcl", false);
    run.assert_failed();
    // The gob CommandFinished carried 3 (an undecodable one would read 123).
    assert!(
        run.stdout().contains("non-zero exit status: 3"),
        "{}",
        run.describe()
    );
}
