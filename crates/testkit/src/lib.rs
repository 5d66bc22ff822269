//! Test-only harnesses for the plugin protocol; only ever a dev-dependency.
//!
//! - [`builder`]: the one test builder, [`builder::FakeBuilder`] (scripted, or configured by
//!   its template with a local-shell, SSH or no communicator).
//! - [`fakes`]: a recording Ui, a scriptable Hook, a local-shell Communicator and a fake
//!   Artifact.
//! - [`inproc`]: a Builder served in-process over in-memory pipes.
//! - [`capture`]: reads the byte captures of real Packer traffic (yamux frames → per-stream
//!   bytes → net/rpc messages).
//! - [`core`]: plays Packer core against a plugin binary.
//! - [`sshd`]: a throwaway OpenSSH server (`scripts/sshd-local.sh`, needs root);
//!   [`socks5`]: a loopback SOCKS5 proxy.
pub mod builder;
pub mod capture;
pub mod core;
pub mod fakes;
pub mod inproc;
pub mod kbd_sshd;
pub mod socks5;
pub mod sshd;
