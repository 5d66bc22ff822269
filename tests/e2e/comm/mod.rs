//! The communicator scenarios: our SSH communicator through Packer's `Communicator` trait against a
//! real OpenSSH server (`ssh_communicator`), and the real Packer 1.6.6 driving the test builder
//! `examples/packer-builder-sshtest.rs` over it (`packer`). Needs root (scripts/sshd-local.sh).
mod packer;
mod ssh_communicator;
