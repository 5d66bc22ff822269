//! Embeds the CRDs the simulator serves, converted to JSON, when they are available at build
//! time: `$SUPERVISOR_SIM_CRDS`, else the project cache's `crds/` directory, where
//! `scripts/fetch-crds.sh` (run by `scripts/install-deps.sh`) puts the real CRDs it fetched by
//! package name: `$PACKER_VSPHERE_CACHE/crds`, else `$XDG_CACHE_HOME/packer-plugin-vsphere/crds`,
//! else `~/.cache/packer-plugin-vsphere/crds`. The YAML files are never copied into the
//! repository; a binary built without them says how to get them.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x == "yaml" || x == "yml")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Where the CRDs are looked for, mirroring `scripts/cache-dir.sh`.
fn crd_dir() -> PathBuf {
    for var in [
        "SUPERVISOR_SIM_CRDS",
        "PACKER_VSPHERE_CACHE",
        "XDG_CACHE_HOME",
        "HOME",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let set = |k: &str| env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(d) = set("SUPERVISOR_SIM_CRDS") {
        return PathBuf::from(d);
    }
    if let Some(d) = set("PACKER_VSPHERE_CACHE") {
        return PathBuf::from(d).join("crds");
    }
    let cache = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    cache.join("packer-plugin-vsphere").join("crds")
}

fn main() {
    let root = crd_dir();
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed={}", root.join(".pinned").display());
    let files = yaml_files(&root);
    if files.is_empty() {
        println!(
            "cargo:warning=no CRDs in {}: supervisor-sim will need --crds DIR (run scripts/fetch-crds.sh and rebuild to embed them)",
            root.display()
        );
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap_or_default());
    let mut entries = String::new();
    for (i, f) in files.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", f.display());
        let Ok(text) = fs::read_to_string(f) else {
            continue;
        };
        let Ok(value) = serde_yaml::from_str::<serde_json::Value>(&text) else {
            println!("cargo:warning=skipping {}: not valid YAML", f.display());
            continue;
        };
        let Ok(json) = serde_json::to_string(&value) else {
            continue;
        };
        let out = out_dir.join(format!("crd{i}.json"));
        if fs::write(&out, json).is_err() {
            continue;
        }
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        entries.push_str(&format!(
            "    ({name:?}, include_str!(concat!(env!(\"OUT_DIR\"), \"/crd{i}.json\"))),\n"
        ));
    }
    let src = format!(
        "/// CRDs embedded at build time: (file name, CRD as JSON).\npub static EMBEDDED_CRDS: &[(&str, &str)] = &[\n{entries}];\n"
    );
    if let Err(e) = fs::write(out_dir.join("embedded_crds.rs"), src) {
        println!("cargo:warning=cannot write embedded_crds.rs: {e}");
    }
}
