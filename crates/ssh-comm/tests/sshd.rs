//! Against a real OpenSSH server (`sshd-local.sh`; needs root).
mod common;

use std::time::Duration;

use common::{pattern, sha256, Capture, Sshd};
use ssh_comm::{Auth, CancellationToken, KeyKind, KeySource, Session, SshError, TransferMethod};

async fn connect(sshd: &Sshd) -> Session {
    Session::connect(&sshd.opts(), &CancellationToken::new())
        .await
        .expect("connect")
}

async fn run(s: &Session, cmd: &str) -> (i32, String, String) {
    let (out, err) = (Capture::default(), Capture::default());
    let code = s
        .exec(cmd, None::<tokio::io::Empty>, out.clone(), err.clone())
        .await
        .expect("exec");
    (code, out.text(), err.text())
}

#[tokio::test]
async fn key_auth_exec_exit_codes_and_streams() {
    let sshd = Sshd::start();
    let s = connect(&sshd).await;
    assert!(s
        .host_key_fingerprint()
        .unwrap_or("")
        .starts_with("SHA256:"));
    assert_eq!(run(&s, "true").await.0, 0);
    assert_eq!(run(&s, "false").await.0, 1);
    let (code, out, err) = run(&s, "echo out; echo err >&2; exit 42").await;
    assert_eq!((code, out.as_str(), err.as_str()), (42, "out\n", "err\n"));
    assert_eq!(run(&s, "kill -KILL $$").await.0, 137);
    assert_eq!(run(&s, "kill -TERM $$").await.0, 143);
    // Commands without stdin see EOF at once instead of hanging.
    let (code, out, _) = tokio::time::timeout(Duration::from_secs(10), run(&s, "cat; echo done"))
        .await
        .expect("cat must see EOF");
    assert_eq!((code, out.as_str()), (0, "done\n"));
    // Many concurrent commands on one connection.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            run(&s, &format!("echo {i}; exit {i}")).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let (code, out, _) = t.await.unwrap();
        assert_eq!((code, out), (i as i32, format!("{i}\n")));
    }
}

#[tokio::test]
async fn stdin_is_forwarded_with_eof() {
    let sshd = Sshd::start();
    let s = connect(&sshd).await;
    let input = pattern(3 * 1024 * 1024 + 7, 1);
    let out = Capture::default();
    let code = s
        .exec(
            "sha256sum | cut -d' ' -f1",
            Some(std::io::Cursor::new(input.clone())),
            out.clone(),
            Capture::default(),
        )
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(out.text().trim(), sha256(&input));
    let out = Capture::default();
    s.exec("cat", Some(&b"hello"[..]), out.clone(), Capture::default())
        .await
        .unwrap();
    assert_eq!(out.text(), "hello");
}

#[tokio::test]
async fn output_streams_before_the_command_ends() {
    let sshd = Sshd::start();
    let s = connect(&sshd).await;
    let out = Capture::default();
    let running = s
        .start(
            "echo first; sleep 3; echo second",
            None::<tokio::io::Empty>,
            out.clone(),
            Capture::default(),
        )
        .await
        .unwrap();
    let t0 = std::time::Instant::now();
    while !out.text().contains("first") {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "first line not streamed live"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!out.text().contains("second"));
    assert_eq!(running.wait().await.unwrap(), 0);
    assert_eq!(out.text(), "first\nsecond\n");
}

#[tokio::test]
async fn pty_and_refused_command_paths() {
    let sshd = Sshd::start();
    let mut o = sshd.opts();
    o.pty = true;
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let (code, out, _) = run(&s, "tty -s && echo tty").await;
    assert_eq!((code, out.trim()), (0, "tty"));
}

#[tokio::test]
async fn password_auth_and_wrong_password() {
    let sshd = Sshd::start();
    let s = Session::connect(&sshd.password_opts(&sshd.pass), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(run(&s, "whoami").await.1.trim(), sshd.user);

    let mut o = sshd.password_opts("wrong");
    o.handshake_attempts = 2;
    let t0 = std::time::Instant::now();
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, SshError::Auth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{}@127.0.0.1:{}", sshd.user, sshd.port))
            && msg.contains("authentication failed")
            && msg.contains("tried: password")
            && msg.contains("publickey"),
        "{msg}"
    );
    // Two attempts with one pause, not the whole ssh_timeout.
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn first_failing_method_falls_back_to_the_next() {
    let sshd = Sshd::start();
    let mut o = sshd.opts();
    o.auth.insert(0, Auth::Password("wrong".into()));
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(run(&s, "echo ok").await.1, "ok\n");
}

#[tokio::test]
async fn retries_until_sshd_comes_up() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Options are built from a server started later on that port; the key path is only known
    // then, so authenticate by password, which the script sets up front.
    let user = std::env::var("SSH_TEST_USER").unwrap_or_else(|_| "pkrtest".into());
    let pass = std::env::var("SSH_TEST_PASS").unwrap_or_else(|_| "pkrtest-pw".into());
    let mut o = ssh_comm::ConnectOptions::new("127.0.0.1", port, user);
    o.auth = vec![Auth::Password(pass)];
    o.ssh_timeout = Duration::from_secs(30);
    o.retry_interval = Duration::from_millis(200);
    let connecting =
        tokio::spawn(async move { Session::connect(&o, &CancellationToken::new()).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !connecting.is_finished(),
        "connect gave up before the server existed"
    );
    let sshd = tokio::task::spawn_blocking(move || Sshd::start_on(port))
        .await
        .unwrap();
    let s = tokio::time::timeout(Duration::from_secs(20), connecting)
        .await
        .expect("connect after sshd start")
        .unwrap()
        .expect("connected");
    assert_eq!(run(&s, "echo up").await.1, "up\n");
    drop(sshd);
}

#[tokio::test]
async fn host_key_pinning() {
    let sshd = Sshd::start();
    let fp = connect(&sshd)
        .await
        .host_key_fingerprint()
        .unwrap()
        .to_string();
    let mut o = sshd.opts();
    o.host_key_policy = ssh_comm::HostKeyPolicy::Sha256(fp);
    Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    o.host_key_policy = ssh_comm::HostKeyPolicy::Sha256("SHA256:nope".into());
    let t0 = std::time::Instant::now();
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("handshake"), "{e}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "a rejected host key must not be retried"
    );
}

async fn file_round_trips(method: TransferMethod) {
    let sshd = Sshd::start();
    let mut o = sshd.opts();
    o.transfer = method;
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let dir = sshd.remote_dir(&format!("files-{method:?}"));
    for (i, len) in [0usize, 1, 5 * 1024 * 1024].into_iter().enumerate() {
        let data = pattern(len, i as u64 + 10);
        let path = format!("{dir}/f{len}");
        s.upload(&path, &data[..], Some(len as u64), 0o640)
            .await
            .unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(
            sha256(&on_disk),
            sha256(&data),
            "{method:?} upload of {len} bytes"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let back = Capture::default();
        s.download(&path, back.clone()).await.unwrap();
        assert_eq!(
            sha256(&back.bytes()),
            sha256(&data),
            "{method:?} download of {len} bytes"
        );
        // Unknown size (scp spools it).
        let path2 = format!("{dir}/g{len}");
        s.upload(&path2, &data[..], None, 0o600).await.unwrap();
        assert_eq!(sha256(&std::fs::read(&path2).unwrap()), sha256(&data));
    }
    // Names that need shell quoting.
    let odd = format!("{dir}/it's a $file");
    s.upload(&odd, &b"odd"[..], Some(3), 0o644).await.unwrap();
    assert_eq!(std::fs::read(&odd).unwrap(), b"odd");
    // Errors name the path.
    let e = s
        .download(&format!("{dir}/missing"), Capture::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    let e = s
        .upload("/nonexistent-dir/x", &b"x"[..], Some(1), 0o644)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent-dir/x"), "{e}");
    // A source shorter than announced is an error, not a hang.
    let e = s
        .upload(&format!("{dir}/short"), &b"ab"[..], Some(5), 0o644)
        .await;
    if method == TransferMethod::Scp {
        assert!(e.unwrap_err().to_string().contains("source ended"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn scp_files() {
    file_round_trips(TransferMethod::Scp).await;
}

#[tokio::test]
async fn sftp_files() {
    file_round_trips(TransferMethod::Sftp).await;
}

fn make_tree(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(root.join("skipdir")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    std::fs::write(root.join("zero"), b"").unwrap();
    std::fs::write(root.join("sub/b.bin"), pattern(200_000, 3)).unwrap();
    std::fs::write(root.join("sub/deeper/c.txt"), b"c").unwrap();
    std::fs::write(root.join("sub/deeper/drop.log"), b"log").unwrap();
    std::fs::write(root.join("skipdir/x"), b"x").unwrap();
}

fn listing(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                todo.push(p);
            } else {
                out.push(format!("{rel}={}", sha256(&std::fs::read(&p).unwrap())));
            }
        }
    }
    out.sort();
    out
}

async fn dir_round_trips(method: TransferMethod) {
    let sshd = Sshd::start();
    let mut o = sshd.opts();
    o.transfer = method;
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("tree");
    make_tree(&src);
    let excl = vec!["*.log".to_string(), "skipdir".to_string()];
    let mut expected = listing(&src);
    expected.retain(|e| !e.contains(".log") && !e.starts_with("skipdir"));

    let remote = sshd.remote_dir(&format!("dirs-{method:?}"));
    // No trailing slash: the directory itself is created inside the destination.
    s.upload_dir(&remote, &src, &excl).await.unwrap();
    assert_eq!(
        listing(std::path::Path::new(&format!("{remote}/tree"))),
        expected
    );
    // No trailing slash, missing destination: like Go, scp makes the destination the copy of
    // the directory itself, sftp creates it and the directory inside it.
    let fresh = format!("{remote}/fresh/deeper");
    s.upload_dir(&fresh, &src, &excl).await.unwrap();
    let fresh_root = match method {
        TransferMethod::Scp => fresh.clone(),
        TransferMethod::Sftp => format!("{fresh}/tree"),
    };
    assert_eq!(listing(std::path::Path::new(&fresh_root)), expected);
    // Trailing slash: contents go straight into the destination (created when missing).
    let contents = format!("{remote}/contents");
    let src_slash = std::path::PathBuf::from(format!("{}/", src.display()));
    s.upload_dir(&contents, &src_slash, &excl).await.unwrap();
    assert_eq!(listing(std::path::Path::new(&contents)), expected);

    // Downloads, same rule, excluding more on the way back.
    let down = local.path().join("down");
    s.download_dir(&format!("{remote}/tree"), &down, &["b.bin".to_string()])
        .await
        .unwrap();
    let mut exp2 = expected.clone();
    exp2.retain(|e| !e.contains("b.bin"));
    let exp_tree: Vec<String> = std::iter::once("tree/".to_string())
        .chain(exp2.iter().map(|e| format!("tree/{e}")))
        .collect();
    assert_eq!(listing(&down), exp_tree);
    let down2 = local.path().join("down2");
    s.download_dir(&format!("{remote}/tree/"), &down2, &[])
        .await
        .unwrap();
    assert_eq!(listing(&down2), expected);
    std::fs::remove_dir_all(&remote).unwrap();
}

#[tokio::test]
async fn scp_directories() {
    dir_round_trips(TransferMethod::Scp).await;
}

#[tokio::test]
async fn sftp_directories() {
    dir_round_trips(TransferMethod::Sftp).await;
}

#[tokio::test]
async fn through_a_bastion() {
    let bastion = Sshd::start();
    let target = Sshd::start();
    let mut o = target.opts();
    o.bastion = Some(Box::new(bastion.opts()));
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let (code, out, _) = run(&s, "echo $SSH_CONNECTION").await;
    assert_eq!(code, 0);
    // The target sees the connection coming from the bastion's sshd, not from us directly:
    // the server port in SSH_CONNECTION is the target's.
    assert!(out.trim().ends_with(&format!(" {}", target.port)), "{out}");
    let data = pattern(1024 * 1024, 9);
    let dir = target.remote_dir("bastion");
    s.upload(
        &format!("{dir}/f"),
        &data[..],
        Some(data.len() as u64),
        0o644,
    )
    .await
    .unwrap();
    assert_eq!(
        sha256(&std::fs::read(format!("{dir}/f")).unwrap()),
        sha256(&data)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // A bastion that refuses us is reported as such.
    let mut o = target.opts();
    let mut b = bastion.password_opts("wrong");
    b.handshake_attempts = 1;
    o.bastion = Some(Box::new(b));
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("via bastion") && e.contains("authentication failed"),
        "{e}"
    );
}

#[tokio::test]
async fn temporary_keys_of_every_kind_log_in() {
    let sshd = Sshd::start();
    let kinds = [
        KeyKind::Ed25519,
        KeyKind::Ecdsa { bits: 256 },
        KeyKind::Ecdsa { bits: 384 },
        KeyKind::Ecdsa { bits: 521 },
        KeyKind::Rsa { bits: 2048 },
    ];
    let pairs: Vec<_> = kinds
        .iter()
        .map(|k| ssh_comm::keygen::generate(*k).unwrap())
        .collect();
    // Before authorizing, the key is refused.
    let mut o = sshd.opts();
    o.handshake_attempts = 1;
    o.auth = vec![Auth::PrivateKey {
        key: KeySource::Inline(pairs[0].private_openssh.clone()),
        passphrase: None,
        certificate: None,
    }];
    assert!(Session::connect(&o, &CancellationToken::new())
        .await
        .is_err());
    for (kind, kp) in kinds.iter().zip(&pairs) {
        sshd.authorize(&kp.public_authorized);
        let mut o = sshd.opts();
        o.auth = vec![Auth::PrivateKey {
            key: KeySource::Inline(kp.private_openssh.clone()),
            passphrase: None,
            certificate: None,
        }];
        let s = Session::connect(&o, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(run(&s, "echo ok").await.1, "ok\n", "{kind}");
    }
}
