#!/usr/bin/env bash
# The in-process fast-path demo (the main demo is scripts/demo.sh). This runs the
# dp-core fast path in process: real frames through extract -> EMC -> dpcls ->
# upcall -> execute, the installed megaflows printed as
# `ovs-appctl dpctl/dump-flows` prints them, pmd-stats-show-style counters and
# a short single-core forwarding rate.
# Usage: scripts/demo.sh [SECONDS_OF_RATE_MEASUREMENT]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release -p dp-core --example fastpath_demo
exec target/release/examples/fastpath_demo "${1:-2}"
