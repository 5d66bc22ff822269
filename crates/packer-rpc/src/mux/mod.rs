//! hashicorp/yamux (protocol version 0) on tokio, written from the wire description in
//! `packer-plugin-protocol.md` §2.1.
//!
//! One [`Session`] per connection. A reader task parses frames and routes them to streams; a
//! single writer task owns the write half and writes queued frames in batches (vectored when
//! the transport supports it), flushing only when the queue runs dry. Stream payloads travel as
//! `Bytes`, so a frame is copied once from the socket and once into the reader's buffer.
//!
//! Flow control follows Go's rules (256 KiB initial window each way, updates once half is
//! consumed) but the receive window we grant can grow up to [`Config::max_stream_window`]; Go's
//! sender simply adds every delta to its send window, so bulk uploads are not stuck at
//! 256 KiB per round trip. Unread data per stream never exceeds the window we granted.
//!
//! Locks are std mutexes held only for bookkeeping, never across an await. When more than one
//! is needed they are taken in the order session state → stream state → write queue; code that
//! must remove a stream from the session map does so after releasing the stream's lock.

mod error;
mod frame;
mod queue;
mod session;
mod stream;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use error::{MuxError, ProtocolError};
pub use frame::{flags, goaway, FrameType, Header, HEADER_LEN, INITIAL_WINDOW, PROTO_VERSION};
pub use session::{Config, Mode, Session};
pub use stream::Stream;

/// Locks a std mutex; a poisoned lock still holds consistent state here because no code path
/// panics while holding one, so we keep going instead of propagating the poison.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
