//! The real plugin binary (`packer-plugin-vsphere-supervisor`) driven as Packer core drives it: `describe`, the
//! ≥1.7 `start builder --protobuf supervisor` path, the Packer 1.6 no-argument path, the
//! cookie check, signals, and exit at the end of the session.
use std::time::Duration;

use packer_rpc::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use packer_wire::hclspec::{CtyType, Spec};
use packer_wire::msgpack::Value;
use testkit::core::{plugin_binary, PluginUnderTest};

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: dev\n    namespace: demo\nusers:\n- name: dev\n  user:\n    token: abc\n";
const T: Duration = Duration::from_secs(30);

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

fn attr<'a>(spec: &'a Spec, name: &str) -> Option<&'a Spec> {
    match spec {
        Spec::Object(m) => m.get(name),
        _ => None,
    }
}

/// Configs as a legacy JSON template sends them: the builder block, then Packer's own map.
fn minimal_configs(kubeconfig: &std::path::Path) -> Vec<Value> {
    vec![
        map(&[
            ("kubeconfig_path", s(kubeconfig.to_str().unwrap())),
            ("class_name", s("best-effort-small")),
            ("storage_class", s("wcpglobal-storage-profile")),
            ("image_name", s("vmi-0123456789abcdef0")),
        ]),
        map(&[
            ("packer_build_name", s("t")),
            ("packer_builder_type", s("vsphere-supervisor")),
            ("packer_debug", Value::Bool(false)),
            ("packer_force", Value::Bool(false)),
            ("packer_on_error", s("")),
        ]),
    ]
}

#[test]
fn describe_is_exact() {
    let bin = plugin_binary().unwrap();
    let out = std::process::Command::new(&bin)
        .arg("describe")
        .output()
        .unwrap();
    assert!(out.status.success());
    // A development build says so as the Go SDK does (`-dev`); a release build (built with
    // VSPHERE_SUPERVISOR_RELEASE set, as this test then is too) reports the plain version.
    let version = match option_env!("VSPHERE_SUPERVISOR_RELEASE") {
        Some(_) => env!("CARGO_PKG_VERSION").to_string(),
        None => format!("{}-dev", env!("CARGO_PKG_VERSION")),
    };
    let want = format!(
        "{{\"version\":\"{}\",\"sdk_version\":\"0.6.10\",\"api_version\":\"x5.0\",\"builders\":[\"-packer-default-plugin-name-\"],\"post_processors\":[],\"provisioners\":[],\"datasources\":[],\"protocol_version\":\"v2\"}}\n",
        version
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
}

#[test]
fn refuses_to_run_without_the_cookie_and_rejects_bad_arguments() {
    let bin = plugin_binary().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["start", "builder", "-packer-default-plugin-name-"])
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Packer plugin") && err.contains("packer plugins install"),
        "{err}"
    );
    assert!(err.contains("packer-builder-vsphere-supervisor"), "{err}");

    for args in [
        &["start", "builder", "other"][..],
        &["frobnicate"][..],
        &["start", "builder"][..],
    ] {
        let out = std::process::Command::new(&bin)
            .args(args)
            .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_mode_spec_and_prepare() {
    let bin = plugin_binary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, KUBECONFIG).unwrap();

    let p = PluginUnderTest::start(
        &bin,
        &[
            "start",
            "builder",
            "--protobuf",
            "-packer-default-plugin-name-",
        ],
    )
    .await
    .unwrap();
    assert_eq!(p.handshake.minor.as_deref(), Some("0"));
    assert!(
        p.handshake.address.contains("packer-plugin"),
        "{:?}",
        p.handshake
    );
    // The socket file is gone once core is connected.
    assert!(!std::path::Path::new(&p.handshake.address).exists());

    let bytes = tokio::time::timeout(T, p.config_spec())
        .await
        .unwrap()
        .unwrap();
    let spec = Spec::from_protobuf(&bytes).unwrap();
    match attr(&spec, "class_name") {
        Some(Spec::Attr { name, ty, .. }) => {
            assert_eq!(name, "class_name");
            assert_eq!(*ty, CtyType::String);
        }
        other => panic!("class_name: {other:?}"),
    }

    let ok = tokio::time::timeout(T, p.prepare(minimal_configs(&kc)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.error, None, "{ok:?}");
    let bad = tokio::time::timeout(T, p.prepare(vec![map(&[])]))
        .await
        .unwrap()
        .unwrap();
    let msg = bad.error.expect("an empty config is rejected");
    assert!(msg.contains("class_name"), "{msg}");

    // Ctrl-C reaches the plugin too; it must keep serving (cancellation comes over RPC).
    let pid = p.child.id().unwrap();
    for sig in ["-INT", "-TERM"] {
        let st = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = tokio::time::timeout(T, p.prepare(minimal_configs(&kc)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.error, None);

    // When core goes away the plugin exits by itself.
    let mut p = p;
    p.broker.session().close().await;
    let st = tokio::time::timeout(T, p.child.wait())
        .await
        .expect("plugin exits after the session ends")
        .unwrap();
    assert!(st.success(), "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packer_1_6_mode_uses_legacy_line_and_gob() {
    let bin = plugin_binary().unwrap();
    let p = PluginUnderTest::start(&bin, &[]).await.unwrap();
    assert_eq!(p.handshake.minor, None);
    assert_eq!(p.handshake.network, "unix");
    let bytes = tokio::time::timeout(T, p.config_spec())
        .await
        .unwrap()
        .unwrap();
    let spec = Spec::from_gob(&bytes).unwrap();
    assert!(
        matches!(attr(&spec, "class_name"), Some(Spec::Attr { .. })),
        "{spec:?}"
    );
    match p.builder.rpc().call("Builder.Nope", &Value::Nil).await {
        Err(packer_rpc::netrpc::RpcError::Remote(m)) => {
            assert_eq!(m, "rpc: can't find method Builder.Nope")
        }
        other => panic!("{other:?}"),
    }
    p.kill().await;
}
