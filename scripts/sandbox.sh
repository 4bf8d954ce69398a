#!/usr/bin/env bash
# The local sandbox: the control plane reacting to a scripted scenario against the emulator,
# narrated, with the Slack messages shown. `scripts/sandbox.sh up` keeps a world running instead;
# `scripts/sandbox.sh scenarios [NAME…]` runs the whole-system scenarios in simulated time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --emulator
cargo build --quiet --locked -p phoenix-ops-cli
if [ "${1:-}" = scenarios ]; then shift; exec target/debug/phoenix-ops scenarios "$@"; fi
status=0
target/debug/phoenix-ops sandbox "$@" || status=$?
[ "${1:-}" = up ] || echo "sandbox: the whole system over time (7 scenarios in simulated time): scripts/sandbox.sh scenarios"
exit "$status"
