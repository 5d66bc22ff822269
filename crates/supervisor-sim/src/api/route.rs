//! Routing: the request's query and headers read into a [`Req`], then its path matched to the
//! health and version endpoints, the simulator's own endpoints, discovery, OpenAPI or a resource.

use super::body::read_body;
use super::faults::faults_endpoint;
use super::openapi_v2::openapi_v2;
use super::requests::requests_endpoint;
use super::respond::{full, json_response};
use super::target::resource;
use super::{discovery, Api, Body};
use crate::auth::User;
use crate::error::ApiError;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

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

/// An authenticated request with its body read.
pub(super) struct Req {
    pub(super) method: Method,
    pub(super) query: HashMap<String, String>,
    pub(super) accept: String,
    pub(super) content_type: String,
    pub(super) user: User,
    pub(super) body: Bytes,
}

pub(super) async fn route(
    api: &Arc<Api>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
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
    route_authenticated(api, &r, &s).await
}

/// Routes a request that passed authentication.
async fn route_authenticated(
    api: &Arc<Api>,
    r: &Req,
    s: &[&str],
) -> Result<Response<Body>, ApiError> {
    match s {
        ["sim", "v1", "faults"] => faults_endpoint(api, r),
        ["sim", "v1", "requests"] => requests_endpoint(api, r),
        ["api"] => Ok(discovery_response(
            r,
            discovery::aggregated(&api.catalog, true, "apidiscovery.k8s.io/v2"),
            || discovery::core_versions(&api.server_address),
        )),
        ["apis"] => Ok(discovery_response(
            r,
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
        ["openapi", "v3"] => Ok(openapi_v3_root(api)),
        ["openapi", "v3", rest @ ..] => openapi_v3_doc(api, rest),
        ["openapi", "v2"] | ["swagger-2.0.0.pb-v1"] | ["swagger.json"] => Ok(openapi_v2(r)),
        ["api", "v1", rest @ ..] => resource(api, r, "", "v1", rest).await,
        ["apis", g, v, rest @ ..] => resource(api, r, g, v, rest).await,
        _ => Err(ApiError::no_route()),
    }
}

/// `/openapi/v3`: the pre-rendered index of the per-group-version documents.
fn openapi_v3_root(api: &Api) -> Response<Body> {
    let mut resp = Response::new(full(api.openapi_root.clone()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `/openapi/v3/<key>`: one pre-rendered document, immutable (its URL carries its hash).
fn openapi_v3_doc(api: &Api, rest: &[&str]) -> Result<Response<Body>, ApiError> {
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
