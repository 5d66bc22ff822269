//! The HTTP side: routing, authentication, verbs, version conversion, schema validation, tables
//! and watches, served with hyper 1 over TLS (or plain HTTP with `--insecure-http`).
//!
//! Request flow for a resource URL: faults (latency / injected errors) → authentication → RBAC
//! → decode (JSON or YAML) → schema (prune, default, validate) at the client's version →
//! convert to the hub → [`crate::store::Store`] (admission hooks run there) → convert back →
//! JSON or Table.

mod builtin;
pub mod discovery;
mod options;
mod paging;
pub mod patch;
mod protobuf_body;
pub mod requests;
pub mod table;
mod table_builtin;

use crate::auth::{Auth, User};
use crate::catalog::{Catalog, ResourceInfo};
use crate::convert::{from_hub, to_hub};
use crate::error::{ApiError, Cause};
use crate::faults::{FaultConfig, Faults};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{DeleteOptions, EventType, ListOptions, Store, Subresource, WriteOptions};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (the API server's limit is about 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// Default watch duration when the client gives no `timeoutSeconds`.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// Bookmark period for watches with `allowWatchBookmarks=true`.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// Shared state of the HTTP API.
pub struct Api {
    /// The store.
    pub store: Store,
    /// Served kinds.
    pub catalog: Arc<Catalog>,
    /// Tokens.
    pub auth: Auth,
    /// Failure injection.
    pub faults: Faults,
    /// `host:port` reported in `/api`.
    pub server_address: String,
    /// Ends watches on shutdown.
    pub shutdown: CancellationToken,
    /// Requests per client (`/sim/v1/requests`).
    pub requests: requests::RequestLog,
    openapi_docs: HashMap<String, (Bytes, String)>,
    openapi_root: Bytes,
}

fn short_hash(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(b)[..8])
}

impl Api {
    /// Builds the API (pre-renders the OpenAPI documents).
    pub fn new(
        store: Store,
        auth: Auth,
        faults: Faults,
        server_address: String,
        shutdown: CancellationToken,
    ) -> Self {
        let catalog = store.catalog().clone();
        let mut docs = HashMap::new();
        let mut root = serde_json::Map::new();
        for (key, g, v) in discovery::openapi_v3_keys(&catalog) {
            if let Some(doc) = discovery::openapi_v3(&catalog, &g, &v) {
                let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
                let hash = short_hash(&bytes);
                root.insert(
                    key.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
                );
                docs.insert(key, (bytes, hash));
            }
        }
        let openapi_root =
            Bytes::from(serde_json::to_vec(&json!({"paths": root})).unwrap_or_default());
        Api {
            store,
            catalog,
            auth,
            faults,
            server_address,
            shutdown,
            requests: requests::RequestLog::default(),
            openapi_docs: docs,
            openapi_root,
        }
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(s) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    r
}

fn add_warnings(r: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append("Warning", v);
        }
    }
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        out.insert(dec(k), dec(v));
    }
    out
}

/// Serves one request (never fails: errors become `Status` responses).
pub async fn handle(api: Arc<Api>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if !path.starts_with("/sim/") {
        let agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        api.requests.record(agent);
    }
    let resp = match route(&api, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    Ok(resp)
}

struct Req {
    method: Method,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user: User,
    body: Bytes,
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            ApiError::custom(
                413,
                "RequestEntityTooLarge",
                format!("reading the request body: {e}"),
            )
        })
}

async fn route(api: &Arc<Api>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query());
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let accept = header("accept");
    let content_type = header("content-type");
    let auth_header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let method = req.method().clone();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["healthz"] | ["readyz"] | ["livez"] => {
            let mut r = Response::new(full("ok"));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain"),
            );
            return Ok(r);
        }
        ["version"] => return Ok(json_response(200, &discovery::version())),
        _ => {}
    }
    let user = api.auth.authenticate(auth_header.as_deref())?;
    let body = read_body(req.into_body()).await?;
    let r = Req {
        method,
        query,
        accept,
        content_type,
        user,
        body,
    };
    match s.as_slice() {
        ["sim", "v1", "faults"] => faults_endpoint(api, &r),
        ["sim", "v1", "requests"] => requests_endpoint(api, &r),
        ["api"] => Ok(discovery_response(
            &r,
            discovery::aggregated(&api.catalog, true, "apidiscovery.k8s.io/v2"),
            || discovery::core_versions(&api.server_address),
        )),
        ["apis"] => Ok(discovery_response(
            &r,
            discovery::aggregated(&api.catalog, false, "apidiscovery.k8s.io/v2"),
            || discovery::group_list(&api.catalog),
        )),
        ["api", "v1"] => discovery::resource_list(&api.catalog, "", "v1")
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::no_route),
        ["apis", g] => discovery::group(&api.catalog, g)
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::no_route),
        ["apis", g, v] => discovery::resource_list(&api.catalog, g, v)
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::no_route),
        ["openapi", "v3"] => {
            let mut resp = Response::new(full(api.openapi_root.clone()));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        ["openapi", "v3", rest @ ..] => {
            let key = rest.join("/");
            let (bytes, _) = api.openapi_docs.get(&key).ok_or_else(ApiError::no_route)?;
            let mut resp = Response::new(full(bytes.clone()));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            Ok(resp)
        }
        ["openapi", "v2"] | ["swagger-2.0.0.pb-v1"] | ["swagger.json"] => Ok(openapi_v2(&r)),
        ["api", "v1", rest @ ..] => resource(api, &r, "", "v1", rest).await,
        ["apis", g, v, rest @ ..] => resource(api, &r, g, v, rest).await,
        _ => Err(ApiError::no_route()),
    }
}

/// Protobuf field `n` (length-delimited) holding `payload`.
fn pb_field(n: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(n << 3) | 2];
    let mut len = payload.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(payload);
    out
}

/// A minimal OpenAPI v2 document (no paths, no definitions). kubectl 1.20-1.28 insist on
/// fetching one before `apply`; with no model for a kind they skip client-side validation and
/// leave it to the server, which is what we want.
fn openapi_v2(r: &Req) -> Response<Body> {
    let version = format!("v1.{}.0", discovery::KUBE_MINOR);
    if r.accept.contains("protobuf") {
        let mut info = pb_field(1, b"Kubernetes");
        info.extend(pb_field(2, version.as_bytes()));
        let mut doc = pb_field(1, b"2.0");
        doc.extend(pb_field(2, &info));
        let mut resp = Response::new(full(doc));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        );
        return resp;
    }
    json_response(
        200,
        &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}, "definitions": {}}),
    )
}

fn discovery_response(r: &Req, aggregated: Value, plain: impl FnOnce() -> Value) -> Response<Body> {
    match discovery::wants_aggregated(&r.accept) {
        Some(v) => {
            let mut doc = aggregated;
            doc["apiVersion"] = json!(format!("apidiscovery.k8s.io/{v}"));
            let mut resp = json_response(200, &doc);
            if let Ok(ct) = HeaderValue::from_str(&format!(
                "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
            )) {
                resp.headers_mut().insert(http::header::CONTENT_TYPE, ct);
            }
            resp
        }
        None => json_response(200, &plain()),
    }
}

fn requests_endpoint(api: &Api, r: &Req) -> Result<Response<Body>, ApiError> {
    if !r.user.is_admin() {
        return Err(ApiError::forbidden(format!(
            "User \"{}\" cannot read the simulator's request counts",
            r.user.name
        )));
    }
    match r.method {
        Method::GET => {}
        Method::DELETE => api.requests.reset(),
        _ => return Err(ApiError::method_not_allowed("use GET or DELETE")),
    }
    Ok(json_response(200, &api.requests.snapshot()))
}

fn faults_endpoint(api: &Api, r: &Req) -> Result<Response<Body>, ApiError> {
    if !r.user.is_admin() {
        return Err(ApiError::forbidden(format!(
            "User \"{}\" cannot change the simulator's faults",
            r.user.name
        )));
    }
    let parse = || -> Result<Value, ApiError> { decode(&r.body, &r.content_type) };
    match r.method {
        Method::GET => {}
        Method::PUT | Method::POST => {
            let cfg: FaultConfig = serde_json::from_value(parse()?)
                .map_err(|e| ApiError::bad_request(format!("fault config: {e}")))?;
            api.faults.set(cfg);
        }
        Method::PATCH => {
            let mut cur = serde_json::to_value(api.faults.get()).unwrap_or_default();
            patch::merge_patch(&mut cur, &parse()?);
            let cfg: FaultConfig = serde_json::from_value(cur)
                .map_err(|e| ApiError::bad_request(format!("fault config: {e}")))?;
            api.faults.set(cfg);
        }
        Method::DELETE => api.faults.set(FaultConfig::default()),
        _ => {
            return Err(ApiError::method_not_allowed(
                "faults: use GET, PUT, POST, PATCH or DELETE",
            ))
        }
    }
    Ok(json_response(
        200,
        &serde_json::to_value(api.faults.get()).unwrap_or_default(),
    ))
}

/// Decodes a JSON or YAML body.
pub fn decode(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    if content_type.contains("protobuf") {
        protobuf_body::decode(body).map_err(|e| ApiError::bad_request(e.to_string()))
    } else if content_type.contains("yaml") {
        serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })
    }
}

/// A resolved resource URL.
struct Target<'a> {
    info: ResourceInfo,
    version: String,
    ns: Option<String>,
    name: Option<String>,
    sub: Subresource,
    legacy_watch: bool,
    api: &'a Arc<Api>,
}

/// (namespace, resource, name, subresource, legacy `/watch/` prefix)
type ResourcePath<'s> = (
    Option<&'s str>,
    &'s str,
    Option<&'s str>,
    Option<&'s str>,
    bool,
);

fn parse_resource_path<'s>(group: &str, rest: &[&'s str]) -> Option<ResourcePath<'s>> {
    let (legacy_watch, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, r @ ..]
            if !(r.is_empty()
                || group.is_empty() && r.len() == 1 && matches!(r[0], "status" | "finalize")) =>
        {
            (Some(*ns), r)
        }
        r => (None, r),
    };
    match rest {
        [res] => Some((ns, res, None, None, legacy_watch)),
        [res, name] => Some((ns, res, Some(*name), None, legacy_watch)),
        [res, name, sub] => Some((ns, res, Some(*name), Some(*sub), legacy_watch)),
        _ => None,
    }
}

async fn resource(
    api: &Arc<Api>,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let (ns, res, name, sub, legacy_watch) =
        parse_resource_path(group, rest).ok_or_else(ApiError::no_route)?;
    let info = api
        .catalog
        .get(&crate::catalog::Gr::new(group, res))
        .filter(|i| i.version(version).is_some())
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    let sub = match sub {
        None => Subresource::Main,
        Some("status") if info.has_status => Subresource::Status,
        Some(_) => return Err(ApiError::no_route()),
    };
    if ns.is_some() && !info.namespaced {
        return Err(ApiError::no_route());
    }
    let t = Target {
        version: version.to_string(),
        ns: ns.map(str::to_string),
        name: name.map(str::to_string),
        sub,
        legacy_watch,
        api,
        info,
    };
    let is_watch =
        t.legacy_watch || matches!(r.query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (&r.method, t.name.is_some()) {
        (&Method::GET, _) if is_watch => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )))
        }
    };
    if t.info.namespaced && t.ns.is_none() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::no_route());
    }
    let (latency, injected) =
        api.faults
            .on_request(verb, &t.info, t.ns.as_deref(), t.name.as_deref());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(e) = injected {
        return Err(e);
    }
    api.auth
        .authorize(&r.user, verb, &t.info, t.ns.as_deref(), t.name.as_deref())?;
    options::check(
        &t.info,
        verb,
        t.name.as_deref().unwrap_or_default(),
        &r.query,
        &r.content_type,
    )?;
    let mut warnings = Vec::new();
    if t.info.version(version).is_some_and(|v| v.deprecated) {
        warnings.push(format!(
            "{}/{version} {} is deprecated",
            t.info.gr.group, t.info.kind
        ));
    }
    let mut resp = match verb {
        "get" => t.get(r),
        "list" => t.list(r),
        "watch" => t.watch(r),
        "create" => t.create(r, &mut warnings),
        "update" => t.update(r, &mut warnings),
        "patch" => t.patch(r, &mut warnings),
        "delete" => t.delete(r),
        _ => t.delete_collection(r),
    }?;
    add_warnings(&mut resp, &warnings);
    Ok(resp)
}

fn label_field_opts(r: &Req) -> Result<ListOptions, ApiError> {
    Ok(ListOptions {
        labels: r
            .query
            .get("labelSelector")
            .filter(|s| !s.is_empty())
            .map(|s| LabelSelector::parse(s))
            .transpose()?,
        fields: r
            .query
            .get("fieldSelector")
            .filter(|s| !s.is_empty())
            .map(|s| FieldSelector::parse(s))
            .transpose()?,
    })
}

fn obj_key(o: &Value) -> (String, String) {
    let get = |k: &str| {
        o.pointer(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (get("/metadata/namespace"), get("/metadata/name"))
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn dry_run(r: &Req) -> bool {
    r.query.get("dryRun").is_some_and(|v| v == "All")
}

impl Target<'_> {
    fn store(&self) -> &Store {
        &self.api.store
    }

    fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    fn out(&self, hub: &Value) -> Value {
        let mut o = hub.clone();
        from_hub(&self.info, &self.version, &mut o);
        o
    }

    fn respond_object(&self, r: &Req, code: u16, hub: &Value) -> Response<Body> {
        let o = self.out(hub);
        if wants_table(&r.accept) {
            let include =
                table::IncludeObject::parse(r.query.get("includeObject").map(String::as_str));
            let rv = o
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
            return json_response(
                code,
                &table::table(&self.info, &self.version, &[o], include, rv, true),
            );
        }
        json_response(code, &o)
    }

    fn get(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let name = self.name.as_deref().unwrap_or_default();
        let obj = self.store().get_arc(&self.info.gr, self.ns(), name)?;
        Ok(self.respond_object(r, 200, &obj))
    }

    fn list(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let opts = label_field_opts(r)?;
        let (items, rv) = self.store().list_arc(&self.info.gr, self.ns(), &opts)?;
        let items: Vec<Value> = items.iter().map(|o| self.out(o)).collect();
        let paging::Page {
            mut items,
            metadata,
        } = paging::page(items, &r.query, rv, self.info.custom)?;
        if wants_table(&r.accept) {
            let include =
                table::IncludeObject::parse(r.query.get("includeObject").map(String::as_str));
            return Ok(json_response(
                200,
                &table::table(
                    &self.info,
                    &self.version,
                    &items,
                    include,
                    Some(rv.to_string()),
                    true,
                ),
            ));
        }
        if !self.info.custom {
            // Built-in kinds' list items carry no kind/apiVersion in kube-apiserver's JSON.
            for o in items.iter_mut().filter_map(Value::as_object_mut) {
                o.remove("kind");
                o.remove("apiVersion");
            }
        }
        Ok(json_response(
            200,
            &json!({
                "apiVersion": self.info.api_version(&self.version),
                "kind": format!("{}List", self.info.kind),
                "metadata": metadata,
                "items": items,
            }),
        ))
    }

    /// Prune/default/validate at the client's version; returns warnings for pruned fields.
    fn schema(&self, r: &Req, obj: &mut Value, warnings: &mut Vec<String>) -> Result<(), ApiError> {
        let Some(schema) = self
            .info
            .version(&self.version)
            .and_then(|v| v.schema.clone())
        else {
            if self.info.custom {
                return Ok(());
            }
            let unknown = builtin::process(&self.info, &self.version, obj)?;
            return match r.query.get("fieldValidation").map(String::as_str) {
                _ if unknown.is_empty() => Ok(()),
                Some("Strict") => Err(builtin::strict_error(&self.info, &self.version, &unknown)),
                Some("Ignore") => Ok(()),
                _ => {
                    warnings.extend(unknown.iter().map(|u| format!("unknown field \"{u}\"")));
                    Ok(())
                }
            };
        };
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match crate::schema::process(&schema, obj) {
            Ok(unknown) if unknown.is_empty() => Ok(()),
            Ok(unknown) => match r.query.get("fieldValidation").map(String::as_str) {
                Some("Strict") => Err(ApiError::bad_request(format!(
                    "{}.{} \"{name}\" is invalid: strict decoding error: {}",
                    self.info.kind,
                    self.info.gr.group,
                    unknown
                        .iter()
                        .map(|u| format!("unknown field \"{u}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
                Some("Ignore") => Ok(()),
                _ => {
                    warnings.extend(unknown.iter().map(|u| format!("unknown field \"{u}\"")));
                    Ok(())
                }
            },
            Err(mut causes) => {
                // kube-apiserver reports a bad name together with the schema errors.
                if let Some(msg) =
                    crate::store::validate_dns1123_subdomain(&name).filter(|_| !name.is_empty())
                {
                    let message = format!("Invalid value: {name:?}: {msg}");
                    causes.insert(
                        0,
                        Cause {
                            field: "metadata.name".into(),
                            reason: "FieldValueInvalid".into(),
                            message,
                        },
                    );
                }
                Err(ApiError::invalid(
                    &self.info.kind,
                    &self.info.gr.group,
                    &name,
                    causes,
                ))
            }
        }
    }

    fn check_type(&self, obj: &mut Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not a JSON or YAML object",
            ));
        }
        match obj.get("metadata") {
            None | Some(Value::Object(_)) => {}
            Some(Value::Null) => obj["metadata"] = json!({}),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "metadata must be an object, got {}",
                    other
                )))
            }
        }
        let want_av = self.info.api_version(&self.version);
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(av) if av != want_av => return Err(ApiError::bad_request(format!("the API version in the data ({av}) does not match the expected API version ({want_av})"))),
            _ => obj["apiVersion"] = json!(want_av),
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != self.info.kind => {
                let name = obj.pointer("/metadata/name").and_then(Value::as_str);
                let cause = Cause {
                    field: "kind".into(),
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {k:?}: must be {}", self.info.kind),
                };
                return Err(ApiError::invalid(
                    k,
                    &self.info.gr.group,
                    name.unwrap_or_default(),
                    vec![cause],
                ));
            }
            _ => obj["kind"] = json!(self.info.kind),
        }
        Ok(())
    }

    fn validate_meta(&self, obj: &Value) -> Result<(), ApiError> {
        let mut causes = Vec::new();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for key in ["labels", "annotations"] {
            if let Some(m) = obj.pointer(&format!("/metadata/{key}")) {
                let ok = m.is_null()
                    || m.as_object()
                        .is_some_and(|m| m.values().all(Value::is_string));
                if !ok {
                    causes.push(Cause {
                        field: format!("metadata.{key}"),
                        reason: "FieldValueTypeInvalid".into(),
                        message: m.to_string(),
                    });
                }
            }
        }
        match causes.first() {
            None => Ok(()),
            // kube-apiserver cannot decode such metadata at all: 400, not 422.
            Some(c) => Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: json: cannot unmarshal {} into Go struct field ObjectMeta.{} of type map[string]string (object {name:?})",
                c.message, c.field, kind = self.info.kind, v = self.version
            ))),
        }
    }

    /// kube-apiserver labels every Namespace with `kubernetes.io/metadata.name: <name>` and
    /// gives it the `kubernetes` finalizer in `spec.finalizers`.
    fn namespace_defaults(&self, obj: &mut Value) {
        if !(self.info.gr.group.is_empty() && self.info.gr.resource == "namespaces") {
            return;
        }
        let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
            return;
        };
        let name = json!(name);
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), name);
        }
        if let Some(o) = obj.as_object_mut() {
            let spec = o.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.entry("finalizers")
                    .or_insert_with(|| json!(["kubernetes"]));
            }
        }
    }

    fn create_obj(
        &self,
        r: &Req,
        mut obj: Value,
        warnings: &mut Vec<String>,
    ) -> Result<Response<Body>, ApiError> {
        self.check_type(&mut obj)?;
        self.validate_meta(&obj)?;
        self.namespace_defaults(&mut obj);
        if self.info.has_status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        self.schema(r, &mut obj, warnings)?;
        builtin::create_defaults(&self.info, &mut obj);
        to_hub(&self.info, &self.version, &mut obj);
        let created = self.store().create(
            &self.info.gr,
            self.ns(),
            obj,
            &WriteOptions {
                dry_run: dry_run(r),
            },
        )?;
        Ok(self.respond_object(r, 201, &created))
    }

    fn create(&self, r: &Req, warnings: &mut Vec<String>) -> Result<Response<Body>, ApiError> {
        let obj = decode(&r.body, &r.content_type)?;
        self.create_obj(r, obj, warnings)
    }

    fn update(&self, r: &Req, warnings: &mut Vec<String>) -> Result<Response<Body>, ApiError> {
        let mut obj = decode(&r.body, &r.content_type)?;
        self.check_type(&mut obj)?;
        self.validate_meta(&obj)?;
        let url_name = self.name.as_deref().unwrap_or_default();
        match obj.pointer("/metadata/name").and_then(Value::as_str) {
            Some(n) if n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )))
            }
            Some(_) => {}
            None => obj["metadata"]["name"] = json!(url_name),
        }
        self.namespace_defaults(&mut obj);
        if self.info.custom
            && self
                .store()
                .get_arc(&self.info.gr, self.ns(), url_name)
                .is_ok()
            && obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            let cause = Cause {
                field: "metadata.resourceVersion".into(),
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: 0x0: must be specified for an update".into(),
            };
            return Err(ApiError::invalid(
                &self.info.kind,
                &self.info.gr.group,
                url_name,
                vec![cause],
            ));
        }
        self.schema(r, &mut obj, warnings)?;
        to_hub(&self.info, &self.version, &mut obj);
        let opts = WriteOptions {
            dry_run: dry_run(r),
        };
        let updated = match self.sub {
            Subresource::Main => self.store().update(&self.info.gr, self.ns(), obj, &opts)?,
            Subresource::Status => {
                self.store()
                    .update_status(&self.info.gr, self.ns(), obj, &opts)?
            }
        };
        Ok(self.respond_object(r, 200, &updated))
    }

    fn patch(&self, r: &Req, warnings: &mut Vec<String>) -> Result<Response<Body>, ApiError> {
        let ct = r
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let patch_doc = match ct.as_str() {
            "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/json-patch+json" => serde_json::from_slice::<Value>(&r.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                serde_yaml::from_slice::<Value>(&r.body)
                    .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            }
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        let name = self.name.clone().unwrap_or_default();
        let is_apply = ct.starts_with("application/apply-patch");
        if is_apply {
            let exists = self
                .store()
                .get_arc(&self.info.gr, self.ns(), &name)
                .is_ok();
            if !exists && self.sub == Subresource::Main {
                let mut obj = patch_doc;
                if obj.pointer("/metadata/name").is_none()
                    && obj.is_object()
                    && obj
                        .get("metadata")
                        .is_none_or(|m| m.is_object() || m.is_null())
                {
                    obj["metadata"]["name"] = json!(name);
                }
                return self.create_obj(r, obj, warnings);
            }
        }
        let opts = WriteOptions {
            dry_run: dry_run(r),
        };
        let mut local_warnings = Vec::new();
        let updated = self.store().modify_with(
            &self.info.gr,
            self.ns(),
            &name,
            self.sub,
            &opts,
            &mut |hub: &mut Value| {
                let mut o = hub.clone();
                from_hub(&self.info, &self.version, &mut o);
                if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                    // The stored resourceVersion is the precondition only if the patch sets one.
                    m.remove("resourceVersion");
                }
                let saved_rv = hub.pointer("/metadata/resourceVersion").cloned();
                if ct == "application/json-patch+json" {
                    patch::json_patch(&mut o, &patch_doc)?;
                } else {
                    patch::merge_patch(&mut o, &patch_doc);
                }
                self.check_type(&mut o)?;
                self.validate_meta(&o)?;
                self.namespace_defaults(&mut o);
                local_warnings.clear();
                self.schema(r, &mut o, &mut local_warnings)?;
                to_hub(&self.info, &self.version, &mut o);
                if o.pointer("/metadata/resourceVersion").is_none() {
                    if let Some(rv) = &saved_rv {
                        o["metadata"]["resourceVersion"] = rv.clone();
                    }
                }
                *hub = o;
                Ok(())
            },
        )?;
        warnings.extend(local_warnings);
        Ok(self.respond_object(r, 200, &updated))
    }

    fn delete_options(&self, r: &Req) -> Result<DeleteOptions, ApiError> {
        let body = decode(&r.body, &r.content_type)?;
        let mut o = DeleteOptions {
            dry_run: dry_run(r),
            ..Default::default()
        };
        if let Some(dr) = body.get("dryRun").and_then(Value::as_array) {
            o.dry_run |= dr.iter().any(|v| v == "All");
        }
        o.precondition_rv = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.precondition_uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(p) = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .or(r.query.get("propagationPolicy").map(String::as_str))
        {
            if !matches!(p, "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::bad_request(format!("propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\"")));
            }
        }
        Ok(o)
    }

    fn delete(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        if self.sub != Subresource::Main {
            return Err(ApiError::method_not_allowed(
                "delete is not allowed on the status subresource",
            ));
        }
        let opts = self.delete_options(r)?;
        let name = self.name.as_deref().unwrap_or_default();
        let obj = self.store().delete(&self.info.gr, self.ns(), name, &opts)?;
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(json_response(200, &self.out(&obj)));
        }
        // Gone (or would be, with dryRun): kube-apiserver answers with a Success Status.
        let uid = obj.pointer("/metadata/uid").cloned().unwrap_or_default();
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": self.info.gr.group, "kind": self.info.gr.resource, "uid": uid}});
        Ok(json_response(200, &status))
    }

    fn delete_collection(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let opts = self.delete_options(r)?;
        let sel = label_field_opts(r)?;
        let (items, _) = self.store().list_arc(&self.info.gr, self.ns(), &sel)?;
        let mut deleted = Vec::new();
        for o in items {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
            match self.store().delete(&self.info.gr, ns, name, &opts) {
                Ok(d) => deleted.push(self.out(&d)),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            200,
            &json!({"apiVersion": self.info.api_version(&self.version), "kind": format!("{}List", self.info.kind), "metadata": if self.info.custom { json!({"continue": ""}) } else { json!({}) }, "items": deleted}),
        ))
    }

    fn watch(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let mut opts = label_field_opts(r)?;
        if let Some(n) = &self.name {
            // `/namespaces/x/things/name?watch=1` and the legacy `/watch/.../name`.
            let mut f = opts.fields.take().unwrap_or_default();
            f.0.push(("metadata.name".into(), true, n.clone()));
            opts.fields = Some(f);
        }
        let since = match r.query.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => None,
            Some(s) => Some(
                s.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))?,
            ),
        };
        let timeout = r
            .query
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_WATCH_TIMEOUT);
        let bookmarks = r
            .query
            .get("allowWatchBookmarks")
            .is_some_and(|v| v == "true" || v == "1");
        let table_mode = wants_table(&r.accept)
            .then(|| table::IncludeObject::parse(r.query.get("includeObject").map(String::as_str)));
        let limits = self.api.faults.on_watch(&self.info);
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let api = self.api.clone();
        let info = self.info.clone();
        let version = self.version.clone();
        let ns = self.ns.clone();
        let send_initial = r
            .query
            .get("sendInitialEvents")
            .is_some_and(|v| v == "true");
        let since = if send_initial { None } else { since };
        // Objects currently inside a label selector, so label changes become ADDED/DELETED
        // for this watcher as the API server does.
        let mut inside: Option<HashSet<(String, String)>> = match (&opts.labels, since) {
            (None, _) => None,
            (Some(_), None) => Some(HashSet::new()),
            (Some(_), Some(_)) => Some(
                self.store()
                    .list_arc(&info.gr, ns.as_deref(), &opts)
                    .map(|(items, _)| items.iter().map(|o| obj_key(o)).collect())
                    .unwrap_or_default(),
            ),
        };
        let start = self.store().watch(&info.gr, ns.as_deref(), since);
        tokio::spawn(async move {
            let line = |v: Value| {
                let mut b = serde_json::to_vec(&v).unwrap_or_default();
                b.push(b'\n');
                Bytes::from(b)
            };
            let mut w = match start {
                Ok(w) => w,
                Err(e) => {
                    let _ = tx
                        .send(line(json!({"type": "ERROR", "object": e.to_status()})))
                        .await;
                    return;
                }
            };
            let deadline =
                tokio::time::sleep(limits.max_duration.map_or(timeout, |d| d.min(timeout)));
            tokio::pin!(deadline);
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + BOOKMARK_EVERY,
                BOOKMARK_EVERY,
            );
            let mut sent: u32 = 0;
            let mut first_table = true;
            let mut initial_left = send_initial.then(|| w.pending_initial());
            loop {
                if initial_left == Some(0) {
                    initial_left = None;
                    let end = json!({"type": "BOOKMARK", "object": {"kind": info.kind, "apiVersion": info.api_version(&version),
                        "metadata": {"resourceVersion": w.last_rv().to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}}});
                    if tx.send(line(end)).await.is_err() {
                        break;
                    }
                }
                let msg = tokio::select! {
                    _ = &mut deadline => break,
                    _ = api.shutdown.cancelled() => break,
                    _ = tx.closed() => break,
                    _ = tick.tick(), if bookmarks => {
                        json!({"type": "BOOKMARK", "object": {"kind": info.kind, "apiVersion": info.api_version(&version), "metadata": {"resourceVersion": w.last_rv().to_string()}}})
                    }
                    ev = w.next() => match ev {
                        None => break,
                        Some(Err(e)) => {
                            let _ = tx.send(line(json!({"type": "ERROR", "object": e.to_status()}))).await;
                            break;
                        }
                        Some(Ok(ev)) => {
                            if let Some(n) = initial_left.as_mut() {
                                *n = n.saturating_sub(1);
                            }
                            let fields_ok = opts.fields.as_ref().is_none_or(|f| f.matches(&ev.object));
                            let labels_ok = opts.labels.as_ref().is_none_or(|l| l.matches(&ev.object));
                            let kind = match inside.as_mut() {
                                _ if !fields_ok => continue,
                                None => ev.kind,
                                Some(set) => {
                                    let key = obj_key(&ev.object);
                                    let was = set.contains(&key);
                                    match (labels_ok, ev.kind) {
                                        (true, EventType::Deleted) | (false, EventType::Modified) if was => {
                                            set.remove(&key);
                                            EventType::Deleted
                                        }
                                        (true, EventType::Deleted) | (false, _) => continue,
                                        (true, _) => {
                                            set.insert(key);
                                            if was { EventType::Modified } else { EventType::Added }
                                        }
                                    }
                                }
                            };
                            let mut o = (*ev.object).clone();
                            from_hub(&info, &version, &mut o);
                            let object = match table_mode {
                                Some(include) => {
                                    let rv = o.pointer("/metadata/resourceVersion").and_then(Value::as_str).map(str::to_string);
                                    let t = table::table(&info, &version, &[o], include, rv, first_table);
                                    first_table = false;
                                    t
                                }
                                None => o,
                            };
                            sent += 1;
                            json!({"type": match kind { EventType::Added => "ADDED", EventType::Modified => "MODIFIED", EventType::Deleted => "DELETED" }, "object": object})
                        }
                    }
                };
                if tx.send(line(msg)).await.is_err() {
                    break;
                }
                if limits.max_events.is_some_and(|m| sent >= m) {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
        });
        let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, private"),
        );
        Ok(resp)
    }
}
