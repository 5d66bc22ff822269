#!/usr/bin/env bash
# Stops what scripts/kube-up.sh DIR started (kube-apiserver first, then etcd): SIGTERM, then
# SIGKILL after 10 s; removes the pid files. Leaves DIR's data and logs for a look.
#   scripts/kube-down.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/kube-down.sh DIR}
stop() { # NAME
  local f=$dir/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
  echo "kube-down: stopped $1 ($pid)"
}
stop kube-apiserver
stop etcd
