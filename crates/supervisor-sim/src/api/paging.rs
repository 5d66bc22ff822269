//! `limit` / `continue` for lists, the way kube-apiserver pages: items in key order, a continue
//! token naming the last key served, and `remainingItemCount` when no selector was used.

use crate::error::ApiError;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One page of a list and the list's `metadata`.
pub struct Page {
    pub items: Vec<Value>,
    pub metadata: Map<String, Value>,
}

fn key(o: &Value) -> String {
    let s = |k: &str| {
        o.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    format!("{}/{}", s("namespace"), s("name"))
}

fn decode_token(token: &str) -> Result<String, ApiError> {
    let invalid = |why: String| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|e| invalid(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    v.get("start")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid("no start key".into()))
}

fn encode_token(rv: u64, start: &str) -> String {
    let doc = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(doc.to_string())
}

/// Applies `limit` and `continue` from `query` to `items` (in key order) listed at `rv`.
/// `custom`: a custom resource list, whose metadata always has `continue` (kube-apiserver
/// serializes it as `""` on the last page).
pub fn page(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    rv: u64,
    custom: bool,
) -> Result<Page, ApiError> {
    let after = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(t) => Some(decode_token(t)?),
        None => None,
    };
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let mut items: Vec<Value> = match &after {
        Some(start) => items.into_iter().filter(|o| key(o) > *start).collect(),
        None => items,
    };
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), rv.to_string().into());
    let mut token = String::new();
    if let Some(limit) = limit.filter(|l| items.len() > *l) {
        let remaining = items.len() - limit;
        items.truncate(limit);
        token = items
            .last()
            .map(key)
            .map(|k| encode_token(rv, &k))
            .unwrap_or_default();
        let selected = ["labelSelector", "fieldSelector"]
            .iter()
            .any(|s| query.get(*s).is_some_and(|v| !v.is_empty()));
        if !selected {
            metadata.insert("remainingItemCount".into(), remaining.into());
        }
    }
    if custom || !token.is_empty() {
        metadata.insert("continue".into(), token.into());
    }
    Ok(Page { items, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(names: &[&str]) -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"metadata": {"namespace": "demo", "name": n}}))
            .collect()
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_follow_the_continue_token() {
        let first = page(objs(&["a", "b", "c"]), &q(&[("limit", "2")]), 7, true).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.metadata["remainingItemCount"], 1);
        let token = first.metadata["continue"].as_str().unwrap().to_string();
        let q2 = q(&[("limit", "2"), ("continue", &token)]);
        let second = page(objs(&["a", "b", "c"]), &q2, 7, true).unwrap();
        assert_eq!(second.items, objs(&["c"]));
        assert_eq!(second.metadata["continue"], "");
        assert!(second.metadata.get("remainingItemCount").is_none());
    }

    #[test]
    fn built_in_lists_omit_an_empty_continue_and_selectors_omit_the_count() {
        let all = page(objs(&["a"]), &q(&[]), 1, false).unwrap();
        assert!(all.metadata.get("continue").is_none());
        let sel = q(&[("limit", "1"), ("labelSelector", "x=y")]);
        let p = page(objs(&["a", "b"]), &sel, 1, false).unwrap();
        assert!(p.metadata.get("remainingItemCount").is_none());
        assert!(!p.metadata["continue"].as_str().unwrap().is_empty());
    }

    #[test]
    fn a_bad_token_is_a_bad_request() {
        let e = page(objs(&["a"]), &q(&[("continue", "garbage!")]), 1, true)
            .err()
            .unwrap();
        assert_eq!(e.code, 400);
        assert!(
            e.message.starts_with("continue key is not valid"),
            "{}",
            e.message
        );
    }
}
