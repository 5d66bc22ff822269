//! The HTTP side: routing, authentication, verbs, version conversion, schema validation, tables
//! and watches, served with hyper 1 over TLS (or plain HTTP with `--insecure-http`).
//!
//! Request flow for a resource URL: faults (latency / injected errors) → authentication → RBAC
//! → decode (JSON or YAML) → schema (prune, default, validate) at the client's version →
//! convert to the hub → [`crate::store::Store`] (admission hooks run there) → convert back →
//! JSON or Table.
//!
//! The rooms: [`handle`] here; `route.rs` (paths, the authenticated request, OpenAPI v3) →
//! `target.rs` (a resource URL resolved, its verb, faults / RBAC / options) → `read.rs` (get,
//! list), `write.rs` (create, update, patch, delete) with `validate.rs` (type, metadata, schema,
//! Namespace defaults), `watch.rs`; `body.rs` (reading and decoding bodies), `respond.rs`
//! (responses), `openapi_v2.rs`, `faults.rs` and `requests.rs` (the `/sim/v1` endpoints),
//! `discovery.rs`, `table.rs`, `patch.rs`, `paging.rs`, `options.rs`, `builtin.rs`.

mod body;
mod builtin;
pub mod discovery;
mod faults;
mod openapi_v2;
mod options;
mod paging;
pub mod patch;
mod protobuf_body;
mod read;
pub mod requests;
mod respond;
mod route;
pub mod table;
mod table_builtin;
mod target;
mod validate;
mod watch;
mod write;

pub use body::decode;

use crate::auth::Auth;
use crate::catalog::Catalog;
use crate::faults::Faults;
use crate::store::Store;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Response body type.
pub type Body = BoxBody<Bytes, Infallible>;

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
    let resp = match route::route(&api, req).await {
        Ok(r) => r,
        Err(e) => respond::error_response(&e),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "request");
    Ok(resp)
}
