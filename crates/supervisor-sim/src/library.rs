//! Content-library storage on disk: `<state>/libraries/<library>/<item-uuid>/` holds an item's
//! files — `rootfs/` (the captured VM root, or a seed image's minimal file system) and
//! `item.json` (display name, type, source). Images without stored content (seeded objects)
//! get a synthesized minimal root (`/etc/os-release` from the image's OS info or display name)
//! under `<state>/images/<image>/rootfs`, which new VMs copy into their own roots.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Errors of library storage, naming the library item.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("content library {library} item {item}: {path}: {source}")]
    Io {
        library: String,
        item: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("content library {library}: insufficient storage space: item needs {needed} bytes, {available} of {capacity} bytes available")]
    InsufficientSpace {
        library: String,
        needed: u64,
        available: u64,
        capacity: u64,
    },
}

/// `<state>/libraries`.
pub fn libraries_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("libraries")
}

/// `<state>/libraries/<library>/<item-uuid>`.
pub fn item_dir(state_dir: &Path, library: &str, item_uuid: &str) -> PathBuf {
    libraries_dir(state_dir).join(library).join(item_uuid)
}

/// The captured/seeded root file system of an item.
pub fn item_rootfs(state_dir: &Path, library: &str, item_uuid: &str) -> PathBuf {
    item_dir(state_dir, library, item_uuid).join("rootfs")
}

/// Finds an item's directory by UUID in any library (tests use this to inspect a published
/// item without knowing its library).
pub fn find_item_dir(state_dir: &Path, item_uuid: &str) -> Option<PathBuf> {
    let libs = std::fs::read_dir(libraries_dir(state_dir)).ok()?;
    libs.flatten()
        .map(|e| e.path().join(item_uuid))
        .find(|p| p.is_dir())
}

/// Bytes used by regular files under `path` (symlinks not followed).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(ft) if ft.is_dir() => dir_size(&e.path()),
            Ok(ft) if ft.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// What `item.json` records.
#[derive(Debug, Clone)]
pub struct ItemMeta {
    pub display_name: String,
    pub description: String,
    pub item_type: String,
    pub source: String,
}

/// Captures a VM root as a new OVF item: checks `capacity` (bytes per library, `None` =
/// unlimited), copies the tree to `rootfs/`, writes `item.json`. Returns the item size.
pub fn publish_root(
    state_dir: &Path,
    library: &str,
    item_uuid: &str,
    vm_root: &Path,
    meta: &ItemMeta,
    capacity: Option<u64>,
) -> Result<u64, LibraryError> {
    let io = |path: &Path| {
        let (library, item, path) = (
            library.to_string(),
            item_uuid.to_string(),
            path.to_path_buf(),
        );
        move |source| LibraryError::Io {
            library,
            item,
            path,
            source,
        }
    };
    if !vm_root.is_dir() {
        return Err(io(vm_root)(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the source VM has no root file system (never booted?)",
        )));
    }
    let needed = dir_size(vm_root);
    if let Some(capacity) = capacity {
        let used = dir_size(&libraries_dir(state_dir).join(library));
        let available = capacity.saturating_sub(used);
        if needed > available {
            return Err(LibraryError::InsufficientSpace {
                library: library.to_string(),
                needed,
                available,
                capacity,
            });
        }
    }
    let dir = item_dir(state_dir, library, item_uuid);
    let rootfs = dir.join("rootfs");
    crate::guest::copy_tree(vm_root, &rootfs).map_err(io(&rootfs))?;
    let json = serde_json::json!({
        "uuid": item_uuid,
        "name": meta.display_name,
        "description": meta.description,
        "type": meta.item_type,
        "source": meta.source,
        "sizeInBytes": needed,
        "created": chrono::Utc::now().to_rfc3339(),
    });
    let text = serde_json::to_vec_pretty(&json).map_err(|e| io(&dir)(std::io::Error::other(e)))?;
    std::fs::write(dir.join("item.json"), text).map_err(io(&dir.join("item.json")))?;
    Ok(needed)
}

/// `/etc/os-release` text for an image, from `status.osInfo` when present, else guessed from
/// the display name (`ubuntu-22.04-...` → ID=ubuntu, VERSION_ID=22.04).
pub fn os_release_for(display_name: &str, os_info: Option<&Value>) -> String {
    let mut id = String::new();
    let mut version = String::new();
    for tok in display_name.split(['-', '_', ' ']) {
        if id.is_empty() && tok.chars().all(|c| c.is_ascii_alphabetic()) && !tok.is_empty() {
            id = tok.to_ascii_lowercase();
        } else if version.is_empty()
            && tok.contains('.')
            && tok.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            version = tok.to_string();
        }
    }
    if let Some(info) = os_info {
        if let Some(v) = info.get("version").and_then(Value::as_str) {
            if !v.is_empty() {
                version = v.to_string();
            }
        }
    }
    if id.is_empty() {
        id = "linux".into();
    }
    let mut name = id.clone();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!(
        "NAME=\"{name}\"\nID={id}\nVERSION_ID=\"{version}\"\nPRETTY_NAME=\"{display_name}\"\nVARIANT=\"supervisor-sim image\"\n"
    )
}

/// Writes a seed item's minimal content (for the simulator's seeded libraries).
pub fn ensure_seed_item_content(
    state_dir: &Path,
    library: &str,
    item_uuid: &str,
    display_name: &str,
    os_info: Option<&Value>,
) -> Result<PathBuf, LibraryError> {
    let rootfs = item_rootfs(state_dir, library, item_uuid);
    write_minimal_root(&rootfs, display_name, os_info).map_err(|source| LibraryError::Io {
        library: library.to_string(),
        item: item_uuid.to_string(),
        path: rootfs.clone(),
        source,
    })?;
    Ok(rootfs)
}

fn write_minimal_root(
    rootfs: &Path,
    display_name: &str,
    os_info: Option<&Value>,
) -> std::io::Result<()> {
    let os_release = rootfs.join("etc/os-release");
    if os_release.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(rootfs.join("etc"))?;
    std::fs::write(&os_release, os_release_for(display_name, os_info))
}

/// The content a new VM created from `image` (a VirtualMachineImage or
/// ClusterVirtualMachineImage object) starts with.
pub fn image_content(state_dir: &Path, image: &Value) -> Result<PathBuf, LibraryError> {
    let item = image
        .pointer("/status/providerItemID")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !item.is_empty() {
        if let Some(dir) = find_item_dir(state_dir, item) {
            let rootfs = dir.join("rootfs");
            if rootfs.is_dir() {
                return Ok(rootfs);
            }
        }
    }
    let name = image
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("image");
    let display = image
        .pointer("/status/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(name);
    let rootfs = state_dir.join("images").join(name).join("rootfs");
    write_minimal_root(&rootfs, display, image.pointer("/status/osInfo")).map_err(|source| {
        LibraryError::Io {
            library: "(seed)".into(),
            item: name.to_string(),
            path: rootfs.clone(),
            source,
        }
    })?;
    Ok(rootfs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_guess() {
        let t = os_release_for("ubuntu-22.04-vmservice-v1", None);
        assert!(t.contains("ID=ubuntu\n"), "{t}");
        assert!(t.contains("VERSION_ID=\"22.04\""), "{t}");
        assert!(t.contains("NAME=\"Ubuntu\""), "{t}");
    }

    #[test]
    fn publish_copies_and_respects_capacity() {
        let tmp = tempfile::tempdir().unwrap();
        let vm = tmp.path().join("vmroot");
        std::fs::create_dir_all(vm.join("tmp")).unwrap();
        std::fs::write(vm.join("tmp/marker"), "12345").unwrap();
        let meta = ItemMeta {
            display_name: "img".into(),
            description: String::new(),
            item_type: "OVF".into(),
            source: "ns/vm".into(),
        };
        let err = publish_root(tmp.path(), "lib", "u1", &vm, &meta, Some(3)).unwrap_err();
        assert!(
            err.to_string().contains("insufficient storage space"),
            "{err}"
        );
        let n = publish_root(tmp.path(), "lib", "u1", &vm, &meta, None).unwrap();
        assert_eq!(n, 5);
        let dir = find_item_dir(tmp.path(), "u1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("rootfs/tmp/marker")).unwrap(),
            "12345"
        );
    }
}
