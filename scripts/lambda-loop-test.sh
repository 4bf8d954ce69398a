#!/usr/bin/env bash
# The local Lambda loop, tested: the functions' real binaries (their main.rs and the
# lambda_runtime adapter, as Lambda runs them) polling cargo-lambda's Runtime API emulator, fed
# with `cargo lambda invoke --data-file events/…`, talking to a sandbox world on the emulator.
# This is the path `phoenix-ops invoke` and the end-to-end tests skip (they call the handler
# in-process). README's "The local Lambda loop" uses `cargo lambda watch`, which does the same
# and also builds and restarts the binary; here the binaries are started directly
# (`cargo lambda watch --only-lambda-apis`), so the test needs no rebuild inside cargo-lambda.
# Checks, each on its own function process:
#   task-recovery on events/ecs-task-running.json → ignored ("not STOPPED")
#   task-recovery on events/ecs-task-stopped-crash.json → a decision from the world's service
#   backup on events/backup-manual.json with DRY_RUN=true → a dry-run plan naming the snapshot
# Usage: scripts/lambda-loop-test.sh  (builds the CLI and the two functions, debug; installs
# .venv/lambda). Prints "lambda-loop-test: N passed, M failed"; exit 1 when a check fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
say() { echo "lambda-loop-test: $*" >&2; }
die() { echo "lambda-loop-test: $*" >&2; exit 2; }

scripts/setup.sh --emulator --lambda || die "setup failed"
target="${CARGO_TARGET_DIR:-target}/debug"
cargo build --locked -p phoenix-ops-cli -p task-recovery -p backup >&2 || die "cargo build failed"
bin="${PHOENIX_OPS_BIN:-$target/phoenix-ops}"
# Where the function binaries are (a target directory shared by several checkouts may hold
# another checkout's latest build: PHOENIX_FUNCTIONS_DIR points at copies of your own).
functions="${PHOENIX_FUNCTIONS_DIR:-$target}"
cargo_lambda=.venv/lambda/bin/cargo-lambda

work=$(mktemp -d -t phoenix-lambda-loop.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -n "${LOOP_TEST_KEEP:-}" ] && cp -r "$work" "$LOOP_TEST_KEEP"; rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$bin" sandbox up > "$work/sandbox.out" 2> "$work/sandbox.err" &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q '^# Relaying' "$work/sandbox.out" 2>/dev/null && break
  sleep 0.2
done
grep -q '^# Relaying' "$work/sandbox.out" || { cat "$work/sandbox.out" "$work/sandbox.err" >&2; die "sandbox up failed"; }
grep '^export [A-Z_]*=' "$work/sandbox.out" > "$work/exports.sh"

passed=0 failed=0
# check NAME FUNCTION EVENT PYTHON_CONDITION [ENV=VALUE...]: one function process on its own
# Runtime API; the condition is evaluated on the Outcome `d`.
check() {
  local name=$1 fn=$2 event=$3 condition=$4 port
  shift 4
  port=$(free_port)
  "$cargo_lambda" lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" \
    > "$work/$name.watch" 2>&1 &
  local watch_pid=$!
  pids+=("$watch_pid")
  for _ in $(seq 1 100); do
    grep -q 'starting Runtime server' "$work/$name.watch" && break
    sleep 0.1
  done
  # cargo-lambda's Runtime API lives under /.rt (the address it prints, scheme included)
  local runtime_api
  runtime_api=$(sed -n 's/.*AWS_LAMBDA_RUNTIME_API=\([^ ]*\).*/\1/p' "$work/$name.watch" | head -n 1)
  [ -n "$runtime_api" ] || runtime_api="http://127.0.0.1:$port/.rt"
  # The function as Lambda starts it: its binary, AWS_LAMBDA_RUNTIME_API, its configuration.
  ( # shellcheck source=/dev/null
    source "$work/exports.sh"
    # STACK_NAME: the Lambda adapter's own setting (the Stack dimension of its metrics), which
    # the template sets and the sandbox's exports (made for in-process runs) may not carry.
    export STACK_NAME="${STACK_NAME:-phoenix-ops-sandbox}"
    export AWS_LAMBDA_RUNTIME_API="$runtime_api" AWS_LAMBDA_FUNCTION_NAME=_ \
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION=1
    for setting in "$@"; do export "${setting?}"; done
    exec "$functions/$fn" ) > "$work/$name.log" 2>&1 &
  local fn_pid=$!
  pids+=("$fn_pid")
  if timeout 60 "$cargo_lambda" lambda invoke --invoke-address 127.0.0.1 --invoke-port "$port" \
       --data-file "$event" --output-format json > "$work/$name.json" 2> "$work/$name.err" \
     && python3 - "$work/$name.json" "$condition" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2], {"d": d, "json": json}) else 1)
PY
  then
    say "ok   $name: $(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])))[:160])' "$work/$name.json")"
    passed=$((passed + 1))
  else
    say "FAIL $name: want $condition; got $(head -c 400 "$work/$name.json") $(tail -n 3 "$work/$name.err")"
    tail -n 5 "$work/$name.log" >&2
    failed=$((failed + 1))
  fi
  kill "$fn_pid" "$watch_pid" 2>/dev/null
}

check task-recovery-ignores-running task-recovery events/ecs-task-running.json \
  '"not STOPPED" in d.get("ignored", "")'
check task-recovery-decides-on-crash task-recovery events/ecs-task-stopped-crash.json \
  'd.get("decision") and "crash" in json.dumps(d.get("notice", {}))' DRY_RUN=true
check backup-manual-dry-run backup events/backup-manual.json \
  'd.get("dry_run") is True and any(a["call"] == "rds:CreateDBClusterSnapshot" and a["status"] == "dry_run" for a in d.get("actions", []))' DRY_RUN=true

echo "lambda-loop-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
