#!/usr/bin/env bash
# The local sandbox: the control plane reacting to a scripted scenario against the emulator,
# narrated, with the Slack messages shown. `scripts/sandbox.sh up` keeps a world running instead;
# `scripts/sandbox.sh scenarios [NAME…]` runs the whole-system scenarios in simulated time.
# Says what it does while it prepares: the first run installs moto (.venv/emulator, ~10 s) and
# compiles the CLI and the five functions in debug (7–9 min on 2 cores); later runs start in
# seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "sandbox: $*" >&2; }

scripts/setup.sh --emulator

bin="${CARGO_TARGET_DIR:-target}/debug/phoenix-ops"
began=$(date +%s)
if [ -x "$bin" ]; then
  say "building phoenix-ops (debug; only what changed since the last build)…"
else
  say "first build of phoenix-ops and the five functions (debug): about 7–9 min on 2 cores, most"
  say "of it the AWS SDK; later runs reuse ${CARGO_TARGET_DIR:-target}/ and start in seconds. cargo's progress follows."
fi
cargo build --locked -p phoenix-ops-cli
say "built in $(( $(date +%s) - began ))s; starting the sandbox"
if [ "${1:-}" = scenarios ]; then shift; exec "$bin" scenarios "$@"; fi
status=0
"$bin" sandbox "$@" || status=$?
[ "${1:-}" = up ] || say "the whole system over time (8 scenarios in simulated time): scripts/sandbox.sh scenarios"
exit "$status"
