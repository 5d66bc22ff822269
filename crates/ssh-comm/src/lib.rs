//! An SSH client communicator on russh, with no Packer types.
//!
//! * [`Session::connect`] keeps trying until `ssh_timeout` elapses (a new VM's sshd starts
//!   late), optionally through a bastion or a SOCKS5 proxy ([`Socks5Proxy`]), and accepts any host key while logging its
//!   fingerprint (see [`HostKeyPolicy`] for why).
//! * [`Session::start`] runs a command with live stdout/stderr streaming and stdin forwarding;
//!   [`Running::wait`] yields the exit status in Packer's convention.
//! * [`Session::upload`], [`Session::download`], [`Session::upload_dir`] and
//!   [`Session::download_dir`] move files with the remote `scp` (default, like Packer's Go
//!   communicator) or SFTP.
//!
//! Directory transfers follow Packer's file provisioner, which took the rule from rsync: a
//! source ending in `/` transfers its contents into the destination, otherwise the source
//! directory itself is created inside the destination. Excludes are glob patterns (`*`, `?`)
//! matched against paths relative to the source; a pattern without `/` matches any single path
//! component, so `*.tmp` or `.git` work at every depth.
//!
//! [`keygen::generate`] makes temporary key pairs.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod auth;
mod error;
pub mod keygen;
mod options;
pub mod paths;
mod scp;
mod session;
mod sftp;
pub mod socks5;
mod transfer;
mod transport;
pub mod tunnel;

pub use error::SshError;
pub use keygen::{KeyKind, KeyPair};
pub use options::{Auth, ConnectOptions, HostKeyPolicy, KeySource, TransferMethod};
pub use session::{Running, Session, EXIT_DISCONNECTED};
pub use socks5::Socks5Proxy;
pub use tokio_util::sync::CancellationToken;
pub use tunnel::Tunnel;
