//! MuxBroker over real yamux sessions on unix socket pairs.
use std::time::Duration;

use packer_rpc::broker::{Broker, BrokerError, BROKER_TIMEOUT};
use packer_rpc::mux::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::timeout;

const T: Duration = Duration::from_secs(30);

/// (core side, plugin side)
fn brokers() -> (std::sync::Arc<Broker>, std::sync::Arc<Broker>) {
    let (a, b) = UnixStream::pair().unwrap();
    (
        Broker::new(Session::client(a)),
        Broker::new(Session::server(b)),
    )
}

#[tokio::test]
async fn next_id_counts_from_one_independently() {
    let (core, plugin) = brokers();
    assert_eq!(core.next_id(), 1);
    assert_eq!(core.next_id(), 2);
    assert_eq!(plugin.next_id(), 1);
}

#[tokio::test]
async fn main_stream_is_broker_id_zero_both_ways() {
    let (core, plugin) = brokers();
    let accept = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.accept(0).await }
    });
    let mut c = timeout(T, core.dial(0)).await.unwrap().unwrap();
    let mut p = accept.await.unwrap().unwrap();
    assert_eq!(c.id(), 1);
    assert_eq!(p.id(), 1);
    c.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    p.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    p.write_all(b"pong").await.unwrap();
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");

    // The plugin serves a callback: it picks an id, core dials it.
    let id = plugin.next_id();
    let acc = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.accept(id).await }
    });
    let mut c2 = timeout(T, core.dial(id)).await.unwrap().unwrap();
    let mut p2 = acc.await.unwrap().unwrap();
    assert_eq!(c2.id(), 3);
    c2.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    p2.read_exact(&mut one).await.unwrap();
    // And the other direction: the plugin dials an id core accepts.
    let acc = tokio::spawn({
        let core = core.clone();
        async move { core.accept(1).await }
    });
    let p3 = timeout(T, plugin.dial(1)).await.unwrap().unwrap();
    let c3 = acc.await.unwrap().unwrap();
    assert_eq!((p3.id(), c3.id()), (2, 2));
}

#[tokio::test]
async fn streams_dialled_before_accept_are_parked_and_matched_out_of_order() {
    let (core, plugin) = brokers();
    // Dial 1..=3 concurrently; nobody accepts yet, so every dial waits for its ack.
    let dials: Vec<_> = (1..=3u32)
        .map(|id| {
            let core = core.clone();
            tokio::spawn(async move {
                let mut s = core.dial(id).await.unwrap();
                s.write_all(&[id as u8]).await.unwrap();
                s
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for id in [3u32, 1, 2] {
        let mut s = timeout(T, plugin.accept(id)).await.unwrap().unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(u32::from(b[0]), id, "accept({id}) got another id's stream");
    }
    for d in dials {
        timeout(T, d).await.unwrap().unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn accept_times_out_after_five_seconds_naming_the_id() {
    let (_core, plugin) = brokers();
    let start = tokio::time::Instant::now();
    let err = plugin.accept(42).await.unwrap_err();
    assert!(
        matches!(err, BrokerError::AcceptTimeout { id: 42, timeout } if timeout == BROKER_TIMEOUT),
        "{err}"
    );
    assert!(err.to_string().contains("42"));
    assert!(start.elapsed() >= BROKER_TIMEOUT);
    assert!(start.elapsed() < BROKER_TIMEOUT + Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn unaccepted_parked_stream_is_closed_after_five_seconds() {
    let (core, plugin) = brokers();
    let start = tokio::time::Instant::now();
    let err = timeout(Duration::from_secs(60), core.dial(7))
        .await
        .unwrap()
        .unwrap_err();
    // The parked stream is closed without an ack; the dial sees EOF instead of its ack.
    assert!(
        matches!(
            &err,
            BrokerError::Io {
                id: 7,
                op: "reading the ack",
                ..
            }
        ),
        "{err}"
    );
    let waited = start.elapsed();
    assert!(waited >= BROKER_TIMEOUT, "closed after {waited:?}");
    assert!(waited < BROKER_TIMEOUT + Duration::from_secs(1));
    // Too late now.
    assert!(matches!(
        plugin.accept(7).await,
        Err(BrokerError::AcceptTimeout { id: 7, .. })
    ));
}

#[tokio::test]
async fn second_accept_for_the_same_id_is_refused() {
    let (core, plugin) = brokers();
    let first = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.accept(5).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        plugin.accept(5).await,
        Err(BrokerError::AlreadyAccepting { id: 5 })
    ));
    core.dial(5).await.unwrap();
    first.await.unwrap().unwrap();
}

#[tokio::test]
async fn wrong_ack_is_rejected() {
    let (a, b) = UnixStream::pair().unwrap();
    let core = Broker::new(Session::client(a));
    let raw = Session::server(b);
    tokio::spawn(async move {
        let mut s = raw.accept().await.unwrap().unwrap();
        let mut id = [0u8; 4];
        s.read_exact(&mut id).await.unwrap();
        s.write_all(&9u32.to_le_bytes()).await.unwrap();
        // Keep the session alive until the dial has read the ack.
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let err = timeout(T, core.dial(3)).await.unwrap().unwrap_err();
    assert!(
        matches!(err, BrokerError::AckMismatch { id: 3, got: 9 }),
        "{err}"
    );
}

#[tokio::test]
async fn accept_fails_when_the_session_ends() {
    let (core, plugin) = brokers();
    let acc = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.accept(1).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    core.session().close().await;
    let err = timeout(T, acc).await.unwrap().unwrap().unwrap_err();
    assert!(matches!(err, BrokerError::SessionClosed { id: 1 }), "{err}");
    assert!(matches!(
        core.dial(1).await,
        Err(BrokerError::Open { id: 1, .. })
    ));
}
