//! `SshCommunicator` through Packer's `Communicator` trait, against a real OpenSSH server
//! (`sshd-local.sh`; needs root).
use packer_rpc::api::{Communicator, FileInfo, RemoteCommand};
use testkit::sshd::{Capture, Sshd};
use tokio_util::sync::CancellationToken;
use vsphere_supervisor::comm::{connect_options_from, SshCommunicator};
use vsphere_supervisor::config::{FileTransfer, SshConfig};

fn config(sshd: &Sshd, method: FileTransfer) -> SshConfig {
    SshConfig {
        port: sshd.port,
        username: sshd.user.clone(),
        private_key_file: Some(sshd.key.clone()),
        timeout: std::time::Duration::from_secs(20),
        file_transfer_method: method,
        ..SshConfig::default()
    }
}

async fn exercise(method: FileTransfer) {
    let sshd = Sshd::start();
    let opts = connect_options_from(&config(&sshd, method), "127.0.0.1", None).unwrap();
    let comm = SshCommunicator::connect(opts, CancellationToken::new())
        .await
        .unwrap();

    let (out, err) = (Capture::default(), Capture::default());
    let exit = comm
        .start(RemoteCommand {
            command: "read x; echo got $x; echo oops >&2; exit 3".into(),
            stdin: Some(Box::new(&b"hello\n"[..])),
            stdout: Some(Box::new(out.clone())),
            stderr: Some(Box::new(err.clone())),
        })
        .await
        .unwrap();
    assert_eq!(exit.await.unwrap(), 3);
    assert_eq!(out.bytes(), b"got hello\n");
    assert_eq!(err.bytes(), b"oops\n");
    // Unwired streams.
    let exit = comm
        .start(RemoteCommand {
            command: "echo ignored; exit 0".into(),
            stdin: None,
            stdout: None,
            stderr: None,
        })
        .await
        .unwrap();
    assert_eq!(exit.await.unwrap(), 0);

    let dir = sshd.remote_dir(&format!("comm-{method:?}"));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let info = FileInfo {
        name: "f".into(),
        size: data.len() as i64,
        mode: 0o100600,
        mtime: None,
    };
    let path = format!("{dir}/f");
    comm.upload(
        &path,
        Box::new(std::io::Cursor::new(data.clone())),
        Some(info),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // No FileInfo: size unknown, default mode.
    let path2 = format!("{dir}/g");
    comm.upload(&path2, Box::new(&b"inline"[..]), None)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path2).unwrap(), b"inline");
    assert_eq!(
        std::fs::metadata(&path2).unwrap().permissions().mode() & 0o777,
        0o644
    );

    let back = Capture::default();
    comm.download(&path, Box::new(back.clone())).await.unwrap();
    assert_eq!(back.bytes(), data);

    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/keep"), b"k").unwrap();
    std::fs::write(src.join("sub/skip.tmp"), b"s").unwrap();
    // An existing destination directory: the source directory lands inside it.
    let up = sshd.remote_dir(&format!("comm-{method:?}-up"));
    comm.upload_dir(&up, &src, &["*.tmp".to_string()])
        .await
        .unwrap();
    assert_eq!(std::fs::read(format!("{up}/src/sub/keep")).unwrap(), b"k");
    assert!(!std::path::Path::new(&format!("{up}/src/sub/skip.tmp")).exists());
    let down = local.path().join("down");
    comm.download_dir(&format!("{up}/src/"), &down, &[])
        .await
        .unwrap();
    // As Packer's Go communicator: the directory itself lands under the destination, even
    // though Packer sends the source with a trailing slash.
    assert_eq!(std::fs::read(down.join("src/sub/keep")).unwrap(), b"k");

    let e = comm
        .download(&format!("{dir}/absent"), Box::new(Capture::default()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("absent"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&up).unwrap();
}

#[tokio::test]
async fn communicator_over_scp() {
    exercise(FileTransfer::Scp).await;
}

#[tokio::test]
async fn communicator_over_sftp() {
    exercise(FileTransfer::Sftp).await;
}
