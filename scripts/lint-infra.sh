#!/usr/bin/env bash
# Checks the infrastructure code, offline: the SAM template (sam validate --lint, cfn-lint with
# the AWS serverless rules, checkov) and the GitHub Actions workflows (actionlint).
# Installs what it needs (.venv/sam and .venv/lint, pinned) through scripts/setup.sh.
# Run by scripts/test.sh; CI runs it there. Exit 1 on any error; warnings are printed, not fatal.
# Usage: scripts/lint-infra.sh
set -euo pipefail
cd "$(dirname "$0")/.."

template=infra/template.yaml
failed=()
say() { echo "lint-infra: $*" >&2; }
run() { # run NAME CMD...: runs one linter, remembers a failure, goes on with the others
  local name=$1
  shift
  say "$name"
  if ! "$@"; then
    failed+=("$name")
  fi
}

scripts/setup.sh --lint --sam

export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-eu-west-1}"

# 1. SAM's own validation (transform + its embedded cfn-lint); offline.
run "sam validate --lint" .venv/sam/bin/sam validate --lint --template-file "$template" \
  --region "$AWS_DEFAULT_REGION"

# 2. cfn-lint with the AWS serverless rules (cfn-lint-serverless). Errors fail; warnings print.
#    --non-zero-exit-code error: informational and warning findings do not fail the run.
run "cfn-lint (+ serverless rules)" .venv/lint/bin/cfn-lint --non-zero-exit-code error \
  --append-rules cfn_lint_serverless.rules --regions "$AWS_DEFAULT_REGION" -- "$template"

# 3. checkov on the template. Every skip lives in the template next to the resource, with its
#    reason (Metadata: checkov: skip: - id/comment); none here on the command line.
run "checkov" .venv/lint/bin/checkov --quiet --compact --framework cloudformation \
  --file "$template" --skip-download

# 4. actionlint on every workflow (it finds .github/workflows itself), with shellcheck on every
#    `run:` script; and shellcheck on the infra scripts.
if compgen -G ".github/workflows/*.y*ml" >/dev/null; then
  run "actionlint (+ shellcheck)" .venv/lint/bin/actionlint -no-color \
    -shellcheck "$PWD/.venv/lint/bin/shellcheck" -pyflakes ""
fi
run "shellcheck scripts" .venv/lint/bin/shellcheck scripts/build.sh scripts/lint-infra.sh scripts/push-app.sh

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "template and workflows: no errors"
