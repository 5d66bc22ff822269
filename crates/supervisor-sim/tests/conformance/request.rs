//! One corpus request, how it is sent to a target, and what comes back (`Outcome`).
//!
//! Paths and bodies may name values saved from earlier answers of the same target as `{var}`
//! (resourceVersions, generated names, continue tokens differ between the servers).

use super::targets::{Target, User};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

pub const JSON: &str = "application/json";
pub const MERGE: &str = "application/merge-patch+json";
pub const JSON_PATCH: &str = "application/json-patch+json";
pub const APPLY: &str = "application/apply-patch+yaml";
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// A request of the corpus.
pub struct Req {
    pub name: String,
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub content_type: &'static str,
    pub accept: Option<&'static str>,
    pub user: User,
    /// Values to remember from the answer: (variable, JSON pointer).
    pub saves: Vec<(&'static str, &'static str)>,
    /// A watch: read up to this many events (at most 3 s).
    pub watch_events: Option<usize>,
}

impl Req {
    pub fn new(name: &str, method: &'static str, path: &str) -> Req {
        Req {
            name: name.to_string(),
            method,
            path: path.to_string(),
            body: None,
            content_type: JSON,
            accept: None,
            user: User::Admin,
            saves: Vec::new(),
            watch_events: None,
        }
    }
    pub fn body(mut self, body: Value) -> Req {
        self.body = Some(body.to_string());
        self
    }
    pub fn ct(mut self, content_type: &'static str) -> Req {
        self.content_type = content_type;
        self
    }
    pub fn accept(mut self, accept: &'static str) -> Req {
        self.accept = Some(accept);
        self
    }
    pub fn user(mut self, user: User) -> Req {
        self.user = user;
        self
    }
    pub fn save(mut self, var: &'static str, pointer: &'static str) -> Req {
        self.saves.push((var, pointer));
        self
    }
    pub fn watch(mut self, events: usize) -> Req {
        self.watch_events = Some(events);
        self
    }
}

pub fn get(name: &str, path: &str) -> Req {
    Req::new(name, "GET", path)
}
pub fn post(name: &str, path: &str, body: Value) -> Req {
    Req::new(name, "POST", path).body(body)
}
pub fn put(name: &str, path: &str, body: Value) -> Req {
    Req::new(name, "PUT", path).body(body)
}
pub fn patch(name: &str, path: &str, ct: &'static str, body: Value) -> Req {
    Req::new(name, "PATCH", path).body(body).ct(ct)
}
pub fn delete(name: &str, path: &str) -> Req {
    Req::new(name, "DELETE", path)
}

/// What a target answered.
#[derive(Debug)]
pub struct Outcome {
    pub code: u16,
    /// The body (JSON), or the watch events as an array.
    pub body: Value,
}

fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Sends `req` to `t` and records the saved values in `vars`. A `429` (kube-apiserver's watch
/// cache of a new CRD still initializing) is retried after its Retry-After, as clients do.
pub async fn send(t: &Target, req: &Req, vars: &mut HashMap<String, String>) -> Outcome {
    let mut attempts = 0;
    let outcome = loop {
        let outcome = send_once(t, req, vars).await;
        attempts += 1;
        if outcome.code != 429 || attempts == 10 {
            break outcome;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for (var, pointer) in &req.saves {
        if let Some(v) = outcome.body.pointer(pointer) {
            let v = v.as_str().map(str::to_string).unwrap_or(v.to_string());
            vars.insert(var.to_string(), v);
        }
    }
    outcome
}

async fn send_once(t: &Target, req: &Req, vars: &HashMap<String, String>) -> Outcome {
    let path = substitute(&req.path, vars);
    let mut rb = t.request(req.method, &path, req.user);
    if let Some(b) = &req.body {
        rb = rb
            .header("content-type", req.content_type)
            .body(substitute(b, vars));
    }
    if let Some(a) = req.accept {
        rb = rb.header("accept", a);
    }
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {} {path}: {e}", t.label, req.method));
    let code = resp.status().as_u16();
    let body = match req.watch_events {
        Some(n) if code == 200 => Value::Array(read_events(resp, n).await),
        _ => {
            let text = resp.text().await.unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
    };
    Outcome { code, body }
}

/// Up to `n` watch events, reading for at most 3 s.
async fn read_events(mut resp: reqwest::Response, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    while events.len() < n {
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            if let Ok(v) = serde_json::from_slice(&line) {
                events.push(v);
            }
            continue;
        }
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    events
}
