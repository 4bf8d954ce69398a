#!/usr/bin/env bash
# Proves a deployed phoenix-ops control plane works end to end, in the account, and prints a
# PASS/FAIL/SKIP table. Run it after every deploy (the deploy and app workflows do).
#
#   stack, functions, service, topics, bucket, database, dashboard, app, quiet alarms: they exist
#     and are healthy (CloudFormation, Lambda, ECS, SNS, S3, DocumentDB, CloudWatch, HTTP);
#   task-recovery answers an ECS event it must ignore (a RUNNING task): it starts with its config;
#   request-scaler evaluates a synthetic Scheduled Event and returns its decision;
#   backup runs a dry run ({"dry_run": true}) and returns its plan;
#   the CPU alarm, forced to ALARM and back to OK (set-alarm-state), reaches Slack and oncall:
#     alarm-notifier's Outcome log lines say `delivered` for both states, and the oncall topic's
#     NumberOfMessagesPublished counts them.
#
# Changes nothing lasting: the backup is a dry run; the task-recovery event is ignored; the scaler
# evaluation is the one its schedule makes every minute anyway (request-scaler has no dry run per
# invocation yet: the event asks for one with detail.dry_run, and the table says whether it was);
# the alarm is forced for seconds and CloudWatch re-evaluates it at the next minute. The forced
# alarm DOES post to Slack and page oncall, with "phoenix-ops smoke test" in its reason.
#
# --sandbox runs the same checks against the local emulator instead: it starts
# `phoenix-ops sandbox up` (a seeded world on moto), points the AWS CLI at it, runs every check
# moto can serve for real, runs the functions in-process (`phoenix-ops invoke`: Lambda Invoke
# needs Docker) and prints `SKIP (emulator: why)` for the rest. Never a PASS it did not check.
#
# Usage: scripts/smoke.sh [--stack NAME] [--region REGION] [--wait SECONDS] [--no-alarm] [--sandbox]
#   --stack     the stack (default: $PHOENIX_STACK, else phoenix-ops-dev: samconfig's default env)
#   --region    AWS region (default: the AWS CLI's: AWS_REGION / AWS_DEFAULT_REGION / profile)
#   --wait      seconds to wait for the alarm's delivery and the SNS metric (default 300)
#   --no-alarm  do not force the CPU alarm (nothing is posted or paged; those checks SKIP)
#   --sandbox   against a local sandbox (no AWS account): the one whose exports this shell holds
#               (scripts/sandbox.sh up), else a new one; builds target/debug/phoenix-ops unless
#               PHOENIX_OPS_BIN names one
# Needs: AWS credentials for the stack's account (not with --sandbox), python3, curl. The AWS CLI
# comes from .venv/aws (scripts/setup.sh --aws); AWS_CLI=/path/to/aws uses another one.
# Exit: 0 every check passed or was skipped, 1 a check failed, 2 the smoke test cannot start.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

stack="${PHOENIX_STACK:-phoenix-ops-dev}" region="" wait_seconds=300 force_alarm=1 sandbox=0
die() { echo "smoke: $*" >&2; exit 2; }
say() { echo "smoke: $*" >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack=${2:?--stack needs a name}; shift 2 ;;
    --region) region=${2:?--region needs a region}; shift 2 ;;
    --wait) wait_seconds=${2:?--wait needs seconds}; shift 2 ;;
    --no-alarm) force_alarm=0; shift ;;
    --sandbox) sandbox=1; shift ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see scripts/smoke.sh --help)" ;;
  esac
done
[[ "$wait_seconds" =~ ^[0-9]+$ ]] || die "--wait needs a number of seconds (got '$wait_seconds')"
[[ "$stack" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || die "'$stack' is not a stack name"
command -v python3 >/dev/null || die "python3 is needed (it reads the functions' JSON answers)"
# AWS CLI v1 reads AWS_DEFAULT_REGION only; v2 and the SDKs also read AWS_REGION.
[ -z "$region" ] && [ -z "${AWS_DEFAULT_REGION:-}" ] && region="${AWS_REGION:-}"

work=$(mktemp -d -t phoenix-smoke.XXXXXX)
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null; wait "$sandbox_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# ───────────────────────────── the table
names=() states=() details=()
record() { # record STATE NAME DETAIL
  names+=("$2"); states+=("$1"); details+=("$3")
  printf 'smoke: %-4s %s%s\n' "$1" "$2" "${3:+ — $3}" >&2
}
pass() { record PASS "$1" "${2:-}"; }
fail() { record FAIL "$1" "${2:-}"; }
skip() { record SKIP "$1" "${2:-}"; }
emulator_skip() { skip "$1" "(emulator: $2)"; }

# ───────────────────────────── the AWS CLI, JSON
if [ -z "${AWS_CLI:-}" ]; then
  scripts/setup.sh --aws || die "cannot install the AWS CLI (.venv/aws)"
  AWS_CLI=.venv/aws/bin/aws
fi
aws_() { # the AWS CLI with this run's region; JSON unless the caller says otherwise
  if [ -n "$region" ]; then "$AWS_CLI" --region "$region" "$@"; else "$AWS_CLI" "$@"; fi
}
# json FILE EXPR: prints a value of a JSON file (python expression over `d`); empty for None.
json() {
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"(not JSON: {e})")
    sys.exit(0)
try:
    v = eval(sys.argv[2], {"d": d, "len": len})
except Exception:
    v = None
if v is None:
    print("")
elif isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (dict, list)):
    print(json.dumps(v))
else:
    print(v)
PY
}
run_id="smoke-$(date -u +%Y%m%dT%H%M%SZ)-$$"
started_ms=$(( $(date +%s) * 1000 ))
# metrics are per minute: count from the start of this minute
started_iso=$(date -u -d "@$(( $(date +%s) / 60 * 60 ))" +%Y-%m-%dT%H:%M:%SZ)

# ───────────────────────────── where the control plane is
if [ $sandbox -eq 1 ]; then
  bin="${PHOENIX_OPS_BIN:-}"
  if [ -z "$bin" ]; then
    bin="${CARGO_TARGET_DIR:-target}/debug/phoenix-ops"
    scripts/setup.sh --emulator || die "cannot install the emulator (.venv/emulator)"
    say "building phoenix-ops (debug; the first build takes 7–9 min on 2 cores)…"
    cargo build --locked -p phoenix-ops-cli >&2 || die "cargo build -p phoenix-ops-cli failed"
  fi
  [ -x "$bin" ] || die "$bin is not an executable phoenix-ops (PHOENIX_OPS_BIN?)"
  if [ -n "${AWS_ENDPOINT_URL:-}" ] && [ -n "${CLUSTER_NAME:-}" ]; then
    # This shell holds a sandbox's exports (scripts/sandbox.sh up): check that world.
    say "using the sandbox world of this shell's exports (AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL)"
  else
    say "starting a sandbox world on the emulator ($bin sandbox up)…"
    "$bin" sandbox up > "$work/sandbox.out" 2> "$work/sandbox.err" &
    sandbox_pid=$!
    for _ in $(seq 1 300); do
      grep -q '^# Relaying' "$work/sandbox.out" 2>/dev/null && break
      kill -0 "$sandbox_pid" 2>/dev/null || break
      sleep 0.2
    done
    grep -q '^# Relaying' "$work/sandbox.out" 2>/dev/null \
      || { cat "$work/sandbox.out" "$work/sandbox.err" >&2; die "the sandbox did not come up (its output is above)"; }
    # The sandbox's exports: the emulator's endpoint, fake credentials, the world's names.
    grep '^export [A-Z_]*=' "$work/sandbox.out" > "$work/exports.sh"
    # shellcheck source=/dev/null
    source "$work/exports.sh"
    [ -n "${AWS_ENDPOINT_URL:-}" ] || die "the sandbox printed no AWS_ENDPOINT_URL"
  fi
  region=${region:-${AWS_REGION:-}}
  say "sandbox up: emulator $AWS_ENDPOINT_URL, region ${AWS_REGION:-?}"
  where="sandbox (emulator at $AWS_ENDPOINT_URL)"
  cluster=${CLUSTER_NAME:-} service=${SERVICE_NAME:-} alerts_arn=${ALERTS_TOPIC_ARN:-}
  oncall_arn=${ONCALL_TOPIC_ARN:-} bucket=${BACKUP_BUCKET:-} database=${DOCDB_CLUSTER_ID:-}
  app_url="" dashboard_url=""
  emulator_skip "stack $stack" "the sandbox world is seeded directly, not by CloudFormation"
else
  [ -z "${AWS_ENDPOINT_URL:-}" ] \
    || die "AWS_ENDPOINT_URL is set ($AWS_ENDPOINT_URL: a sandbox's exports?): unset it to check a deployed stack, or use --sandbox"
  identity=$(aws_ sts get-caller-identity --query Account --output text 2>"$work/err") \
    || die "no AWS credentials for this shell ($(tr '\n' ' ' < "$work/err")): set AWS_PROFILE or the usual variables"
  where="account $identity${region:+, $region}"
  status=$(aws_ cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>"$work/err")
  if [ -z "$status" ]; then
    die "cannot read stack $stack in $where: $(tr '\n' ' ' < "$work/err")(deployed? --stack? --region?)"
  fi
  aws_ cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text > "$work/outputs" 2>/dev/null
  output() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$work/outputs"; }
  case "$status" in
    CREATE_COMPLETE|UPDATE_COMPLETE) pass "stack $stack" "$status in $where" ;;
    *) fail "stack $stack" "$status in $where (expected CREATE_COMPLETE or UPDATE_COMPLETE)" ;;
  esac
  cluster=$(output ClusterName) service=$(output ServiceName) alerts_arn=$(output AlertsTopicArn)
  oncall_arn=$(output OncallTopicArn) bucket=$(output BackupBucketName)
  database=$(output DatabaseClusterId) app_url=$(output AppUrl) dashboard_url=$(output DashboardUrl)
fi
say "checking the phoenix-ops control plane of stack $stack in $where (run $run_id)"

# ───────────────────────────── 1. force the CPU alarm early: its delivery takes a minute
alarm="$stack-cpu-peak" alarm_forced=0
if [ $force_alarm -eq 0 ]; then
  skip "CPU alarm forced to ALARM and back" "--no-alarm"
else
  alarm_state=$(aws_ cloudwatch describe-alarms --alarm-names "$alarm" \
    --query 'MetricAlarms[0].StateValue' --output text 2>"$work/err")
  if [ -z "$alarm_state" ] || [ "$alarm_state" = None ]; then
    if [ $sandbox -eq 1 ]; then
      emulator_skip "CPU alarm forced to ALARM and back" "the seeded world has no alarm $alarm (the template creates it)"
    else
      fail "CPU alarm forced to ALARM and back" "alarm $alarm not found $(tr '\n' ' ' < "$work/err")"
    fi
  elif [ "$alarm_state" = ALARM ]; then
    skip "CPU alarm forced to ALARM and back" "$alarm is in ALARM for real: not forced (a forced OK would announce a false recovery); rerun when it is OK"
  else
    reason="phoenix-ops smoke test $run_id: forced by scripts/smoke.sh, not a real CPU peak"
    if aws_ cloudwatch set-alarm-state --alarm-name "$alarm" --state-value ALARM \
         --state-reason "$reason" 2>"$work/err"; then
      sleep 5
      if aws_ cloudwatch set-alarm-state --alarm-name "$alarm" --state-value OK \
           --state-reason "$reason (back to OK)" 2>"$work/err"; then
        after=$(aws_ cloudwatch describe-alarms --alarm-names "$alarm" \
          --query 'MetricAlarms[0].StateValue' --output text 2>/dev/null)
        if [ "$after" = OK ]; then
          alarm_forced=1
          pass "CPU alarm forced to ALARM and back" "$alarm: $alarm_state → ALARM → OK (CloudWatch re-evaluates it at the next minute)"
        else
          fail "CPU alarm forced to ALARM and back" "$alarm is $after after being set back to OK"
        fi
      else
        fail "CPU alarm forced to ALARM and back" "$alarm left in ALARM: set-alarm-state OK failed: $(tr '\n' ' ' < "$work/err")"
      fi
    else
      fail "CPU alarm forced to ALARM and back" "set-alarm-state failed: $(tr '\n' ' ' < "$work/err")"
    fi
  fi
fi

# ───────────────────────────── 2. the resources
if [ $sandbox -eq 1 ]; then
  emulator_skip "functions deployed" "no Lambda here (Invoke needs Docker): the handlers run in-process"
  notifier_dry=false
else
  problems="" dry_functions=""
  for fn in task-recovery request-scaler alarm-notifier backup; do
    line=$(aws_ lambda get-function-configuration --function-name "$stack-$fn" \
      --query '[State,LastUpdateStatus,Environment.Variables.DRY_RUN]' --output text 2>"$work/err")
    read -r state update dry <<< "$line"
    if [ "$state" != Active ] || [ "$update" != Successful ]; then
      problems+="$stack-$fn: ${line:-$(tr '\n' ' ' < "$work/err")}; "
    fi
    [ "$dry" = true ] && dry_functions+="$fn "
  done
  if [ -z "$problems" ]; then
    pass "functions deployed" "4 Active${dry_functions:+; DRY_RUN=true on: $dry_functions}"
  else
    fail "functions deployed" "$problems"
  fi
  notifier_dry=false
  [[ " $dry_functions " == *" alarm-notifier "* ]] && notifier_dry=true
fi

if [ -z "$cluster" ] || [ -z "$service" ]; then
  fail "ECS service" "no ClusterName/ServiceName (stack outputs or sandbox exports)"
  desired=""
else
  line=$(aws_ ecs describe-services --cluster "$cluster" --services "$service" \
    --query 'services[0].[status,desiredCount,runningCount,pendingCount]' --output text 2>"$work/err")
  read -r svc_status desired running pending <<< "$line"
  if [ "$svc_status" = ACTIVE ]; then
    pass "ECS service" "$cluster/$service ACTIVE: desired $desired, running $running, pending $pending"
  else
    fail "ECS service" "$cluster/$service: ${line:-$(tr '\n' ' ' < "$work/err")}"
    desired=""
  fi
fi

for topic in alerts oncall; do
  arn=$alerts_arn
  [ $topic = oncall ] && arn=$oncall_arn
  if [ -z "$arn" ]; then
    fail "SNS topic $topic" "no ARN (stack outputs or sandbox exports)"
    continue
  fi
  line=$(aws_ sns get-topic-attributes --topic-arn "$arn" \
    --query '[Attributes.SubscriptionsConfirmed,Attributes.SubscriptionsPending]' --output text 2>"$work/err")
  if [ -n "$line" ]; then
    read -r confirmed pending_subs <<< "$line"
    note=""
    if [ $topic = oncall ] && [ "$confirmed" = 0 ] && [ $sandbox -eq 0 ]; then
      note=" — nobody is paged until a subscription is confirmed (OncallEmail: confirm the e-mail)"
    fi
    pass "SNS topic $topic" "${arn##*:}: $confirmed confirmed, $pending_subs pending subscription(s)$note"
  else
    fail "SNS topic $topic" "$arn: $(tr '\n' ' ' < "$work/err")"
  fi
done

if [ -z "$bucket" ]; then
  fail "backup bucket" "no bucket name (stack outputs or sandbox exports)"
elif aws_ s3api head-bucket --bucket "$bucket" >/dev/null 2>"$work/err"; then
  pass "backup bucket" "$bucket"
else
  fail "backup bucket" "$bucket: $(tr '\n' ' ' < "$work/err")"
fi

if [ -z "$database" ]; then
  fail "DocumentDB cluster" "no cluster id (stack outputs or sandbox exports)"
else
  db_status=$(aws_ docdb describe-db-clusters --db-cluster-identifier "$database" \
    --query 'DBClusters[0].Status' --output text 2>"$work/err")
  if [ "$db_status" = available ]; then
    pass "DocumentDB cluster" "$database available"
  else
    fail "DocumentDB cluster" "$database: ${db_status:-$(tr '\n' ' ' < "$work/err")}"
  fi
fi

dashboard="$stack-phoenix"
if aws_ cloudwatch get-dashboard --dashboard-name "$dashboard" \
     --query DashboardBody --output text > "$work/dashboard.json" 2>"$work/err"; then
  widgets=$(json "$work/dashboard.json" 'len(d.get("widgets", []))')
  if [[ "$widgets" =~ ^[1-9][0-9]*$ ]]; then
    pass "dashboard" "$dashboard: $widgets widget(s)${dashboard_url:+ — $dashboard_url}"
  else
    fail "dashboard" "$dashboard has no widgets"
  fi
elif [ $sandbox -eq 1 ]; then
  emulator_skip "dashboard" "the seeded world has no dashboard $dashboard (the template creates it)"
else
  fail "dashboard" "$dashboard: $(tr '\n' ' ' < "$work/err")"
fi

if [ $sandbox -eq 1 ]; then
  emulator_skip "app answers over the ALB" "no load balancer or app container in the sandbox"
elif [ -z "$app_url" ]; then
  fail "app answers over the ALB" "no AppUrl output"
elif [ "${desired:-0}" = 0 ]; then
  skip "app answers over the ALB" "the service runs 0 tasks (no image yet: scripts/push-app.sh <commit>)"
else
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$app_url")
  if [ "$code" = 200 ]; then
    pass "app answers over the ALB" "GET $app_url → 200"
  else
    fail "app answers over the ALB" "GET $app_url → ${code:-no answer} (expected 200)"
  fi
fi

# Control-plane alarms in ALARM (errors, dead-letter queues) other than the forced one.
aws_ cloudwatch describe-alarms --alarm-name-prefix "$stack-" \
  --query 'MetricAlarms[].[AlarmName,StateValue]' --output text > "$work/alarms" 2>"$work/err"
if [ ! -s "$work/alarms" ]; then
  if [ $sandbox -eq 1 ]; then
    emulator_skip "control-plane alarms quiet" "the seeded world has no alarms (the template creates them)"
  else
    fail "control-plane alarms quiet" "no alarm named $stack-* found $(tr '\n' ' ' < "$work/err")"
  fi
else
  loud=$(awk -F'\t' '$2 == "ALARM" && ($1 ~ /-errors$/ || $1 ~ /-dlq$/) { printf "%s ", $1 }' "$work/alarms")
  count=$(wc -l < "$work/alarms")
  if [ -z "$loud" ]; then
    pass "control-plane alarms quiet" "no -errors/-dlq alarm in ALARM ($count alarms)"
  else
    fail "control-plane alarms quiet" "in ALARM: $loud(read /aws/lambda/$stack-<function>)"
  fi
fi

# ───────────────────────────── 3. the functions answer
# invoke FUNCTION PAYLOAD_FILE OUT_FILE [--dry-run]: Lambda Invoke in the account; in the sandbox
# the in-process handler (phoenix-ops invoke: the same code; --dry-run applies there only).
# Prints how it ran; non-zero on failure.
invoke() {
  local fn=$1 payload=$2 out=$3 line
  shift 3
  if [ $sandbox -eq 1 ]; then
    if "$bin" invoke "$fn" --event "$payload" "$@" > "$out" 2> "$work/err"; then
      echo "phoenix-ops invoke${*:+ $*} (in-process: Lambda Invoke needs Docker)"
      return 0
    fi
    echo "phoenix-ops invoke $fn failed: $(tail -n 3 "$work/err" | tr '\n' ' ')"
    return 1
  fi
  # --cli-read-timeout 0: wait as long as the function runs (backup may take minutes);
  # fileb://: the payload as raw bytes, the same on AWS CLI v1 and v2.
  line=$(aws_ lambda invoke --function-name "$stack-$fn" --cli-read-timeout 0 \
    --payload "fileb://$payload" "$out" --query '[StatusCode,FunctionError]' --output text 2>"$work/err")
  case "$line" in
    200*None|200) echo "Lambda $stack-$fn"; return 0 ;;
    "") echo "lambda invoke failed: $(tr '\n' ' ' < "$work/err")"; return 1 ;;
    *) echo "$stack-$fn answered $line: $(head -c 300 "$out")"; return 1 ;;
  esac
}

if how=$(invoke task-recovery events/ecs-task-running.json "$work/task-recovery.json"); then
  ignored=$(json "$work/task-recovery.json" 'd.get("ignored")')
  if [ -n "$ignored" ]; then
    pass "task-recovery answers" "ignored a RUNNING task, as it must: $ignored — via $how"
  else
    fail "task-recovery answers" "expected the RUNNING task to be ignored; got $(head -c 300 "$work/task-recovery.json")"
  fi
else
  fail "task-recovery answers" "$how"
fi

# A Scheduled Event of our own (unique id: the scaler ignores an id it has seen). It asks for a
# dry run in detail.dry_run; a scaler that does not know the field evaluates for real (as its
# schedule does every minute) and the Outcome's dry_run says which it was.
now_iso=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat > "$work/scaler-event.json" <<EOF
{"version": "0", "id": "$run_id", "detail-type": "Scheduled Event", "source": "aws.events",
 "account": "000000000000", "time": "$now_iso", "region": "${region:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}",
 "resources": [], "detail": {"dry_run": true, "requested_by": "scripts/smoke.sh"}}
EOF
# In the sandbox, keep the world as it is: --dry-run (the in-process CLI has one).
how=$(invoke request-scaler "$work/scaler-event.json" "$work/scaler.json" --dry-run); ok=$?
if [ $ok -eq 0 ]; then
  decision=$(json "$work/scaler.json" 'd.get("decision")')
  reason=$(json "$work/scaler.json" 'd.get("reason")')
  dry=$(json "$work/scaler.json" 'd.get("dry_run", False)')
  dry_note="dry run"
  [ "$dry" = true ] || dry_note="a real evaluation (no per-invocation dry run in this scaler)"
  if [ -n "$decision" ]; then
    pass "request-scaler evaluates" "$decision: $reason — $dry_note — via $how"
  else
    fail "request-scaler evaluates" "no decision: $(head -c 300 "$work/scaler.json")"
  fi
else
  fail "request-scaler evaluates" "$how"
fi

printf '{"database": true, "logs": true, "dry_run": true, "reason": "scripts/smoke.sh %s"}\n' "$run_id" \
  > "$work/backup-event.json"
# In the account: a dry-run payload. In the sandbox: README's manual payload,
# events/backup-manual.json, under --dry-run (so the file README shows is exercised too).
if [ $sandbox -eq 1 ]; then
  backup_payload=events/backup-manual.json
else
  backup_payload="$work/backup-event.json"
fi
if how=$(invoke backup "$backup_payload" "$work/backup.json" --dry-run); then
  decision=$(json "$work/backup.json" 'd.get("decision")')
  dry=$(json "$work/backup.json" 'd.get("dry_run", False)')
  planned=$(json "$work/backup.json" '"; ".join(a.get("call","") + " " + a.get("status","") for a in d.get("actions", []))')
  rejected=$(json "$work/backup.json" 'd.get("rejected") or d.get("ignored")')
  if [ -n "$rejected" ]; then
    fail "backup dry run returns its plan" "refused: $rejected"
  elif [ "$dry" = true ] && [ -n "$decision" ]; then
    pass "backup dry run returns its plan" "$decision, nothing changed: ${planned:-no action} — via $how"
  else
    fail "backup dry run returns its plan" "expected a dry-run Outcome; got $(head -c 300 "$work/backup.json")"
  fi
else
  fail "backup dry run returns its plan" "$how"
fi

# ───────────────────────────── 4. the forced alarm reached Slack and oncall
if [ $sandbox -eq 1 ]; then
  emulator_skip "CPU alarm ALARM reached Slack + oncall" "moto never evaluates alarms and SetAlarmState publishes nothing to SNS"
  emulator_skip "CPU alarm OK reached Slack + oncall" "moto never evaluates alarms and SetAlarmState publishes nothing to SNS"
  emulator_skip "oncall published (SNS metric)" "moto keeps no SNS metrics"
elif [ $alarm_forced -eq 0 ]; then
  skip "CPU alarm ALARM reached Slack + oncall" "the alarm was not forced"
  skip "CPU alarm OK reached Slack + oncall" "the alarm was not forced"
  skip "oncall published (SNS metric)" "the alarm was not forced"
else
  log_group="/aws/lambda/$stack-alarm-notifier"
  want="delivered"
  [ "$notifier_dry" = true ] && want="dry-run"
  say "waiting up to ${wait_seconds}s for alarm-notifier's Outcome lines in $log_group…"
  deadline=$(( $(date +%s) + wait_seconds ))
  found_alarm="" found_ok="" failed_line=""
  while :; do
    aws_ logs filter-log-events --log-group-name "$log_group" --start-time "$started_ms" \
      --filter-pattern "\"$alarm\"" --query 'events[].message' --output json > "$work/log.json" 2>"$work/err"
    found_alarm=$(json "$work/log.json" "next((m for m in d if '\"$want\"' in m and '$alarm ALARM' in m), None)")
    found_ok=$(json "$work/log.json" "next((m for m in d if '\"$want\"' in m and '$alarm OK' in m), None)")
    failed_line=$(json "$work/log.json" "next((m for m in d if 'delivery-failed' in m), None)")
    if { [ -n "$found_alarm" ] && [ -n "$found_ok" ]; } || [ -n "$failed_line" ] || [ "$(date +%s)" -ge "$deadline" ]; then
      break
    fi
    sleep 10
  done
  for state in ALARM OK; do
    line=$found_alarm
    [ $state = OK ] && line=$found_ok
    if [ -n "$line" ] && [ "$want" = dry-run ]; then
      skip "CPU alarm $state reached Slack + oncall" "alarm-notifier runs DRY_RUN=true: it rendered the message and sent nothing"
    elif [ -n "$line" ]; then
      pass "CPU alarm $state reached Slack + oncall" "alarm-notifier logged delivered for $alarm $state"
    elif [ -n "$failed_line" ]; then
      fail "CPU alarm $state reached Slack + oncall" "alarm-notifier: $(head -c 400 <<< "$failed_line")"
    else
      fail "CPU alarm $state reached Slack + oncall" "no '$want' Outcome for $alarm $state in $log_group within ${wait_seconds}s $(tr '\n' ' ' < "$work/err")"
    fi
  done
  if [ "$want" = dry-run ]; then
    skip "oncall published (SNS metric)" "alarm-notifier runs DRY_RUN=true"
  elif [ -z "$oncall_arn" ]; then
    fail "oncall published (SNS metric)" "no OncallTopicArn output"
  else
    topic_name=${oncall_arn##*:}
    published=0
    while :; do
      published=$(aws_ cloudwatch get-metric-statistics --namespace AWS/SNS \
        --metric-name NumberOfMessagesPublished --dimensions "Name=TopicName,Value=$topic_name" \
        --start-time "$started_iso" --end-time "$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)" \
        --period 60 --statistics Sum --query 'sum(Datapoints[].Sum)' --output text 2>"$work/err")
      published=${published%%.*}
      [[ "$published" =~ ^[0-9]+$ ]] || published=0
      if [ "$published" -ge 2 ] || [ "$(date +%s)" -ge "$deadline" ]; then break; fi
      sleep 15
    done
    if [ "$published" -ge 2 ]; then
      pass "oncall published (SNS metric)" "NumberOfMessagesPublished on $topic_name since $started_iso: $published"
    else
      fail "oncall published (SNS metric)" "NumberOfMessagesPublished on $topic_name since $started_iso: $published, expected ≥ 2 within ${wait_seconds}s"
    fi
  fi
fi

# ───────────────────────────── the table
width=0
for n in "${names[@]}"; do [ "${#n}" -gt "$width" ] && width=${#n}; done
echo
echo "━━ phoenix-ops smoke test: $stack, $where"
passed=0 failed=0 skipped=0
for i in "${!names[@]}"; do
  printf '  %-4s  %-*s  %s\n' "${states[$i]}" "$width" "${names[$i]}" "${details[$i]}"
  case "${states[$i]}" in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
  esac
done
echo
echo "smoke: $passed passed, $failed failed, $skipped skipped"
if [ $sandbox -eq 0 ] && [ -n "$dashboard_url" ]; then
  echo "dashboard: $dashboard_url"
fi
[ $failed -eq 0 ]
