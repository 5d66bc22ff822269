//! Every service end to end (core-side proxies ⇄ plugin-side adapters) over in-memory pipes.
use std::sync::Arc;
use std::time::Duration;

use packer_rpc::api::{BoxError, Communicator, PrepareOutcome, RemoteCommand, Ui};
use packer_rpc::netrpc::RpcError;
use packer_rpc::service::SpecEncoding;
use packer_wire::msgpack::Value;
use testkit::builder::{FakeBuilder, RunScript};
use testkit::fakes::{FakeArtifact, LocalCommunicator, RecordingUi, ScriptHook, UiEvent};
use testkit::inproc::serve_builder;
use tokio::io::AsyncReadExt;

const T: Duration = Duration::from_secs(20);

fn provision_data() -> Value {
    Value::Map(vec![
        (Value::Str("Host".into()), Value::Str("127.0.0.1".into())),
        (Value::Str("Port".into()), Value::Int(2222)),
    ])
}

/// A pipe whose write half is handed to a command, the read half kept by the test.
fn pipe() -> (Box<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
    let (a, b) = tokio::io::duplex(1 << 16);
    (Box::new(a), b)
}

#[tokio::test]
async fn full_build_with_provisioning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::Provision {
            data: provision_data(),
            comm: Arc::new(LocalCommunicator),
            artifact: Some(FakeArtifact::null_like()),
        },
    );
    let core = serve_builder(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let ui = RecordingUi::with_answer("yes");

    let hook = ScriptHook::new(Arc::new(
        move |_name, _data, ui: Arc<dyn Ui>, comm: Arc<dyn Communicator>, _c| {
            let d = d.clone();
            Box::pin(async move {
                ui.say("Provisioning with shell script").await;
                // Command with stdin, stdout, stderr and an exit status.
                let (out_w, mut out_r) = pipe();
                let (err_w, mut err_r) = pipe();
                let stdin: packer_rpc::api::BoxRead = Box::new(&b"from-stdin\n"[..]);
                let exit = comm
                    .start(RemoteCommand {
                        command: "cat; echo remote-hi; echo to-stderr 1>&2; exit 3".into(),
                        stdin: Some(stdin),
                        stdout: Some(out_w),
                        stderr: Some(err_w),
                    })
                    .await?;
                let status = exit.await?;
                let mut out = String::new();
                out_r.read_to_string(&mut out).await?;
                let mut err = String::new();
                err_r.read_to_string(&mut err).await?;
                assert_eq!(status, 3);
                assert_eq!(out, "from-stdin\nremote-hi\n");
                assert_eq!(err, "to-stderr\n");
                // A command with nothing wired.
                let st = comm
                    .start(RemoteCommand {
                        command: "true".into(),
                        stdin: None,
                        stdout: None,
                        stderr: None,
                    })
                    .await?
                    .await?;
                assert_eq!(st, 0);

                // As the file provisioner does: ask for a bar (refused, so that its reads
                // never wait on core), then upload; the plugin shows that bar on core's Ui
                // itself (checked below).
                let err = ui
                    .new_track_progress("upfile.txt", 13, 0)
                    .await
                    .unwrap_err();
                assert!(
                    err.to_string().contains("reports transfer progress itself"),
                    "{err}"
                );
                // Upload then download the same file.
                let remote = d.join("remote.txt");
                let data: packer_rpc::api::BoxRead = Box::new(&b"hello upload\n"[..]);
                let info = packer_rpc::api::FileInfo {
                    name: "upfile.txt".into(),
                    size: 13,
                    mode: 0o644,
                    mtime: None,
                };
                comm.upload(remote.to_str().unwrap(), data, Some(info))
                    .await?;
                let (sink, mut back) = pipe();
                let reader = tokio::spawn(async move {
                    let mut v = Vec::new();
                    back.read_to_end(&mut v).await.map(|_| v)
                });
                comm.download(remote.to_str().unwrap(), sink).await?;
                assert_eq!(reader.await??, b"hello upload\n");

                // Directory transfer and an error that must come back as text.
                std::fs::create_dir(d.join("updir"))?;
                std::fs::write(d.join("updir/a"), "a")?;
                comm.upload_dir(
                    d.join("remote_updir").to_str().unwrap(),
                    &d.join("updir"),
                    &[],
                )
                .await?;
                assert_eq!(std::fs::read_to_string(d.join("remote_updir/a"))?, "a");
                let err = comm
                    .download(d.join("missing").to_str().unwrap(), pipe().0)
                    .await
                    .unwrap_err();
                assert!(err.to_string().contains("No such file"), "{err}");

                ui.machine("artifact", &["0".into(), "id".into()]).await;
                assert_eq!(ui.ask("Continue?").await?, "yes");
                Ok::<(), BoxError>(())
            })
        },
    ));
    let artifact = tokio::time::timeout(T, core.run(ui.clone(), hook.clone()))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(artifact.builder_id().await.unwrap(), "fnoeding.null");
    assert_eq!(artifact.id().await.unwrap(), "Null");
    assert_eq!(artifact.files().await.unwrap(), Vec::<String>::new());
    assert_eq!(
        artifact.string().await.unwrap(),
        "Did not export anything. This is the null builder"
    );
    let st = artifact.state("generated_data").await.unwrap();
    assert_eq!(
        packer_rpc::val::get(&st, "ID"),
        Some(&Value::Str("Null".into()))
    );
    assert_eq!(artifact.state("nope").await.unwrap(), Value::Nil);
    assert_eq!(artifact.destroy().await.unwrap(), None);

    let calls = hook.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "packer_provision");
    assert_eq!(calls[0].1, provision_data());
    let ev = ui.events();
    assert_eq!(
        ev[0],
        UiEvent::Say("Using ssh communicator to connect: 127.0.0.1".into())
    );
    assert!(ev.contains(&UiEvent::Say("Provisioning with shell script".into())));
    assert!(ev.contains(&UiEvent::TrackProgress {
        src: "upfile.txt".into(),
        total: 13,
        current: 0,
        id: "upfile.txt-track".into()
    }));
    assert!(ev.contains(&UiEvent::ProgressAdd("upfile.txt-track".into(), 13)));
    assert!(ev.contains(&UiEvent::ProgressClose("upfile.txt-track".into())));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, UiEvent::ProgressAdd(..)))
            .count(),
        1
    );
    assert!(
        ev.contains(&UiEvent::Machine(
            "artifact".into(),
            vec!["0".into(), "id".into()]
        )),
        "{ev:?}"
    );
    assert!(ev.contains(&UiEvent::Ask("Continue?".into())));
}

#[tokio::test]
async fn artifact_destroy_error_travels_in_the_reply() {
    let mut artifact = FakeArtifact::null_like();
    artifact.destroy_error = Some("cannot delete image".into());
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::Provision {
            data: Value::Nil,
            comm: Arc::new(LocalCommunicator),
            artifact: Some(artifact),
        },
    );
    let core = serve_builder(builder, SpecEncoding::Gob).await.unwrap();
    let a = tokio::time::timeout(T, core.run(RecordingUi::new(), ScriptHook::noop()))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        a.destroy().await.unwrap().as_deref(),
        Some("cannot delete image")
    );
}

#[tokio::test]
async fn prepare_outcomes_keep_nil_and_errors() {
    let out = PrepareOutcome {
        generated_vars: Some(vec!["ID".into()]),
        warnings: None,
        error: Some("2 error(s) occurred:\n\n* a\n* b".into()),
    };
    let builder = FakeBuilder::new(out.clone(), RunScript::Fail("x".into()));
    let core = serve_builder(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let configs = vec![Value::Map(vec![]), Value::Bin(b"{}".to_vec())];
    assert_eq!(core.prepare(configs.clone()).await.unwrap(), out);
    assert_eq!(builder.prepared.lock().unwrap()[0], configs);
    let raw = core
        .rpc()
        .call("Builder.Prepare", &Value::Map(vec![]))
        .await
        .unwrap();
    assert_eq!(
        testkit::capture::shape(&raw),
        "{GeneratedVars:[str],Warnings:nil,Error:{Message:str}}"
    );
}

#[tokio::test]
async fn run_error_is_an_rpc_error_and_ui_sees_it() {
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::Fail("Timeout waiting for SSH.".into()),
    );
    let core = serve_builder(builder, SpecEncoding::Gob).await.unwrap();
    let ui = RecordingUi::new();
    match tokio::time::timeout(T, core.run(ui.clone(), ScriptHook::noop()))
        .await
        .unwrap()
    {
        Err(RpcError::Remote(m)) => assert_eq!(m, "Timeout waiting for SSH."),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("run succeeded"),
    }
    assert_eq!(
        ui.events().last(),
        Some(&UiEvent::Error("Timeout waiting for SSH.".into()))
    );
}

#[tokio::test]
async fn cancel_reaches_run_and_the_hook() {
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::WaitForCancel {
            data: Value::Nil,
            comm: Arc::new(LocalCommunicator),
            artifact: None,
        },
    );
    let core = serve_builder(builder.clone(), SpecEncoding::Gob)
        .await
        .unwrap();
    let (hook_cancelled_tx, hook_cancelled_rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(hook_cancelled_tx));
    let hook = ScriptHook::new(Arc::new(
        move |_, _, _, _, cancel: tokio_util::sync::CancellationToken| {
            let tx = tx.lock().unwrap().take();
            Box::pin(async move {
                // Core's hook blocks until the plugin sends Hook.Cancel.
                tokio::time::timeout(Duration::from_secs(10), cancel.cancelled()).await?;
                if let Some(tx) = tx {
                    let _ = tx.send(());
                }
                Ok(())
            })
        },
    ));
    let c2 = core.clone();
    let ui = RecordingUi::new();
    let run = tokio::spawn(async move { c2.run(ui, hook).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!run.is_finished());
    tokio::time::timeout(T, core.cancel())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(T, hook_cancelled_rx)
        .await
        .unwrap()
        .unwrap();
    let res = tokio::time::timeout(T, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(res.is_none());
    assert!(*builder.saw_cancel.lock().unwrap());
}

#[tokio::test]
async fn unknown_methods_use_go_texts() {
    let builder = FakeBuilder::new(PrepareOutcome::default(), RunScript::Fail("x".into()));
    let core = serve_builder(builder, SpecEncoding::Gob).await.unwrap();
    match core.rpc().call("Builder.Foo", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: can't find method Builder.Foo"),
        other => panic!("{other:?}"),
    }
    match core.rpc().call("Artifact.Id", &Value::Nil).await {
        Err(RpcError::Remote(m)) => assert_eq!(m, "rpc: can't find service Artifact.Id"),
        other => panic!("{other:?}"),
    }
}

/// A reader producing `len` bytes of a pattern without holding them in memory.
struct Pattern {
    left: u64,
    pos: u64,
}
impl tokio::io::AsyncRead for Pattern {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left) as usize;
        let start = self.pos;
        let chunk: Vec<u8> = (0..n as u64).map(|i| ((start + i) % 251) as u8).collect();
        buf.put_slice(&chunk);
        self.left -= n as u64;
        self.pos += n as u64;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_upload_streams() {
    const LEN: u64 = 32 << 20;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("big");
    let t2 = target.clone();
    let builder = FakeBuilder::new(
        PrepareOutcome::default(),
        RunScript::Provision {
            data: Value::Nil,
            comm: Arc::new(LocalCommunicator),
            artifact: None,
        },
    );
    let core = serve_builder(builder, SpecEncoding::Gob).await.unwrap();
    let hook = ScriptHook::new(Arc::new(move |_, _, _, comm: Arc<dyn Communicator>, _| {
        let t = t2.clone();
        Box::pin(async move {
            comm.upload(
                t.to_str().unwrap(),
                Box::new(Pattern { left: LEN, pos: 0 }),
                None,
            )
            .await?;
            Ok(())
        })
    }));
    let res = tokio::time::timeout(Duration::from_secs(60), core.run(RecordingUi::new(), hook))
        .await
        .unwrap()
        .unwrap();
    assert!(res.is_none());
    let got = std::fs::read(&target).unwrap();
    assert_eq!(got.len() as u64, LEN);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, b)| *b == (i as u64 % 251) as u8));
}
