#!/usr/bin/env bash
# One-command demo: installs what is missing, starts supervisor-sim, builds the plugin, installs
# it where Packer finds it (a plugin folder of the demo's own), and builds an example to a
# published image (manifest printed at the end).
#   scripts/demo.sh [EXAMPLE]     an example directory (default: packer-examples/cloudinit)
#   PACKER=packer scripts/demo.sh  with Debian's Packer 1.6.6 instead of Packer 1.9.5
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
example=${1:-packer-examples/cloudinit}
packer=${PACKER:-packer-1.9.5}
bash scripts/install-deps.sh

# A debug build is plenty for the demo and shares its build with the tests; PROFILE=release
# builds optimised binaries instead.
profile=${PROFILE:-debug}
flag=""
[ "$profile" = debug ] || flag="--$profile"
echo "== building the plugin and the simulator ($profile)"
cargo build $flag --locked -p packer-plugin-vsphere -p supervisor-sim --bins
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"

work=$(mktemp -d /tmp/vsphere-supervisor-demo.XXXXXX)
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "== starting supervisor-sim (state and kubeconfig in $work)"
"$bin/supervisor-sim" serve --listen 127.0.0.1:0 \
  --kubeconfig "$work/kubeconfig" --state "$work/state" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.log" >&2; exit 1; }
  sleep 0.05
done
cat "$work/sim.out"

echo "== installing the plugin for $packer"
export PACKER_PLUGIN_PATH="$work/plugins"
bash scripts/install-plugin.sh --packer "$packer" --binary "$bin/packer-plugin-vsphere-supervisor"

export KUBECONFIG="$work/kubeconfig"
cd "$work"
if "$packer" version | grep -q '^Packer v1\.6\.'; then
  target="$root/$example/build.pkr.hcl"   # Packer 1.6 does not know required_plugins
else
  echo "== $packer init $example"
  "$packer" init "$root/$example"
  target="$root/$example"
fi
echo "== $packer build $example"
"$packer" build -force "$target"
echo "== manifest"
cat "$work/manifest.json" 2>/dev/null || cat "$root/packer-examples/manifest.json" 2>/dev/null || true
echo "== objects left in the namespace (only the published image and the seed should remain)"
kubectl get vm,vmservice,vmpub,secret,vmi -n demo 2>/dev/null || true
