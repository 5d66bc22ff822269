#!/usr/bin/env bash
# Fetches the real VM Operator and image-registry CRDs by package name through the Go module
# proxy (`go mod download`, versions pinned in scripts/versions.env) and copies the ones the
# simulator serves into DIR (default: the project cache, see scripts/cache-dir.sh).
# supervisor-sim's build embeds them from there (crates/supervisor-sim/build.rs). Idempotent.
#   scripts/fetch-crds.sh [DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
dest=${1:-$(bash "$here/cache-dir.sh")/crds}

# The kinds the simulator serves (vmop_types::api::ALL_KINDS).
VMOP_FILES="clustervirtualmachineimages virtualmachineclasses virtualmachineimages
virtualmachinepublishrequests virtualmachines virtualmachineservices virtualmachinewebconsolerequests"
IMGREG_FILES="clustercontentlibraries clustercontentlibraryitems contentlibraries
contentlibraryitemimportrequests contentlibraryitems"

stamp="$VMOP_MODULE@$VMOP_VERSION $IMGREG_MODULE@$IMGREG_VERSION"
if [ -f "$dest/.pinned" ] && [ "$(cat "$dest/.pinned")" = "$stamp" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "fetch-crds: the Go toolchain (go) is needed to fetch the CRDs" >&2; exit 1; }

module_dir() { # MODULE VERSION -> the unpacked module directory in Go's module cache
  local json
  json=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$1@$2") || {
    echo "fetch-crds: go mod download $1@$2 failed: $json" >&2; return 1; }
  printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

copy_group() { # SRC_DIR GROUP NAMES...
  local src=$1 group=$2 n f
  shift 2
  for n in "$@"; do
    f="$src/config/crd/bases/${group}_$n.yaml"
    [ -f "$f" ] || { echo "fetch-crds: $f missing in the module" >&2; return 1; }
    install -m 0644 "$f" "$tmp/"
  done
}

vmop=$(module_dir "$VMOP_MODULE" "$VMOP_VERSION")
imgreg=$(module_dir "$IMGREG_MODULE" "$IMGREG_VERSION")
mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d "${dest%/}.tmp.XXXXXX")
chmod 0755 "$tmp"
# shellcheck disable=SC2086
copy_group "$vmop" vmoperator.vmware.com $VMOP_FILES
# shellcheck disable=SC2086
copy_group "$imgreg" imageregistry.vmware.com $IMGREG_FILES
echo "$stamp" >"$tmp/.pinned"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "fetch-crds: $(ls "$dest" | wc -l) CRDs of $stamp in $dest" >&2
