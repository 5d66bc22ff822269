//! Image import and the ISO flow, end to end with real Packer: an OVA imported over loopback
//! HTTP then built and published (imported image cleaned up), an import that fails at once
//! with the Supervisor's reason, and an ISO build that prints the web console URL and
//! provisions over SSH with the ISO's credentials.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

/// Serves every file of `dir` over HTTP/1.0 on 127.0.0.1 until the test process ends.
fn serve_dir(dir: &Path) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http");
    let port = listener.local_addr().expect("addr").port();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = dir.join(path.trim_start_matches('/'));
            let resp = match std::fs::read(&file) {
                Ok(body) => [
                    format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                        .into_bytes(),
                    body,
                ]
                .concat(),
                Err(_) => b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec(),
            };
            let _ = c.write_all(&resp);
        }
    });
    port
}

/// A small OVA: a tar holding an OVF descriptor and a disk.
fn make_ova(dir: &Path) {
    let work = dir.join("ova-src");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::write(
        work.join("photon.ovf"),
        "<?xml version=\"1.0\"?>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"><VirtualSystem ovf:id=\"photon\"/></Envelope>\n",
    )
    .expect("ovf");
    std::fs::write(work.join("photon-disk1.vmdk"), vec![0u8; 4096]).expect("vmdk");
    let ok = std::process::Command::new("tar")
        .arg("-cf")
        .arg(dir.join("photon.ova"))
        .arg("-C")
        .arg(&work)
        .args(["photon.ovf", "photon-disk1.vmdk"])
        .status()
        .expect("tar");
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_ova_then_build_publish_and_clean_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    let files = env.path().join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    make_ova(&files);
    let port = serve_dir(&files);
    let src = format!(
        r#"
  source_name                 = "e2e-import"
  import_source_url           = "http://127.0.0.1:{port}/photon.ova"
  import_target_location_name = "golden-images"
  import_target_image_name    = "photon-imported"
  import_request_name         = "e2e-import-req"
  clean_imported_image        = true
  ssh_username                = "packer"
  publish_location_name       = "golden-images"
  publish_image_name          = "photon-built"
"#
    );
    let body = "  provisioner \"shell\" {\n    inline = [\"echo provisioned-imported\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("provisioned-imported"), "{out}");
    let imported = lines_with(&out, "Imported http://127.0.0.1");
    assert_eq!(imported.len(), 1, "{out}");
    let vmi = imported[0]
        .rsplit("its image is ")
        .next()
        .expect("vmi name")
        .trim()
        .to_string();
    assert!(vmi.starts_with("vmi-"), "{vmi}");
    assert!(
        out.contains(&format!("Found namespace-scoped image {vmi}")),
        "{out}"
    );
    assert!(
        out.contains("Deleting ContentLibraryItemImportRequest demo/e2e-import-req"),
        "{out}"
    );
    assert!(
        out.contains("Deleting ContentLibraryItem demo/clitem-"),
        "{out}"
    );
    let c = env.cluster().await;
    assert!(c
        .api(&c.kinds.import_request)
        .get_opt("e2e-import-req")
        .await
        .expect("get")
        .is_none());
    // The imported image went with its item; the published one stays.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .api(&c.kinds.vmi)
        .get_opt(&vmi)
        .await
        .expect("get")
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "imported image {vmi} was not removed\n{out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let images = c
        .api(&c.kinds.vmi)
        .list(&Default::default())
        .await
        .expect("list");
    assert!(
        images.items.iter().any(
            |i| i.data.pointer("/status/name").and_then(|v| v.as_str()) == Some("photon-built")
        ),
        "{out}"
    );
    assert!(env.leftovers("e2e-import").await.is_empty(), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_from_unreachable_host_fails_at_once_with_the_reason() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name                 = "e2e-badimp"
  import_source_url           = "http://10.20.30.40/images/photon.ova"
  import_target_location_name = "golden-images"
  import_request_name         = "e2e-bad-req"
  ssh_username                = "packer"
"#;
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, ""));
    let started = Instant::now();
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(1), "{out}");
    // Far below the 600 s watch_import_timeout: the failure is seen, not waited out.
    assert!(started.elapsed() < Duration::from_secs(60), "{out}");
    assert!(out.contains("SourceURLHostInvalid"), "{out}");
    assert!(
        out.contains("Deleting ContentLibraryItemImportRequest demo/e2e-bad-req"),
        "{out}"
    );
    let c = env.cluster().await;
    assert!(c
        .api(&c.kinds.import_request)
        .get_opt("e2e-bad-req")
        .await
        .expect("get")
        .is_none());
    assert!(c
        .api(&c.kinds.vm)
        .get_opt("e2e-badimp")
        .await
        .expect("get")
        .is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iso_build_prints_console_url_and_provisions_with_iso_credentials() {
    let env = SimEnv::start(SimSetup::default()).await;
    let files = env.path().join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    std::fs::write(files.join("ubuntu-live.iso"), vec![0x43u8; 8192]).expect("iso");
    let port = serve_dir(&files);
    // The simulator's imported ISOs install an OS with the account ubuntu:ubuntu.
    let src = format!(
        r#"
  source_name                 = "e2e-iso"
  import_source_url           = "http://127.0.0.1:{port}/ubuntu-live.iso"
  import_target_location_name = "golden-images"
  import_request_name         = "e2e-iso-req"
  guest_os_type               = "ubuntu64Guest"
  iso_boot_disk_size          = "10Gi"
  ssh_username                = "ubuntu"
  ssh_password                = "ubuntu"
"#
    );
    let body =
        "  provisioner \"shell\" {\n    inline = [\"echo iso-provisioned as $LOGNAME\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("of type ISO"), "{out}");
    assert!(
        out.contains("Creating PersistentVolumeClaim demo/e2e-iso"),
        "{out}"
    );
    assert!(!out.contains("Creating Secret"), "{out}");
    assert!(
        out.contains("VM network config (use this to install the guest OS)"),
        "{out}"
    );
    let urls = lines_with(&out, "Web console URL");
    assert_eq!(urls.len(), 1, "{out}");
    assert!(
        urls[0].contains("https://127.0.0.1:9443/vm/web-console?host=")
            && urls[0].contains("&namespace=demo&port=902&ticket=")
            && urls[0].contains("&uuid="),
        "{out}"
    );
    assert!(out.contains("iso-provisioned as ubuntu"), "{out}");
    assert!(env.leftovers("e2e-iso").await.is_empty(), "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_iso_at_v1alpha3_uses_spec_cdrom() {
    let env = SimEnv::start(SimSetup {
        vmop_versions: Some(vec!["v1alpha3".to_string()]),
        ..SimSetup::default()
    })
    .await;
    let src = r#"
  source_name   = "e2e-iso3"
  image_name    = "ubuntu-24.04-iso"
  guest_os_type = "ubuntu64Guest"
  ssh_username  = "ubuntu"
  ssh_password  = "ubuntu"
"#;
    let body = "  provisioner \"shell\" {\n    inline = [\"echo seeded-iso as $LOGNAME\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, body));
    let run = env.build("b.pkr.hcl", &["-on-error=abort"]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("of type ISO"), "{out}");
    assert_eq!(lines_with(&out, "Web console URL").len(), 1, "{out}");
    assert!(out.contains("seeded-iso as ubuntu"), "{out}");
    env.stop().await;
}
