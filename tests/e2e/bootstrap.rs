//! Sysprep and vAppConfig builds with `communicator = "none"`: no service, no SSH, the hook
//! still runs (local provisioners work), the VM is published and everything else cleaned up.

use crate::common::*;

const LOCAL_AND_MANIFEST: &str = r#"
  provisioner "shell-local" {
    inline = ["echo local-provisioner-ran"]
  }
  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
"#;

async fn build_without_communicator(env: &SimEnv, source_name: &str, source_opts: &str) -> String {
    let src = format!(
        r#"
  source_name           = "{source_name}"
  communicator          = "none"
  publish_location_name = "golden-images"
  publish_image_name    = "{source_name}-golden"
{source_opts}
"#
    );
    env.write(
        "b.pkr.hcl",
        &template(&env.kubeconfig, &src, LOCAL_AND_MANIFEST),
    );
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        out.contains("Skip creating VirtualMachineService as communicator type is 'none'"),
        "{out}"
    );
    assert!(!out.contains("Waiting for SSH"), "{out}");
    assert!(out.contains("local-provisioner-ran"), "{out}");
    let manifest = std::fs::read_to_string(env.path().join("manifest.json")).expect("manifest");
    assert!(manifest.contains("\"artifact_id\": \"vmi-"), "{manifest}");
    assert_eq!(
        env.leftovers(source_name).await,
        Vec::<String>::new(),
        "{out}"
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysprep_build_without_communicator() {
    let env = SimEnv::start(SimSetup::default()).await;
    env.write(
        "unattend.yaml",
        r#"unattend: |
  <?xml version="1.0" encoding="utf-8"?>
  <unattend xmlns="urn:schemas-microsoft-com:unattend">
    <settings pass="oobeSystem">
      <component name="Microsoft-Windows-Shell-Setup">
        <UserAccounts><AdministratorPassword><Value>E2e-Passw0rd!</Value><PlainText>true</PlainText></AdministratorPassword></UserAccounts>
      </component>
    </settings>
  </unattend>
"#,
    );
    let out = build_without_communicator(
        &env,
        "e2e-sysprep",
        "  image_name = \"windows-2022\"\n  bootstrap_provider = \"Sysprep\"\n  bootstrap_data_file = \"unattend.yaml\"\n",
    )
    .await;
    assert!(out.contains("Creating Secret demo/e2e-sysprep"), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vappconfig_build_without_communicator() {
    let env = SimEnv::start(SimSetup::default()).await;
    env.write(
        "props.yaml",
        "hostname: e2e-vapp-host\nuser: packer\npassword: Vapp-Passw0rd!\n",
    );
    build_without_communicator(
        &env,
        "e2e-vapp",
        "  image_name = \"photon-5\"\n  bootstrap_provider = \"vAppConfig\"\n  bootstrap_data_file = \"props.yaml\"\n",
    )
    .await;
    // The guest saw the properties, and the capture holds them.
    let files = env.library_files("golden-images", "/etc/vapp-properties.json");
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("e2e-vapp-host"), "{text}");
    env.stop().await;
}
