//! The OpenAPI v2 document, in JSON or in the protobuf encoding kubectl asks for, written by hand.

use super::respond::{full, json_response};
use super::route::Req;
use super::{discovery, Body};
use http::{HeaderValue, Response};
use serde_json::json;

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
pub(super) fn openapi_v2(r: &Req) -> Response<Body> {
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
