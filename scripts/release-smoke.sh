#!/usr/bin/env bash
# Checks a snapshot release the way a user meets it: from dist/ (scripts/release.sh release
# --snapshot --clean), unpacks the plugin's zip into an EMPTY plugin folder in Packer's installed
# layout, verifies it against the release's SHA256SUMS, unpacks the supervisor-sim archive (which
# must run with the CRDs it embeds: no flags, no Go), then with Packer 1.9.5:
#   - `packer init` of packer-examples/cloudinit passes offline (the plugin is installed),
#   - `packer validate` and `packer build` of it publish a vmi- image,
#   - a `required_plugins` constraint the installed plugin does not meet fails with Packer's own
#     "Missing plugins" message.
#   scripts/release-smoke.sh [DIST]     (default: dist)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$root/dist}" && pwd)
packer=${PACKER_19:-packer-1.9.5}
name=vsphere-supervisor
source_addr=$(sed -n 's/^pub const PLUGIN_SOURCE: &str = "\(.*\)";$/\1/p' "$root/src/lib.rs")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
os=linux
arch=amd64
base=packer-plugin-${name}_v${version}_x5.0_${os}_${arch}
fail() { echo "release-smoke: FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/release-smoke.XXXXXX)
sim_pid=""
stop() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

echo "== release-smoke: checksums of $dist"
sums=$dist/packer-plugin-${name}_v${version}_SHA256SUMS
[ -f "$sums" ] || fail "no $(basename "$sums") in $dist"
(cd "$dist" && sha256sum --check --strict "$sums") || fail "checksums do not match"
[ -f "$dist/$base.zip" ] || fail "no $base.zip in $dist"

echo "== release-smoke: unpacking $base.zip into an empty plugin folder"
plugins=$work/plugins/$source_addr
mkdir -p "$plugins"
unzip -q "$dist/$base.zip" -d "$plugins"
[ -x "$plugins/$base" ] || fail "the zip does not hold an executable $base"
[ "$(ls "$plugins")" = "$base" ] || fail "the zip holds more than $base: $(ls "$plugins")"
sha256sum "$plugins/$base" | cut -d' ' -f1 | tr -d '\n' >"$plugins/${base}_SHA256SUM"
described=$("$plugins/$base" describe)
case "$described" in
  *"\"version\":\"$version\""*) ;;
  *) fail "describe of the release binary does not report version $version: $described" ;;
esac

echo "== release-smoke: supervisor-sim from its release archive (embedded CRDs)"
sim_tgz=$(ls "$dist"/supervisor-sim_v"${version}"_${os}_${arch}.tar.gz 2>/dev/null | head -1)
[ -n "$sim_tgz" ] || fail "no supervisor-sim archive in $dist"
mkdir -p "$work/sim"
tar -xzf "$sim_tgz" -C "$work/sim"
env -u SUPERVISOR_SIM_CRDS "$work/sim/supervisor-sim" serve --listen 127.0.0.1:0 \
  --kubeconfig "$work/kubeconfig" --state "$work/state" >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$work/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.log" >&2; fail "supervisor-sim did not start"; }
  sleep 0.05
done
grep -q "listening on" "$work/sim.out" || fail "supervisor-sim printed no listening line"

export PACKER_PLUGIN_PATH=$work/plugins CHECKPOINT_DISABLE=1 KUBECONFIG=$work/kubeconfig
export HOME=$work/home
mkdir -p "$HOME"
example=$root/packer-examples/cloudinit
cd "$work"

echo "== release-smoke: $packer init / validate / build $example"
"$packer" init "$example" || fail "packer init"
"$packer" validate "$example" || fail "packer validate"
"$packer" build -color=false "$example" | tee "$work/build.out" || fail "packer build"
grep -q "vmi-" "$work/manifest.json" || fail "the manifest names no vmi- image"

echo "== release-smoke: an unmet version constraint fails with Packer's message"
mkdir -p "$work/unmet"
cp "$example/build.pkr.hcl" "$work/unmet/"
sed 's/version = ">= [0-9.]*"/version = ">= 99.0.0"/' "$example/plugins.pkr.hcl" >"$work/unmet/plugins.pkr.hcl"
if "$packer" validate "$work/unmet" >"$work/unmet.out" 2>&1; then
  fail "packer validate accepted a constraint (>= 99.0.0) that the installed plugin does not meet"
fi
grep -q "Missing plugins" "$work/unmet.out" || { cat "$work/unmet.out" >&2; fail "no 'Missing plugins' message"; }
echo "release-smoke: ok ($base from $(basename "$dist"), Packer $("$packer" version | head -1))"
