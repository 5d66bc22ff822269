#!/usr/bin/env bash
# The `tool` of .goreleaser.yaml's Rust builds: runs `cargo "$@"` (goreleaser passes
# `build --target=TRIPLE FLAGS…`), then copies the binary cargo made, $RELEASE_BIN, to the name
# goreleaser expects, $RELEASE_AS, in the same directory. Packer's plugin installer wants the
# binary inside the zip named packer-plugin-NAME_vVERSION_x5.0_OS_ARCH, which cargo cannot name.
set -euo pipefail
cargo "$@"
target=""
for a in "$@"; do
  case "$a" in --target=*) target=${a#--target=} ;; esac
done
: "${RELEASE_BIN:?RELEASE_BIN (the cargo binary name) is not set}"
: "${RELEASE_AS:?RELEASE_AS (the name goreleaser expects) is not set}"
dir=${CARGO_TARGET_DIR:-target}/$target/release
if [ "$RELEASE_AS" != "$RELEASE_BIN" ]; then
  cp -f "$dir/$RELEASE_BIN" "$dir/$RELEASE_AS"
fi
