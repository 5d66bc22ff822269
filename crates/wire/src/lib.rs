//! Wire codecs for Packer's plugin protocol. Pure: no I/O, no async runtime.
//!
//! # Layout
//! - [`msgpack`]: MessagePack values exactly as Go's ugorji codec writes and reads them.
//! - [`gob`]: Go `encoding/gob`, for the HCL ConfigSpec and `CommandFinished`.
//! - [`hclspec`]: the hcldec object spec a builder declares, and its gob and protobuf encodings.
//! - [`ctyjson`]: cty JSON values that Packer sends in `Builder.Prepare`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod ctyjson;
pub mod gob;
pub mod hclspec;
pub mod msgpack;
