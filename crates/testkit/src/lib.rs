//! Test-only harnesses for the plugin protocol.
//!
//! - [`fakes`]: a recording Ui, a scriptable Hook, a local-shell Communicator, and a fake
//!   Builder/Artifact with scripted outcomes.
//! - [`inproc`]: a Builder served in-process over in-memory pipes.
//! - [`capture`]: reads the byte captures of real Packer traffic (yamux frames → per-stream
//!   bytes → net/rpc messages).
//! - [`core`]: plays Packer core against a plugin binary.
pub mod capture;
pub mod core;
pub mod fakes;
pub mod inproc;
