//! The write verbs: create, update (main and status), patch (merge, JSON, apply) and delete
//! (one or a collection).

use super::body::decode;
use super::patch;
use super::respond::json_response;
use super::route::Req;
use super::target::{dry_run, label_field_opts, Target};
use super::{builtin, Body};
use crate::convert::{from_hub, to_hub};
use crate::error::{ApiError, Cause};
use crate::store::{DeleteOptions, Subresource, WriteOptions};
use http::Response;
use serde_json::{json, Value};

/// The patch's media type (without parameters) and its decoded document.
fn patch_document(r: &Req) -> Result<(String, Value), ApiError> {
    let ct = r
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let patch_doc = match ct.as_str() {
        "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json" => serde_json::from_slice::<Value>(&r.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
        "application/apply-patch+yaml" | "application/apply-patch+json" => {
            serde_yaml::from_slice::<Value>(&r.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok((ct, patch_doc))
}

impl Target<'_> {
    fn create_obj(
        &self,
        r: &Req,
        mut obj: Value,
        warnings: &mut Vec<String>,
    ) -> Result<Response<Body>, ApiError> {
        self.check_type(&mut obj)?;
        self.validate_meta(&obj)?;
        self.namespace_defaults(&mut obj);
        if self.info.has_status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        self.schema(r, &mut obj, warnings)?;
        builtin::create_defaults(&self.info, &mut obj);
        to_hub(&self.info, &self.version, &mut obj);
        let created = self.store().create(
            &self.info.gr,
            self.ns(),
            obj,
            &WriteOptions {
                dry_run: dry_run(r),
            },
        )?;
        Ok(self.respond_object(r, 201, &created))
    }

    pub(super) fn create(
        &self,
        r: &Req,
        warnings: &mut Vec<String>,
    ) -> Result<Response<Body>, ApiError> {
        let obj = decode(&r.body, &r.content_type)?;
        self.create_obj(r, obj, warnings)
    }

    pub(super) fn update(
        &self,
        r: &Req,
        warnings: &mut Vec<String>,
    ) -> Result<Response<Body>, ApiError> {
        let mut obj = decode(&r.body, &r.content_type)?;
        self.check_type(&mut obj)?;
        self.validate_meta(&obj)?;
        let url_name = self.name.as_deref().unwrap_or_default();
        match obj.pointer("/metadata/name").and_then(Value::as_str) {
            Some(n) if n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )))
            }
            Some(_) => {}
            None => obj["metadata"]["name"] = json!(url_name),
        }
        self.namespace_defaults(&mut obj);
        if self.info.custom
            && self
                .store()
                .get_arc(&self.info.gr, self.ns(), url_name)
                .is_ok()
            && obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            let cause = Cause {
                field: "metadata.resourceVersion".into(),
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: 0x0: must be specified for an update".into(),
            };
            return Err(ApiError::invalid(
                &self.info.kind,
                &self.info.gr.group,
                url_name,
                vec![cause],
            ));
        }
        self.schema(r, &mut obj, warnings)?;
        to_hub(&self.info, &self.version, &mut obj);
        let opts = WriteOptions {
            dry_run: dry_run(r),
        };
        let updated = match self.sub {
            Subresource::Main => self.store().update(&self.info.gr, self.ns(), obj, &opts)?,
            Subresource::Status => {
                self.store()
                    .update_status(&self.info.gr, self.ns(), obj, &opts)?
            }
        };
        Ok(self.respond_object(r, 200, &updated))
    }

    pub(super) fn patch(
        &self,
        r: &Req,
        warnings: &mut Vec<String>,
    ) -> Result<Response<Body>, ApiError> {
        let (ct, patch_doc) = patch_document(r)?;
        let name = self.name.clone().unwrap_or_default();
        let is_apply = ct.starts_with("application/apply-patch");
        if is_apply {
            let exists = self
                .store()
                .get_arc(&self.info.gr, self.ns(), &name)
                .is_ok();
            if !exists && self.sub == Subresource::Main {
                let mut obj = patch_doc;
                if obj.pointer("/metadata/name").is_none()
                    && obj.is_object()
                    && obj
                        .get("metadata")
                        .is_none_or(|m| m.is_object() || m.is_null())
                {
                    obj["metadata"]["name"] = json!(name);
                }
                return self.create_obj(r, obj, warnings);
            }
        }
        let opts = WriteOptions {
            dry_run: dry_run(r),
        };
        let mut local_warnings = Vec::new();
        let updated = self.store().modify_with(
            &self.info.gr,
            self.ns(),
            &name,
            self.sub,
            &opts,
            &mut |hub: &mut Value| {
                let mut o = hub.clone();
                from_hub(&self.info, &self.version, &mut o);
                if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                    // The stored resourceVersion is the precondition only if the patch sets one.
                    m.remove("resourceVersion");
                }
                let saved_rv = hub.pointer("/metadata/resourceVersion").cloned();
                if ct == "application/json-patch+json" {
                    patch::json_patch(&mut o, &patch_doc)?;
                } else {
                    patch::merge_patch(&mut o, &patch_doc);
                }
                self.check_type(&mut o)?;
                self.validate_meta(&o)?;
                self.namespace_defaults(&mut o);
                local_warnings.clear();
                self.schema(r, &mut o, &mut local_warnings)?;
                to_hub(&self.info, &self.version, &mut o);
                if o.pointer("/metadata/resourceVersion").is_none() {
                    if let Some(rv) = &saved_rv {
                        o["metadata"]["resourceVersion"] = rv.clone();
                    }
                }
                *hub = o;
                Ok(())
            },
        )?;
        warnings.extend(local_warnings);
        Ok(self.respond_object(r, 200, &updated))
    }

    fn delete_options(&self, r: &Req) -> Result<DeleteOptions, ApiError> {
        let body = decode(&r.body, &r.content_type)?;
        let mut o = DeleteOptions {
            dry_run: dry_run(r),
            ..Default::default()
        };
        if let Some(dr) = body.get("dryRun").and_then(Value::as_array) {
            o.dry_run |= dr.iter().any(|v| v == "All");
        }
        o.precondition_rv = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.precondition_uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(p) = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .or(r.query.get("propagationPolicy").map(String::as_str))
        {
            if !matches!(p, "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::bad_request(format!("propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\"")));
            }
        }
        Ok(o)
    }

    pub(super) fn delete(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        if self.sub != Subresource::Main {
            return Err(ApiError::method_not_allowed(
                "delete is not allowed on the status subresource",
            ));
        }
        let opts = self.delete_options(r)?;
        let name = self.name.as_deref().unwrap_or_default();
        let obj = self.store().delete(&self.info.gr, self.ns(), name, &opts)?;
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(json_response(200, &self.out(&obj)));
        }
        // Gone (or would be, with dryRun): kube-apiserver answers with a Success Status.
        let uid = obj.pointer("/metadata/uid").cloned().unwrap_or_default();
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": self.info.gr.group, "kind": self.info.gr.resource, "uid": uid}});
        Ok(json_response(200, &status))
    }

    pub(super) fn delete_collection(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let opts = self.delete_options(r)?;
        let sel = label_field_opts(r)?;
        let (items, _) = self.store().list_arc(&self.info.gr, self.ns(), &sel)?;
        let mut deleted = Vec::new();
        for o in items {
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
            match self.store().delete(&self.info.gr, ns, name, &opts) {
                Ok(d) => deleted.push(self.out(&d)),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json_response(
            200,
            &json!({"apiVersion": self.info.api_version(&self.version), "kind": format!("{}List", self.info.kind), "metadata": if self.info.custom { json!({"continue": ""}) } else { json!({}) }, "items": deleted}),
        ))
    }
}
