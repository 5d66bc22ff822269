//! Our yamux session against a raw peer that writes and checks frame bytes by hand.
use std::time::Duration;

use packer_rpc::mux::{Config, Mode, MuxError, ProtocolError, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);
const DATA: u8 = 0;
const WINDOW: u8 = 1;
const PING: u8 = 2;
const GOAWAY: u8 = 3;
const SYN: u16 = 1;
const ACK: u16 = 2;
const FIN: u16 = 4;
const RST: u16 = 8;

fn hdr(ty: u8, flags: u16, id: u32, len: u32) -> Vec<u8> {
    let mut v = vec![0, ty];
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v
}

#[derive(Debug, PartialEq, Eq)]
struct F {
    ty: u8,
    flags: u16,
    id: u32,
    len: u32,
    payload: Vec<u8>,
}

fn f(ty: u8, flags: u16, id: u32, len: u32) -> F {
    F {
        ty,
        flags,
        id,
        len,
        payload: Vec::new(),
    }
}

async fn read_frame(r: &mut DuplexStream) -> F {
    let mut h = [0u8; 12];
    timeout(T, r.read_exact(&mut h)).await.unwrap().unwrap();
    assert_eq!(h[0], 0, "version");
    let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let mut payload = vec![];
    if h[1] == DATA {
        payload = vec![0u8; len as usize];
        r.read_exact(&mut payload).await.unwrap();
    }
    F {
        ty: h[1],
        flags: u16::from_be_bytes([h[2], h[3]]),
        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        len,
        payload,
    }
}

fn server_with(cfg: Config) -> (Session, DuplexStream) {
    let (a, b) = tokio::io::duplex(4 << 20);
    (Session::new(a, Mode::Server, cfg), b)
}

fn server() -> (Session, DuplexStream) {
    server_with(Config::default())
}

#[tokio::test]
async fn answers_ping_with_the_same_opaque_value() {
    let (_s, mut peer) = server();
    peer.write_all(&hdr(PING, SYN, 0, 0xdead_beef))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut peer).await, f(PING, ACK, 0, 0xdead_beef));
    peer.write_all(&hdr(PING, SYN, 0, 7)).await.unwrap();
    assert_eq!(read_frame(&mut peer).await, f(PING, ACK, 0, 7));
}

#[tokio::test]
async fn our_ping_carries_an_id_and_completes_on_ack() {
    let (s, mut peer) = server();
    let ping = tokio::spawn(async move { s.ping().await });
    let p = read_frame(&mut peer).await;
    assert_eq!((p.ty, p.flags, p.id), (PING, SYN, 0));
    peer.write_all(&hdr(PING, ACK, 0, p.len)).await.unwrap();
    timeout(T, ping).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn accepts_data_syn_and_answers_ack() {
    let (s, mut peer) = server();
    let mut open = hdr(DATA, SYN, 1, 5);
    open.extend_from_slice(b"hello");
    open.extend_from_slice(&hdr(WINDOW, FIN, 1, 0));
    peer.write_all(&open).await.unwrap();
    let mut st = s.accept().await.unwrap().unwrap();
    assert_eq!(st.id(), 1);
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, ACK, 1, 0));
    let mut v = Vec::new();
    st.read_to_end(&mut v).await.unwrap();
    assert_eq!(v, b"hello");
    st.write_all(b"bye").await.unwrap();
    st.shutdown().await.unwrap();
    let d = read_frame(&mut peer).await;
    assert_eq!(
        (d.ty, d.flags, d.id, d.payload),
        (DATA, 0, 1, b"bye".to_vec())
    );
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, FIN, 1, 0));
}

#[tokio::test]
async fn open_sends_window_update_syn_delta_zero() {
    let (s, mut peer) = server();
    let mut st = s.open().await.unwrap();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, SYN, 2, 0));
    st.reset();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, RST, 2, 0));
}

/// Window updates: none for small reads (like Go), then a grant up to the configured maximum.
#[tokio::test]
async fn grants_window_after_half_the_initial_window_is_read() {
    for (max, first_delta) in [
        (256 * 1024u32, 128 * 1024u32),
        (4 << 20, (4 << 20) - 128 * 1024),
    ] {
        let (s, mut peer) = server_with(Config {
            max_stream_window: max,
            ..Config::default()
        });
        peer.write_all(&hdr(WINDOW, SYN, 1, 0)).await.unwrap();
        let mut st = s.accept().await.unwrap().unwrap();
        assert_eq!(read_frame(&mut peer).await, f(WINDOW, ACK, 1, 0));
        let chunk = vec![1u8; 64 * 1024];
        for _ in 0..4 {
            peer.write_all(&hdr(DATA, 0, 1, chunk.len() as u32))
                .await
                .unwrap();
            peer.write_all(&chunk).await.unwrap();
        }
        // 256 KiB sent: the whole initial window. One more byte would be a violation.
        let mut buf = vec![0u8; 64 * 1024];
        st.read_exact(&mut buf).await.unwrap();
        // 64 KiB read: below half, no update yet. Another 64 KiB crosses half the window.
        st.read_exact(&mut buf).await.unwrap();
        assert_eq!(read_frame(&mut peer).await, f(WINDOW, 0, 1, first_delta));
        // The grant is usable: send up to it and read it all without any error.
        let extra = first_delta as usize;
        let mut sent = 0;
        while sent < extra {
            let n = chunk.len().min(extra - sent);
            peer.write_all(&hdr(DATA, 0, 1, n as u32)).await.unwrap();
            peer.write_all(&chunk[..n]).await.unwrap();
            sent += n;
        }
        peer.write_all(&hdr(WINDOW, FIN, 1, 0)).await.unwrap();
        let mut rest = Vec::new();
        timeout(T, st.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rest.len(), 128 * 1024 + extra);
        assert!(!s.is_closed());
    }
}

#[tokio::test]
async fn sender_honours_the_peer_window_and_resumes_on_update() {
    let (s, mut peer) = server();
    let mut st = s.open().await.unwrap();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, SYN, 2, 0));
    let writer = tokio::spawn(async move {
        st.write_all(&vec![9u8; 300 * 1024]).await.unwrap();
        st
    });
    let mut got = 0usize;
    while got < 256 * 1024 {
        let d = read_frame(&mut peer).await;
        assert_eq!((d.ty, d.id), (DATA, 2));
        got += d.payload.len();
    }
    assert_eq!(got, 256 * 1024, "sent past the window");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!writer.is_finished());
    peer.write_all(&hdr(WINDOW, ACK, 2, 100 * 1024))
        .await
        .unwrap();
    let d = read_frame(&mut peer).await;
    assert_eq!(d.payload.len(), 44 * 1024);
    timeout(T, writer).await.unwrap().unwrap();
}

async fn expect_protocol_error(input: Vec<u8>, want: ProtocolError, goaway_code: Option<u32>) {
    let (s, mut peer) = server();
    peer.write_all(&input).await.unwrap();
    let err = timeout(T, s.closed()).await.unwrap().unwrap_err();
    match &err {
        MuxError::Protocol(p) => assert_eq!(p, &want),
        other => panic!("expected {want:?}, got {other}"),
    }
    // Whatever else we wrote, the last frame before EOF is our GoAway (if any).
    let mut rest = Vec::new();
    timeout(T, peer.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    match goaway_code {
        Some(code) => assert_eq!(&rest[rest.len() - 12..], &hdr(GOAWAY, 0, 0, code)[..]),
        None => assert!(!rest.windows(2).any(|w| w == [0, GOAWAY]), "{rest:?}"),
    }
    assert!(matches!(s.open().await, Err(MuxError::Protocol(_))));
    assert!(s.accept().await.is_err());
}

#[tokio::test]
async fn protocol_errors_end_the_session_with_goaway() {
    let mut bad_version = hdr(PING, SYN, 0, 1);
    bad_version[0] = 1;
    expect_protocol_error(bad_version, ProtocolError::UnsupportedVersion(1), Some(1)).await;
    expect_protocol_error(hdr(9, 0, 0, 0), ProtocolError::UnknownFrameType(9), Some(1)).await;
    let mut over = hdr(WINDOW, SYN, 1, 0);
    over.extend_from_slice(&hdr(DATA, 0, 1, 256 * 1024 + 1));
    expect_protocol_error(
        over,
        ProtocolError::RecvWindowExceeded {
            stream: 1,
            len: 256 * 1024 + 1,
            window: 256 * 1024,
        },
        Some(1),
    )
    .await;
    expect_protocol_error(hdr(DATA, 0, 3, 1), ProtocolError::UnknownStream(3), Some(1)).await;
    expect_protocol_error(
        hdr(WINDOW, SYN, 2, 0),
        ProtocolError::WrongStreamParity(2),
        Some(1),
    )
    .await;
    let mut dup = hdr(WINDOW, SYN, 1, 0);
    dup.extend_from_slice(&hdr(WINDOW, SYN, 1, 0));
    expect_protocol_error(dup, ProtocolError::DuplicateStream(1), Some(1)).await;
    expect_protocol_error(hdr(DATA, 0, 0, 0), ProtocolError::StreamZero, Some(1)).await;
    let mut overflow = hdr(WINDOW, SYN, 1, 0);
    overflow.extend_from_slice(&hdr(WINDOW, 0, 1, u32::MAX));
    expect_protocol_error(
        overflow,
        ProtocolError::WindowOverflow {
            stream: 1,
            delta: u32::MAX,
        },
        Some(1),
    )
    .await;
    // The peer's own error GoAway ends the session without an answer.
    expect_protocol_error(hdr(GOAWAY, 0, 0, 1), ProtocolError::PeerProtocolError, None).await;
}

#[tokio::test]
async fn data_for_a_reset_stream_is_discarded() {
    let (s, mut peer) = server();
    peer.write_all(&hdr(WINDOW, SYN, 1, 0)).await.unwrap();
    let mut st = s.accept().await.unwrap().unwrap();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, ACK, 1, 0));
    st.reset();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, RST, 1, 0));
    // In flight before the peer saw our RST: harmless.
    let mut late = hdr(DATA, 0, 1, 3);
    late.extend_from_slice(b"abc");
    peer.write_all(&late).await.unwrap();
    peer.write_all(&hdr(PING, SYN, 0, 5)).await.unwrap();
    assert_eq!(read_frame(&mut peer).await, f(PING, ACK, 0, 5));
    assert!(!s.is_closed());
}

#[tokio::test]
async fn refuses_streams_after_local_goaway() {
    let (s, mut peer) = server();
    s.go_away();
    assert_eq!(read_frame(&mut peer).await, f(GOAWAY, 0, 0, 0));
    peer.write_all(&hdr(WINDOW, SYN, 1, 0)).await.unwrap();
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, RST, 1, 0));
}

#[tokio::test]
async fn backlog_overflow_is_refused_with_rst() {
    let (s, mut peer) = server_with(Config {
        accept_backlog: 2,
        ..Config::default()
    });
    for id in [1, 3, 5] {
        peer.write_all(&hdr(WINDOW, SYN, id, 0)).await.unwrap();
    }
    assert_eq!(read_frame(&mut peer).await, f(WINDOW, RST, 5, 0));
    assert_eq!(s.accept().await.unwrap().unwrap().id(), 1);
    assert_eq!(s.accept().await.unwrap().unwrap().id(), 3);
}

#[tokio::test(start_paused = true)]
async fn unanswered_keepalive_ends_the_session() {
    let (a, mut peer) = tokio::io::duplex(1 << 16);
    let s = Session::new(
        a,
        Mode::Client,
        Config {
            keepalive_interval: Some(Duration::from_secs(30)),
            ..Config::default()
        },
    );
    let mut h = [0u8; 12];
    timeout(Duration::from_secs(60), peer.read_exact(&mut h))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((h[1], h[3]), (PING, SYN as u8));
    // Never answered: Go's 10 s write timeout analogue.
    let err = timeout(Duration::from_secs(60), s.closed())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MuxError::KeepaliveTimeout(d) if d == Duration::from_secs(10)));
}

#[tokio::test]
async fn eof_inside_a_frame_is_an_io_error() {
    let (s, mut peer) = server();
    peer.write_all(&hdr(WINDOW, SYN, 1, 0)[..7]).await.unwrap();
    drop(peer);
    let err = timeout(T, s.closed()).await.unwrap().unwrap_err();
    assert!(matches!(err, MuxError::Io { op: "read", .. }), "{err}");
}
