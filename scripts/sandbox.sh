#!/usr/bin/env bash
# The local sandbox: the control plane reacting to a scripted scenario against the emulator,
# narrated, with the Slack messages shown. `scripts/sandbox.sh up` keeps a world running instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --emulator
cargo build --quiet --locked -p phoenix-ops-cli
exec target/debug/phoenix-ops sandbox "$@"
