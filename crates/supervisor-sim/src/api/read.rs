//! The read verbs: get and list (with paging and tables).

use super::paging;
use super::respond::{json_response, wants_table};
use super::route::Req;
use super::target::{label_field_opts, Target};
use super::{table, Body};
use crate::error::ApiError;
use http::Response;
use serde_json::{json, Value};

impl Target<'_> {
    pub(super) fn get(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let name = self.name.as_deref().unwrap_or_default();
        let obj = self.store().get_arc(&self.info.gr, self.ns(), name)?;
        Ok(self.respond_object(r, 200, &obj))
    }

    pub(super) fn list(&self, r: &Req) -> Result<Response<Body>, ApiError> {
        let opts = label_field_opts(r)?;
        let (items, rv) = self.store().list_arc(&self.info.gr, self.ns(), &opts)?;
        let items: Vec<Value> = items.iter().map(|o| self.out(o)).collect();
        let paging::Page {
            mut items,
            metadata,
        } = paging::page(items, &r.query, rv, self.info.custom)?;
        if wants_table(&r.accept) {
            let include =
                table::IncludeObject::parse(r.query.get("includeObject").map(String::as_str));
            return Ok(json_response(
                200,
                &table::table(
                    &self.info,
                    &self.version,
                    &items,
                    include,
                    Some(rv.to_string()),
                    true,
                ),
            ));
        }
        if !self.info.custom {
            // Built-in kinds' list items carry no kind/apiVersion in kube-apiserver's JSON.
            for o in items.iter_mut().filter_map(Value::as_object_mut) {
                o.remove("kind");
                o.remove("apiVersion");
            }
        }
        Ok(json_response(
            200,
            &json!({
                "apiVersion": self.info.api_version(&self.version),
                "kind": format!("{}List", self.info.kind),
                "metadata": metadata,
                "items": items,
            }),
        ))
    }
}
