#!/usr/bin/env bash
# The fuzz pass over every handler (issue 15): mutated events grown from events/*.json, each through
# the real handler in dry run against the local emulator, judged by an oracle (no panic, no AWS call
# before an event is ignored, no mutating call in dry run, no action outside the configuration, no
# hang). Prints per function: events, ignored, rejected, acted, retried, panics, wrong.
# Usage: scripts/fuzz.sh [EVENTS_PER_FUNCTION (default 10000)] [SEED (default 1)]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000}
seed=${2:-1}
scripts/setup.sh --emulator
echo "fuzz: building phoenix-ops (debug; the first build takes several minutes)…" >&2
cargo build --locked -p phoenix-ops-cli >&2
bin="${CARGO_TARGET_DIR:-target}/debug/phoenix-ops"
echo "fuzz: $events events per function, seed $seed" >&2
exec "$bin" fuzz --events "$events" --seed "$seed"
