//! Packer's plugin protocol (API 5), the Go-free way.
//!
//! # Layout
//! - [`api`]: the traits a plugin implements (Builder, Communicator, Artifact) or calls (Ui, Hook).
//! - `mux`: hashicorp/yamux sessions; `broker`: Packer's MuxBroker on top.
//! - [`netrpc`]: Go net/rpc with the MessagePack codec, client and server.
//! - [`service`]: one module per remote interface (client proxy + server adapter + wire structs).
//! - `plugin`: the handshake, `describe` and `start`, and serving one builder.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
pub mod api;
pub mod broker;
pub mod mux;
pub mod netrpc;
pub mod plugin;
pub mod service;
pub mod val;
