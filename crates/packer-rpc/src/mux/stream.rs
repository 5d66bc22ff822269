//! One yamux stream: shared state (touched by the session's reader task and by the handle) and
//! the user-facing [`Stream`] handle.
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::error::{MuxError, ProtocolError};
use super::frame::{flags, FrameType, Header, INITIAL_WINDOW};
use super::lock;
use super::queue::Frame;
use super::session::Inner;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResetBy {
    Local,
    Remote,
}

pub(crate) struct StreamState {
    /// Received, unread payloads.
    recv: VecDeque<Bytes>,
    /// Sum of `recv` lengths.
    buffered: usize,
    /// Bytes the peer may still send before we grant more.
    recv_window: u32,
    /// Bytes read by the application since our last window update.
    consumed: u32,
    /// Bytes we may still send.
    send_window: u32,
    local_fin: bool,
    remote_fin: bool,
    reset: Option<ResetBy>,
    /// The handle is gone; nobody will read.
    dropped: bool,
    /// The session ended (with this error, `SessionClosed` when clean).
    ended: Option<MuxError>,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

pub(crate) struct StreamShared {
    pub(crate) id: u32,
    pub(crate) inner: Arc<Inner>,
    st: Mutex<StreamState>,
}

impl StreamShared {
    pub(crate) fn new(id: u32, inner: Arc<Inner>, send_window: u32) -> Arc<Self> {
        Arc::new(StreamShared {
            id,
            inner,
            st: Mutex::new(StreamState {
                recv: VecDeque::new(),
                buffered: 0,
                recv_window: INITIAL_WINDOW,
                consumed: 0,
                send_window,
                local_fin: false,
                remote_fin: false,
                reset: None,
                dropped: false,
                ended: None,
                read_waker: None,
                write_waker: None,
            }),
        })
    }

    fn push_ctl(&self, flag: u16, delta: u32) -> bool {
        self.inner.queue.push(Frame::control(Header::new(
            FrameType::WindowUpdate,
            flag,
            self.id,
            delta,
        )))
    }

    /// Sends the accept (WindowUpdate+ACK, delta 0), as Go does when its application accepts.
    pub(crate) fn send_ack(&self) {
        let st = lock(&self.st);
        if st.reset.is_none() && st.ended.is_none() {
            self.push_ctl(flags::ACK, 0);
        }
    }

    pub(crate) fn recv_window(&self) -> u32 {
        lock(&self.st).recv_window
    }

    /// A data payload arrived (its length was checked against the window by the caller).
    pub(crate) fn on_data(&self, payload: Bytes) {
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let (waker, remove) = {
            let mut st = lock(&self.st);
            st.recv_window = st.recv_window.saturating_sub(len);
            if st.reset.is_some() || st.remote_fin {
                return;
            }
            if st.dropped {
                // Nobody will ever read this: tell the sender instead of letting it stall.
                st.reset = Some(ResetBy::Local);
                self.push_ctl(flags::RST, 0);
                (None, true)
            } else {
                st.buffered += payload.len();
                st.recv.push_back(payload);
                (st.read_waker.take(), false)
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        if remove {
            self.inner.remove_stream(self);
        }
    }

    pub(crate) fn on_window_update(&self, delta: u32) -> Result<(), ProtocolError> {
        if delta == 0 {
            return Ok(());
        }
        let waker = {
            let mut st = lock(&self.st);
            st.send_window =
                st.send_window
                    .checked_add(delta)
                    .ok_or(ProtocolError::WindowOverflow {
                        stream: self.id,
                        delta,
                    })?;
            st.write_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// FIN and RST handling (ACK needs nothing: we never wait for it).
    pub(crate) fn on_flags(&self, f: u16) {
        if f & (flags::FIN | flags::RST) == 0 {
            return;
        }
        let (rw, ww, remove) = {
            let mut st = lock(&self.st);
            if f & flags::RST != 0 {
                if st.reset.is_none() {
                    st.reset = Some(ResetBy::Remote);
                }
                (st.read_waker.take(), st.write_waker.take(), true)
            } else {
                st.remote_fin = true;
                let remove = st.local_fin || st.dropped;
                (st.read_waker.take(), None, remove)
            }
        };
        if let Some(w) = rw {
            w.wake();
        }
        if let Some(w) = ww {
            w.wake();
        }
        if remove {
            self.inner.remove_stream(self);
        }
    }

    pub(crate) fn on_session_end(&self, err: MuxError) {
        let (rw, ww) = {
            let mut st = lock(&self.st);
            if st.ended.is_none() {
                st.ended = Some(err);
            }
            (st.read_waker.take(), st.write_waker.take())
        };
        if let Some(w) = rw {
            w.wake();
        }
        if let Some(w) = ww {
            w.wake();
        }
    }

    /// The window update due after the application consumed data, if any; updates the counters.
    fn take_window_update(&self, st: &mut StreamState) -> Option<u32> {
        if st.remote_fin || st.reset.is_some() || st.ended.is_some() {
            return None;
        }
        // Below half the initial window nothing is sent, exactly like Go; small RPC streams
        // therefore never carry window updates and the wire matches Go's byte for byte.
        if st.consumed < INITIAL_WINDOW / 2 {
            return None;
        }
        let max = u64::from(self.inner.cfg.max_stream_window);
        let held = u64::from(st.recv_window) + st.buffered as u64;
        let delta = max.saturating_sub(held);
        if delta < max / 2 {
            return None;
        }
        let delta = u32::try_from(delta).unwrap_or(u32::MAX);
        st.recv_window = st.recv_window.saturating_add(delta);
        st.consumed = 0;
        Some(delta)
    }

    fn read_error(st: &StreamState) -> Option<io::Result<()>> {
        if st.reset.is_some() {
            return Some(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "yamux stream reset",
            )));
        }
        if st.remote_fin {
            return Some(Ok(()));
        }
        st.ended.as_ref().map(|e| Err(e.to_io()))
    }

    /// Moves up to `max` buffered bytes out as a chunk without copying.
    fn poll_chunk(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<Option<Bytes>>> {
        let mut st = lock(&self.st);
        if let Some(front) = st.recv.front_mut() {
            let chunk = if front.len() <= max {
                st.recv.pop_front().unwrap_or_default()
            } else {
                front.split_to(max)
            };
            self.after_consume(&mut st, chunk.len());
            return Poll::Ready(Ok(Some(chunk)));
        }
        match Self::read_error(&st) {
            Some(Ok(())) => Poll::Ready(Ok(None)),
            Some(Err(e)) => Poll::Ready(Err(e)),
            None => {
                st.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn after_consume(&self, st: &mut StreamState, n: usize) {
        st.buffered = st.buffered.saturating_sub(n);
        st.consumed = st
            .consumed
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        if let Some(delta) = self.take_window_update(st) {
            self.push_ctl(0, delta);
        }
    }

    fn poll_read_into(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut st = lock(&self.st);
        let mut copied = 0usize;
        while buf.remaining() > 0 {
            let Some(front) = st.recv.front_mut() else {
                break;
            };
            let n = front.len().min(buf.remaining());
            if let Some(part) = front.get(..n) {
                buf.put_slice(part);
            }
            front.advance(n);
            if front.is_empty() {
                st.recv.pop_front();
            }
            copied += n;
        }
        if copied > 0 {
            self.after_consume(&mut st, copied);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        match Self::read_error(&st) {
            Some(r) => Poll::Ready(r),
            None => {
                st.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Queues one Data frame of at most the window and frame size; `take` produces its body.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        avail: usize,
        take: impl FnOnce(usize) -> Bytes,
    ) -> Poll<io::Result<usize>> {
        let mut st = lock(&self.st);
        if st.reset.is_some() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "yamux stream reset",
            )));
        }
        if let Some(e) = &st.ended {
            return Poll::Ready(Err(e.to_io()));
        }
        if st.local_fin {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "yamux stream already shut down for writing",
            )));
        }
        if avail == 0 {
            return Poll::Ready(Ok(0));
        }
        if st.send_window == 0 {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if self.inner.queue.poll_space(cx).is_pending() {
            return Poll::Pending;
        }
        let n = avail
            .min(st.send_window as usize)
            .min(self.inner.cfg.max_frame_size as usize);
        let body = take(n);
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        st.send_window = st.send_window.saturating_sub(len);
        let hdr = Header::new(FrameType::Data, 0, self.id, len);
        if !self.inner.queue.push(Frame {
            hdr: hdr.encode(),
            body,
        }) {
            return Poll::Ready(Err(MuxError::SessionClosed.to_io()));
        }
        Poll::Ready(Ok(n))
    }

    fn shutdown_write(&self) {
        let remove = {
            let mut st = lock(&self.st);
            if st.local_fin || st.reset.is_some() || st.ended.is_some() {
                return;
            }
            st.local_fin = true;
            self.push_ctl(flags::FIN, 0);
            st.remote_fin
        };
        if remove {
            self.inner.remove_stream(self);
        }
    }

    fn reset(&self) {
        let (rw, ww) = {
            let mut st = lock(&self.st);
            if st.reset.is_some() || st.ended.is_some() {
                return;
            }
            st.reset = Some(ResetBy::Local);
            st.recv.clear();
            st.buffered = 0;
            self.push_ctl(flags::RST, 0);
            (st.read_waker.take(), st.write_waker.take())
        };
        for w in [rw, ww].into_iter().flatten() {
            w.wake();
        }
        self.inner.remove_stream(self);
    }

    fn on_handle_drop(&self) {
        let remove = {
            let mut st = lock(&self.st);
            st.dropped = true;
            st.recv.clear();
            st.buffered = 0;
            if st.reset.is_none() && st.ended.is_none() && !st.local_fin {
                st.local_fin = true;
                self.push_ctl(flags::FIN, 0);
            }
            st.reset.is_some() || st.ended.is_some() || st.remote_fin
        };
        if remove {
            self.inner.remove_stream(self);
        }
    }
}

/// A yamux stream: a full-duplex byte stream with half-close.
///
/// `shutdown()` sends FIN (the peer reads EOF; we can still read). Dropping the handle without
/// shutting down also sends FIN; data the peer sends after that is answered with RST, since
/// nobody is left to read it. A peer's RST surfaces as `io::ErrorKind::ConnectionReset`, the end
/// of the session (without the peer's FIN) as `ConnectionAborted`, so neither looks like EOF.
pub struct Stream {
    shared: Arc<StreamShared>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl Stream {
    pub(crate) fn new(shared: Arc<StreamShared>) -> Self {
        Stream { shared }
    }

    /// The yamux stream id (odd when the client opened it, even for the server).
    pub fn id(&self) -> u32 {
        self.shared.id
    }

    /// Aborts the stream in both directions (RST).
    pub fn reset(&mut self) {
        self.shared.reset();
    }

    /// Reads the next received chunk (at most `max` bytes) without copying; `None` at EOF.
    pub async fn read_chunk(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        let max = max.max(1);
        poll_fn(|cx| self.shared.poll_chunk(cx, max)).await
    }

    /// Writes all of `data` without copying it (split into frames as windows allow).
    pub async fn write_bytes(&mut self, mut data: Bytes) -> io::Result<()> {
        while !data.is_empty() {
            let avail = data.len();
            poll_fn(|cx| self.shared.poll_send(cx, avail, |n| data.split_to(n))).await?;
        }
        Ok(())
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared.poll_read_into(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.poll_send(cx, buf.len(), |n| {
            Bytes::copy_from_slice(buf.get(..n).unwrap_or(buf))
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Queued frames are written by the session's writer, which flushes whenever its queue
        // runs dry; there is nothing to push from here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.shutdown_write();
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.shared.on_handle_drop();
    }
}
