#!/usr/bin/env bash
# 256 MiB `file` upload through the real Packer: Packer's Go SSH communicator (built-in `null`
# builder) vs ours (the test builder examples/packer-builder-testkit, release build, with
# communicator = "ssh": the product's SSH communicator) vs OpenSSH scp, against the
# same throwaway sshd, in one run. Prints wall times, throughput, the builder plugin's peak RSS
# and the ratios against Go. Not run in CI (needs root for sshd-local.sh and takes ~1 min).
#
#   bench/upload-256m.sh                 # 256 MiB, best of 3 runs per path
#   BENCH_MIB=64 BENCH_RUNS=1 bench/upload-256m.sh
#   SKIP_BUILD=1 bench/upload-256m.sh    # reuse the existing release example
#
# Environment: PACKER_BIN (default /usr/bin/packer), PACKER_SSHD_LOCAL (default
# <workspace>/scripts/sshd-local.sh), CARGO_TARGET_DIR (default <workspace>/target).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIB=${BENCH_MIB:-256}
RUNS=${BENCH_RUNS:-3}
PACKER=${PACKER_BIN:-/usr/bin/packer}
SSHD_LOCAL=${PACKER_SSHD_LOCAL:-$ROOT/scripts/sshd-local.sh}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PLUGIN=$TARGET/release/examples/packer-builder-testkit

if [ -z "${SKIP_BUILD:-}" ]; then
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --example packer-builder-testkit >&2)
fi
[ -x "$PLUGIN" ] || { echo "missing $PLUGIN (build it or unset SKIP_BUILD)" >&2; exit 1; }
[ -x "$PACKER" ] || { echo "missing $PACKER" >&2; exit 1; }

W=$(mktemp -d /tmp/upload-bench.XXXXXX)
SSHD_DIR=
REMOTE=
cleanup() {
  [ -n "$SSHD_DIR" ] && bash "$SSHD_LOCAL" stop "$SSHD_DIR" || true
  [ -n "$REMOTE" ] && rm -rf "$REMOTE" || true
  rm -rf "$W"
}
trap cleanup EXIT

eval "$(bash "$SSHD_LOCAL" start 2>/dev/null)"
REMOTE=/home/$SSH_USER/upload-bench-$$
mkdir -p "$REMOTE" && chown "$SSH_USER:" "$REMOTE"

echo "making a $MIB MiB file..." >&2
head -c $((MIB << 20)) /dev/urandom > "$W/big.bin"
head -c 1 /dev/urandom > "$W/tiny.bin"
WANT=$(sha256sum "$W/big.bin" | cut -d' ' -f1)
ln -s "$PLUGIN" "$W/packer-builder-testkit"
mkdir -p "$W/home"

# template TYPE FILE -> a template uploading FILE with builder TYPE (null = Go, testkit = ours)
template() {
  cat <<EOF
source "$1" "x" {
  communicator         = "ssh"
  ssh_host             = "127.0.0.1"
  ssh_port             = $SSHD_PORT
  ssh_username         = "$SSH_USER"
  ssh_private_key_file = "$SSH_KEY"
}
build {
  sources = ["source.$1.x"]
  provisioner "file" {
    source      = "$2"
    destination = "$REMOTE/$1-$2"
  }
}
EOF
}
for t in null testkit; do
  template "$t" big.bin > "$W/$t-big.pkr.hcl"
  template "$t" tiny.bin > "$W/$t-tiny.pkr.hcl"
done

# Peak RSS of every process whose command line matches a regex, polled from /proc until the
# stop file appears. VmHWM is the kernel's own high-water mark, so a spike between two polls is
# still seen as long as the process is alive at the next one; Packer SIGKILLs plugins at the
# end of a build, so we poll often.
SAMPLER=$W/rss.py
cat > "$SAMPLER" <<'EOF'
import os, re, sys, time
pat, stop, out = re.compile(sys.argv[1]), sys.argv[2], sys.argv[3]
peak = {}
def kib(status, key):
    for line in status.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0
while not os.path.exists(stop):
    for p in os.listdir('/proc'):
        if not p.isdigit():
            continue
        try:
            cmd = open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace')
            if not pat.search(cmd):
                continue
            st = open(f'/proc/{p}/status').read()
        except OSError:
            continue
        peak[p] = max(peak.get(p, 0), kib(st, 'VmHWM:'), kib(st, 'VmRSS:'))
    time.sleep(0.01)
open(out, 'w').write(str(max(peak.values(), default=0)))
EOF

now() { date +%s.%N; }

# run_packer TEMPLATE PROC_REGEX -> prints "seconds peak_rss_kib"
run_packer() {
  local tpl=$1 pat=$2 stop=$W/stop.$RANDOM out=$W/rss.$RANDOM
  python3 "$SAMPLER" "$pat" "$stop" "$out" &
  local sampler=$!
  local t0 t1
  t0=$(now)
  if ! (cd "$W" && HOME=$W/home PACKER_CONFIG_DIR=$W/home CHECKPOINT_DISABLE=1 \
        timeout 600 "$PACKER" build -color=false "$tpl" > "$W/last.log" 2>&1); then
    touch "$stop"; wait "$sampler" || true
    echo "packer build $tpl failed:" >&2; cat "$W/last.log" >&2; exit 1
  fi
  t1=$(now)
  touch "$stop"; wait "$sampler"
  echo "$(echo "$t1 - $t0" | bc -l) $(cat "$out")"
}

check_remote() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$WANT" ] || { echo "CORRUPT upload: $1 ($got != $WANT)" >&2; exit 1; }
  rm -f "$1"
}

GO_PAT='packer plugin packer-builder-null'
RUST_PAT='packer-builder-testkit'

best() { sort -n | head -1; }

declare -A TOTAL OVERHEAD RSS
for path in go rust; do
  if [ $path = go ]; then t=null; pat=$GO_PAT; else t=testkit; pat=$RUST_PAT; fi
  # Fixed cost of a build (start-up, plugin processes, SSH connect) from a 1-byte upload.
  o=$(for i in $(seq "$RUNS"); do run_packer "$t-tiny.pkr.hcl" "$pat" | cut -d' ' -f1; done | best)
  OVERHEAD[$path]=$o
  times=$W/times.$path
  : > "$times"
  peak=0
  for i in $(seq "$RUNS"); do
    read -r s r < <(run_packer "$t-big.pkr.hcl" "$pat")
    check_remote "$REMOTE/$t-big.bin"
    echo "$s" >> "$times"
    [ "$r" -gt "$peak" ] && peak=$r
    echo "  $path run $i: $(printf %.2f "$s") s, plugin peak RSS $((r / 1024)) MiB" >&2
  done
  TOTAL[$path]=$(best < "$times")
  RSS[$path]=$peak
done

scp_times=$W/times.scp
: > "$scp_times"
for i in $(seq "$RUNS"); do
  t0=$(now)
  scp -q -i "$SSH_KEY" -P "$SSHD_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes "$W/big.bin" "$SSH_USER@127.0.0.1:$REMOTE/scp-big.bin"
  t1=$(now)
  check_remote "$REMOTE/scp-big.bin"
  echo "$t1 - $t0" | bc -l >> "$scp_times"
done
SCP=$(best < "$scp_times")

mbps() { echo "$MIB * 1048576 / 1000000 / $1" | bc -l; }
up() { echo "${TOTAL[$1]} - ${OVERHEAD[$1]}" | bc -l; }
GO_UP=$(up go)
RUST_UP=$(up rust)

echo
echo "$MIB MiB file upload, best of $RUNS (upload = packer build time minus a 1-byte build's)"
printf '%-28s %9s %9s %9s %10s %14s\n' path "build s" "fixed s" "upload s" "MB/s" "plugin RSS MiB"
printf '%-28s %9.2f %9.2f %9.2f %10.1f %14.1f\n' "packer + Go ssh (null)" "${TOTAL[go]}" "${OVERHEAD[go]}" \
  "$GO_UP" "$(mbps "$GO_UP")" "$(echo "${RSS[go]} / 1024" | bc -l)"
printf '%-28s %9.2f %9.2f %9.2f %10.1f %14.1f\n' "packer + ours (testkit)" "${TOTAL[rust]}" "${OVERHEAD[rust]}" \
  "$RUST_UP" "$(mbps "$RUST_UP")" "$(echo "${RSS[rust]} / 1024" | bc -l)"
printf '%-28s %9s %9s %9.2f %10.1f %14s\n' "OpenSSH scp" - - "$SCP" "$(mbps "$SCP")" -
echo
printf 'speed vs Go:  %.2fx on the upload, %.2fx on the whole build   (target >= 3x)\n' \
  "$(echo "$GO_UP / $RUST_UP" | bc -l)" "$(echo "${TOTAL[go]} / ${TOTAL[rust]}" | bc -l)"
printf 'RSS vs Go:    %.2f (ours %.1f MiB, Go %.1f MiB)   (target < 15 MiB)\n' \
  "$(echo "${RSS[rust]} / ${RSS[go]}" | bc -l)" "$(echo "${RSS[rust]} / 1024" | bc -l)" \
  "$(echo "${RSS[go]} / 1024" | bc -l)"
printf 'ours vs OpenSSH scp: %.2fx the time\n' "$(echo "$RUST_UP / $SCP" | bc -l)"
