//! The communicator scenarios: our SSH communicator through Packer's `Communicator` trait against a
//! real OpenSSH server (`ssh_communicator`), and the real Packer 1.6.6 driving the test builder
//! `examples/packer-builder-testkit.rs` (`harness`) over it (`packer`) and over the local shell
//! (`local`). The SSH ones need root (scripts/sshd-local.sh).
mod harness;
mod local;
mod packer;
mod ssh_communicator;
