//! Go `net/rpc` over ugorji's MessagePack `GoRpc` codec, generic over any byte stream.
pub mod client;
pub mod codec;
pub mod server;

pub use client::{Client, RpcError};
pub use server::{CallError, CallResult, ServeError, Server, Service};
