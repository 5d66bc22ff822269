#!/usr/bin/env bash
# The project's throwaway OpenSSH server for tests and benchmarks (needs root: password
# authentication reads /etc/shadow and sshd's privilege separation wants it).
#
#   eval "$(scripts/sshd-local.sh start [PORT])"
#       starts /usr/sbin/sshd in the foreground of a new session, on 127.0.0.1:PORT (a free port
#       when none is given), with its own host key, config, pid file and authorized_keys under one
#       fresh directory, for the user $SSH_TEST_USER (default pkrtest, created when missing, with the
#       password $SSH_TEST_PASS, default pkrtest-pw). Prints one line to stdout:
#       export SSHD_DIR=… SSHD_PID=… SSHD_PORT=… SSH_USER=… SSH_PASS=… SSH_KEY=…
#       (SSH_KEY is a client private key whose public half is authorized).
#   scripts/sshd-local.sh stop DIR
#       stops that server and removes DIR.
set -euo pipefail

die() { echo "sshd-local: $*" >&2; exit 1; }

stop_server() {
  local dir=$1 f pid
  [ -d "$dir" ] || return 0
  for f in sshd.child sshd.pid; do
    # sshd removes its pid file as it exits: read it once, quietly.
    pid=$(cat "$dir/$f" 2>/dev/null) && kill "$pid" 2>/dev/null || true
  done
  rm -rf -- "$dir"
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

ensure_user() {
  local user=$1 pass=$2
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  printf '%s:%s\n' "$user" "$pass" | chpasswd
}

write_config() {
  local dir=$1 port=$2 user=$3
  cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/keys/%u
AllowUsers $user
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 64:30:128
MaxSessions 64
Subsystem sftp internal-sftp
LogLevel INFO
EOF
}

wait_listening() {
  local dir=$1 pid=$2 i
  for i in $(seq 1 1500); do
    grep -q 'Server listening' "$dir/sshd.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$dir/sshd.log" >&2; die "sshd exited during start-up"; }
    sleep 0.004
  done
  die "sshd did not listen within 6 s (log: $dir/sshd.log)"
}

start_server() {
  local port=${1:-} user=${SSH_TEST_USER:-pkrtest} pass=${SSH_TEST_PASS:-pkrtest-pw} dir pid
  [ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing: run scripts/install-deps.sh"
  [ "$(id -u)" -eq 0 ] || die "needs root"
  [ -n "$port" ] || port=$(free_port)
  ss -ltnH "sport = :$port" | grep -q . && die "port $port is in use"
  ensure_user "$user" "$pass"
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  dir=$(mktemp -d /tmp/sshd-local.XXXXXX)
  chmod 0755 "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "sshd-local host" -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "sshd-local client" -f "$dir/client_key"
  mkdir "$dir/keys"
  install -m 0644 "$dir/client_key.pub" "$dir/keys/$user"
  write_config "$dir" "$port" "$user"
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd rejects $dir/sshd_config"
  setsid /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/sshd.child"
  wait_listening "$dir" "$pid"
  echo "sshd-local: listening on 127.0.0.1:$port (pid $pid, dir $dir)" >&2
  echo "export SSHD_DIR=$dir SSHD_PID=$pid SSHD_PORT=$port SSH_USER=$user SSH_PASS=$pass SSH_KEY=$dir/client_key"
}

case "${1:-start}" in
  start) start_server "${2:-}" ;;
  stop) stop_server "${2:?usage: sshd-local.sh stop DIR}" ;;
  *) die "usage: sshd-local.sh start [PORT] | stop DIR" ;;
esac
