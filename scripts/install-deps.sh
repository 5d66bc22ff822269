#!/usr/bin/env bash
# Installs what the build, the tests, the demo and the release need on a fresh Debian machine
# (idempotent; what is already there is not fetched or built again):
#   - Debian's packages: packer 1.6.6, OpenSSH (client + a throwaway sshd for tests), bubblewrap
#     (the simulator's guest sandbox), python3-msgpack (capture decoder), unzip, and Debian's
#     kubectl 1.20 unpacked under /opt/kubectl-1.20 (a normal install would clash with the
#     kubectl already on PATH).
#   - By package name through the Go module proxy, at the versions in scripts/versions.env:
#     the real VM Operator and image-registry CRDs (scripts/fetch-crds.sh; supervisor-sim
#     embeds them when built), and with scripts/go-tools.sh: Packer 1.9.5 as `packer-1.9.5`,
#     goreleaser, HashiCorp's packer-plugin-vsphere v1.4.2 (the peer, in its own plugin folder),
#     kube-apiserver and etcd (the real control plane of scripts/kube-up.sh); all cached in
#     scripts/cache-dir.sh's directory.
# Cold cost on 2 cores: ~1 min of Debian packages, ~18 min of Go builds (Packer ~4 min,
# goreleaser ~3, the peer ~2, kube-apiserver ~9, etcd ~1); seconds once cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
for p in packer openssh-server openssh-client bubblewrap python3-msgpack unzip ca-certificates; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
command -v go >/dev/null || need+=(golang-go)
updated=0
if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  updated=1
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -x /opt/kubectl-1.20/usr/bin/kubectl ]; then
  echo "install-deps: unpacking Debian's kubernetes-client (kubectl 1.20) into /opt/kubectl-1.20" >&2
  [ "$updated" -eq 1 ] || $SUDO apt-get update -qq
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1)
  $SUDO mkdir -p /opt/kubectl-1.20
  $SUDO dpkg-deb -x "$tmp"/kubernetes-client_*.deb /opt/kubectl-1.20
  rm -rf "$tmp"
fi

bash "$here/fetch-crds.sh"
bash "$here/go-tools.sh" "$@"
