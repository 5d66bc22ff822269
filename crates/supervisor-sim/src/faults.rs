//! Failure injection, configured per run (`--faults FILE`, YAML or JSON) and at runtime through
//! `/sim/v1/faults` (GET shows, PUT/POST replaces, PATCH merges, DELETE clears; admin token).
//!
//! ```yaml
//! latencyMs: 50                 # added to every API request
//! http:                         # answer matching requests with an error, `count` times
//!   - verb: create              # get|list|watch|create|update|patch|delete|deletecollection
//!     resource: virtualmachines # plural, kind, singular or short name
//!     namespace: demo           # optional
//!     name: my-vm               # optional
//!     code: 409                 # 409 / 429 / 500 / any
//!     count: 2                  # omit for "always"
//!     latencyMs: 100            # optional, extra latency for matching requests
//! watch:                        # end matching watches early
//!   - resource: virtualmachines
//!     afterEvents: 3            # and/or afterSeconds: 5
//!     count: 1
//! controllers:                  # read by the simulated vm-operator (see the controllers)
//!   vmNoIp: true
//!   publishFailure: {reason: UploadFailure, message: "disk full"}
//! ```
//! Per-object controller overrides use annotations prefixed `sim.supervisor.vmware.com/`.

use crate::catalog::ResourceInfo;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything injectable, in one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Latency added to every API request, in milliseconds.
    pub latency_ms: u64,
    /// Error answers.
    pub http: Vec<HttpFault>,
    /// Watch interruptions.
    pub watch: Vec<WatchFault>,
    /// Controller-level faults (interpreted by the simulator's controllers).
    pub controllers: ControllerFaults,
}

/// Answer matching requests with an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpFault {
    /// Verb to match (any when empty).
    pub verb: Option<String>,
    /// Resource to match: plural, kind, singular or short name (any when empty).
    pub resource: Option<String>,
    /// Namespace to match.
    pub namespace: Option<String>,
    /// Object name to match.
    pub name: Option<String>,
    /// HTTP status to answer with (0: no error, only latency).
    pub code: u16,
    /// Remaining answers; `None` = unlimited.
    pub count: Option<u32>,
    /// Extra latency for matching requests.
    pub latency_ms: u64,
    /// Message in the Status (a default per code otherwise).
    pub message: Option<String>,
}

/// End watches early.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchFault {
    /// Resource to match (any when empty).
    pub resource: Option<String>,
    /// Close after this many events.
    pub after_events: Option<u32>,
    /// Close after this many seconds.
    pub after_seconds: Option<u64>,
    /// Remaining watches to affect; `None` = unlimited.
    pub count: Option<u32>,
}

/// Controller faults; the simulated vm-operator reads these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ControllerFaults {
    /// VMs power on but never get `status.network.primaryIP4`.
    pub vm_no_ip: bool,
    /// Publish requests fail with this reason/message.
    pub publish_failure: Option<PublishFailure>,
    /// Capacity of every content library in bytes (publishing beyond it fails).
    pub library_capacity_bytes: Option<u64>,
    /// Further controller settings (owned by the controllers).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a publish fails.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublishFailure {
    /// Condition reason (e.g. `UploadFailure`).
    pub reason: String,
    /// Condition message.
    pub message: String,
}

/// Shared, runtime-changeable fault state.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultConfig>>,
}

/// Watch limits for one watch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchLimits {
    /// Close after N events.
    pub max_events: Option<u32>,
    /// Close after this long.
    pub max_duration: Option<Duration>,
}

fn matches_resource(want: &Option<String>, info: &ResourceInfo) -> bool {
    match want {
        None => true,
        Some(w) => {
            let w = w.to_ascii_lowercase();
            w == info.gr.resource
                || w == info.singular
                || w == info.kind.to_ascii_lowercase()
                || info.short_names.contains(&w)
                || w == info.gr.to_string()
        }
    }
}

impl Faults {
    /// Starts with `cfg`.
    pub fn new(cfg: FaultConfig) -> Self {
        Faults {
            inner: Arc::new(Mutex::new(cfg)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultConfig> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Current configuration.
    pub fn get(&self) -> FaultConfig {
        self.lock().clone()
    }

    /// Replaces the configuration.
    pub fn set(&self, cfg: FaultConfig) {
        *self.lock() = cfg;
    }

    /// Controller faults (what the controllers should read on each reconcile).
    pub fn controllers(&self) -> ControllerFaults {
        self.lock().controllers.clone()
    }

    /// Latency and error for a request; consumes one `count` of the first matching fault.
    pub fn on_request(
        &self,
        verb: &str,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: Option<&str>,
    ) -> (Duration, Option<ApiError>) {
        let mut cfg = self.lock();
        let mut latency = Duration::from_millis(cfg.latency_ms);
        let mut error = None;
        let mut exhausted = None;
        for (i, f) in cfg.http.iter_mut().enumerate() {
            let hit = f
                .verb
                .as_deref()
                .is_none_or(|v| v.eq_ignore_ascii_case(verb))
                && matches_resource(&f.resource, info)
                && f.namespace.as_deref().is_none_or(|n| Some(n) == ns)
                && f.name.as_deref().is_none_or(|n| Some(n) == name);
            if !hit {
                continue;
            }
            latency += Duration::from_millis(f.latency_ms);
            if f.code != 0 {
                let msg = f
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("injected fault: {} {verb} {}", f.code, info.gr));
                error = Some(match f.code {
                    409 => ApiError::conflict_msg(msg),
                    429 => {
                        let mut e = ApiError::too_many_requests(1);
                        if f.message.is_some() {
                            e.message = msg;
                        }
                        e
                    }
                    500 => ApiError::internal(msg),
                    c => ApiError::custom(c, "InternalError", msg),
                });
            }
            if let Some(c) = f.count.as_mut() {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    exhausted = Some(i);
                }
            }
            break;
        }
        if let Some(i) = exhausted {
            cfg.http.remove(i);
        }
        (latency, error)
    }

    /// Limits for a new watch on `info`; consumes one `count`.
    pub fn on_watch(&self, info: &ResourceInfo) -> WatchLimits {
        let mut cfg = self.lock();
        let mut out = WatchLimits::default();
        let mut exhausted = None;
        for (i, f) in cfg.watch.iter_mut().enumerate() {
            if !matches_resource(&f.resource, info) {
                continue;
            }
            out.max_events = f.after_events;
            out.max_duration = f.after_seconds.map(Duration::from_secs);
            if let Some(c) = f.count.as_mut() {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    exhausted = Some(i);
                }
            }
            break;
        }
        if let Some(i) = exhausted {
            cfg.watch.remove(i);
        }
        out
    }
}

/// Parses a fault file (YAML or JSON).
pub fn parse(text: &str) -> Result<FaultConfig, String> {
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}
