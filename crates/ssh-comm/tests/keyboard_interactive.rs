//! Password authentication through `keyboard-interactive`, against a server that offers only
//! that method (as PAM-based sshd configurations do); needs no root.
use ssh_comm::{CancellationToken, Session, SshError};
use testkit::kbd_sshd::KbdSshd;
use testkit::sshd::Capture;

async fn run(s: &Session, cmd: &str) -> (i32, String) {
    let out = Capture::default();
    let code = s
        .exec(
            cmd,
            None::<tokio::io::Empty>,
            out.clone(),
            Capture::default(),
        )
        .await
        .expect("exec");
    (code, out.text())
}

#[tokio::test]
async fn a_password_logs_in_through_keyboard_interactive() {
    let sshd = KbdSshd::start("builder", "s3cret").await;
    let s = Session::connect(&sshd.password_opts("s3cret"), &CancellationToken::new())
        .await
        .expect("connect");
    assert_eq!(run(&s, "uptime").await, (0, "ran: uptime\n".to_string()));
    // Both prompts of the second round were answered with the password.
    assert_eq!(sshd.answers(), vec![vec!["s3cret".to_string(); 2]]);
}

#[tokio::test]
async fn a_wrong_password_fails_with_one_clear_line() {
    let sshd = KbdSshd::start("builder", "s3cret").await;
    let mut o = sshd.password_opts("wrong");
    o.handshake_attempts = 1;
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .expect("a wrong password must fail");
    assert!(matches!(e, SshError::Auth { .. }), "{e:?}");
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "ssh builder@127.0.0.1:{}: authentication failed (tried: password, \
             keyboard-interactive; server allows: keyboard-interactive)",
            sshd.port
        )
    );
    assert!(!msg.contains('\n') && !msg.contains("wrong"), "{msg}");
    assert_eq!(sshd.answers(), vec![vec!["wrong".to_string(); 2]]);
}

#[tokio::test]
async fn a_bastion_and_its_target_both_log_in_through_keyboard_interactive() {
    let bastion = KbdSshd::start("jump", "jump-pw").await;
    let target = KbdSshd::start("builder", "s3cret").await;
    let mut o = target.password_opts("s3cret");
    o.bastion = Some(Box::new(bastion.password_opts("jump-pw")));
    let s = Session::connect(&o, &CancellationToken::new())
        .await
        .expect("connect through the bastion");
    assert_eq!(run(&s, "id").await, (0, "ran: id\n".to_string()));
    assert_eq!(bastion.answers(), vec![vec!["jump-pw".to_string(); 2]]);
    assert_eq!(target.answers(), vec![vec!["s3cret".to_string(); 2]]);

    // A bastion refusing the password is named as the bastion.
    let mut o = target.password_opts("s3cret");
    let mut b = bastion.password_opts("nope");
    b.handshake_attempts = 1;
    o.bastion = Some(Box::new(b));
    let e = Session::connect(&o, &CancellationToken::new())
        .await
        .err()
        .expect("a wrong bastion password must fail")
        .to_string();
    assert!(
        e.contains("via bastion")
            && e.contains(&format!("jump@127.0.0.1:{}", bastion.port))
            && e.contains("tried: password, keyboard-interactive"),
        "{e}"
    );
}
