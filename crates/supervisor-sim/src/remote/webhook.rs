//! The simulator's VM Operator admission webhooks, served to a real API server: an HTTPS
//! endpoint on loopback (its own CA, handed to the server as `caBundle`) answering
//! `AdmissionReview` v1 with the same [`VmWebhook`]/[`PublishWebhook`] logic that `serve` runs
//! in-process, registered as a Mutating- and a ValidatingWebhookConfiguration. The lookups the
//! hooks make (an image by display name) read the controllers' mirror of the cluster.

use super::install::FIELD_MANAGER;
use super::RemoteError;
use crate::catalog::Gr;
use crate::controllers::{PublishWebhook, VmWebhook};
use crate::store::{Admission, AdmissionRequest, Operation, Store, Subresource};
use crate::tls::TlsMaterial;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Name of both webhook configurations.
const CONFIG_NAME: &str = "supervisor-sim-vm-operator";

/// The running webhook endpoint and its registrations.
pub(crate) struct Webhooks {
    client: Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn config_resource(kind: &str) -> ApiResource {
    ApiResource {
        group: "admissionregistration.k8s.io".into(),
        version: "v1".into(),
        api_version: "admissionregistration.k8s.io/v1".into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    }
}

const KINDS: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

impl Webhooks {
    /// Serves the hooks on a free loopback port and registers them with the cluster.
    pub(crate) async fn start(client: Client, store: Store) -> Result<Webhooks, RemoteError> {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let tls = TlsMaterial::generate(&[ip])?;
        let io = |what: &str| {
            let what = what.to_string();
            move |source| RemoteError::Io { what, source }
        };
        let listener = TcpListener::bind((ip, 0))
            .await
            .map_err(io("binding the webhook port"))?;
        let port = listener
            .local_addr()
            .map_err(io("reading the webhook port"))?
            .port();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config()?);
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, acceptor, store, stop.clone()));
        let hooks = Webhooks { client, stop, task };
        hooks.register(port, &tls.ca_pem).await?;
        Ok(hooks)
    }

    async fn register(&self, port: u16, ca_pem: &str) -> Result<(), RemoteError> {
        let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        for kind in KINDS {
            let path = if kind.starts_with("Mutating") {
                "mutate"
            } else {
                "validate"
            };
            let config = registration(kind, path, port, &ca);
            let api: Api<DynamicObject> =
                Api::all_with(self.client.clone(), &config_resource(kind));
            api.patch(
                CONFIG_NAME,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&config),
            )
            .await
            .map_err(|e| RemoteError::api(&format!("registering {kind}"), CONFIG_NAME, e))?;
        }
        Ok(())
    }

    /// Unregisters the hooks (so the cluster does not refuse VMs while nobody answers), then
    /// stops serving.
    pub(crate) async fn stop(self) {
        for kind in KINDS {
            let api: Api<DynamicObject> =
                Api::all_with(self.client.clone(), &config_resource(kind));
            if let Err(e) = api.delete(CONFIG_NAME, &DeleteParams::default()).await {
                tracing::warn!(kind, error = %e, "unregistering the webhook failed");
            }
        }
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// One webhook configuration: VirtualMachines and publish requests, create and update.
fn registration(kind: &str, path: &str, port: u16, ca: &str) -> Value {
    use vmop_types::api as k;
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": CONFIG_NAME},
        "webhooks": [{
            "name": format!("{path}.supervisor-sim.vmoperator.vmware.com"),
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/{path}"), "caBundle": ca},
            "rules": [{
                "apiGroups": [k::VMOP_GROUP],
                "apiVersions": [k::VMOP_HUB_VERSION],
                "resources": [k::VIRTUAL_MACHINE.plural, k::VIRTUAL_MACHINE_PUBLISH_REQUEST.plural],
                "operations": ["CREATE", "UPDATE"],
                "scope": "Namespaced",
            }],
            "matchPolicy": "Equivalent",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Fail",
            "timeoutSeconds": 10,
        }],
    })
}

async fn serve(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    store: Store,
    stop: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = stop.cancelled() => return,
            acc = listener.accept() => match acc { Ok(x) => x, Err(_) => continue },
        };
        let acceptor = acceptor.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let store = store.clone();
                async move {
                    let mutate = req.uri().path() == "/mutate";
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let answer = review_answer(&store, &review, mutate);
                    let bytes = serde_json::to_vec(&answer).unwrap_or_default();
                    let mut resp = hyper::Response::new(Full::new(bytes::Bytes::from(bytes)));
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

/// The AdmissionReview answering `review`: the hooks' mutations as a JSON patch, or their
/// refusal as a Status.
pub(crate) fn review_answer(store: &Store, review: &Value, mutate: bool) -> Value {
    let req = &review["request"];
    let uid = req["uid"].clone();
    let response = match admit(store, req, mutate) {
        Ok(ops) if ops.is_empty() => json!({"uid": uid, "allowed": true}),
        Ok(ops) => {
            let patch = serde_json::to_vec(&ops).unwrap_or_default();
            json!({"uid": uid, "allowed": true, "patchType": "JSONPatch",
                "patch": base64::engine::general_purpose::STANDARD.encode(patch)})
        }
        Err(e) => json!({"uid": uid, "allowed": false, "status": {
            "status": "Failure", "code": e.code, "reason": e.reason, "message": e.message,
            "details": e.details,
        }}),
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

fn admit(store: &Store, req: &Value, mutate: bool) -> Result<Vec<Value>, crate::error::ApiError> {
    let operation = match req["operation"].as_str() {
        Some("CREATE") => Operation::Create,
        Some("UPDATE") => Operation::Update,
        Some("DELETE") => Operation::Delete,
        _ => return Ok(Vec::new()),
    };
    let gr = Gr::new(
        req.pointer("/resource/group")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        req.pointer("/resource/resource")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let original = req["object"].clone();
    let name = req["name"]
        .as_str()
        .or_else(|| original.pointer("/metadata/name").and_then(Value::as_str))
        .unwrap_or_default();
    let old = req.get("oldObject").filter(|o| !o.is_null());
    let request = AdmissionRequest {
        operation,
        gr: &gr,
        kind: req
            .pointer("/kind/kind")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        namespace: req["namespace"].as_str(),
        name,
        subresource: match req["subResource"].as_str() {
            Some("status") => Subresource::Status,
            _ => Subresource::Main,
        },
        old,
        dry_run: req["dryRun"].as_bool().unwrap_or(false),
        store,
    };
    let hooks: [Arc<dyn Admission>; 2] = [Arc::new(VmWebhook), Arc::new(PublishWebhook)];
    let mut obj = original.clone();
    if mutate {
        for h in &hooks {
            h.mutate(&request, &mut obj)?;
        }
        return Ok(json_patch(&original, &obj));
    }
    for h in &hooks {
        h.validate(&request, &obj)?;
    }
    Ok(Vec::new())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// RFC 6902 operations turning `from` into `to`, top-level members (and metadata's members)
/// replaced whole.
pub(crate) fn json_patch(from: &Value, to: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    let (Some(a), Some(b)) = (from.as_object(), to.as_object()) else {
        return vec![json!({"op": "replace", "path": "", "value": to})];
    };
    for (k, bv) in b {
        if a.get(k) == Some(bv) {
            continue;
        }
        match (k.as_str(), a.get(k)) {
            ("metadata", Some(av)) if av.is_object() && bv.is_object() => {
                for op in json_patch(av, bv) {
                    let mut op = op;
                    op["path"] = json!(format!("/metadata{}", op["path"].as_str().unwrap_or("")));
                    ops.push(op);
                }
            }
            _ => ops.push(json!({"op": "add", "path": format!("/{}", escape(k)), "value": bv})),
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        ops.push(json!({"op": "remove", "path": format!("/{}", escape(k))}));
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::patch::json_patch as apply_json_patch;

    #[test]
    fn the_patch_turns_the_object_into_the_mutated_one() {
        let a = json!({"metadata": {"name": "n", "labels": {"a": "b"}, "x": 1}, "spec": {"p": 1}, "gone": 1});
        let b = json!({"metadata": {"name": "n", "labels": {"a": "c"}, "annotations": {"k/v": "1"}}, "spec": {"p": 2, "q": 3}});
        let ops = json_patch(&a, &b);
        let mut t = a.clone();
        apply_json_patch(&mut t, &Value::Array(ops)).unwrap();
        assert_eq!(t, b);
        assert!(json_patch(&a, &a).is_empty());
    }
}
