//! Request bodies: reading them (with the API server's size limit) and decoding JSON, YAML or
//! Kubernetes protobuf into JSON values.

use super::protobuf_body;
use crate::error::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::Value;

/// Largest request body accepted (the API server's limit is about 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

pub(super) async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
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
