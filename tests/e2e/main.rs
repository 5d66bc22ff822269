//! The end-to-end tier of the builder, one test binary: the real Packer (Debian's 1.6.6, or
//! 1.9.5 with `E2E_PACKER=1.9`) runs the plugin binary against an in-process `supervisor-sim`
//! (`common`: the shared setup), with real kubectl, sshd and HashiCorp's Go builder where a
//! module says so; `comm` drives our SSH communicator against a real sshd, directly and through
//! Packer 1.6.6's provisioners. `cargo test --test e2e MODULE::` runs one module.
mod common;

mod artifact;
mod bootstrap;
mod bounds;
mod cancel;
mod cloudinit;
mod comm;
mod examples;
mod failures;
mod faults;
mod generated;
mod hcp_metadata_rpc;
mod import_iso;
mod keep;
mod peer;
mod publish_target;
mod ssh_options;
mod waits;
