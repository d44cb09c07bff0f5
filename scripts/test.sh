#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then formatting, lints
# and every test of the workspace. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings (with the dpdk feature)"
cargo clippy --workspace --all-targets --features netdev/dpdk -- -D warnings
echo "== cargo test --workspace"
cargo test --workspace
echo "== DPDK ports (cargo feature dpdk)"
cargo test -p netdev --features dpdk --test dpdk
cargo test -p vswitchd --features dpdk --test dpdk
echo "== benches compile"
cargo bench --workspace --no-run
