//! Our yamux *client* and broker against the real Go yamux server inside Packer 1.6.6's
//! built-in `null` builder plugin (`/usr/bin/packer plugin packer-builder-null`).
//!
//! This is the only place where hashicorp/yamux itself judges our frames: a wrong header,
//! window accounting error or missing ping answer makes Go drop the connection.
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use packer_rpc::broker::Broker;
use packer_rpc::mux::Session;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::UnixStream;
use tokio::time::timeout;

const PACKER: &str = "/usr/bin/packer";
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const T: Duration = Duration::from_secs(20);

/// Records every byte the peer sends us.
struct Tap {
    inner: UnixStream,
    seen: Arc<Mutex<Vec<u8>>>,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Tap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = buf.filled()[before..].to_vec();
            self.seen.lock().unwrap().extend_from_slice(&new);
        }
        r
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.sent.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// net/rpc request for `Builder.ConfigSpec` with the given Seq, the body being `body`.
fn config_spec_request(seq: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![0x82, 0xad];
    v.extend_from_slice(b"ServiceMethod");
    v.push(0xb2);
    v.extend_from_slice(b"Builder.ConfigSpec");
    v.push(0xa3);
    v.extend_from_slice(b"Seq");
    v.push(seq);
    v.extend_from_slice(body);
    v
}

/// The reply bytes the Go plugin wrote for Seq 0 in the capture (stream 1, after the ack).
fn captured_reply() -> Vec<u8> {
    let p2c =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../testdata/packer-1.6.6-captures/out_hcl_packer-builder-null/plugin2core.bin",
        ))
        .unwrap();
    // Frames at offset 28: 3 × 4096 + 392 bytes of Data on stream 1.
    let mut out = Vec::new();
    let mut off = 28;
    while out.len() < 12_680 {
        let len = u32::from_be_bytes(p2c[off + 8..off + 12].try_into().unwrap()) as usize;
        assert_eq!(p2c[off + 1], 0, "data frame");
        out.extend_from_slice(&p2c[off + 12..off + 12 + len]);
        off += 12 + len;
    }
    out
}

/// (type, flags, stream, length) of every frame in a byte log.
fn frames(log: &[u8]) -> Vec<(u8, u16, u32, u32)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 12 <= log.len() {
        let h = &log[off..off + 12];
        let flags = u16::from_be_bytes([h[2], h[3]]);
        let id = u32::from_be_bytes(h[4..8].try_into().unwrap());
        let len = u32::from_be_bytes(h[8..12].try_into().unwrap());
        out.push((h[1], flags, id, len));
        off += 12 + if h[1] == 0 { len as usize } else { 0 };
    }
    out
}

/// Reads one ConfigSpec reply: envelope up to the gob's bin16 length equal to the capture's
/// (with our Seq), then exactly that many gob bytes, which must have the captured length.
async fn read_reply(main: &mut packer_rpc::mux::Stream, want: &[u8], seq: u8) {
    const ENVELOPE: usize = 61;
    let mut head = [0u8; ENVELOPE];
    timeout(T, main.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    let mut expect = want[..ENVELOPE].to_vec();
    let seq_at = expect.windows(4).position(|w| w == b"\xa3Seq").unwrap() + 4;
    expect[seq_at] = seq;
    assert_eq!(
        &head[..ENVELOPE - 2],
        &expect[..ENVELOPE - 2],
        "reply envelope"
    );
    let len = u16::from_be_bytes([head[ENVELOPE - 2], head[ENVELOPE - 1]]) as usize;
    assert_eq!(len, want.len() - ENVELOPE, "gob length");
    let mut gob = vec![0u8; len];
    timeout(T, main.read_exact(&mut gob))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&gob[..4], &want[ENVELOPE..ENVELOPE + 4], "gob start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_session_and_broker_talk_to_go_yamux() {
    assert!(
        Path::new(PACKER).exists(),
        "{PACKER} is required for the Go interop test"
    );
    let mut child = tokio::process::Command::new(PACKER)
        .args(["plugin", "packer-builder-null"])
        .env("PACKER_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PACKER_PLUGIN_MIN_PORT", "10000")
        .env("PACKER_PLUGIN_MAX_PORT", "25000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = timeout(T, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let path = line
        .strip_prefix("5|unix|")
        .unwrap_or_else(|| panic!("handshake {line}"));
    let conn = UnixStream::connect(path).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let session = Session::client(Tap {
        inner: conn,
        seen: seen.clone(),
        sent: sent.clone(),
    });
    let broker = Broker::new(session.clone());

    let mut main = timeout(T, broker.dial(0)).await.unwrap().unwrap();
    assert_eq!(main.id(), 1);

    // 1. The capture's first request: Go answers like in the capture. The gob inside comes from
    //    a Go map (random order), so only the msgpack envelope and the sizes are compared.
    let want = captured_reply();
    main.write_all(&config_spec_request(0, &[0xc0]))
        .await
        .unwrap();
    read_reply(&mut main, &want, 0).await;

    // 2. A 1 MiB body: Go must grant window updates and we must wait for them.
    let mut body = vec![0xc6];
    body.extend_from_slice(&(1u32 << 20).to_be_bytes());
    body.extend((0..1u32 << 20).map(|i| (i % 251) as u8));
    main.write_all(&config_spec_request(1, &body))
        .await
        .unwrap();
    read_reply(&mut main, &want, 1).await;

    // 3. After 128 KiB consumed we grant Go a window far above its 256 KiB default; Go must
    //    take it and keep going.
    for seq in 2..14 {
        main.write_all(&config_spec_request(seq, &[0xc0]))
            .await
            .unwrap();
        read_reply(&mut main, &want, seq).await;
    }
    let sent = sent.lock().unwrap().clone();
    let our_grants = frames(&sent)
        .into_iter()
        .filter(|&(ty, _, id, len)| ty == 1 && id == 1 && len > 256 * 1024)
        .count();
    assert_eq!(our_grants, 1, "expected one large grant to Go");

    // 4. Go answers our pings.
    let rtt = timeout(T, session.ping()).await.unwrap().unwrap();
    assert!(rtt < Duration::from_secs(5));

    // What Go sent: its accept (WindowUpdate+ACK, delta 0) and window updates for stream 1.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(&seen[..12], &[0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0]);
    let mut off = 0;
    let mut granted = 0u64;
    let mut pongs = 0;
    while off + 12 <= seen.len() {
        let h = &seen[off..off + 12];
        let len = u32::from_be_bytes(h[8..12].try_into().unwrap());
        match h[1] {
            0 => off += len as usize,
            1 if u32::from_be_bytes(h[4..8].try_into().unwrap()) == 1 => granted += u64::from(len),
            2 => pongs += 1,
            _ => {}
        }
        off += 12;
    }
    assert!(
        granted >= (1 << 20) - 256 * 1024,
        "Go granted only {granted} bytes of window"
    );
    assert_eq!(pongs, 1);

    session.close().await;
    child.kill().await.unwrap();
}
