//! Replays the exact bytes Packer 1.6.6 core sent on the main stream of each captured
//! null-builder build against our Builder server (with a fake builder scripted to the same
//! outcome), and checks every reply has the shape the real plugin's reply had: same header,
//! same map keys in the same order, same msgpack types (str vs bin, nil vs array).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use packer_rpc::api::{Hook, PrepareOutcome};
use packer_rpc::netrpc::codec::ValueReader;
use packer_rpc::netrpc::Server;
use packer_rpc::service::{HookServer, SpecEncoding, StreamBroker, UiServer};
use packer_rpc::val;
use packer_wire::msgpack::Value;
use testkit::builder::{FakeBuilder, RunScript};
use testkit::capture::{captures_dir, main_stream, shape};
use testkit::fakes::{FakeArtifact, LocalCommunicator, RecordingUi, ScriptHook};
use testkit::inproc::serve_builder_raw;
use tokio::io::AsyncWriteExt;

enum Outcome {
    Ok,
    PrepareError,
    RunError,
    Cancel,
}

fn builder_for(outcome: &Outcome, ms: &testkit::capture::MainStream) -> Arc<FakeBuilder> {
    let reply_of = |method: &str| {
        ms.responses
            .iter()
            .find(|(h, _)| h.service_method == method)
            .cloned()
    };
    let artifact = Some(FakeArtifact::null_like());
    let comm = Arc::new(LocalCommunicator);
    match outcome {
        Outcome::Ok => FakeBuilder::new(
            PrepareOutcome::default(),
            RunScript::Provision {
                data: Value::Nil,
                comm,
                artifact,
            },
        ),
        Outcome::PrepareError => {
            let (_, body) = reply_of("Builder.Prepare").expect("captured Prepare reply");
            let msg = val::get(&body, "Error")
                .and_then(|e| val::field_string(e, "Message"))
                .expect("captured error");
            FakeBuilder::new(
                PrepareOutcome {
                    error: Some(msg),
                    ..Default::default()
                },
                RunScript::Fail("unused".into()),
            )
        }
        Outcome::RunError => {
            let (h, _) = reply_of("Builder.Run").expect("captured Run reply");
            FakeBuilder::new(PrepareOutcome::default(), RunScript::Fail(h.error))
        }
        Outcome::Cancel => FakeBuilder::new(
            PrepareOutcome::default(),
            RunScript::WaitForCancel {
                data: Value::Nil,
                comm,
                artifact,
            },
        ),
    }
}

/// Core's Ui + Hook, served on the id core put in `Builder.Run`'s argument.
fn serve_core_callbacks(broker: Arc<dyn StreamBroker>, id: u32, cancel_hook: bool) {
    let server = Server::new();
    UiServer::register(&server, RecordingUi::new());
    let hook: Arc<dyn Hook> = if cancel_hook {
        // Like the captured build: the provisioner runs until the plugin sends Hook.Cancel.
        ScriptHook::new(Arc::new(
            |_, _, _, _, cancel: tokio_util::sync::CancellationToken| {
                Box::pin(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(10), cancel.cancelled()).await;
                    Ok(())
                })
            },
        ))
    } else {
        ScriptHook::noop()
    };
    server.register("Hook", Arc::new(HookServer::new(hook, broker.clone())));
    tokio::spawn(async move {
        if let Ok(s) = broker.accept(id).await {
            let _ = server.serve(s).await;
        }
    });
}

async fn replay(dir_name: &str, outcome: Outcome) {
    let dir = captures_dir().join(dir_name);
    let ms = main_stream(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(!ms.requests.is_empty());
    let builder = builder_for(&outcome, &ms);
    let (core, main) = serve_builder_raw(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let (rd, mut wr) = tokio::io::split(main);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut r = ValueReader::new(rd);
        while let Ok(Some(msg)) = r.read_response().await {
            if tx.send(msg).is_err() {
                break;
            }
        }
    });

    let mut got = HashMap::new();
    let mut order = Vec::new();
    for ((h, body), bytes) in ms.requests.iter().zip(&ms.request_bytes) {
        if h.service_method == "Builder.Run" {
            let id = val::as_u32(body).expect("Run argument is a broker id");
            serve_core_callbacks(core.clone(), id, matches!(outcome, Outcome::Cancel));
        }
        wr.write_all(bytes).await.unwrap();
        wr.flush().await.unwrap();
        // Wait briefly for this call's reply; long-running calls (Run) stay pending.
        if let Ok(Some((rh, rb))) =
            tokio::time::timeout(Duration::from_millis(300), rx.recv()).await
        {
            order.push(rh.seq);
            got.insert(rh.seq, (rh, rb));
        }
    }
    while got.len() < ms.responses.len() {
        let (rh, rb) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{dir_name}: missing replies, got {order:?}"))
            .expect("reply stream ended");
        order.push(rh.seq);
        got.insert(rh.seq, (rh, rb));
    }

    let want_order: Vec<u64> = ms.responses.iter().map(|(h, _)| h.seq).collect();
    assert_eq!(order, want_order, "{dir_name}: reply order");
    for (wh, wb) in &ms.responses {
        let (gh, gb) = &got[&wh.seq];
        assert_eq!(
            gh.service_method, wh.service_method,
            "{dir_name} seq {}",
            wh.seq
        );
        assert_eq!(
            gh.error, wh.error,
            "{dir_name} {}: Error text",
            wh.service_method
        );
        if wh.service_method == "Builder.ConfigSpec" {
            // Same shape; the content is our own spec, not the null builder's.
            assert_eq!(shape(gb), shape(wb));
        } else {
            assert_eq!(
                shape(gb),
                shape(wb),
                "{dir_name} {}: reply shape",
                wh.service_method
            );
        }
    }
    // The configs reached the builder untouched (maps stay maps, cty JSON stays bin).
    if let Some((_, body)) = ms
        .requests
        .iter()
        .find(|(h, _)| h.service_method == "Builder.Prepare")
    {
        let sent = val::get(body, "Configs").cloned().unwrap();
        let seen = builder.prepared.lock().unwrap()[0].clone();
        assert_eq!(Value::Array(seen), sent);
    }
    if matches!(outcome, Outcome::Cancel) {
        assert!(
            *builder.saw_cancel.lock().unwrap(),
            "Run saw the cancellation"
        );
    }
}

#[tokio::test]
async fn replay_hcl() {
    replay("out_hcl_packer-builder-null", Outcome::Ok).await;
}

#[tokio::test]
async fn replay_json() {
    replay("out_json_packer-builder-null", Outcome::Ok).await;
}

#[tokio::test]
async fn replay_cancel() {
    replay("out_cancel_packer-builder-null", Outcome::Cancel).await;
}

#[tokio::test]
async fn replay_err_prepare() {
    replay("out_err_prepare_packer-builder-null", Outcome::PrepareError).await;
}

#[tokio::test]
async fn replay_err_run() {
    replay("out_err_run_packer-builder-null", Outcome::RunError).await;
}
