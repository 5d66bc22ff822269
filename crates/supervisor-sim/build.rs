//! Embeds the CRDs the simulator serves, converted to JSON, when they are available at build
//! time: `$SUPERVISOR_SIM_CRDS`, else `<workspace>/../shared/crds` (CI clones the repository with
//! `shared/` beside it). The YAML files are not copied into the repository; without them the
//! binary needs `--crds DIR` at run time.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// Sub-directories of `shared/crds` we use (current VM Operator, current image registry).
const PREFERRED: &[&str] = &["vm-operator-506dc5dc", "image-registry-0f6259af"];

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

fn main() {
    println!("cargo:rerun-if-env-changed=SUPERVISOR_SIM_CRDS");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = match env::var("SUPERVISOR_SIM_CRDS") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => manifest.join("../../../shared/crds"),
    };
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    for sub in PREFERRED {
        let d = root.join(sub);
        println!("cargo:rerun-if-changed={}", d.display());
        files.extend(yaml_files(&d));
    }
    if files.is_empty() {
        files = yaml_files(&root);
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
