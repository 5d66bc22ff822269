//! `/sim/v1/faults`: reads and changes the failure-injection settings (admin only).

use super::body::decode;
use super::respond::json_response;
use super::route::Req;
use super::{patch, Api, Body};
use crate::error::ApiError;
use crate::faults::FaultConfig;
use http::{Method, Response};
use serde_json::Value;

pub(super) fn faults_endpoint(api: &Api, r: &Req) -> Result<Response<Body>, ApiError> {
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
