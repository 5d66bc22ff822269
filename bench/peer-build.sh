#!/usr/bin/env bash
# Our vsphere-supervisor builder against HashiCorp's (packer-plugin-vsphere v1.4.2, built by
# scripts/install-deps.sh), on the same work: one supervisor-sim, Packer 1.9.5, the same
# CloudInit template with a shell and a file provisioner; only the `required_plugins` file differs.
#   bench/peer-build.sh                 N=5 runs per builder, alternating ours / theirs
#   RUNS=3 bench/peer-build.sh
#   SKIP_BUILD=1 bench/peer-build.sh    reuse target/release binaries
# Per builder it reports the medians of: wall time of `packer build`, the plugin process's CPU
# seconds (user+sys) and peak RSS (sampled from /proc by a watcher the plugin's wrapper starts),
# the API requests
# it made (the simulator's /sim/v1/requests); then once each: seconds from the publish request
# (with an injected publish failure) to the build's exit, and the objects left in the namespace
# after SIGINT during provisioning. Ratios are ours/theirs. Results: bench/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
packer=${PACKER_19:-packer-1.9.5}
target=${CARGO_TARGET_DIR:-$root/target}
cache=$(bash "$root/scripts/cache-dir.sh")
peer_dir=$cache/peer-plugins
peer_bin=$peer_dir/github.com/hashicorp/vsphere/packer-plugin-vsphere_v1.4.2_x5.0_linux_amd64
[ -x "$peer_bin" ] || { echo "peer-build: $peer_bin missing: run scripts/install-deps.sh" >&2; exit 1; }
command -v "$packer" >/dev/null || { echo "peer-build: $packer missing: run scripts/install-deps.sh" >&2; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== building release binaries" >&2
  (cd "$root" && VSPHERE_SUPERVISOR_RELEASE=1 cargo build --release --locked -q \
    -p packer-plugin-vsphere -p supervisor-sim --bins)
fi
ours_bin=$target/release/packer-plugin-vsphere-supervisor
sim_bin=$target/release/supervisor-sim

work=$(mktemp -d /tmp/peer-bench.XXXXXX)
sim_pid=""
finish() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap finish EXIT

# --- plugin folders: each real binary behind a wrapper that measures it -------------------------
# The wrapper starts a watcher and then execs the plugin (same pid, nothing in between that Packer
# could kill instead of it). The watcher samples /proc/PID every 20 ms: VmHWM (the kernel's peak
# RSS) while it lives, utime+stime until it is reaped (a zombie still shows them).
cat >"$work/watch.sh" <<'EOF'
#!/bin/sh
pid=$1 out=$2 hwm=0 cpu=0
tick=$(getconf CLK_TCK)
while [ -e "/proc/$pid/stat" ]; do
  h=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
  [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
  c=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null)
  [ -n "$c" ] && cpu=$c
  sleep 0.02
done
awk -v c="$cpu" -v t="$tick" -v h="$hwm" 'BEGIN { printf "0 %.3f 0 %d\n", c / t, h }' >>"$out"
EOF
chmod 0755 "$work/watch.sh"
wrap() { # NAME REAL_BINARY FOLDER FILE
  local name=$1 real=$2 dir=$3/$4
  mkdir -p "$(dirname "$dir")"
  cat >"$dir" <<EOF
#!/bin/sh
# describe is not measured; the builder's process is.
[ "\$1" = describe ] && exec "$real" "\$@"
setsid "$work/watch.sh" \$\$ "$work/time.$name" </dev/null >/dev/null 2>&1 &
exec "$real" "\$@"
EOF
  chmod 0755 "$dir"
  sha256sum "$dir" | cut -d' ' -f1 | tr -d '\n' >"${dir}_SHA256SUM"
}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
wrap ours "$ours_bin" "$work/plugins-ours" \
  "github.com/packer-plugin-rs/vsphere-supervisor/packer-plugin-vsphere-supervisor_v${version}_x5.0_linux_amd64"
wrap theirs "$peer_bin" "$work/plugins-theirs" \
  "github.com/hashicorp/vsphere/packer-plugin-vsphere_v1.4.2_x5.0_linux_amd64"

# --- the simulator -------------------------------------------------------------------------------
"$sim_bin" serve --listen 127.0.0.1:0 --kubeconfig "$work/kubeconfig" --state "$work/state" \
  >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/sim.out" 2>/dev/null && break
  sleep 0.05
done
grep -q "listening on" "$work/sim.out" || { cat "$work/sim.log" >&2; exit 1; }
export KUBECONFIG=$work/kubeconfig CHECKPOINT_DISABLE=1
k() { kubectl --kubeconfig "$work/kubeconfig" "$@"; }
faults() { # JSON document, or "" to clear
  if [ -n "$1" ]; then
    printf '%s' "$1" >"$work/faults.json"
    k replace --raw /sim/v1/faults -f "$work/faults.json" >/dev/null
  else
    k delete --raw /sim/v1/faults >/dev/null
  fi
}
requests() { k get --raw /sim/v1/requests | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }

# --- the template --------------------------------------------------------------------------------
echo "motd from the peer benchmark" >"$work/motd.txt"
cat >"$work/build.pkr.hcl" <<EOF
variable "image_name" { type = string }
variable "sleep" {
  type    = number
  default = 0
}
source "vsphere-supervisor" "golden" {
  kubeconfig_path          = "$work/kubeconfig"
  supervisor_namespace     = "demo"
  class_name               = "best-effort-small"
  storage_class            = "wcpglobal-storage-profile"
  image_name               = "vmi-4c70ed86fa1ab64e2"
  bootstrap_provider       = "CloudInit"
  communicator             = "ssh"
  ssh_username             = "packer"
  ssh_timeout              = "2m"
  watch_source_timeout_sec = 120
  publish_location_name    = "golden-images"
  publish_image_name       = var.image_name
}
build {
  sources = ["source.vsphere-supervisor.golden"]
  provisioner "shell" {
    inline = ["echo building on \$(hostname)", "sleep \${var.sleep}"]
  }
  provisioner "file" {
    source      = "$work/motd.txt"
    destination = "/tmp/motd.txt"
  }
}
EOF
for who in ours theirs; do
  mkdir -p "$work/$who"
  cp "$work/build.pkr.hcl" "$work/$who/"
done
cat >"$work/ours/plugins.pkr.hcl" <<'EOF'
packer {
  required_plugins {
    vsphere-supervisor = {
      source  = "github.com/packer-plugin-rs/vsphere-supervisor"
      version = ">= 0.1.0"
    }
  }
}
EOF
cat >"$work/theirs/plugins.pkr.hcl" <<'EOF'
packer {
  required_plugins {
    vsphere = {
      source  = "github.com/hashicorp/vsphere"
      version = "= 1.4.2"
    }
  }
}
EOF

# build WHO IMAGE [packer args...]: one `packer build` with WHO's plugins; prints its output
# with a timestamp (seconds since the start) on each line into $work/out.WHO.
build() {
  local who=$1 image=$2
  shift 2
  PACKER_PLUGIN_PATH=$work/plugins-$who timeout --signal=INT "${limit:-600}" "$packer" build -color=false \
    -var "image_name=$image" "$@" "$work/$who" 2>&1 |
    python3 -u -c 'import sys,time
t0=time.time()
for l in sys.stdin: sys.stdout.write("%.3f %s" % (time.time()-t0, l))' >"$work/out.$who"
}

left_in_namespace() {
  k get vm,vmservice,vmpub -n demo --no-headers 2>/dev/null | wc -l
}

# --- N alternating runs --------------------------------------------------------------------------
for who in ours theirs; do
  PACKER_PLUGIN_PATH=$work/plugins-$who "$packer" init "$work/$who" >/dev/null
done
echo "== $RUNS runs per builder, alternating" >&2
for i in $(seq 1 "$RUNS"); do
  for who in ours theirs; do
    k delete --raw /sim/v1/requests >/dev/null
    : >"$work/time.$who"
    t0=$(date +%s.%N)
    build "$who" "bench-$who-$i" || {
      cat "$work/out.$who" >&2; echo "peer-build: $who run $i failed" >&2; exit 1; }
    t1=$(date +%s.%N)
    for _ in $(seq 1 100); do [ -s "$work/time.$who" ] && break; sleep 0.05; done
    read -r _ u s rss <"$work/time.$who"
    echo "$who $(python3 -c "print(round($t1-$t0,3))") $(python3 -c "print(round($u+$s,3))") $rss $(requests)" >>"$work/runs"
    echo "   run $i $who: $(tail -1 "$work/runs")" >&2
  done
done

# --- an injected publish failure ----------------------------------------------------------------
# Seconds from the line that starts publishing to the build's exit (capped at 120 s).
publish_failure() {
  local who=$1 start end
  faults '{"controllers":{"publishFailure":{"reason":"UploadFailure","message":"disk full"}}}'
  limit=120 build "$who" "fail-$who" || true
  faults ""
  start=$(grep -m1 -E "Publishing (VM|the source VM)" "$work/out.$who" | cut -d' ' -f1)
  end=$(tail -1 "$work/out.$who" | cut -d' ' -f1)
  if [ -z "$start" ]; then echo "n/a"; else python3 -c "print(round($end-$start,2))"; fi
}

# --- SIGINT during provisioning ------------------------------------------------------------------
sigint_leftovers() {
  local who=$1 pid
  (PACKER_PLUGIN_PATH=$work/plugins-$who setsid "$packer" build -color=false \
    -var "image_name=int-$who" -var sleep=60 "$work/$who" >"$work/int.$who" 2>&1) &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q "building on" "$work/int.$who" 2>/dev/null && break
    sleep 0.1
  done
  pkill -INT -g "$(ps -o sid= -p "$pid" | tr -d ' ')" 2>/dev/null || kill -INT "$pid"
  timeout 120 tail --pid="$pid" -f /dev/null || true
  sleep 2
  left_in_namespace
}

pf_ours=$(publish_failure ours)
pf_theirs=$(publish_failure theirs)
int_ours=$(sigint_leftovers ours)
int_theirs=$(sigint_leftovers theirs)

python3 - "$work/runs" "$pf_ours" "$pf_theirs" "$int_ours" "$int_theirs" <<'EOF'
import statistics, sys
runs = {"ours": [], "theirs": []}
for line in open(sys.argv[1]):
    who, wall, cpu, rss, req = line.split()
    runs[who].append((float(wall), float(cpu), int(rss) / 1024, int(req)))
def med(who, i):
    return statistics.median(r[i] for r in runs[who])
rows = [("wall time of packer build (s)", 0, "%.2f"), ("plugin CPU, user+sys (s)", 1, "%.2f"),
        ("plugin peak RSS (MiB)", 2, "%.1f"), ("API requests", 3, "%d")]
n = len(runs["ours"])
print(f"\n| median of {n} runs | ours | HashiCorp v1.4.2 | ours/theirs |")
print("| --- | --- | --- | --- |")
for name, i, fmt in rows:
    o, t = med("ours", i), med("theirs", i)
    print(f"| {name} | {fmt % o} | {fmt % t} | {o / t:.2f}x |" if t else f"| {name} | {fmt % o} | {fmt % t} | - |")
pf_o, pf_t, in_o, in_t = sys.argv[2:6]
print(f"| publish failure injected: publish start to exit (s) | {pf_o} | {pf_t} | |")
print(f"| objects left after SIGINT during provisioning | {in_o} | {in_t} | |")
EOF
