//! What `supervisor-sim controllers` puts on a cluster before the controllers start: the VM
//! Operator and image-registry CRDs (server-side apply, so running it again changes nothing),
//! then the seed objects (created when missing, their status written through `/status`).

use super::RemoteError;
use crate::catalog::Catalog;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The field manager of everything this mode writes.
pub(crate) const FIELD_MANAGER: &str = "supervisor-sim";

fn crd_resource() -> ApiResource {
    ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    }
}

fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Applies every CRD and waits until the API server serves each (`Established`).
pub(crate) async fn crds(
    client: &Client,
    crds: &[Value],
    timeout: Duration,
) -> Result<(), RemoteError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource());
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    for crd in crds {
        let name = name_of(crd);
        api.patch(&name, &pp, &Patch::Apply(crd))
            .await
            .map_err(|e| RemoteError::api("applying CustomResourceDefinition", &name, e))?;
    }
    let deadline = Instant::now() + timeout;
    for crd in crds {
        let name = name_of(crd);
        wait_established(&api, &name, deadline).await?;
    }
    Ok(())
}

async fn wait_established(
    api: &Api<DynamicObject>,
    name: &str,
    deadline: Instant,
) -> Result<(), RemoteError> {
    loop {
        let crd = api
            .get(name)
            .await
            .map_err(|e| RemoteError::api("reading CustomResourceDefinition", name, e))?;
        let established = crd.data["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        if established {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(RemoteError::Timeout(format!(
                "CustomResourceDefinition {name} was not Established in time"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates the seed objects that are missing, in order, with their status.
pub(crate) async fn seed(
    client: &Client,
    catalog: &Catalog,
    objects: &[Value],
) -> Result<(), RemoteError> {
    for obj in objects {
        seed_one(client, catalog, obj).await?;
    }
    Ok(())
}

async fn seed_one(client: &Client, catalog: &Catalog, obj: &Value) -> Result<(), RemoteError> {
    let av = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    let (group, _) = vmop_types::api::split_api_version(av);
    let name = name_of(obj);
    let what = format!("seeding {kind}");
    let info = catalog.by_kind(group, kind).ok_or_else(|| {
        RemoteError::Seed(format!("{kind} {name}: no kind {kind} in {av} is served"))
    })?;
    let ar = super::api_resource(info);
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(crate::seed::NAMESPACE);
    let api: Api<DynamicObject> = if info.namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let mut body = obj.clone();
    body["apiVersion"] = json!(ar.api_version);
    let typed: DynamicObject = serde_json::from_value(body)
        .map_err(|e| RemoteError::Seed(format!("{kind} {name}: {e}")))?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
        Err(e) => return Err(RemoteError::api(&what, &name, e)),
    }
    if let Some(status) = obj.get("status").filter(|_| info.has_status) {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .map_err(|e| RemoteError::api(&what, &name, e))?;
    }
    Ok(())
}
