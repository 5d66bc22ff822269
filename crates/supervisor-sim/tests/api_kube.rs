//! kube-rs (the builder's client) against the simulator: kubeconfig + TLS + token, typed core
//! objects, dynamic VM Operator objects at v1alpha3, status patches, conflicts, watches, and
//! discovery (plain and aggregated).

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{
    Api, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use kube::{Client, Config};
use serde_json::json;
use std::time::Duration;
use supervisor_sim::{RunOptions, Sim};

async fn start() -> (Sim, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Sim::start(
        RunOptions {
            kubeconfig: Some(path.clone()),
            controllers: false,
            ..Default::default()
        },
        listener,
    )
    .await
    .unwrap();
    let kc = Kubeconfig::read_from(&path).unwrap();
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    assert_eq!(cfg.default_namespace, "demo");
    (sim, Client::try_from(cfg).unwrap(), dir)
}

fn vm_api(client: &Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("vmoperator.vmware.com", "v1alpha3", "VirtualMachine"),
        "virtualmachines",
    );
    Api::namespaced_with(client.clone(), "demo", &ar)
}

fn vm(name: &str) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
        "metadata": {"name": name, "labels": {"source-selector": name}},
        "spec": {"imageName": "ubuntu-24.04", "className": "best-effort-small", "storageClass": "wcpglobal-storage-profile"}}))
    .unwrap()
}

#[tokio::test]
async fn kube_rs_crud_status_conflict_and_watch() {
    let (sim, client, _dir) = start().await;
    // typed core kind: stringData becomes data
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "src"}, "stringData": {"user-data": "#cloud-config\n"}}),
    )
    .unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let got = secrets.get("src").await.unwrap();
    assert_eq!(got.data.unwrap()["user-data"].0, b"#cloud-config\n");

    let vms = vm_api(&client);
    let created = vms
        .create(&PostParams::default(), &vm("src"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let listed = vms
        .list(&ListParams::default().labels("source-selector=src"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    // watch from "0": current state first, then changes
    let mut stream = vms
        .watch(
            &WatchParams::default()
                .fields("metadata.name=src")
                .timeout(30),
            "0",
        )
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(first, WatchEvent::Added(ref o) if o.metadata.name.as_deref() == Some("src")));
    let patched = vms
        .patch_status("src", &PatchParams::default(), &Patch::Merge(json!({"status": {"powerState": "PoweredOn", "network": {"primaryIP4": "10.1.2.3"}}})))
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["network"]["primaryIP4"], "10.1.2.3");
    let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match ev {
        WatchEvent::Modified(o) => assert_eq!(o.data["status"]["powerState"], "PoweredOn"),
        other => panic!("expected Modified, got {other:?}"),
    }
    // stale replace → 409 Conflict as a kube::Error::Api
    let mut stale = created.clone();
    stale.data["spec"]["className"] = json!("best-effort-medium");
    match vms.replace("src", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // NotFound and validation errors carry the API's Status
    match vms.get("nope").await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }
    let mut bad = vm("bad");
    bad.data["spec"]["powerState"] = json!("On");
    match vms.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains("spec.powerState: Unsupported value: \"On\""),
            "{}",
            status.message
        ),
        other => panic!("expected 422, got {other:?}"),
    }
    // imageregistry v1alpha1 as the builder reads it
    let libs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "demo",
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("imageregistry.vmware.com", "v1alpha1", "ContentLibrary"),
            "contentlibraries",
        ),
    );
    assert_eq!(
        libs.get("golden-images").await.unwrap().data["spec"]["writable"],
        true
    );
    assert_eq!(
        libs.get("readonly-images").await.unwrap().data["spec"]["writable"],
        false
    );
    sim.stop().await;
}

#[tokio::test]
async fn kube_rs_discovery() {
    let (sim, client, _dir) = start().await;
    for aggregated in [false, true] {
        let d = Discovery::new(client.clone());
        let d = if aggregated {
            d.run_aggregated().await.unwrap()
        } else {
            d.run().await.unwrap()
        };
        assert!(
            d.has_group("vmoperator.vmware.com"),
            "aggregated={aggregated}"
        );
        let g = d
            .groups()
            .find(|g| g.name() == "vmoperator.vmware.com")
            .unwrap();
        assert_eq!(g.preferred_version_or_latest(), "v1alpha5");
        let kinds: Vec<String> = g
            .recommended_resources()
            .into_iter()
            .map(|(ar, _)| ar.kind)
            .collect();
        assert!(
            kinds.contains(&"VirtualMachinePublishRequest".to_string()),
            "{kinds:?}"
        );
        assert!(d.has_group("imageregistry.vmware.com"));
    }
    sim.stop().await;
}
