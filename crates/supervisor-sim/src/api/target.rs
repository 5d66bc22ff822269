//! Resource URLs: a path resolved to a [`Target`] (kind, version, namespace, name, subresource),
//! the verb chosen, faults / RBAC / query options checked, then the verb dispatched.

use super::respond::{add_warnings, json_response, wants_table};
use super::route::Req;
use super::{options, table, Api, Body};
use crate::catalog::ResourceInfo;
use crate::convert::from_hub;
use crate::error::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{ListOptions, Store, Subresource};
use http::{Method, Response};
use serde_json::Value;
use std::sync::Arc;

/// A resolved resource URL.
pub(super) struct Target<'a> {
    pub(super) info: ResourceInfo,
    pub(super) version: String,
    pub(super) ns: Option<String>,
    pub(super) name: Option<String>,
    pub(super) sub: Subresource,
    pub(super) legacy_watch: bool,
    pub(super) api: &'a Arc<Api>,
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

/// Serves a resource URL under `/api/v1` or `/apis/<group>/<version>`.
pub(super) async fn resource(
    api: &Arc<Api>,
    r: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let t = Target::resolve(api, group, version, rest)?;
    let verb = t.verb(r)?;
    t.admit(r, verb).await?;
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

pub(super) fn label_field_opts(r: &Req) -> Result<ListOptions, ApiError> {
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

pub(super) fn obj_key(o: &Value) -> (String, String) {
    let get = |k: &str| {
        o.pointer(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (get("/metadata/namespace"), get("/metadata/name"))
}

pub(super) fn dry_run(r: &Req) -> bool {
    r.query.get("dryRun").is_some_and(|v| v == "All")
}

impl<'a> Target<'a> {
    /// Resolves the path after `/api/v1` or `/apis/<group>/<version>` to a served kind.
    fn resolve(
        api: &'a Arc<Api>,
        group: &str,
        version: &str,
        rest: &[&str],
    ) -> Result<Self, ApiError> {
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
        Ok(Target {
            version: version.to_string(),
            ns: ns.map(str::to_string),
            name: name.map(str::to_string),
            sub,
            legacy_watch,
            api,
            info,
        })
    }

    /// The verb of the request (`get`, `list`, `watch`, `create`, …).
    fn verb(&self, r: &Req) -> Result<&'static str, ApiError> {
        let is_watch = self.legacy_watch
            || matches!(r.query.get("watch").map(String::as_str), Some("true" | "1"));
        let verb = match (&r.method, self.name.is_some()) {
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
        if self.info.namespaced && self.ns.is_none() && !matches!(verb, "list" | "watch") {
            return Err(ApiError::no_route());
        }
        Ok(verb)
    }

    /// Fault injection, RBAC and the query options allowed for `verb`.
    async fn admit(&self, r: &Req, verb: &str) -> Result<(), ApiError> {
        let (ns, name) = (self.ns.as_deref(), self.name.as_deref());
        let (latency, injected) = self.api.faults.on_request(verb, &self.info, ns, name);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(e) = injected {
            return Err(e);
        }
        self.api
            .auth
            .authorize(&r.user, verb, &self.info, ns, name)?;
        options::check(
            &self.info,
            verb,
            name.unwrap_or_default(),
            &r.query,
            &r.content_type,
        )
    }

    pub(super) fn store(&self) -> &Store {
        &self.api.store
    }

    pub(super) fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    pub(super) fn out(&self, hub: &Value) -> Value {
        let mut o = hub.clone();
        from_hub(&self.info, &self.version, &mut o);
        o
    }

    pub(super) fn respond_object(&self, r: &Req, code: u16, hub: &Value) -> Response<Body> {
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
}
