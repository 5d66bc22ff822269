//! The yamux session: configuration, the reader and writer tasks, stream bookkeeping.
use std::collections::HashMap;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::error::{MuxError, ProtocolError};
use super::frame::{flags, goaway, FrameType, Header, HEADER_LEN, INITIAL_WINDOW};
use super::lock;
use super::queue::{Frame, WriteQueue};
use super::stream::{Stream, StreamShared};

/// Which end of the connection we are. Packer core is the client, the plugin the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Opens odd stream ids.
    Client,
    /// Opens even stream ids.
    Server,
}

/// Session tuning. The defaults suit a plugin talking to Packer.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest receive window we grant per stream (at least 256 KiB). Also the most unread data
    /// buffered per stream.
    pub max_stream_window: u32,
    /// Largest Data frame we send.
    pub max_frame_size: u32,
    /// Incoming streams waiting for `accept`; more are refused with RST.
    pub accept_backlog: usize,
    /// Send our own pings this often (`None`: only answer the peer's).
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may wait for its answer.
    pub ping_timeout: Duration,
    /// How long one write to the connection may block before the session is declared dead.
    pub write_timeout: Duration,
    /// Payload bytes queued for the writer before data writers wait.
    pub max_queued_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_stream_window: 4 * 1024 * 1024,
            max_frame_size: 128 * 1024,
            accept_backlog: 256,
            keepalive_interval: None,
            ping_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_queued_bytes: 1024 * 1024,
        }
    }
}

/// How the session ended.
#[derive(Clone, Debug)]
enum End {
    Clean,
    Failed(MuxError),
}

impl End {
    fn error(&self) -> MuxError {
        match self {
            End::Clean => MuxError::SessionClosed,
            End::Failed(e) => e.clone(),
        }
    }
}

struct SessState {
    streams: HashMap<u32, Arc<StreamShared>>,
    next_id: u32,
    highest_remote: u32,
    local_goaway: bool,
    remote_goaway: bool,
    end: Option<End>,
    accept_tx: Option<mpsc::Sender<Arc<StreamShared>>>,
    pings: HashMap<u32, oneshot::Sender<()>>,
    next_ping: u32,
}

pub(crate) struct Inner {
    mode: Mode,
    pub(crate) cfg: Config,
    pub(crate) queue: WriteQueue,
    st: Mutex<SessState>,
    accept_rx: tokio::sync::Mutex<mpsc::Receiver<Arc<StreamShared>>>,
    cancel: CancellationToken,
    end_tx: watch::Sender<Option<End>>,
    writer_done: watch::Sender<bool>,
}

/// A yamux session over one connection. Cheap to clone; all clones share the session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

/// Largest number of frames written in one batch (two iovecs each, below IOV_MAX).
const MAX_BATCH: usize = 256;
/// How long the reader keeps draining after a clean local close.
const LINGER: Duration = Duration::from_secs(2);
/// Reader buffer; payloads at least this large are read straight into their own buffer.
const READ_BUF: usize = 64 * 1024;

impl Session {
    /// Starts a server session (the plugin side). Must be called inside a tokio runtime.
    pub fn server<T>(io: T) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::new(io, Mode::Server, Config::default())
    }

    /// Starts a client session (the Packer core side).
    pub fn client<T>(io: T) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::new(io, Mode::Client, Config::default())
    }

    /// Starts a session with explicit mode and configuration.
    pub fn new<T>(io: T, mode: Mode, mut cfg: Config) -> Session
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        cfg.max_stream_window = cfg.max_stream_window.max(INITIAL_WINDOW);
        cfg.max_frame_size = cfg.max_frame_size.max(1);
        cfg.accept_backlog = cfg.accept_backlog.max(1);
        cfg.max_queued_bytes = cfg.max_queued_bytes.max(1);
        let (accept_tx, accept_rx) = mpsc::channel(cfg.accept_backlog);
        let inner = Arc::new(Inner {
            mode,
            queue: WriteQueue::new(cfg.max_queued_bytes),
            st: Mutex::new(SessState {
                streams: HashMap::new(),
                next_id: match mode {
                    Mode::Client => 1,
                    Mode::Server => 2,
                },
                highest_remote: 0,
                local_goaway: false,
                remote_goaway: false,
                end: None,
                accept_tx: Some(accept_tx),
                pings: HashMap::new(),
                next_ping: 0,
            }),
            cfg,
            accept_rx: tokio::sync::Mutex::new(accept_rx),
            cancel: CancellationToken::new(),
            end_tx: watch::Sender::new(None),
            writer_done: watch::Sender::new(false),
        });
        let (r, w) = tokio::io::split(io);
        tokio::spawn(read_loop(inner.clone(), r));
        tokio::spawn(write_loop(inner.clone(), w));
        if let Some(every) = inner.cfg.keepalive_interval {
            tokio::spawn(keepalive_loop(inner.clone(), every));
        }
        Session { inner }
    }

    /// Which end we are.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// Opens a stream: sends WindowUpdate+SYN with delta 0 (as Go does) and returns at once.
    pub async fn open(&self) -> Result<Stream, MuxError> {
        let inner = &self.inner;
        let mut st = lock(&inner.st);
        if let Some(end) = &st.end {
            return Err(end.error());
        }
        if st.remote_goaway {
            return Err(MuxError::RemoteGoAway);
        }
        if st.local_goaway {
            return Err(MuxError::LocalGoAway);
        }
        let id = st.next_id;
        st.next_id = id.checked_add(2).ok_or(MuxError::StreamIdsExhausted)?;
        let shared = StreamShared::new(id, inner.clone(), INITIAL_WINDOW);
        st.streams.insert(id, shared.clone());
        let pushed = inner.queue.push(Frame::control(Header::new(
            FrameType::WindowUpdate,
            flags::SYN,
            id,
            0,
        )));
        drop(st);
        if !pushed {
            return Err(MuxError::SessionClosed);
        }
        Ok(Stream::new(shared))
    }

    /// Waits for the peer to open a stream and accepts it (WindowUpdate+ACK, delta 0).
    /// `Ok(None)` once the session has ended cleanly; the session's error if it failed.
    pub async fn accept(&self) -> Result<Option<Stream>, MuxError> {
        let mut rx = self.inner.accept_rx.lock().await;
        let next = if self.is_closed() {
            None
        } else {
            rx.recv().await
        };
        // Streams still queued when the session ended are useless; report the end instead.
        match (next, lock(&self.inner.st).end.clone()) {
            (Some(shared), None) => {
                shared.send_ack();
                Ok(Some(Stream::new(shared)))
            }
            (_, Some(End::Failed(e))) => Err(e),
            _ => Ok(None),
        }
    }

    /// Sends a ping and waits for its answer; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, MuxError> {
        self.inner.ping().await
    }

    /// Tells the peer we accept no new streams (GoAway, normal); existing streams go on.
    pub fn go_away(&self) {
        self.inner.go_away(goaway::NORMAL);
    }

    /// Sends GoAway, ends every stream and closes the connection once queued frames are out.
    pub async fn close(&self) {
        self.inner.go_away(goaway::NORMAL);
        self.inner.terminate(End::Clean);
        let mut done = self.inner.writer_done.subscribe();
        let wait = done.wait_for(|d| *d);
        let _ = tokio::time::timeout(self.inner.cfg.write_timeout, wait).await;
    }

    /// Resolves when the session has ended: `Ok` for a clean end, else the error that ended it.
    pub async fn closed(&self) -> Result<(), MuxError> {
        let mut rx = self.inner.end_tx.subscribe();
        let end = match rx.wait_for(|e| e.is_some()).await {
            Ok(v) => v.clone(),
            Err(_) => None,
        };
        match end {
            Some(End::Failed(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.st).end.is_some()
    }

    /// Streams currently tracked (open in at least one direction).
    pub fn num_streams(&self) -> usize {
        lock(&self.inner.st).streams.len()
    }
}

impl Inner {
    fn is_local_id(&self, id: u32) -> bool {
        (id & 1 == 0) == (self.mode == Mode::Server)
    }

    pub(crate) fn remove_stream(&self, s: &StreamShared) {
        let mut st = lock(&self.st);
        if let Some(cur) = st.streams.get(&s.id) {
            if std::ptr::eq(Arc::as_ptr(cur), s) {
                st.streams.remove(&s.id);
            }
        }
    }

    fn go_away(&self, code: u32) {
        {
            let mut st = lock(&self.st);
            if st.end.is_some() || (st.local_goaway && code == goaway::NORMAL) {
                return;
            }
            st.local_goaway = true;
        }
        self.queue
            .push(Frame::control(Header::new(FrameType::GoAway, 0, 0, code)));
    }

    /// Ends the session once: every stream and waiter learns why, the writer drains and stops.
    fn terminate(&self, end: End) {
        let (streams, tx, pings) = {
            let mut st = lock(&self.st);
            if st.end.is_some() {
                return;
            }
            st.end = Some(end.clone());
            (
                std::mem::take(&mut st.streams),
                st.accept_tx.take(),
                std::mem::take(&mut st.pings),
            )
        };
        drop(tx);
        drop(pings);
        let err = end.error();
        for s in streams.values() {
            s.on_session_end(err.clone());
        }
        match &end {
            End::Failed(MuxError::Io { .. } | MuxError::WriteTimeout(_)) => self.queue.abort(),
            _ => self.queue.close(),
        }
        if matches!(end, End::Clean) {
            // Keep reading for a moment so frames already in flight are consumed: closing a
            // socket with unread data makes the peer see ECONNRESET instead of our clean EOF.
            let cancel = self.cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(LINGER).await;
                cancel.cancel();
            });
        } else {
            self.cancel.cancel();
        }
        if let End::Failed(e) = &end {
            tracing::debug!(error = %e, "yamux session failed");
        }
        self.end_tx.send_replace(Some(end));
    }

    async fn ping(&self) -> Result<Duration, MuxError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut st = lock(&self.st);
            if let Some(end) = &st.end {
                return Err(end.error());
            }
            let id = st.next_ping;
            st.next_ping = id.wrapping_add(1);
            st.pings.insert(id, tx);
            id
        };
        let start = Instant::now();
        self.queue.push(Frame::control(Header::new(
            FrameType::Ping,
            flags::SYN,
            0,
            id,
        )));
        match tokio::time::timeout(self.cfg.ping_timeout, rx).await {
            Ok(Ok(())) => Ok(start.elapsed()),
            Ok(Err(_)) => Err(lock(&self.st)
                .end
                .as_ref()
                .map_or(MuxError::SessionClosed, End::error)),
            Err(_) => {
                lock(&self.st).pings.remove(&id);
                Err(MuxError::KeepaliveTimeout(self.cfg.ping_timeout))
            }
        }
    }

    fn lookup(&self, id: u32) -> Option<Arc<StreamShared>> {
        lock(&self.st).streams.get(&id).cloned()
    }

    /// A frame for a stream we do not track: fine if it existed once, an error otherwise.
    fn check_missing(&self, id: u32) -> Result<(), ProtocolError> {
        let st = lock(&self.st);
        let never = if self.is_local_id(id) {
            id >= st.next_id
        } else {
            id > st.highest_remote
        };
        if never {
            Err(ProtocolError::UnknownStream(id))
        } else {
            Ok(())
        }
    }

    /// A SYN: registers the stream and queues it for `accept`, or refuses it with RST.
    fn incoming(self: &Arc<Self>, id: u32) -> Result<Option<Arc<StreamShared>>, ProtocolError> {
        if self.is_local_id(id) {
            return Err(ProtocolError::WrongStreamParity(id));
        }
        let mut st = lock(&self.st);
        if st.end.is_some() {
            return Ok(None);
        }
        if id <= st.highest_remote {
            return Err(ProtocolError::DuplicateStream(id));
        }
        st.highest_remote = id;
        let refuse = || {
            self.queue.push(Frame::control(Header::new(
                FrameType::WindowUpdate,
                flags::RST,
                id,
                0,
            )));
        };
        if st.local_goaway {
            refuse();
            return Ok(None);
        }
        let shared = StreamShared::new(id, self.clone(), INITIAL_WINDOW);
        let queued = st
            .accept_tx
            .as_ref()
            .is_some_and(|tx| tx.try_send(shared.clone()).is_ok());
        if !queued {
            tracing::warn!(stream = id, "yamux accept backlog full; refusing stream");
            refuse();
            return Ok(None);
        }
        st.streams.insert(id, shared.clone());
        Ok(Some(shared))
    }

    fn on_ping(&self, h: &Header) {
        if h.has(flags::SYN) {
            self.queue.push(Frame::control(Header::new(
                FrameType::Ping,
                flags::ACK,
                0,
                h.length,
            )));
        } else if h.has(flags::ACK) {
            if let Some(tx) = lock(&self.st).pings.remove(&h.length) {
                let _ = tx.send(());
            }
        }
    }

    fn on_goaway(&self, code: u32) -> Result<(), ProtocolError> {
        match code {
            goaway::NORMAL => {
                lock(&self.st).remote_goaway = true;
                Ok(())
            }
            goaway::PROTOCOL_ERROR => Err(ProtocolError::PeerProtocolError),
            goaway::INTERNAL_ERROR => Err(ProtocolError::PeerInternalError),
            other => Err(ProtocolError::UnknownGoAway(other)),
        }
    }
}

/// Why the read loop stopped.
enum ReadEnd {
    /// Peer closed the connection between frames.
    Eof,
    Proto(ProtocolError),
    Io(io::Error),
}

impl From<ProtocolError> for ReadEnd {
    fn from(e: ProtocolError) -> Self {
        ReadEnd::Proto(e)
    }
}

impl From<io::Error> for ReadEnd {
    fn from(e: io::Error) -> Self {
        ReadEnd::Io(e)
    }
}

async fn read_loop<R: AsyncRead + Unpin>(inner: Arc<Inner>, r: R) {
    let mut r = BufReader::with_capacity(READ_BUF, r);
    let end = tokio::select! {
        e = read_frames(&inner, &mut r) => e,
        _ = inner.cancel.cancelled() => return,
    };
    match end {
        ReadEnd::Eof => inner.terminate(End::Clean),
        ReadEnd::Io(e) => inner.terminate(End::Failed(MuxError::io("read", e))),
        ReadEnd::Proto(e) => {
            let code = match e {
                // The peer told us it failed; answering with our own GoAway adds nothing.
                ProtocolError::PeerProtocolError
                | ProtocolError::PeerInternalError
                | ProtocolError::UnknownGoAway(_) => None,
                _ => Some(goaway::PROTOCOL_ERROR),
            };
            if let Some(code) = code {
                inner.go_away(code);
            }
            inner.terminate(End::Failed(MuxError::Protocol(e)));
        }
    }
}

/// Reads a header; `Ok(None)` on EOF before its first byte.
async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<[u8; HEADER_LEN]>> {
    let mut buf = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        let n = r.read(rest).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a yamux frame header",
            ));
        }
        filled += n;
    }
    Ok(Some(buf))
}

async fn read_payload<R: AsyncRead + Unpin>(r: &mut R, len: u32) -> io::Result<Bytes> {
    let len = len as usize;
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let want = (len - buf.len()) as u64;
        let n = (&mut *r).take(want).read_buf(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a yamux data frame",
            ));
        }
    }
    Ok(buf.freeze())
}

async fn read_frames<R: AsyncRead + Unpin>(inner: &Arc<Inner>, r: &mut R) -> ReadEnd {
    loop {
        let raw = match read_header(r).await {
            Ok(Some(raw)) => raw,
            Ok(None) => return ReadEnd::Eof,
            Err(e) => return ReadEnd::Io(e),
        };
        if let Err(e) = handle_frame(inner, r, raw).await {
            return e;
        }
        // Control answers (pings, RSTs) are queued without waiting; if the peer floods us while
        // not reading, stop reading until the writer catches up.
        poll_fn(|cx| inner.queue.poll_below(cx, 4)).await;
    }
}

async fn handle_frame<R: AsyncRead + Unpin>(
    inner: &Arc<Inner>,
    r: &mut R,
    raw: [u8; HEADER_LEN],
) -> Result<(), ReadEnd> {
    let h = Header::decode(&raw)?;
    match h.ty {
        FrameType::Ping => {
            inner.on_ping(&h);
            return Ok(());
        }
        FrameType::GoAway => return Ok(inner.on_goaway(h.length)?),
        FrameType::Data | FrameType::WindowUpdate => {}
    }
    let id = h.stream_id;
    if id == 0 {
        return Err(ProtocolError::StreamZero.into());
    }
    let stream = if h.has(flags::SYN) {
        inner.incoming(id)?
    } else {
        let s = inner.lookup(id);
        if s.is_none() {
            inner.check_missing(id)?;
        }
        s
    };
    let is_data = h.ty == FrameType::Data;
    let Some(s) = stream else {
        if is_data && h.length > 0 {
            if h.length > inner.cfg.max_stream_window {
                return Err(ProtocolError::FrameTooLarge {
                    stream: id,
                    len: h.length,
                }
                .into());
            }
            let mut take = (&mut *r).take(u64::from(h.length));
            let n = tokio::io::copy(&mut take, &mut tokio::io::sink()).await?;
            if n < u64::from(h.length) {
                return Err(ReadEnd::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a yamux data frame",
                )));
            }
        }
        return Ok(());
    };
    if is_data {
        if h.length > 0 {
            // The window only grows between this check and the payload's arrival, so checking
            // first lets us refuse oversized frames before allocating for them.
            let window = s.recv_window();
            if h.length > window {
                return Err(ProtocolError::RecvWindowExceeded {
                    stream: id,
                    len: h.length,
                    window,
                }
                .into());
            }
            let payload = read_payload(r, h.length).await?;
            s.on_data(payload);
        }
    } else {
        s.on_window_update(h.length)?;
    }
    s.on_flags(h.flags);
    Ok(())
}

async fn write_loop<W: AsyncWrite + Unpin>(inner: Arc<Inner>, mut w: W) {
    let mut batch: Vec<Frame> = Vec::with_capacity(MAX_BATCH);
    let mut scratch: Vec<u8> = Vec::new();
    let vectored = w.is_write_vectored();
    let wt = inner.cfg.write_timeout;
    loop {
        batch.clear();
        let more = poll_fn(|cx| inner.queue.poll_take(cx, MAX_BATCH, &mut batch)).await;
        if !more {
            break;
        }
        let bytes: usize = batch.iter().map(Frame::wire_len).sum();
        let res =
            tokio::time::timeout(wt, write_batch(&mut w, &batch, vectored, &mut scratch)).await;
        batch.clear();
        inner.queue.release(bytes);
        let res = match res {
            Ok(Ok(())) if !inner.queue.has_pending() => tokio::time::timeout(wt, w.flush()).await,
            other => other,
        };
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                inner.terminate(End::Failed(MuxError::io("write", e)));
                inner.queue.abort();
                break;
            }
            Err(_) => {
                inner.terminate(End::Failed(MuxError::WriteTimeout(wt)));
                inner.queue.abort();
                break;
            }
        }
    }
    let _ = tokio::time::timeout(wt, w.shutdown()).await;
    inner.writer_done.send_replace(true);
}

/// Small payloads are coalesced into one buffer for transports without vectored writes.
const COALESCE_MAX: usize = 16 * 1024;

async fn write_batch<W: AsyncWrite + Unpin>(
    w: &mut W,
    batch: &[Frame],
    vectored: bool,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    if vectored {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(batch.len() * 2);
        for f in batch {
            slices.push(IoSlice::new(&f.hdr));
            if !f.body.is_empty() {
                slices.push(IoSlice::new(&f.body));
            }
        }
        let mut bufs = slices.as_mut_slice();
        while !bufs.is_empty() {
            let n = w.write_vectored(bufs).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut bufs, n);
        }
        return Ok(());
    }
    scratch.clear();
    for f in batch {
        scratch.extend_from_slice(&f.hdr);
        if f.body.len() <= COALESCE_MAX {
            scratch.extend_from_slice(&f.body);
        } else {
            w.write_all(scratch).await?;
            scratch.clear();
            w.write_all(&f.body).await?;
        }
    }
    if !scratch.is_empty() {
        w.write_all(scratch).await?;
    }
    Ok(())
}

async fn keepalive_loop(inner: Arc<Inner>, every: Duration) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = inner.cancel.cancelled() => return,
        }
        match inner.ping().await {
            Ok(rtt) => tracing::trace!(?rtt, "yamux keepalive"),
            Err(e @ MuxError::KeepaliveTimeout(_)) => {
                inner.terminate(End::Failed(e));
                return;
            }
            Err(_) => return,
        }
    }
}
