//! Loading the CRDs: embedded at build time (see `build.rs`) or read from `--crds DIR`.

include!(concat!(env!("OUT_DIR"), "/embedded_crds.rs"));
