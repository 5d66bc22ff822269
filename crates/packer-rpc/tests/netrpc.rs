//! net/rpc client and server against each other over in-memory pipes.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use packer_rpc::netrpc::codec::{encode_request, ValueReader};
use packer_rpc::netrpc::{CallError, CallResult, Client, RpcError, Server, Service};
use packer_wire::msgpack::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// `Slow.Wait` blocks until `Slow.Release` is called (like Run and Cancel).
struct Slow {
    release: Notify,
}

#[async_trait]
impl Service for Slow {
    async fn call(&self, method: &str, args: Value) -> CallResult {
        match method {
            "Wait" => {
                self.release.notified().await;
                Ok(Value::Str("waited".into()))
            }
            "Release" => {
                self.release.notify_one();
                Ok(Value::Nil)
            }
            "Echo" => Ok(args),
            "Fail" => Err(CallError::failed("it broke")),
            _ => Err(CallError::UnknownMethod),
        }
    }
}

fn start() -> Client {
    let (a, b) = tokio::io::duplex(1 << 16);
    let server = Server::new();
    server.register(
        "Slow",
        Arc::new(Slow {
            release: Notify::new(),
        }),
    );
    tokio::spawn(async move { server.serve(b).await });
    Client::new(a)
}

#[tokio::test]
async fn blocked_call_does_not_block_others() {
    let c = start();
    let c2 = c.clone();
    let waiting = tokio::spawn(async move { c2.call("Slow.Wait", &Value::Nil).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Answered while Wait is still pending, so its reply comes first (out of order).
    let echo = c.call("Slow.Echo", &Value::Uint(7)).await.unwrap();
    assert_eq!(packer_rpc::val::as_u64(&echo), Some(7));
    assert!(!waiting.is_finished());
    c.call("Slow.Release", &Value::Nil).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r, Value::Str("waited".into()));
}

#[tokio::test]
async fn errors_use_go_texts() {
    let c = start();
    match c.call("Slow.Fail", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "it broke"),
        other => panic!("{other:?}"),
    }
    match c.call("Slow.Nope", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: can't find method Slow.Nope"),
        other => panic!("{other:?}"),
    }
    match c.call("Nope.X", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: can't find service Nope.X"),
        other => panic!("{other:?}"),
    }
    match c.call("NoDot", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: service/method request ill-formed: NoDot"),
        other => panic!("{other:?}"),
    }
    // Service names may themselves contain dots (progress trackers: `Uiupfile.txtAB12cd.Add`).
    assert_eq!(
        c.call("Slow.Echo", &Value::Str("x".into())).await.unwrap(),
        Value::Str("x".into())
    );
}

#[tokio::test]
async fn dotted_service_names_dispatch_on_last_dot() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let server = Server::new();
    server.register(
        "Uiupfile.txtB9ffU6",
        Arc::new(Slow {
            release: Notify::new(),
        }),
    );
    tokio::spawn(async move { server.serve(b).await });
    let c = Client::new(a);
    assert_eq!(
        c.call("Uiupfile.txtB9ffU6.Echo", &Value::Int(13))
            .await
            .unwrap(),
        Value::Int(13)
    );
}

#[tokio::test]
async fn connection_loss_fails_pending_calls() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let c = Client::new(a);
    // A peer that reads one request and hangs up without answering.
    let peer = tokio::spawn(async move {
        let mut r = ValueReader::new(b);
        let (h, _) = r.read_request().await.unwrap().unwrap();
        assert_eq!(h.service_method, "Builder.Run");
    });
    let res = tokio::time::timeout(
        Duration::from_secs(5),
        c.call("Builder.Run", &Value::Uint(1)),
    )
    .await
    .unwrap();
    peer.await.unwrap();
    assert!(
        matches!(res, Err(RpcError::ConnectionLost { .. })),
        "{res:?}"
    );
    // And later calls fail at once.
    let res = c.call("Builder.Cancel", &Value::Nil).await;
    assert!(res.is_err());
}

#[tokio::test]
async fn server_reads_requests_split_across_writes() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let server = Server::new();
    server.register(
        "Slow",
        Arc::new(Slow {
            release: Notify::new(),
        }),
    );
    tokio::spawn(async move { server.serve(b).await });
    let (rd, mut wr) = tokio::io::split(a);
    let mut bytes = Vec::new();
    encode_request(&mut bytes, "Slow.Echo", 0, &Value::Str("hello".into()));
    encode_request(&mut bytes, "Slow.Echo", 1, &Value::Bin(vec![1, 2, 3]));
    for chunk in bytes.chunks(3) {
        wr.write_all(chunk).await.unwrap();
        wr.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut r = ValueReader::new(rd);
    let mut got = Vec::new();
    for _ in 0..2 {
        let (h, body) = r.read_response().await.unwrap().unwrap();
        assert_eq!(h.error, "");
        got.push((h.seq, body));
    }
    got.sort_by_key(|g| g.0);
    assert_eq!(got[0].1, Value::Str("hello".into()));
    assert_eq!(got[1].1, Value::Bin(vec![1, 2, 3]));
}

#[tokio::test]
async fn many_concurrent_calls_match_by_seq() {
    let c = start();
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            (i, c.call("Slow.Echo", &Value::Uint(i)).await.unwrap())
        }));
    }
    for t in tasks {
        let (i, v) = t.await.unwrap();
        assert_eq!(packer_rpc::val::as_u64(&v), Some(i));
    }
}

struct Panicky;

#[async_trait]
impl Service for Panicky {
    async fn call(&self, _method: &str, _args: Value) -> CallResult {
        panic!("handler bug")
    }
}

#[tokio::test]
async fn panicking_handler_still_answers() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let server = Server::new();
    server.register("P", Arc::new(Panicky));
    tokio::spawn(async move { server.serve(b).await });
    let c = Client::new(a);
    match tokio::time::timeout(Duration::from_secs(5), c.call("P.X", &Value::Nil))
        .await
        .unwrap()
    {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: P.X: internal error in the plugin"),
        other => panic!("{other:?}"),
    }
}
