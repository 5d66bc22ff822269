//! Real Packer 1.6.6 → our plugin → supervisor-sim with every timeout option at the largest
//! value Prepare accepts: the build runs, publishes and cleans up as with small values (no
//! deadline overflows; the saturating arithmetic itself is unit-tested in `kube::wait` and
//! `ssh-comm`'s session).

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_with_every_timeout_at_its_maximum_succeeds_and_cleans_up() {
    let env = SimEnv::start(SimSetup::default()).await;
    let source_name = "src-bounds";
    let tpl = template(
        &env.kubeconfig,
        &format!(
            r#"
  source_name               = "{source_name}"
  image_name                = "ubuntu-24.04"
  ssh_username              = "packer"
  ssh_timeout               = "24h"
  ssh_read_write_timeout    = "24h"
  ssh_keep_alive_interval   = "1h"
  ssh_handshake_attempts    = 1000
  watch_source_timeout_sec  = 86400
  watch_publish_timeout_sec = 86400
  publish_location_name     = "golden-images"
  publish_image_name        = "{source_name}-golden"
  publish_request_ttl_sec   = 31536000
"#
        ),
        r#"
  provisioner "shell" {
    inline = ["echo bounds-ok"]
  }
"#,
    );
    env.write("build.pkr.hcl", &tpl);
    let run = env.build("build.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("bounds-ok"), "{out}");
    assert!(
        !out.contains("PACKER CRASH") && !out.contains("panic"),
        "{out}"
    );
    assert!(out.contains("Publish request: complete"), "{out}");
    assert_eq!(
        env.leftovers(source_name).await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}
