//! Who a guest command runs as. A session runs as its SSH user: the uid `/etc/passwd` gives that
//! user (root 0, the others 1000, 1001, … in bootstrap order), so `id -un` prints the user and a
//! write to `/etc` needs `sudo`. Users the bootstrap data gives sudo rights keep CAP_SETUID and
//! CAP_SETGID (as ambient capabilities) and nothing else, which is what the guest's `sudo` uses
//! to become root without a password; other users have no capabilities at all.
//!
//! Switching users needs the simulator to run as root on the host (as in CI): the sandbox then
//! has no user namespace, and `setpriv` (from the host's `/usr`) drops to the user's uid inside
//! it. A simulator run by an unprivileged user cannot map a second uid, and runs every command
//! as uid 0 of the sandbox's user namespace, as before.
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::bootstrap::BootstrapPlan;

/// The first uid given to a bootstrap user.
pub const FIRST_UID: u32 = 1000;
/// The host's setpriv, seen in the sandbox through the read-only `/usr`.
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// The uid of `name` in the guest's `/etc/passwd`.
pub fn uid_of(plan: &BootstrapPlan, name: &str) -> Option<u32> {
    if name == "root" {
        return Some(0);
    }
    let i = plan.users.iter().position(|u| u.name == name)?;
    u32::try_from(i).ok().map(|i| FIRST_UID + i)
}

/// Whether the simulator can run commands under other uids (it runs as root on the host, and
/// the host has setpriv).
pub fn can_switch_users() -> bool {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root && Path::new(SETPRIV).is_file()
}

/// The account a command runs for.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub user: String,
    pub home: String,
    pub shell: String,
    pub uid: u32,
    /// Whether the user may `sudo` (passwordless).
    pub sudo: bool,
}

impl RunAs {
    /// root, for first boot's `runcmd`.
    pub fn root() -> Self {
        RunAs {
            user: "root".into(),
            home: "/root".into(),
            shell: "/bin/sh".into(),
            uid: 0,
            sudo: true,
        }
    }

    /// Whether the sandbox must switch to this user's uid (it starts as root).
    pub fn switches_user(&self) -> bool {
        self.uid != 0 && can_switch_users()
    }

    /// The `setpriv` command line that becomes this user before running the command.
    pub fn setpriv_prefix(&self) -> Vec<String> {
        let mut argv = vec![
            SETPRIV.to_string(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.uid),
            "--clear-groups".to_string(),
        ];
        if self.sudo {
            argv.push("--inh-caps=+setuid,+setgid".into());
            argv.push("--ambient-caps=+setuid,+setgid".into());
        } else {
            argv.push("--inh-caps=-all".into());
        }
        argv.push("--".into());
        argv
    }
}

/// The guest's `sudo`: passwordless for users with sudo rights (they hold CAP_SETUID), refused
/// for the others as sudo refuses users missing from sudoers. Options are accepted and ignored
/// (`-S` reads and discards the password line); commands always run as root.
pub const SUDO_SHIM: &str = r#"#!/bin/sh
# supervisor-sim guest: passwordless sudo for the users the bootstrap data gives sudo rights.
while [ $# -gt 0 ]; do
  case "$1" in
    -S) read -r _sim_pw || true; shift ;;
    -u|-g|-p|-C|-h|-D|-r|-t|-U) shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  if ! /usr/bin/setpriv --reuid=0 --regid=0 --clear-groups -- /bin/true 2>/dev/null; then
    echo "$(id -un) is not in the sudoers file." >&2
    exit 1
  fi
  [ $# -eq 0 ] && exit 0
  exec /usr/bin/setpriv --reuid=0 --regid=0 --clear-groups -- "$@"
fi
[ $# -eq 0 ] && exit 0
exec "$@"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::bootstrap::GuestUser;

    fn plan() -> BootstrapPlan {
        BootstrapPlan {
            users: vec![
                GuestUser {
                    name: "root".into(),
                    ..GuestUser::default()
                },
                GuestUser {
                    name: "packer".into(),
                    ..GuestUser::default()
                },
            ],
            ..BootstrapPlan::default()
        }
    }

    #[test]
    fn uids_follow_bootstrap_order() {
        assert_eq!(uid_of(&plan(), "root"), Some(0));
        assert_eq!(uid_of(&plan(), "packer"), Some(1001));
        assert_eq!(uid_of(&plan(), "nobody-here"), None);
    }

    #[test]
    fn only_sudo_users_keep_the_capabilities_sudo_needs() {
        let mut r = RunAs {
            user: "packer".into(),
            home: "/home/packer".into(),
            shell: "/bin/sh".into(),
            uid: 1001,
            sudo: true,
        };
        let argv = r.setpriv_prefix().join(" ");
        assert!(argv.starts_with("/usr/bin/setpriv --reuid=1001 --regid=1001 --clear-groups"));
        assert!(argv.contains("--ambient-caps=+setuid,+setgid"), "{argv}");
        r.sudo = false;
        let argv = r.setpriv_prefix().join(" ");
        assert!(!argv.contains("ambient"), "{argv}");
        assert!(!RunAs::root().switches_user());
    }
}
