//! Real Packer 1.6.6 (`/usr/bin/packer`) against the shipped plugin, installed the Packer 1.6
//! way: ConfigSpec (gob) and Prepare through Go's side of the protocol. Skipped (with a
//! message) when Packer is not installed. (Builds with the test builder under real Packer are
//! the root package's end-to-end `comm::` tests.)
use std::path::Path;
use std::process::Command;

fn packer() -> Option<&'static str> {
    Path::new("/usr/bin/packer")
        .exists()
        .then_some("/usr/bin/packer")
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
