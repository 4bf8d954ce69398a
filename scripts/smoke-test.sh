#!/usr/bin/env bash
# The test of scripts/smoke.sh, against the emulator (no AWS account): it runs
# `scripts/smoke.sh --sandbox` three times on one sandbox world and asserts each table, row by
# row (state and check name; the details are free text):
#   1. the world as `phoenix-ops sandbox up` seeds it: PASS where moto serves the check, SKIP
#      with "(emulator: …)" where it cannot (no stack, no Lambda, no alarm delivery), exit 0;
#   2. with what the template adds and the seeded world lacks (the CPU alarm, an errors alarm,
#      the dashboard), created here through the AWS CLI as CloudFormation would: the alarm is
#      really forced to ALARM and back with set-alarm-state, the dashboard and quiet alarms PASS;
#   3. with that errors alarm in ALARM: the smoke test FAILs that row and exits 1 (it can fail).
# Usage: scripts/smoke-test.sh  (builds target/debug/phoenix-ops unless PHOENIX_OPS_BIN is set)
# Prints "smoke-test: N passed, M failed" and exits non-zero when an expectation fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
say() { echo "smoke-test: $*" >&2; }
die() { echo "smoke-test: $*" >&2; exit 2; }

scripts/setup.sh --emulator --aws || die "setup failed"
bin="${PHOENIX_OPS_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --locked -p phoenix-ops-cli >&2 || die "cargo build -p phoenix-ops-cli failed"
  bin="${CARGO_TARGET_DIR:-target}/debug/phoenix-ops"
fi
export PHOENIX_OPS_BIN="$bin"
work=$(mktemp -d -t phoenix-smoke-test.XXXXXX)
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null; wait "$sandbox_pid" 2>/dev/null; fi
  [ -n "${SMOKE_TEST_KEEP:-}" ] && cp -r "$work" "$SMOKE_TEST_KEEP"; rm -rf "$work"
}
trap cleanup EXIT

# One world for the three runs (smoke.sh --sandbox uses the world this shell's exports name).
"$bin" sandbox up > "$work/sandbox.out" 2> "$work/sandbox.err" &
sandbox_pid=$!
for _ in $(seq 1 300); do
  grep -q '^# Relaying' "$work/sandbox.out" 2>/dev/null && break
  kill -0 "$sandbox_pid" 2>/dev/null || break
  sleep 0.2
done
grep -q '^# Relaying' "$work/sandbox.out" || { cat "$work/sandbox.out" "$work/sandbox.err" >&2; die "sandbox up failed"; }
grep '^export [A-Z_]*=' "$work/sandbox.out" > "$work/exports.sh"
# shellcheck source=/dev/null
source "$work/exports.sh"
export AWS_DEFAULT_REGION="$AWS_REGION"
aws=.venv/aws/bin/aws
stack=phoenix-ops-dev

passed=0 failed=0
# expect RUN_NAME WANT_EXIT EXPECTED_ROWS: runs smoke.sh, compares "STATE  NAME" rows in order.
expect() {
  local run=$1 want_exit=$2 expected=$3 got_exit
  scripts/smoke.sh --sandbox --stack "$stack" > "$work/$run.out" 2> "$work/$run.err"
  got_exit=$?
  # rows of the table: two spaces, the state, two spaces, the name padded, two spaces, details
  awk '/^━━ phoenix-ops smoke test/ { table = 1; next }
       table && /^  (PASS|FAIL|SKIP)  / { state = $1; sub(/^  (PASS|FAIL|SKIP)  /, ""); split($0, parts, /  +/); print state "  " parts[1] }' \
    "$work/$run.out" > "$work/$run.rows"
  if ! diff -u <(printf '%s\n' "$expected") "$work/$run.rows" > "$work/$run.diff"; then
    say "FAIL $run: the table differs from the expected rows:"
    cat "$work/$run.diff" "$work/$run.out" >&2
    failed=$((failed + 1))
  elif [ "$got_exit" -ne "$want_exit" ]; then
    say "FAIL $run: smoke.sh exited $got_exit, expected $want_exit"
    cat "$work/$run.out" "$work/$run.err" >&2
    failed=$((failed + 1))
  elif grep -E '^  SKIP  ' "$work/$run.out" | grep -v -q -E '\((emulator: [^)]*)'; then
    say "FAIL $run: a SKIP without its reason"
    failed=$((failed + 1))
  else
    say "ok   $run ($(tail -n 1 "$work/$run.out" | grep -o '[0-9]* passed, [0-9]* failed, [0-9]* skipped' || true))"
    passed=$((passed + 1))
  fi
}

expect "seeded-world" 0 "$(cat <<ROWS
SKIP  stack $stack
SKIP  CPU alarm forced to ALARM and back
SKIP  functions deployed
PASS  ECS service
PASS  SNS topic alerts
PASS  SNS topic oncall
PASS  backup bucket
PASS  DocumentDB cluster
SKIP  dashboard
SKIP  app answers over the ALB
SKIP  control-plane alarms quiet
PASS  task-recovery answers
PASS  request-scaler evaluates
PASS  backup dry run returns its plan
SKIP  CPU alarm ALARM reached Slack + oncall
SKIP  CPU alarm OK reached Slack + oncall
SKIP  oncall published (SNS metric)
ROWS
)"

# What infra/template.yaml creates and the seeded world does not, made as CloudFormation would.
"$aws" cloudwatch put-metric-alarm --alarm-name "$stack-cpu-peak" --namespace AWS/ECS \
  --metric-name CPUUtilization --dimensions "Name=ClusterName,Value=$CLUSTER_NAME" "Name=ServiceName,Value=$SERVICE_NAME" \
  --statistic Maximum --period 60 --evaluation-periods 1 --threshold 80 \
  --comparison-operator GreaterThanThreshold --treat-missing-data notBreaching \
  --alarm-actions "$ALERTS_TOPIC_ARN" --ok-actions "$ALERTS_TOPIC_ARN" || die "put-metric-alarm failed"
"$aws" cloudwatch put-metric-alarm --alarm-name "$stack-alarm-notifier-errors" --namespace AWS/Lambda \
  --metric-name Errors --dimensions "Name=FunctionName,Value=$stack-backup" --statistic Sum \
  --period 300 --evaluation-periods 1 --threshold 0 --comparison-operator GreaterThanThreshold \
  --treat-missing-data notBreaching --alarm-actions "$ALERTS_TOPIC_ARN" || die "put-metric-alarm failed"
"$aws" cloudwatch set-alarm-state --alarm-name "$stack-alarm-notifier-errors" --state-value OK --state-reason "smoke-test: quiet" || die "set-alarm-state failed"
"$aws" cloudwatch put-dashboard --dashboard-name "$stack-phoenix" --dashboard-body \
  '{"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"title": "Requests", "region": "eu-west-1", "metrics": [["AWS/ApplicationELB", "RequestCount"]]}}]}' \
  > /dev/null || die "put-dashboard failed"

expect "template-resources" 0 "$(cat <<ROWS
SKIP  stack $stack
PASS  CPU alarm forced to ALARM and back
SKIP  functions deployed
PASS  ECS service
PASS  SNS topic alerts
PASS  SNS topic oncall
PASS  backup bucket
PASS  DocumentDB cluster
PASS  dashboard
SKIP  app answers over the ALB
PASS  control-plane alarms quiet
PASS  task-recovery answers
PASS  request-scaler evaluates
PASS  backup dry run returns its plan
SKIP  CPU alarm ALARM reached Slack + oncall
SKIP  CPU alarm OK reached Slack + oncall
SKIP  oncall published (SNS metric)
ROWS
)"

"$aws" cloudwatch set-alarm-state --alarm-name "$stack-alarm-notifier-errors" --state-value ALARM \
  --state-reason "smoke-test: a failing backup" || die "set-alarm-state failed"

expect "errors-alarm-in-alarm" 1 "$(cat <<ROWS
SKIP  stack $stack
PASS  CPU alarm forced to ALARM and back
SKIP  functions deployed
PASS  ECS service
PASS  SNS topic alerts
PASS  SNS topic oncall
PASS  backup bucket
PASS  DocumentDB cluster
PASS  dashboard
SKIP  app answers over the ALB
FAIL  control-plane alarms quiet
PASS  task-recovery answers
PASS  request-scaler evaluates
PASS  backup dry run returns its plan
SKIP  CPU alarm ALARM reached Slack + oncall
SKIP  CPU alarm OK reached Slack + oncall
SKIP  oncall published (SNS metric)
ROWS
)"

echo "smoke-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
