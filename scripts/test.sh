#!/usr/bin/env bash
# The project's test command (README, and what CI runs): installs what is missing, then checks
# formatting and lints and runs every test, end-to-end ones with the real Packer 1.6.6 included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export KUBECTL_120=${KUBECTL_120:-/opt/kubectl-1.20/usr/bin/kubectl}
export PACKER_SSHD_LOCAL=${PACKER_SSHD_LOCAL:-$(pwd)/scripts/sshd-local.sh}
# Property tests run briefly in CI; raise PROPTEST_CASES locally for a longer fuzz.
export PROPTEST_CASES=${PROPTEST_CASES:-256}
# The protocol harnesses drive the real plugin binary; `cargo test --workspace` builds it anyway
# (the root package's integration tests need it), so point them at it instead of letting them
# run a second, differently-featured `cargo build`.
target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
export PACKER_PLUGIN_BIN=${PACKER_PLUGIN_BIN:-$target_dir/debug/packer-plugin-vsphere-supervisor}
echo "== disk free: $(df -h --output=avail "$(pwd)" | tail -1 | tr -d ' ')"
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
echo "== disk used by the build: $(du -sh "$target_dir" 2>/dev/null | cut -f1) in $target_dir"
