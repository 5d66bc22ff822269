//! `/sim/v1/requests`: how many API requests each client (by `User-Agent`) made, so a benchmark
//! can compare builders on the work they ask of the API server. `GET` returns
//! `{"total": N, "byUserAgent": {"<agent>": N, …}}`; `DELETE` resets the counts. Requests to
//! `/sim/v1/…` themselves are not counted. Admin only, like the faults endpoint.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

/// Request counts per user agent.
#[derive(Debug, Default)]
pub struct RequestLog {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl RequestLog {
    /// Counts one request of `agent` (its product token: `kube-rs/5.0.0 (…)` → `kube-rs/5.0.0`).
    pub fn record(&self, agent: &str) {
        let token = agent.split_whitespace().next().unwrap_or("").to_string();
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry(token).or_insert(0) += 1;
    }

    /// The counts as the endpoint returns them.
    pub fn snapshot(&self) -> Value {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let total: u64 = c.values().sum();
        json!({ "total": total, "byUserAgent": *c })
    }

    /// Forgets every count.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// `/sim/v1/requests`: `GET` the counts, `DELETE` to reset them (admin only).
pub(super) fn requests_endpoint(
    api: &super::Api,
    r: &super::route::Req,
) -> Result<http::Response<super::Body>, crate::error::ApiError> {
    if !r.user.is_admin() {
        return Err(crate::error::ApiError::forbidden(format!(
            "User \"{}\" cannot read the simulator's request counts",
            r.user.name
        )));
    }
    match r.method {
        http::Method::GET => {}
        http::Method::DELETE => api.requests.reset(),
        _ => {
            return Err(crate::error::ApiError::method_not_allowed(
                "use GET or DELETE",
            ))
        }
    }
    Ok(super::respond::json_response(200, &api.requests.snapshot()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_product_token_and_resets() {
        let log = RequestLog::default();
        log.record("kube-rs/5.0.0 (linux)");
        log.record("kube-rs/5.0.0");
        log.record("packer-plugin-vsphere/v0.0.0 (linux/amd64) kubernetes/$Format");
        let s = log.snapshot();
        assert_eq!(s["total"], 3);
        assert_eq!(s["byUserAgent"]["kube-rs/5.0.0"], 2);
        log.reset();
        assert_eq!(log.snapshot()["total"], 0);
    }
}
