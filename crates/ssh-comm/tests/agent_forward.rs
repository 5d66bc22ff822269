//! Agent forwarding (`ssh -A`) against a real OpenSSH server and a real `ssh-agent`.
mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::{Capture, Sshd};
use ssh_comm::{CancellationToken, Session};

/// An `ssh-agent` on its own socket holding `key`; killed on drop.
struct Agent {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start(key: &std::path::Path) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent");
        for _ in 0..50 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let st = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("ssh-add");
        assert!(st.success());
        Agent {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn list_keys(s: &Session) -> (i32, String) {
    let out = Capture::default();
    let code = s
        .exec(
            "ssh-add -l",
            None::<tokio::io::Empty>,
            out.clone(),
            Capture::default(),
        )
        .await
        .unwrap();
    (code, out.text())
}

#[tokio::test]
async fn the_agent_is_forwarded_only_when_asked() {
    let sshd = Sshd::start();
    let agent = Agent::start(&sshd.key);
    let mut o = sshd.opts();
    o.forward_agent = Some(agent.socket.clone());
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .unwrap();
    let (code, out) = list_keys(&s).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("SHA256:"), "{out}");

    // Without forwarding the guest sees no agent (ssh-add exits 2).
    let s = Session::connect(&sshd.opts(), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(list_keys(&s).await.0, 2);
}
