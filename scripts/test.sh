#!/usr/bin/env bash
# Every check phoenix-ops has, in the order CI runs them. This is the README's test command and
# what .ci/run calls. Debug builds only (release/arm64 builds belong to scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo; echo "━━ $* ($(( $(date +%s) - start ))s)"; }

step "setup"
scripts/setup.sh --emulator

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (unit, property, fault injection, end-to-end against the emulator)"
# shellcheck source=scripts/emulator.sh
source scripts/emulator.sh
cargo test --workspace --locked

step "infra lints (sam validate --lint, cfn-lint + serverless rules, checkov, actionlint, shellcheck)"
scripts/lint-infra.sh

step "all checks passed in $(( $(date +%s) - start ))s"
