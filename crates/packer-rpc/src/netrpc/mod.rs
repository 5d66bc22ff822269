//! Go `net/rpc` over ugorji's MessagePack `GoRpc` codec, generic over any byte stream.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
pub mod client;
pub mod codec;
pub mod server;

pub use client::{Client, RpcError};
pub use server::{CallError, CallResult, ServeError, Server, Service};
