//! The test builder configured by its template ([`FakeBuilder::from_config`]), served
//! in-process: Prepare's parser decides the communicator Run hands to the provisioning hook.
//! (Its SSH communicator is the product's; real Packer drives that through the root package's
//! `packer-builder-testkit` example in the end-to-end `comm::` tests.)
use std::sync::Arc;
use std::time::Duration;

use packer_rpc::api::{Communicator, RemoteCommand, Ui};
use packer_rpc::netrpc::RpcError;
use packer_rpc::service::{BuilderClient, SpecEncoding};
use packer_rpc::val;
use packer_wire::msgpack::Value;
use testkit::builder::{FakeBuilder, BUILDER_ID};
use testkit::fakes::{RecordingUi, ScriptHook, UiEvent};
use testkit::inproc::serve_builder;

const T: Duration = Duration::from_secs(20);

fn config(pairs: &[(&str, &str)]) -> Vec<Value> {
    let map = pairs
        .iter()
        .map(|(k, v)| (Value::Str(k.to_string()), Value::Str(v.to_string())))
        .collect();
    vec![Value::Map(map)]
}

async fn prepared(pairs: &[(&str, &str)]) -> (Arc<FakeBuilder>, BuilderClient) {
    let builder = FakeBuilder::from_config(None);
    let core = serve_builder(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let out = core.prepare(config(pairs)).await.unwrap();
    assert_eq!(out.error, None);
    assert_eq!(out.generated_vars, Some(Vec::new()));
    (builder, core)
}

/// A hook that runs `command` through the communicator it is given and returns its stdout.
fn running(command: &'static str) -> (Arc<ScriptHook>, tokio::sync::oneshot::Receiver<String>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let hook = ScriptHook::new(Arc::new(
        move |_, _, _: Arc<dyn Ui>, comm: Arc<dyn Communicator>, _| {
            let tx = tx.lock().unwrap().take();
            Box::pin(async move {
                let (w, mut r) = tokio::io::duplex(1 << 16);
                let exit = comm
                    .start(RemoteCommand {
                        command: command.into(),
                        stdin: None,
                        stdout: Some(Box::new(w)),
                        stderr: None,
                    })
                    .await?;
                assert_eq!(exit.await?, 0);
                let mut out = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut r, &mut out).await?;
                if let Some(tx) = tx {
                    let _ = tx.send(out);
                }
                Ok(())
            })
        },
    ));
    (hook, rx)
}

#[tokio::test]
async fn local_communicator_runs_commands_here() {
    let (_, core) = prepared(&[("communicator", "local"), ("packer_build_name", "x")]).await;
    let (hook, out) = running("echo local-$((6*7))");
    let ui = RecordingUi::new();
    let artifact = tokio::time::timeout(T, core.run(ui.clone(), hook.clone()))
        .await
        .unwrap()
        .unwrap()
        .expect("an artifact");
    assert_eq!(out.await.unwrap(), "local-42\n");
    assert_eq!(artifact.builder_id().await.unwrap(), BUILDER_ID);
    assert_eq!(
        artifact.string().await.unwrap(),
        "Provisioned the local machine (build \"x\")"
    );
    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "packer_provision");
    assert_eq!(
        val::get(&calls[0].1, "ConnType"),
        Some(&Value::Str("none".into()))
    );
    assert_eq!(
        val::get(&calls[0].1, "ID"),
        Some(&Value::Str("testkit".into()))
    );
    assert_eq!(
        ui.events()[0],
        UiEvent::Say("Using the local shell as the communicator".into())
    );
}

#[tokio::test]
async fn no_communicator_fails_every_call() {
    let (_, core) = prepared(&[("communicator", "none")]).await;
    let (hook, _out) = running("true");
    match tokio::time::timeout(T, core.run(RecordingUi::new(), hook))
        .await
        .unwrap()
    {
        Err(RpcError::Remote(m)) => assert!(m.contains("there is no communicator"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("run succeeded"),
    }
}

#[tokio::test]
async fn run_error_fails_the_build_before_provisioning() {
    let (_, core) = prepared(&[("communicator", "local"), ("run_error", "boom")]).await;
    let ui = RecordingUi::new();
    let hook = ScriptHook::noop();
    match tokio::time::timeout(T, core.run(ui.clone(), hook.clone()))
        .await
        .unwrap()
    {
        Err(RpcError::Remote(m)) => assert_eq!(m, "boom"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("run succeeded"),
    }
    assert_eq!(ui.events(), [UiEvent::Error("boom".into())]);
    assert!(hook.calls().is_empty());
}

#[tokio::test]
async fn prepare_reports_every_problem_and_ssh_needs_the_communicator() {
    let builder = FakeBuilder::from_config(None);
    let core = serve_builder(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let out = core
        .prepare(config(&[("communicator", "ssh"), ("ssh_port", "0")]))
        .await
        .unwrap();
    assert_eq!(
        out.error.as_deref(),
        Some(
            "ssh_host must be specified\nssh_username must be specified\n\
             ssh_port: \"0\" is not a port number\n\
             one of ssh_password or ssh_private_key_file must be specified"
        )
    );
    let complete = [
        ("communicator", "ssh"),
        ("ssh_host", "127.0.0.1"),
        ("ssh_username", "u"),
        ("ssh_password", "p"),
    ];
    let out = core.prepare(config(&complete)).await.unwrap();
    let error = out.error.unwrap_or_default();
    assert!(error.contains("needs the SSH communicator"), "{error}");
    // Nothing was accepted, so Run refuses.
    match core.run(RecordingUi::new(), ScriptHook::noop()).await {
        Err(RpcError::Remote(m)) => assert!(m.contains("before a successful Prepare"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("run succeeded"),
    }
    assert_eq!(builder.prepared.lock().unwrap().len(), 2);
}
