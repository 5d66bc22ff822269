//! Loading the CRDs — embedded at build time (see `build.rs`) or read from `--crds DIR` — and
//! building the served [`Catalog`] from them.

use crate::catalog::{Catalog, PrinterColumn, ResourceInfo, VersionInfo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use vmop_types::api::{ApiKind, ALL_KINDS, IMAGEREGISTRY_GROUP, VMOP_GROUP};

include!(concat!(env!("OUT_DIR"), "/embedded_crds.rs"));

/// CRD loading failures.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// Nothing embedded and no directory given.
    #[error("no CRDs available: this binary was built without them; run scripts/fetch-crds.sh (or scripts/install-deps.sh) and rebuild, or pass --crds DIR naming a directory of the VM Operator and image-registry CRD YAMLs")]
    NoneAvailable,
    /// Directory unreadable.
    #[error("reading CRD directory {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a CRD.
    #[error("parsing CRD file {path}: {message}")]
    Parse {
        /// Path.
        path: PathBuf,
        /// Cause.
        message: String,
    },
    /// A kind the simulator needs has no CRD.
    #[error("no CRD for {kind}.{group} in the CRD set (looked for spec.group={group}, spec.names.kind={kind})")]
    Missing {
        /// Group.
        group: String,
        /// Kind.
        kind: String,
    },
    /// A requested version is not in the CRD.
    #[error("--vmop-versions: version {version} is not served by the {kind} CRD (available: {available})")]
    UnknownVersion {
        /// Version.
        version: String,
        /// Kind.
        kind: String,
        /// Versions the CRD has.
        available: String,
    },
}

fn embedded() -> &'static Result<Vec<Value>, String> {
    static PARSED: OnceLock<Result<Vec<Value>, String>> = OnceLock::new();
    PARSED.get_or_init(|| {
        EMBEDDED_CRDS
            .iter()
            .map(|(name, json)| {
                serde_json::from_str(json).map_err(|e| format!("embedded {name}: {e}"))
            })
            .collect()
    })
}

/// Reads every `*.yaml`/`*.yml`/`*.json` CRD in `dir` (as `scripts/fetch-crds.sh` lays them out).
pub fn load_dir(dir: &Path) -> Result<Vec<Value>, CrdError> {
    let mut files = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|source| CrdError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in rd.flatten() {
        let p = e.path();
        if p.extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
        {
            files.push(p);
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| CrdError::Io {
            path: f.clone(),
            source,
        })?;
        let v: Value = serde_yaml::from_str(&text).map_err(|e| CrdError::Parse {
            path: f.clone(),
            message: e.to_string(),
        })?;
        if v.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
            out.push(v);
        }
    }
    Ok(out)
}

/// The CRDs: from `dir` when given, else the embedded set.
pub fn load(dir: Option<&Path>) -> Result<Vec<Value>, CrdError> {
    match dir {
        Some(d) => load_dir(d),
        None => match embedded() {
            Ok(v) if !v.is_empty() => Ok(v.clone()),
            Ok(_) => Err(CrdError::NoneAvailable),
            Err(e) => Err(CrdError::Parse {
                path: PathBuf::from("<embedded>"),
                message: e.clone(),
            }),
        },
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let major_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let major: u32 = rest[..major_end].parse().unwrap_or(0);
    let tail = &rest[major_end..];
    let (class, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(b) = tail.strip_prefix("beta") {
        (2, b.parse().unwrap_or(0))
    } else if let Some(a) = tail.strip_prefix("alpha") {
        (1, a.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (class, major, minor)
}

fn columns(v: &Value) -> Vec<PrinterColumn> {
    v.get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| PrinterColumn {
                    name: c
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    type_: c
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("string")
                        .to_string(),
                    json_path: c
                        .get("jsonPath")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    // kube-apiserver's text for a column without a description.
                    description: c
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| {
                            let path = c.get("jsonPath").and_then(Value::as_str);
                            format!(
                                "Custom resource definition column (in JSONPath format): {}",
                                path.unwrap_or_default()
                            )
                        }),
                    format: c
                        .get("format")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// Builds the served catalogue: every kind of `vmop_types::api::ALL_KINDS`; vmoperator kinds at
/// `vmop_versions` (those the CRD has; the web console request has no v1alpha1),
/// imageregistry kinds at every version their CRD serves; core kinds at v1 without schemas.
pub fn build_catalog(crds: &[Value], vmop_versions: &[String]) -> Result<Catalog, CrdError> {
    let mut cat = Catalog::default();
    for k in ALL_KINDS {
        if k.group != VMOP_GROUP && k.group != IMAGEREGISTRY_GROUP {
            cat.insert(Catalog::info_from_kind(k, Vec::new()));
            continue;
        }
        let crd = find_crd(crds, k)?;
        let crd_versions: Vec<&Value> = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let wanted = wanted_versions(k, &crd_versions, vmop_versions)?;
        let mut versions: Vec<VersionInfo> = crd_versions
            .iter()
            .filter(|v| wanted.contains(&version_name(v)))
            .map(|v| version_info(v))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(&v.name)));
        if !versions.is_empty() {
            cat.insert(resource_info(k, crd, versions));
        }
    }
    Ok(cat)
}

/// The CRD of `k` among `crds`.
fn find_crd<'a>(crds: &'a [Value], k: &ApiKind) -> Result<&'a Value, CrdError> {
    crds.iter()
        .find(|c| {
            c.pointer("/spec/group").and_then(Value::as_str) == Some(k.group)
                && c.pointer("/spec/names/kind").and_then(Value::as_str) == Some(k.kind)
        })
        .ok_or_else(|| CrdError::Missing {
            group: k.group.into(),
            kind: k.kind.into(),
        })
}

fn version_name(v: &Value) -> String {
    v.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The versions to serve of `k`: vmoperator kinds at `vmop_versions`, each of which the CRD
/// must have (the web console request has no v1alpha1 and is let off); imageregistry kinds at
/// every version their CRD serves.
fn wanted_versions(
    k: &ApiKind,
    crd_versions: &[&Value],
    vmop_versions: &[String],
) -> Result<Vec<String>, CrdError> {
    if k.group != VMOP_GROUP {
        return Ok(crd_versions
            .iter()
            .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
            .map(|v| version_name(v))
            .collect());
    }
    for w in vmop_versions {
        if !(crd_versions.iter().any(|v| version_name(v) == *w)
            || k.kind == "VirtualMachineWebConsoleRequest" && w == "v1alpha1")
        {
            return Err(CrdError::UnknownVersion {
                version: w.clone(),
                kind: k.kind.into(),
                available: crd_versions
                    .iter()
                    .map(|v| version_name(v))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(vmop_versions.to_vec())
}

fn version_info(v: &Value) -> VersionInfo {
    VersionInfo {
        name: version_name(v),
        schema: v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new),
        columns: columns(v),
        deprecated: v
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// The resource of `k` as its CRD names and scopes it.
fn resource_info(k: &ApiKind, crd: &Value, versions: Vec<VersionInfo>) -> ResourceInfo {
    let base = Catalog::info_from_kind(k, Vec::new());
    let names = crd.pointer("/spec/names");
    ResourceInfo {
        short_names: strings(names.and_then(|n| n.get("shortNames")))
            .unwrap_or(base.short_names.clone()),
        categories: strings(names.and_then(|n| n.get("categories"))).unwrap_or_default(),
        namespaced: crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster"),
        versions,
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering() {
        let mut v = vec!["v1alpha3", "v1", "v1beta1", "v1alpha5", "v2alpha1"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v1", "v1beta1", "v2alpha1", "v1alpha5", "v1alpha3"]);
    }

    #[test]
    fn embedded_catalog_has_every_kind() {
        let crds = match load(None) {
            Ok(c) => c,
            Err(CrdError::NoneAvailable) => return, // built without the fetched CRDs
            Err(e) => panic!("{e}"),
        };
        let cat = build_catalog(&crds, &["v1alpha3".into(), "v1alpha5".into()]).unwrap();
        let vm = cat
            .by_kind("vmoperator.vmware.com", "VirtualMachine")
            .unwrap();
        assert_eq!(
            vm.versions
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["v1alpha5", "v1alpha3"]
        );
        assert!(vm.version("v1alpha3").unwrap().schema.is_some());
        let lib = cat
            .by_kind("imageregistry.vmware.com", "ContentLibrary")
            .unwrap();
        assert_eq!(lib.versions.len(), 2);
        assert_eq!(lib.short_names, ["lib", "library"]);
        let wc = cat
            .by_kind("vmoperator.vmware.com", "VirtualMachineWebConsoleRequest")
            .unwrap();
        assert_eq!(wc.versions.len(), 2);
        assert!(build_catalog(&crds, &["v9".into()]).is_err());
    }
}
