//! Real Packer 1.6.6 → our plugin → supervisor-sim: the SSH communicator options that the
//! reference documents, each doing what the page says (issue 9, item 1).

use std::time::{Duration, Instant};

use crate::common::*;
use testkit::socks5::Socks5Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_through_a_socks5_proxy_provisions_and_publishes() {
    let env = SimEnv::start(SimSetup::default()).await;
    let proxy = Socks5Server::start(Some(("proxy-user", "proxy-pass")));
    let src = format!(
        r#"
  source_name             = "e2e-socks"
  image_name              = "ubuntu-24.04"
  ssh_username            = "packer"
  ssh_timeout             = "1m"
  ssh_proxy_host          = "127.0.0.1"
  ssh_proxy_port          = {port}
  ssh_proxy_username      = "proxy-user"
  ssh_proxy_password      = "proxy-pass"
  temporary_key_pair_name = "packer_e2e-socks-key"
  publish_location_name   = "golden-images"
  publish_image_name      = "e2e-socks-golden"
"#,
        port = proxy.port
    );
    let body = r#"
  provisioner "shell" {
    inline = ["echo via-proxy-$(hostname)", "echo authorized: $(cat ~/.ssh/authorized_keys)"]
  }
"#;
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("via-proxy-"), "{out}");
    assert!(out.contains("Publish request: complete"), "{out}");
    // Every SSH connection went through the proxy, to the VM's SSH port.
    let relayed = proxy.relayed();
    assert!(!relayed.is_empty(), "the proxy saw no connection: {out}");
    assert!(relayed.iter().all(|t| t.ends_with(":22")), "{relayed:?}");
    // temporary_key_pair_name is the comment of the key the build installed.
    let authorized = lines_with(&out, "authorized: ");
    assert!(
        authorized
            .iter()
            .any(|l| l.contains("ssh-ed25519 ") && l.trim_end().ends_with("packer_e2e-socks-key")),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-socks").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_proxy_fails_the_build_at_once_naming_it() {
    let env = SimEnv::start(SimSetup::default()).await;
    let proxy = Socks5Server::start(Some(("proxy-user", "proxy-pass")));
    let src = format!(
        r#"
  source_name        = "e2e-socks-bad"
  image_name         = "ubuntu-24.04"
  ssh_username       = "packer"
  ssh_timeout        = "2m"
  ssh_proxy_host     = "127.0.0.1"
  ssh_proxy_port     = {port}
  ssh_proxy_username = "proxy-user"
  ssh_proxy_password = "wrong"
"#,
        port = proxy.port
    );
    let body = "  provisioner \"shell\" {\n    inline = [\"echo never\"]\n  }\n";
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, body));
    let started = Instant::now();
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_ne!(run.code, Some(0), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "not retried until ssh_timeout"
    );
    assert!(
        out.contains(&format!(
            "socks5 proxy 127.0.0.1:{}: authentication: the proxy rejected username \"proxy-user\"",
            proxy.port
        )),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-socks-bad").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communicator_none_runs_shell_local_and_fails_a_remote_provisioner_at_once() {
    let env = SimEnv::start(SimSetup::default()).await;
    let src = r#"
  source_name  = "e2e-nocomm"
  image_name   = "ubuntu-24.04"
  communicator = "none"
"#;
    // While provisioning runs the VM exists, but no VirtualMachineService was made for it.
    let kubectl = |kind: &str| {
        format!(
            "echo {kind}=$(kubectl --kubeconfig {} get {kind} -n {NAMESPACE} -o name | wc -l)",
            env.kubeconfig.display()
        )
    };
    let body = format!(
        r#"
  provisioner "shell-local" {{
    inline = ["echo local-ran", "{}", "{}"]
  }}
  provisioner "shell" {{
    inline = ["echo remote-ran"]
  }}
"#,
        kubectl("virtualmachines"),
        kubectl("virtualmachineservices")
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, src, &body));
    let started = Instant::now();
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_ne!(run.code, Some(0), "{out}");
    // Not the shell provisioner's 5-minute start_retry_timeout.
    assert!(started.elapsed() < Duration::from_secs(60), "{out}");
    assert!(
        out.contains("local-ran") && !out.contains("remote-ran"),
        "{out}"
    );
    assert!(
        out.contains("Skip creating VirtualMachineService as communicator type is 'none'"),
        "{out}"
    );
    let errored = lines_with(&out, "errored");
    assert!(
        errored.iter().any(|l| l.contains(
            "provisioning: communicator = \"none\": this build has no connection to the source VM"
        )),
        "{out}"
    );
    assert_eq!(
        env.leftovers("e2e-nocomm").await,
        Vec::<String>::new(),
        "{out}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_tunnel_listens_while_the_provisioners_run() {
    let env = SimEnv::start(SimSetup::default()).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let src = format!(
        r#"
  source_name       = "e2e-tunnel"
  image_name        = "ubuntu-24.04"
  ssh_username      = "packer"
  ssh_timeout       = "1m"
  ssh_local_tunnels = ["127.0.0.1:{port}:127.0.0.1:22"]
"#
    );
    let body = format!(
        r#"
  provisioner "shell-local" {{
    inline = ["bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' && echo tunnel-listening"]
  }}
"#
    );
    env.write("b.pkr.hcl", &template(&env.kubeconfig, &src, &body));
    let run = env.build("b.pkr.hcl", &[]).await;
    let out = run.output();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("tunnel-listening"), "{out}");
    // Closed with the connection.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    env.stop().await;
}
