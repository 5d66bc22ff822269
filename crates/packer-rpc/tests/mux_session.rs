//! yamux client ↔ server over real unix socket pairs.
use std::time::Duration;

use packer_rpc::mux::{Config, Mode, MuxError, Session, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(30);

fn pair_with(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        Session::new(a, Mode::Client, client),
        Session::new(b, Mode::Server, server),
    )
}

fn pair() -> (Session, Session) {
    pair_with(Config::default(), Config::default())
}

/// Deterministic pseudo-random bytes (xorshift), so both ends can check a transfer.
struct Gen(u64);

impl Gen {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

/// A random block whose length is not a power of two, so frame and read boundaries drift
/// across it; the transfer is this block repeated, and the receiver checks every byte.
fn pattern(seed: u64) -> Vec<u8> {
    let mut p = vec![0u8; (1 << 20) + 4099];
    Gen(seed).fill(&mut p);
    p
}

async fn send_pattern(s: &mut Stream, pat: &[u8], total: usize) {
    let mut pos = 0;
    while pos < total {
        let off = pos % pat.len();
        let n = (pat.len() - off).min(total - pos).min(300_007);
        s.write_all(&pat[off..off + n]).await.unwrap();
        pos += n;
    }
}

/// Reads to EOF, checking every byte against the repeated pattern; returns the byte count.
async fn read_check(s: &mut Stream, pat: &[u8]) -> usize {
    let mut buf = vec![0u8; 77_777];
    let mut pos = 0;
    loop {
        let k = s.read(&mut buf).await.unwrap();
        if k == 0 {
            return pos;
        }
        let mut got = &buf[..k];
        while !got.is_empty() {
            let off = pos % pat.len();
            let n = got.len().min(pat.len() - off);
            assert!(got[..n] == pat[off..off + n], "corrupt data at byte {pos}");
            got = &got[n..];
            pos += n;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_64_mib_each_way_with_window_updates() {
    for server_window in [256 * 1024, 4 * 1024 * 1024] {
        let (client, server) = pair_with(
            Config::default(),
            Config {
                max_stream_window: server_window,
                ..Config::default()
            },
        );
        const TOTAL: usize = 64 * 1024 * 1024;
        let up = pattern(7);
        let down = pattern(99);
        let (up2, down2) = (up.clone(), down.clone());
        let srv = tokio::spawn(async move {
            let mut s = server.accept().await.unwrap().unwrap();
            assert_eq!(s.id(), 1);
            let got = read_check(&mut s, &up2).await;
            send_pattern(&mut s, &down2, TOTAL).await;
            s.shutdown().await.unwrap();
            got
        });
        let mut s = client.open().await.unwrap();
        timeout(T, send_pattern(&mut s, &up, TOTAL)).await.unwrap();
        s.shutdown().await.unwrap();
        let got_back = timeout(T, read_check(&mut s, &down)).await.unwrap();
        let srv_got = timeout(T, srv).await.unwrap().unwrap();
        assert_eq!(srv_got, TOTAL, "server received a different amount");
        assert_eq!(got_back, TOTAL, "client received a different amount");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_echo() {
    let (client, server) = pair();
    let srv = tokio::spawn(async move {
        let mut tasks = Vec::new();
        while let Some(mut s) = server.accept().await.unwrap() {
            tasks.push(tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(&mut s);
                tokio::io::copy(&mut r, &mut w).await.unwrap();
                w.shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for i in 0..64u64 {
        let mut s = client.open().await.unwrap();
        assert_eq!(
            s.id() as u64,
            2 * i + 1,
            "client ids are odd and increasing"
        );
        clients.push(tokio::spawn(async move {
            let size = ((i * 7919) % 600_000) as usize;
            let (mut r, mut w) = tokio::io::split(&mut s);
            let writer = async {
                let mut g = Gen(i + 1);
                let mut data = vec![0u8; size];
                g.fill(&mut data);
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
                data
            };
            let reader = async {
                let mut back = Vec::new();
                r.read_to_end(&mut back).await.unwrap();
                back
            };
            let (data, back) = tokio::join!(writer, reader);
            assert_eq!(back.len(), data.len());
            assert!(back == data, "stream {i} echoed other bytes");
        }));
    }
    for c in clients {
        timeout(T, c).await.unwrap().unwrap();
    }
    client.close().await;
    timeout(T, srv).await.unwrap().unwrap();
}

#[tokio::test]
async fn half_close_semantics() {
    let (client, server) = pair();
    let mut c = client.open().await.unwrap();
    c.write_all(b"request").await.unwrap();
    c.shutdown().await.unwrap();
    let err = c.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);

    let mut s = server.accept().await.unwrap().unwrap();
    let mut req = Vec::new();
    s.read_to_end(&mut req).await.unwrap();
    assert_eq!(req, b"request");
    // Our direction is still open after the peer's FIN.
    s.write_all(b"response").await.unwrap();
    s.shutdown().await.unwrap();
    let mut resp = Vec::new();
    timeout(T, c.read_to_end(&mut resp)).await.unwrap().unwrap();
    assert_eq!(resp, b"response");
    // EOF is sticky.
    assert_eq!(c.read(&mut [0u8; 8]).await.unwrap(), 0);
    // Both sides closed: the streams are forgotten.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(client.num_streams(), 0);
    assert_eq!(server.num_streams(), 0);
}

#[tokio::test]
async fn reset_is_an_error_not_eof() {
    let (client, server) = pair();
    let mut c = client.open().await.unwrap();
    c.write_all(b"x").await.unwrap();
    let mut s = server.accept().await.unwrap().unwrap();
    let mut one = [0u8; 1];
    s.read_exact(&mut one).await.unwrap();
    s.reset();
    let err = timeout(T, c.read(&mut [0u8; 4]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let err = c.write_all(b"y").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let err = s.read(&mut one).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    // The session itself is unaffected.
    let mut c2 = client.open().await.unwrap();
    c2.write_all(b"ok").await.unwrap();
    c2.shutdown().await.unwrap();
    let mut s2 = server.accept().await.unwrap().unwrap();
    let mut v = Vec::new();
    s2.read_to_end(&mut v).await.unwrap();
    assert_eq!(v, b"ok");
}

#[tokio::test]
async fn drop_closes_politely_and_late_data_is_refused() {
    let (client, server) = pair();
    let mut c = client.open().await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut s = server.accept().await.unwrap().unwrap();
    let mut five = [0u8; 5];
    s.read_exact(&mut five).await.unwrap();
    drop(s);
    // Dropping sends FIN: the client reads EOF.
    let mut rest = Vec::new();
    timeout(T, c.read_to_end(&mut rest)).await.unwrap().unwrap();
    assert!(rest.is_empty());
    // Nobody reads on the server any more, so more data is answered with RST.
    c.write_all(b"late").await.unwrap();
    let reset = timeout(T, async {
        loop {
            match c.write_all(b"x").await {
                Err(e) => break e,
                Ok(()) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(reset.kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn unread_data_blocks_the_sender_at_the_window() {
    let (client, server) = pair_with(
        Config::default(),
        Config {
            max_stream_window: 256 * 1024,
            ..Config::default()
        },
    );
    let mut c = client.open().await.unwrap();
    let data = vec![7u8; 1024 * 1024];
    let writer = tokio::spawn(async move {
        c.write_all(&data).await.unwrap();
        c.shutdown().await.unwrap();
        c
    });
    let mut s = server.accept().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !writer.is_finished(),
        "1 MiB went out although the receiver granted only 256 KiB"
    );
    let mut got = Vec::new();
    timeout(T, s.read_to_end(&mut got)).await.unwrap().unwrap();
    assert_eq!(got.len(), 1024 * 1024);
    timeout(T, writer).await.unwrap().unwrap();
}

#[tokio::test]
async fn server_ids_are_even_and_both_sides_open() {
    let (client, server) = pair();
    let mut a = server.open().await.unwrap();
    let b = server.open().await.unwrap();
    assert_eq!((a.id(), b.id()), (2, 4));
    a.write_all(b"from server").await.unwrap();
    a.shutdown().await.unwrap();
    let mut got = client.accept().await.unwrap().unwrap();
    assert_eq!(got.id(), 2);
    let mut v = Vec::new();
    got.read_to_end(&mut v).await.unwrap();
    assert_eq!(v, b"from server");
}

#[tokio::test]
async fn ping_round_trip_and_keepalive() {
    let (client, server) = pair_with(
        Config {
            keepalive_interval: Some(Duration::from_millis(20)),
            ..Config::default()
        },
        Config::default(),
    );
    let rtt = timeout(T, client.ping()).await.unwrap().unwrap();
    assert!(rtt < Duration::from_secs(5));
    let rtt = timeout(T, server.ping()).await.unwrap().unwrap();
    assert!(rtt < Duration::from_secs(5));
    // Keepalive pings flow for a while without ending anything.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!client.is_closed() && !server.is_closed());
}

#[tokio::test]
async fn go_away_stops_new_streams_only() {
    let (client, server) = pair();
    let mut c = client.open().await.unwrap();
    let mut s = server.accept().await.unwrap().unwrap();
    server.go_away();
    let err = timeout(T, async {
        loop {
            match client.open().await {
                Err(e) => break e,
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .unwrap();
    assert!(matches!(err, MuxError::RemoteGoAway), "{err}");
    assert!(matches!(server.open().await, Err(MuxError::LocalGoAway)));
    // The existing stream still works both ways.
    c.write_all(b"still").await.unwrap();
    c.shutdown().await.unwrap();
    let mut v = Vec::new();
    s.read_to_end(&mut v).await.unwrap();
    assert_eq!(v, b"still");
}

#[tokio::test]
async fn close_ends_both_sessions_and_open_streams() {
    let (client, server) = pair();
    let mut c = client.open().await.unwrap();
    c.write_all(b"a").await.unwrap();
    let mut s = server.accept().await.unwrap().unwrap();
    client.close().await;
    assert!(client.is_closed());
    assert!(timeout(T, server.accept())
        .await
        .unwrap()
        .unwrap()
        .is_none());
    timeout(T, server.closed()).await.unwrap().unwrap();
    // Buffered data is still readable, then the abort shows (not a clean EOF).
    let mut one = [0u8; 1];
    s.read_exact(&mut one).await.unwrap();
    let err = s.read(&mut one).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
    assert!(c.write_all(b"b").await.is_err());
    assert!(matches!(client.open().await, Err(MuxError::SessionClosed)));
}

#[tokio::test]
async fn peer_disconnect_ends_session_cleanly() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = Session::server(b);
    drop(a);
    assert!(timeout(T, server.accept())
        .await
        .unwrap()
        .unwrap()
        .is_none());
    timeout(T, server.closed()).await.unwrap().unwrap();
}
