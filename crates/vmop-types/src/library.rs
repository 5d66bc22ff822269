//! imageregistry.vmware.com kinds: ContentLibrary (v1alpha1 `writable` vs v1alpha2
//! `allowPublish`/`allowDelete`), items, import requests, and the v1alpha1 ⇔ v1alpha2 conversion
//! of the fields that differ.

use crate::meta::{Condition, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A ContentLibrary or ClusterContentLibrary, either version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibrary {
    /// API version.
    #[serde(default)]
    pub api_version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: ContentLibrarySpec,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ContentLibraryStatus>,
}

/// Library spec: v1alpha1 fields (`uuid`, `writable`) and v1alpha2 fields (`id`,
/// `allowPublish`, `allowDelete`) are all optional so one struct reads both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibrarySpec {
    /// v1alpha1 library UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// v1alpha2 library id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// v1alpha1: publish/delete allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writable: Option<bool>,
    /// v1alpha2: publishing allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_publish: Option<bool>,
    /// v1alpha2: deleting items allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_delete: Option<bool>,
    /// Import allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_import: Option<bool>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ContentLibrarySpec {
    /// Whether publishing into this library is allowed, whichever version was read.
    pub fn is_writable(&self) -> bool {
        self.writable
            .unwrap_or(self.allow_publish.unwrap_or(false) || self.allow_delete.unwrap_or(false))
    }

    /// The library id, whichever version was read.
    pub fn library_id(&self) -> Option<&str> {
        self.id.as_deref().or(self.uuid.as_deref())
    }
}

/// Library status subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryStatus {
    /// vSphere name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Conditions (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An object kept raw apart from its type and metadata: spec and status stay JSON maps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawObject {
    /// API version.
    #[serde(default)]
    pub api_version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: Map<String, Value>,
    /// Status.
    #[serde(default)]
    pub status: Map<String, Value>,
}

/// A ContentLibraryItem or ClusterContentLibraryItem, either version: spec `uuid` in v1alpha1,
/// `id` + `libraryName` in v1alpha2; status `name`, `type`, `contentLibraryRef`, ….
pub type ContentLibraryItem = RawObject;

/// An import request (v1alpha1 `status.itemRef.name`, v1alpha2 `status.itemName`).
pub type ContentLibraryItemImportRequest = RawObject;

fn naming_up(v: &str) -> &str {
    match v {
        "FROM_ITEM_ID" => "FromItemID",
        "PREFER_ITEM_SOURCE_ID" => "PreferItemSourceID",
        other => other,
    }
}

fn naming_down(v: &str) -> &str {
    match v {
        "FromItemID" => "FROM_ITEM_ID",
        "PreferItemSourceID" => "PREFER_ITEM_SOURCE_ID",
        other => other,
    }
}

fn rename(map: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = map.remove(from) {
        map.entry(to.to_string()).or_insert(v);
    }
}

fn map_string(map: &mut Map<String, Value>, key: &str, f: fn(&str) -> &str) {
    if let Some(Value::String(s)) = map.get_mut(key) {
        *s = f(s).to_string();
    }
}

/// Converts an imageregistry object of `kind` from v1alpha1 to v1alpha2 in place.
pub fn imageregistry_v1alpha1_to_v1alpha2(kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    let mut library_from_status = None;
    if let Some(Value::Object(status)) = o.get_mut("status") {
        if let Some(Value::Object(sb)) = status.get("storageBacking").cloned() {
            status.insert(
                "storageBacking".into(),
                Value::Array(vec![Value::Object(sb)]),
            );
        }
        if kind.ends_with("ContentLibraryItem") {
            library_from_status = status
                .get("contentLibraryRef")
                .and_then(|r| r.get("name"))
                .cloned();
        }
        if kind == "ContentLibraryItemImportRequest" {
            if let Some(name) = status
                .remove("itemRef")
                .and_then(|r| r.get("name").cloned())
            {
                status.insert("itemName".into(), name);
            }
        }
    }
    if let Some(Value::Object(spec)) = o.get_mut("spec") {
        match kind {
            "ContentLibrary" | "ClusterContentLibrary" => {
                rename(spec, "uuid", "id");
                map_string(spec, "resourceNamingStrategy", naming_up);
                if let Some(w) = spec.remove("writable") {
                    spec.entry("allowPublish").or_insert(w.clone());
                    spec.entry("allowDelete").or_insert(w);
                }
            }
            "ContentLibraryItem" | "ClusterContentLibraryItem" => {
                rename(spec, "uuid", "id");
                if let Some(lib) = library_from_status {
                    spec.entry("libraryName").or_insert(lib);
                }
            }
            "ContentLibraryItemImportRequest" => {
                if let Some(Value::Object(target)) = spec.get_mut("target") {
                    if let Some(name) = target.get("library").and_then(|l| l.get("name")).cloned() {
                        target.insert("library".into(), name);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Converts an imageregistry object of `kind` from v1alpha2 to v1alpha1 in place
/// (`writable` = `allowPublish || allowDelete`).
pub fn imageregistry_v1alpha2_to_v1alpha1(kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    let mut library_name = None;
    if let Some(Value::Object(spec)) = o.get_mut("spec") {
        match kind {
            "ContentLibrary" | "ClusterContentLibrary" => {
                rename(spec, "id", "uuid");
                map_string(spec, "resourceNamingStrategy", naming_down);
                let p = spec.remove("allowPublish").and_then(|v| v.as_bool());
                let d = spec.remove("allowDelete").and_then(|v| v.as_bool());
                if kind == "ContentLibrary" {
                    spec.insert(
                        "writable".into(),
                        Value::Bool(p.unwrap_or(false) || d.unwrap_or(false)),
                    );
                }
                spec.remove("libraryType");
                spec.remove("storageClass");
            }
            "ContentLibraryItem" | "ClusterContentLibraryItem" => {
                rename(spec, "id", "uuid");
                library_name = spec.remove("libraryName");
            }
            "ContentLibraryItemImportRequest" => {
                if let Some(Value::Object(target)) = spec.get_mut("target") {
                    if let Some(Value::String(name)) = target.get("library").cloned() {
                        target.insert(
                            "library".into(),
                            json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary", "name": name}),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Object(status)) = o.get_mut("status") {
        if let Some(Value::Array(sb)) = status.get("storageBacking").cloned() {
            match sb.into_iter().next() {
                Some(first) => status.insert("storageBacking".into(), first),
                None => status.remove("storageBacking"),
            };
        }
        if let Some(lib) = library_name {
            let lib_kind = if kind == "ClusterContentLibraryItem" {
                "ClusterContentLibrary"
            } else {
                "ContentLibrary"
            };
            status
                .entry("contentLibraryRef")
                .or_insert(json!({"kind": lib_kind, "name": lib}));
        }
        if kind == "ContentLibraryItemImportRequest" {
            if let Some(name) = status.remove("itemName") {
                status.insert(
                    "itemRef".into(),
                    json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibraryItem", "name": name}),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_converts_both_ways() {
        let mut v = json!({"spec": {"uuid": "u1", "writable": true, "resourceNamingStrategy": "FROM_ITEM_ID"}});
        imageregistry_v1alpha1_to_v1alpha2("ContentLibrary", &mut v);
        assert_eq!(
            v,
            json!({"spec": {"id": "u1", "allowPublish": true, "allowDelete": true, "resourceNamingStrategy": "FromItemID"}})
        );
        let typed: ContentLibrary = serde_json::from_value(v.clone()).unwrap();
        assert!(typed.spec.is_writable());
        let mut ro = json!({"spec": {"id": "u2", "allowPublish": false, "allowDelete": true}});
        imageregistry_v1alpha2_to_v1alpha1("ContentLibrary", &mut ro);
        assert_eq!(ro["spec"]["writable"], true);
        let mut none = json!({"spec": {"id": "u3"}});
        imageregistry_v1alpha2_to_v1alpha1("ContentLibrary", &mut none);
        assert_eq!(none, json!({"spec": {"uuid": "u3", "writable": false}}));
        imageregistry_v1alpha2_to_v1alpha1("ContentLibrary", &mut v);
        assert_eq!(
            v["spec"],
            json!({"uuid": "u1", "writable": true, "resourceNamingStrategy": "FROM_ITEM_ID"})
        );
    }

    #[test]
    fn import_request_item_ref() {
        let mut v = json!({"spec": {"target": {"library": {"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary", "name": "lib"}}}, "status": {"itemRef": {"name": "clitem-1"}}});
        imageregistry_v1alpha1_to_v1alpha2("ContentLibraryItemImportRequest", &mut v);
        assert_eq!(v["spec"]["target"]["library"], "lib");
        assert_eq!(v["status"]["itemName"], "clitem-1");
        imageregistry_v1alpha2_to_v1alpha1("ContentLibraryItemImportRequest", &mut v);
        assert_eq!(v["status"]["itemRef"]["name"], "clitem-1");
        assert_eq!(v["spec"]["target"]["library"]["name"], "lib");
    }
}
