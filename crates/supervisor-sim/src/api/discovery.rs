//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`, aggregated
//! `apidiscovery.k8s.io` v2/v2beta1), `/version`, and minimal OpenAPI v3 documents built from
//! the CRD schemas — enough for kubectl to see that the server validates fields itself
//! (`fieldValidation` on PATCH), so `kubectl apply` works without `--validate=false`.

use crate::catalog::{Catalog, ResourceInfo, VersionInfo};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Kubernetes version the simulator reports (picks kubectl 1.30 through the gcloud dispatcher).
pub const KUBE_MINOR: &str = "30";

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR,
        "gitVersion": format!("v1.{KUBE_MINOR}.0+supervisor-sim"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Verbs of a main resource.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

fn resource_list_entries(r: &ResourceInfo) -> Vec<Value> {
    let mut e = json!({
        "name": r.gr.resource,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        e["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        e["categories"] = json!(r.categories);
    }
    let mut out = vec![e];
    if r.has_status {
        out.push(json!({"name": format!("{}/status", r.gr.resource), "singularName": "", "namespaced": r.namespaced, "kind": r.kind, "verbs": STATUS_VERBS}));
    }
    out
}

/// `APIResourceList` for a group version (`group` empty for core).
pub fn resource_list(cat: &Catalog, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = cat
        .resources()
        .iter()
        .filter(|r| r.gr.group == group && r.version(version).is_some())
        .flat_map(resource_list_entries)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// `/api` (`APIVersions`).
pub fn core_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

/// `/apis` (`APIGroupList`).
pub fn group_list(cat: &Catalog) -> Value {
    let groups: Vec<Value> = cat
        .groups()
        .iter()
        .map(|(g, vs)| group_entry(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>` (`APIGroup`).
pub fn group(cat: &Catalog, name: &str) -> Option<Value> {
    cat.groups().iter().find(|(g, _)| g == name).map(|(g, vs)| {
        let mut e = group_entry(g, vs);
        e["kind"] = json!("APIGroup");
        e["apiVersion"] = json!("v1");
        e
    })
}

fn aggregated_group(cat: &Catalog, group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = cat
                .resources()
                .iter()
                .filter(|r| r.gr.group == group && r.version(v).is_some())
                .map(|r| {
                    let kind = json!({"group": group, "version": v, "kind": r.kind});
                    let mut e = json!({
                        "resource": r.gr.resource,
                        "responseKind": kind,
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": VERBS,
                    });
                    if !r.short_names.is_empty() {
                        e["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        e["categories"] = json!(r.categories);
                    }
                    if r.has_status {
                        e["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}]);
                    }
                    e
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
}

/// Aggregated discovery (`APIGroupDiscoveryList`) for `/api` (`core = true`) or `/apis`.
pub fn aggregated(cat: &Catalog, core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group(cat, "", &["v1".to_string()])]
    } else {
        cat.groups()
            .iter()
            .map(|(g, vs)| aggregated_group(cat, g, vs))
            .collect()
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

/// Which aggregated-discovery version an `Accept` header asks for, if any.
pub fn wants_aggregated(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("g=apidiscovery.k8s.io") && p.contains("as=APIGroupDiscoveryList") {
            if p.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if p.contains("v=v2") {
                return Some("v2");
            }
        }
    }
    None
}

fn reverse_group(group: &str) -> String {
    if group.is_empty() {
        return "io.k8s.api.core".to_string();
    }
    group.split('.').rev().collect::<Vec<_>>().join(".")
}

/// OpenAPI schema name of a kind, e.g. `com.vmware.vmoperator.v1alpha3.VirtualMachine`.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    format!("{}.{version}.{kind}", reverse_group(group))
}

fn param(name: &str, location: &str, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": {"type": "string", "uniqueItems": true}})
}

fn op(
    id: &str,
    gvk: &Value,
    params: Vec<Value>,
    body: Option<Vec<&str>>,
    schema_ref: &Value,
) -> Value {
    let mut o = json!({
        "operationId": id,
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": id.split(|c: char| c.is_uppercase()).next().unwrap_or("get"),
        "x-kubernetes-group-version-kind": gvk,
    });
    if let Some(types) = body {
        let content: Map<String, Value> = types
            .into_iter()
            .map(|t| (t.to_string(), json!({"schema": schema_ref})))
            .collect();
        o["requestBody"] = json!({"content": content, "required": true});
    }
    o
}

/// The OpenAPI v3 document of one group version.
pub fn openapi_v3(cat: &Catalog, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = BTreeMap::new();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut any = false;
    for r in cat.resources().iter().filter(|r| r.gr.group == group) {
        let Some(v) = r.version(version) else {
            continue;
        };
        any = true;
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        let name = schema_name(group, version, &r.kind);
        let schema = kind_schema(v, &gvk);
        schemas.insert(name.clone(), schema);
        let sref = json!({"$ref": format!("#/components/schemas/{name}")});
        kind_paths(&mut paths, r, &prefix, &gvk, &sref);
    }
    if !any {
        return None;
    }
    schemas.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta".into(),
        object_meta_schema(),
    );
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{KUBE_MINOR}.0")},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// A kind's schema at one version (open when the kind has none), tagged with its GVK and with
/// `metadata` pointing at `ObjectMeta`.
fn kind_schema(v: &VersionInfo, gvk: &Value) -> Value {
    let mut schema =
        v.schema.as_deref().cloned().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
    schema["x-kubernetes-group-version-kind"] = json!([gvk]);
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("metadata".into(), json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "default": {}}));
    }
    schema
}

/// The collection, item and (when served) status paths of one kind.
fn kind_paths(
    paths: &mut Map<String, Value>,
    r: &ResourceInfo,
    prefix: &str,
    gvk: &Value,
    sref: &Value,
) {
    let list_ref = json!({"type": "object"});
    let base = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.gr.resource)
    } else {
        format!("{prefix}/{}", r.gr.resource)
    };
    let mut common = vec![param("pretty", "query", false)];
    if r.namespaced {
        common.push(param("namespace", "path", true));
    }
    let write_params = || {
        vec![
            param("dryRun", "query", false),
            param("fieldManager", "query", false),
            param("fieldValidation", "query", false),
        ]
    };
    let k = &r.kind;
    paths.insert(
        base.clone(),
        json!({
            "get": op(&format!("list{k}"), gvk, vec![param("labelSelector", "query", false), param("fieldSelector", "query", false), param("watch", "query", false), param("resourceVersion", "query", false)], None, &list_ref),
            "post": op(&format!("create{k}"), gvk, write_params(), Some(vec!["application/json", "application/yaml"]), sref),
            "delete": op(&format!("deletecollection{k}"), gvk, vec![param("labelSelector", "query", false)], None, &list_ref),
            "parameters": common.clone(),
        }),
    );
    let mut item_common = common.clone();
    item_common.push(param("name", "path", true));
    let mut patch_params = write_params();
    patch_params.push(param("force", "query", false));
    paths.insert(
        format!("{base}/{{name}}"),
        json!({
            "get": op(&format!("read{k}"), gvk, vec![], None, sref),
            "put": op(&format!("replace{k}"), gvk, write_params(), Some(vec!["application/json", "application/yaml"]), sref),
            "patch": op(&format!("patch{k}"), gvk, patch_params.clone(), Some(vec!["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]), sref),
            "delete": op(&format!("delete{k}"), gvk, vec![param("dryRun", "query", false), param("propagationPolicy", "query", false)], Some(vec!["application/json"]), sref),
            "parameters": item_common.clone(),
        }),
    );
    if r.has_status {
        paths.insert(
            format!("{base}/{{name}}/status"),
            json!({
                "get": op(&format!("read{k}Status"), gvk, vec![], None, sref),
                "put": op(&format!("replace{k}Status"), gvk, write_params(), Some(vec!["application/json", "application/yaml"]), sref),
                "patch": op(&format!("patch{k}Status"), gvk, patch_params, Some(vec!["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]), sref),
                "parameters": item_common,
            }),
        );
    }
}

/// The `ObjectMeta` schema every kind's `metadata` refers to.
fn object_meta_schema() -> Value {
    json!({"type": "object", "properties": {
            "name": {"type": "string"}, "generateName": {"type": "string"}, "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}},
            "resourceVersion": {"type": "string"}, "uid": {"type": "string"}, "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": {"type": "string", "format": "date-time"}, "deletionTimestamp": {"type": "string", "format": "date-time"},
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}})
}

/// Every group version with an OpenAPI v3 document, as `api/v1` / `apis/<g>/<v>` keys.
pub fn openapi_v3_keys(cat: &Catalog) -> Vec<(String, String, String)> {
    let mut out = vec![("api/v1".to_string(), String::new(), "v1".to_string())];
    for (g, vs) in cat.groups() {
        for v in vs {
            out.push((format!("apis/{g}/{v}"), g.clone(), v));
        }
    }
    out
}
