#!/usr/bin/env bash
# Restarts the kube-apiserver that scripts/kube-up.sh DIR started, on the same port over the
# same etcd (objects and resourceVersions survive; every open watch and connection is cut):
# the "API server restarted" fault of the end-to-end tests. Returns once it answers /readyz.
#   scripts/kube-restart.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/kube-restart.sh DIR}
dir=$(cd "$dir" && pwd)
[ -f "$dir/kube-apiserver.cmd" ] || { echo "kube-restart: no $dir/kube-apiserver.cmd (start it with scripts/kube-up.sh)" >&2; exit 1; }
t0=$(date +%s.%N)
pid=$(cat "$dir/kube-apiserver.pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
fi
# exec: the pid file must hold the API server itself, not a shell around it.
eval "exec $(cat "$dir/kube-apiserver.cmd")" >>"$dir/kube-apiserver.log" 2>&1 &
echo $! >"$dir/kube-apiserver.pid"
server=$(awk '/server:/ {print $2; exit}' "$dir/kubeconfig")
token=$(awk '/token:/ {print $2; exit}' "$dir/kubeconfig")
for _ in $(seq 1 600); do
  kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null || { echo "kube-restart: kube-apiserver exited" >&2; tail -20 "$dir/kube-apiserver.log" >&2; exit 1; }
  curl -sf --cacert "$dir/certs/apiserver.crt" -H "Authorization: Bearer $token" "$server/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --cacert "$dir/certs/apiserver.crt" -H "Authorization: Bearer $token" "$server/readyz" >/dev/null ||
  { echo "kube-restart: kube-apiserver not ready within 60 s" >&2; exit 1; }
echo "kube-restart: kube-apiserver back on $server in $(python3 -c "import time; print(round(time.time()-$t0,1))") s"
