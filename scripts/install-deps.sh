#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine (idempotent).
#   packer 1.6.6 (Debian), OpenSSH (client + a throwaway sshd for tests), bubblewrap (the
#   simulator's guest sandbox), python3-msgpack (capture decoder), and Debian's kubectl 1.20
#   unpacked under /opt/kubectl-1.20 (a normal install would clash with google-cloud-cli's kubectl).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for p in packer openssh-server openssh-client bubblewrap python3-msgpack; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
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
