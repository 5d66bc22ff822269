#!/usr/bin/env bash
# Runs goreleaser (scripts/go-tools.sh builds it) with the crate's version in CRATE_VERSION.
#   scripts/release.sh check
#   scripts/release.sh release --snapshot --clean
set -euo pipefail
cd "$(dirname "$0")/.."
CRATE_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
export CRATE_VERSION
command -v goreleaser >/dev/null || bash scripts/go-tools.sh goreleaser
# goreleaser's Rust builder copies from ./target: a CARGO_TARGET_DIR elsewhere would hide it.
unset CARGO_TARGET_DIR
exec goreleaser "$@"
