//! The outgoing frame queue between stream handles and the single writer task.
//!
//! Frames are appended under a short lock and the writer takes them in batches, so the socket
//! is owned by one task and every frame is written whole and in order. The queue counts queued
//! payload bytes; data writers wait when it is over its limit, which bounds memory when the
//! connection is slower than the producers.
use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::frame::{Header, HEADER_LEN};
use super::lock;

/// One frame ready for the wire.
pub(crate) struct Frame {
    pub(crate) hdr: [u8; HEADER_LEN],
    pub(crate) body: Bytes,
}

impl Frame {
    pub(crate) fn control(h: Header) -> Self {
        Frame {
            hdr: h.encode(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn wire_len(&self) -> usize {
        HEADER_LEN + self.body.len()
    }
}

#[derive(Default)]
struct State {
    frames: VecDeque<Frame>,
    /// Bytes queued or being written by the writer (released after the write).
    bytes: usize,
    /// No more frames are accepted; the writer drains and stops.
    closed: bool,
    writer: Option<Waker>,
    space: Vec<Waker>,
}

pub(crate) struct WriteQueue {
    st: Mutex<State>,
    limit: usize,
}

impl WriteQueue {
    pub(crate) fn new(limit: usize) -> Self {
        WriteQueue {
            st: Mutex::new(State::default()),
            limit,
        }
    }

    /// Appends a frame regardless of the limit (control frames, and data already admitted).
    /// Returns false if the queue is closed.
    pub(crate) fn push(&self, f: Frame) -> bool {
        let w = {
            let mut st = lock(&self.st);
            if st.closed {
                return false;
            }
            st.bytes += f.wire_len();
            st.frames.push_back(f);
            st.writer.take()
        };
        if let Some(w) = w {
            w.wake();
        }
        true
    }

    /// Whether a data writer may queue more now; registers `cx` to be woken when space frees.
    pub(crate) fn poll_space(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.st);
        if st.bytes < self.limit || st.closed {
            return Poll::Ready(());
        }
        if !st.space.iter().any(|w| w.will_wake(cx.waker())) {
            st.space.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until the queue holds less than `factor` times its limit (reader backpressure).
    pub(crate) fn poll_below(&self, cx: &mut Context<'_>, factor: usize) -> Poll<()> {
        let mut st = lock(&self.st);
        if st.bytes < self.limit.saturating_mul(factor) || st.closed {
            return Poll::Ready(());
        }
        if !st.space.iter().any(|w| w.will_wake(cx.waker())) {
            st.space.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Takes up to `max` frames for writing; `false` once the queue is closed and empty.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        out: &mut Vec<Frame>,
    ) -> Poll<bool> {
        let mut st = lock(&self.st);
        if st.frames.is_empty() {
            if st.closed {
                return Poll::Ready(false);
            }
            st.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = st.frames.len().min(max);
        out.extend(st.frames.drain(..n));
        Poll::Ready(true)
    }

    /// Whether frames are waiting (the writer flushes only when this is false).
    pub(crate) fn has_pending(&self) -> bool {
        !lock(&self.st).frames.is_empty()
    }

    /// Marks `n` bytes as written and wakes producers waiting for space.
    pub(crate) fn release(&self, n: usize) {
        let wakers = {
            let mut st = lock(&self.st);
            st.bytes = st.bytes.saturating_sub(n);
            if st.bytes < self.limit {
                std::mem::take(&mut st.space)
            } else {
                Vec::new()
            }
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Stops accepting frames; the writer writes what is queued and then stops.
    pub(crate) fn close(&self) {
        let (w, space) = {
            let mut st = lock(&self.st);
            st.closed = true;
            (st.writer.take(), std::mem::take(&mut st.space))
        };
        if let Some(w) = w {
            w.wake();
        }
        for w in space {
            w.wake();
        }
    }

    /// Drops everything still queued (the connection is gone).
    pub(crate) fn abort(&self) {
        let space = {
            let mut st = lock(&self.st);
            st.closed = true;
            st.frames.clear();
            st.bytes = 0;
            std::mem::take(&mut st.space)
        };
        for w in space {
            w.wake();
        }
    }
}
