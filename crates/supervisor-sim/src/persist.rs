//! On-disk state (`--state DIR`): one JSON file per object under
//! `DIR/objects/<group|core>/<resource>/<namespace|_cluster>/<name>.json`, written atomically
//! (temp file + rename), plus `DIR/rv` holding the last resourceVersion so it continues across
//! restarts even when the newest change was a deletion.

use crate::catalog::{Catalog, Gr};
use crate::store::StoreError;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

const CLUSTER_DIR: &str = "_cluster";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn object_path(dir: &Path, gr: &Gr, ns: &str, name: &str) -> PathBuf {
    let group = if gr.group.is_empty() {
        "core"
    } else {
        &gr.group
    };
    let ns = if ns.is_empty() { CLUSTER_DIR } else { ns };
    dir.join("objects")
        .join(group)
        .join(&gr.resource)
        .join(ns)
        .join(format!("{name}.json"))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes one object.
pub fn write_object(
    dir: &Path,
    gr: &Gr,
    ns: &str,
    name: &str,
    obj: &Value,
) -> Result<(), StoreError> {
    let path = object_path(dir, gr, ns, name);
    let bytes = serde_json::to_vec(obj).map_err(|source| StoreError::Corrupt {
        path: path.clone(),
        source,
    })?;
    write_atomic(&path, &bytes)
}

/// Removes one object's file (missing is fine).
pub fn remove_object(dir: &Path, gr: &Gr, ns: &str, name: &str) -> Result<(), StoreError> {
    let path = object_path(dir, gr, ns, name);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path)(e)),
        _ => Ok(()),
    }
}

/// Records the last resourceVersion.
pub fn write_rv(dir: &Path, rv: u64) -> Result<(), StoreError> {
    write_atomic(&dir.join("rv"), rv.to_string().as_bytes())
}

fn read_dirs(path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(path).map_err(io_err(path))? {
        let entry = entry.map_err(io_err(path))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

/// Loads every object of a known resource; `rv` becomes the larger of the recorded
/// resourceVersion and the newest object's.
pub fn load(
    dir: &Path,
    catalog: &Catalog,
    mut insert: impl FnMut(&Gr, String, String, Value),
    rv: &mut u64,
) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let rv_path = dir.join("rv");
    if rv_path.exists() {
        let text = fs::read_to_string(&rv_path).map_err(io_err(&rv_path))?;
        *rv = text.trim().parse().unwrap_or(0);
    }
    for group_dir in read_dirs(&dir.join("objects"))? {
        let group_name = file_name(&group_dir);
        let group = if group_name == "core" {
            String::new()
        } else {
            group_name
        };
        for res_dir in read_dirs(&group_dir)? {
            let gr = Gr::new(&group, &file_name(&res_dir));
            if catalog.get(&gr).is_none() {
                tracing::warn!("state: skipping unknown resource {gr}");
                continue;
            }
            for ns_dir in read_dirs(&res_dir)? {
                let ns = file_name(&ns_dir);
                let ns = if ns == CLUSTER_DIR { String::new() } else { ns };
                for file in read_dirs(&ns_dir)? {
                    if file.extension().and_then(|e| e.to_str()) != Some("json") {
                        continue;
                    }
                    let bytes = fs::read(&file).map_err(io_err(&file))?;
                    let obj: Value =
                        serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                            path: file.clone(),
                            source,
                        })?;
                    let name = file
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    let obj_rv = obj
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0);
                    *rv = (*rv).max(obj_rv);
                    insert(&gr, ns.clone(), name, obj);
                }
            }
        }
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}
