#!/usr/bin/env bash
# The project's test command (README, and what CI runs): installs what is missing, then checks
# formatting and lints, runs every test (end-to-end ones with Debian's real Packer 1.6.6), runs
# the end-to-end tier again under Packer 1.9.5 and its main scenarios on a real kube-apiserver,
# and checks a snapshot release the way a user
# installs it (goreleaser check, goreleaser release --snapshot, scripts/release-smoke.sh).
#   SKIP_RELEASE=1 scripts/test.sh   leaves out the release part (it builds in release mode)
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
# Likewise the test builder, the example `cargo test --workspace` builds.
export PACKER_TEST_BUILDER_BIN=${PACKER_TEST_BUILDER_BIN:-$target_dir/debug/examples/packer-builder-testkit}
echo "== disk free: $(df -h --output=avail "$(pwd)" | tail -1 | tr -d ' ')"
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (end-to-end under Packer 1.6.6)"
cargo test --workspace --locked --no-fail-fast
echo "== cargo test: the end-to-end tier under Packer 1.9.5"
# (the comm:: scenarios use Packer 1.6.6 whatever E2E_PACKER says: run once)
E2E_PACKER=1.9 cargo test --workspace --locked --no-fail-fast --test e2e -- --skip comm::
echo "== cargo test: end-to-end scenarios on a real kube-apiserver + the simulator's controllers"
# The same tests, assertions and Packer (1.9.5) as against `serve`, each on its own control plane
# (scripts/kube-up.sh) with `supervisor-sim controllers` in-process; a watch-drop fault becomes a
# real API server restart during the build.
E2E_SUPERVISOR=kube-apiserver E2E_PACKER=1.9 cargo test --locked --no-fail-fast --test e2e -- \
  cloudinit::cloudinit_build_publishes_and_cleans_up cloudinit::cloudinit_build_survives_dropped_watches \
  failures::failing_provisioner_fails_the_build_and_cleans_up \
  failures::publish_failure_fails_at_once_with_reason_and_cleans_up \
  failures::target_location_not_found_ends_the_publish_within_two_seconds \
  cancel:: keep::keep_input_artifact_keeps_vm_secret_and_service keep::kept_publish_request_is_removed_by_its_ttl \
  artifact::
if [ -z "${SKIP_RELEASE:-}" ]; then
  echo "== release: goreleaser check"
  bash scripts/release.sh check
  echo "== release: goreleaser release --snapshot --clean"
  bash scripts/release.sh release --snapshot --clean
  echo "== release: the snapshot installed and used with Packer 1.9.5"
  bash scripts/release-smoke.sh dist
fi
echo "== disk used by the build: $(du -sh "$target_dir" 2>/dev/null | cut -f1) in $target_dir"
