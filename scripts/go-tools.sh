#!/usr/bin/env bash
# Builds the Go tools the tests, the demo and the release use, by package name from the Go module
# proxy at the versions pinned in scripts/versions.env, into the project cache (kept between runs:
# a tool already built at its pinned version is not rebuilt), and links them onto PATH.
#   scripts/go-tools.sh [TOOL...]     TOOL: packer-1.9.5, goreleaser, peer-vsphere, kube-apiserver,
#                                     etcd (default: all)
# Cold cost on 2 cores: Packer 1.9.5 ~4 min, goreleaser ~3 min (module downloads included);
# peer-vsphere (HashiCorp's packer-plugin-vsphere, into $cache/peer-plugins) a few minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
cache=$(bash "$here/cache-dir.sh")
bindir=$cache/bin
mkdir -p "$bindir"
# Where the links go: /usr/local/bin as root, else ~/.local/bin (say so when it is not on PATH).
if [ "$(id -u)" -eq 0 ]; then linkdir=/usr/local/bin; else linkdir=$HOME/.local/bin; fi
mkdir -p "$linkdir"
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

command -v go >/dev/null || { echo "go-tools: the Go toolchain (go) is not installed" >&2; exit 1; }

# build NAME MODULE@VERSION [go install flags...]: one binary, once per pinned version.
build() {
  local name=$1 modver=$2 out stamp tmp
  shift 2
  out=$bindir/$name
  stamp="$modver $*"
  if [ -x "$out" ] && [ "$(cat "$out.pinned" 2>/dev/null)" = "$stamp" ]; then
    ln -sf "$out" "$linkdir/$name"
    return 0
  fi
  echo "go-tools: building $name from $modver (cached afterwards in $bindir)" >&2
  tmp=$(mktemp -d)
  local t0=$SECONDS
  (cd /tmp && GOBIN=$tmp go install "$@" "$modver")
  mv "$tmp"/* "$out"
  rm -rf "$tmp"
  echo "$stamp" >"$out.pinned"
  ln -sf "$out" "$linkdir/$name"
  echo "go-tools: $name built in $((SECONDS - t0)) s" >&2
}

# build_with_replace NAME MODULE VERSION OLD=NEW@VER: a main package built through a go.mod of our
# own (go install MODULE@VERSION ignores the replace directives some modules need).
build_with_replace() {
  local name=$1 module=$2 version=$3 replace=$4 out stamp tmp t0=$SECONDS
  out=$bindir/$name
  stamp="$module@$version replace $replace"
  if [ -x "$out" ] && [ "$(cat "$out.pinned" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "go-tools: building $name from $module@$version (cached afterwards in $bindir)" >&2
  tmp=$(mktemp -d)
  (
    cd "$tmp"
    go mod init example.invalid/build-"$name" >/dev/null 2>&1
    go mod edit -replace "$replace"
    go get "$module@$version" >/dev/null
    go build -o "$tmp/$name" -ldflags=-checklinkname=0 "$module"
  )
  mv "$tmp/$name" "$out"
  rm -rf "$tmp"
  echo "$stamp" >"$out.pinned"
  echo "go-tools: $name built in $((SECONDS - t0)) s" >&2
}

# The peer plugin goes into a plugin folder of its own, in Packer 1.7-1.9's installed layout:
# $cache/peer-plugins/github.com/hashicorp/vsphere/packer-plugin-vsphere_vX_x5.0_linux_amd64.
install_peer() {
  local v=${PEER_VSPHERE_VERSION#v} dir file
  build_with_replace packer-plugin-vsphere-peer "$PEER_VSPHERE_MODULE" "$PEER_VSPHERE_VERSION" \
    "github.com/zclconf/go-cty=$PEER_GOCTY_REPLACE"
  dir=$cache/peer-plugins/github.com/hashicorp/vsphere
  file=packer-plugin-vsphere_v${v}_x5.0_linux_amd64
  mkdir -p "$dir"
  if ! cmp -s "$bindir/packer-plugin-vsphere-peer" "$dir/$file"; then
    install -m 0755 "$bindir/packer-plugin-vsphere-peer" "$dir/$file"
    sha256sum "$dir/$file" | cut -d' ' -f1 | tr -d '\n' >"$dir/${file}_SHA256SUM"
  fi
}

# kube-apiserver: k8s.io/kubernetes cites its staging modules as v0.0.0 => ./staging/...; our
# go.mod maps each to its published v0.X.Y (the list read from that version's own go.mod).
build_kube_apiserver() {
  local out=$bindir/kube-apiserver stamp="$KUBE_MODULE@$KUBE_VERSION" tmp dir minor t0=$SECONDS
  if [ -x "$out" ] && [ "$(cat "$out.pinned" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "go-tools: building kube-apiserver from $stamp (cached afterwards in $bindir)" >&2
  tmp=$(mktemp -d)
  minor=${KUBE_VERSION#v1.}
  (
    cd "$tmp"
    go mod init example.invalid/build-kube-apiserver >/dev/null 2>&1
    dir=$(GOFLAGS=-mod=mod go mod download -json "$KUBE_MODULE@$KUBE_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [ -n "$dir" ] || { echo "go-tools: go mod download $KUBE_MODULE@$KUBE_VERSION failed" >&2; exit 1; }
    for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/.*#\1#p' "$dir/go.mod"); do
      go mod edit -replace "$m=$m@v0.$minor"
    done
    go get "$KUBE_MODULE/cmd/kube-apiserver@$KUBE_VERSION" >/dev/null
    local v=k8s.io/component-base/version
    go build -o "$tmp/kube-apiserver" -ldflags "-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=${minor%%.*}" \
      "$KUBE_MODULE/cmd/kube-apiserver"
  )
  mv "$tmp/kube-apiserver" "$out"
  rm -rf "$tmp"
  echo "$stamp" >"$out.pinned"
  ln -sf "$out" "$linkdir/kube-apiserver"
  echo "go-tools: kube-apiserver built in $((SECONDS - t0)) s" >&2
}

# etcd: its go.mod has path replaces, so go install cannot take it; a go.mod of ours can.
build_etcd() {
  local out=$bindir/etcd stamp="$ETCD_MODULE@$ETCD_VERSION" tmp t0=$SECONDS
  if [ -x "$out" ] && [ "$(cat "$out.pinned" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "go-tools: building etcd from $stamp (cached afterwards in $bindir)" >&2
  tmp=$(mktemp -d)
  (
    cd "$tmp"
    go mod init example.invalid/build-etcd >/dev/null 2>&1
    go get "$ETCD_MODULE@$ETCD_VERSION" >/dev/null
    go build -o "$tmp/etcd" "$ETCD_MODULE"
  )
  mv "$tmp/etcd" "$out"
  rm -rf "$tmp"
  echo "$stamp" >"$out.pinned"
  ln -sf "$out" "$linkdir/etcd"
  echo "go-tools: etcd built in $((SECONDS - t0)) s" >&2
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(packer-1.9.5 goreleaser peer-vsphere kube-apiserver etcd)
for t in "${want[@]}"; do
  case "$t" in
    # Old dependencies of Packer 1.9.5 use //go:linkname, which Go >= 1.23 restricts.
    packer-1.9.5) build packer-1.9.5 "$PACKER19_MODULE@$PACKER19_VERSION" -ldflags=-checklinkname=0 ;;
    goreleaser) build goreleaser "$GORELEASER_MODULE@$GORELEASER_VERSION" ;;
    peer-vsphere) install_peer ;;
    kube-apiserver) build_kube_apiserver ;;
    etcd) build_etcd ;;
    *) echo "go-tools: unknown tool $t" >&2; exit 2 ;;
  esac
done
case ":$PATH:" in
  *":$linkdir:"*) ;;
  *) echo "go-tools: add $linkdir to PATH" >&2 ;;
esac
