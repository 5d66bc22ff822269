//! The resource catalogue: every kind the simulator serves, with its served versions, schemas
//! and printer columns. Built from `vmop_types::api` (names, scope, hub version) plus the CRD
//! YAMLs (schemas, columns, the versions that exist) — see [`crate::crds`].

use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use vmop_types::api::{ApiKind, ALL_KINDS};

/// Group + resource: the key of a resource in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gr {
    /// API group (empty for core).
    pub group: String,
    /// Resource (plural).
    pub resource: String,
}

impl Gr {
    /// Builds a key.
    pub fn new(group: &str, resource: &str) -> Self {
        Gr {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl From<&ApiKind> for Gr {
    fn from(k: &ApiKind) -> Self {
        Gr::new(k.group, k.plural)
    }
}

impl From<ApiKind> for Gr {
    fn from(k: ApiKind) -> Self {
        Gr::new(k.group, k.plural)
    }
}

impl fmt::Display for Gr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// A printer column of a CRD version.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, …).
    pub type_: String,
    /// JSONPath (CRD subset: `.a.b`, `[*]`, `[?(.type=='Ready')]`).
    pub json_path: String,
    /// 0 = default, >0 = `-o wide`.
    pub priority: i64,
    /// Description.
    pub description: String,
    /// Format.
    pub format: String,
}

/// One served version of a resource.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// Version name (`v1alpha3`).
    pub name: String,
    /// `openAPIV3Schema` of this version (None for core kinds: no schema validation).
    pub schema: Option<Arc<Value>>,
    /// `additionalPrinterColumns`.
    pub columns: Vec<PrinterColumn>,
    /// Marked deprecated in the CRD.
    pub deprecated: bool,
}

/// Everything known about one resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// Store key.
    pub gr: Gr,
    /// Kind.
    pub kind: String,
    /// Singular name.
    pub singular: String,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Has a `/status` subresource (status ignored on main-resource writes).
    pub has_status: bool,
    /// Version objects are stored in.
    pub hub_version: String,
    /// Versions served over HTTP, preferred first.
    pub versions: Vec<VersionInfo>,
    /// Whether this is a CRD-backed kind (generation, pruning, schema validation).
    pub custom: bool,
}

impl ResourceInfo {
    /// `apiVersion` of `version`.
    pub fn api_version(&self, version: &str) -> String {
        if self.gr.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.gr.group, version)
        }
    }

    /// `apiVersion` of the stored representation.
    pub fn hub_api_version(&self) -> String {
        self.api_version(&self.hub_version)
    }

    /// The served version `name`, if any.
    pub fn version(&self, name: &str) -> Option<&VersionInfo> {
        self.versions.iter().find(|v| v.name == name)
    }
}

/// All resources.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    resources: Vec<ResourceInfo>,
    index: HashMap<Gr, usize>,
}

impl Catalog {
    /// The catalogue from `vmop_types::api` alone: every kind served at its hub version, no
    /// schemas. Enough for the in-process store; the HTTP server uses [`crate::crds`] instead.
    pub fn builtin() -> Self {
        let mut c = Catalog::default();
        for k in ALL_KINDS {
            c.insert(Self::info_from_kind(k, Vec::new()));
        }
        c
    }

    /// Resource info from a catalogue kind and explicit versions (hub version served when
    /// `versions` is empty).
    pub fn info_from_kind(k: &ApiKind, versions: Vec<VersionInfo>) -> ResourceInfo {
        let versions = if versions.is_empty() {
            vec![VersionInfo {
                name: k.hub_version().to_string(),
                schema: None,
                columns: Vec::new(),
                deprecated: false,
            }]
        } else {
            versions
        };
        ResourceInfo {
            gr: Gr::from(k),
            kind: k.kind.to_string(),
            singular: k.singular.to_string(),
            short_names: k.short_names.iter().map(|s| s.to_string()).collect(),
            categories: k.categories.iter().map(|s| s.to_string()).collect(),
            namespaced: k.namespaced(),
            has_status: k.status_subresource,
            hub_version: k.hub_version().to_string(),
            versions,
            custom: !k.group.is_empty() && k.group != vmop_types::api::STORAGE_GROUP,
        }
    }

    /// Adds or replaces a resource.
    pub fn insert(&mut self, info: ResourceInfo) {
        match self.index.get(&info.gr) {
            Some(&i) => self.resources[i] = info,
            None => {
                self.index.insert(info.gr.clone(), self.resources.len());
                self.resources.push(info);
            }
        }
    }

    /// Looks a resource up.
    pub fn get(&self, gr: &Gr) -> Option<&ResourceInfo> {
        self.index.get(gr).map(|&i| &self.resources[i])
    }

    /// Looks a resource up by group and kind.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.gr.group == group && r.kind == kind)
    }

    /// Every resource, in catalogue order.
    pub fn resources(&self) -> &[ResourceInfo] {
        &self.resources
    }

    /// Groups with their served versions (preferred first), in catalogue order; core excluded.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            if r.gr.group.is_empty() {
                continue;
            }
            let entry = match out.iter_mut().position(|(g, _)| *g == r.gr.group) {
                Some(i) => &mut out[i],
                None => {
                    out.push((r.gr.group.clone(), Vec::new()));
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            for v in &r.versions {
                if !entry.1.contains(&v.name) {
                    entry.1.push(v.name.clone());
                }
            }
        }
        out
    }
}
