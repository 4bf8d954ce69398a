#!/usr/bin/env bash
# The benchmarks, in one command: builds what they measure, then prints five tables (artifact
# sizes, cold start and memory, handler cost, scaling quality, monthly cost) to stdout and to
# target/bench/report.md.
#
#   1. arm64 release binaries and zips, exactly as `sam build` makes them (cargo-lambda, pinned,
#      from PyPI) — reuses scripts/build.sh's cache under target/ — for the five functions and,
#      in the same run and profile, two baselines (crates/bench/hello-*): a bare hello-world and
#      a hello-world that builds the functions' SDK configuration; every function's zip, init
#      and RSS are printed absolute and as multiples of both;
#   2. native (x86_64) release binaries of the same code, started under a local Lambda Runtime
#      API against the local emulator (arm64 binaries cannot run on this machine);
#   3. the driver (crates/bench), optimised without LTO (profile bench-driver).
#
# A cold run builds for about 25 minutes on 2 cores; later runs take a few minutes.
# Honours CARGO_TARGET_DIR (a separate one keeps the release builds from holding cargo's lock on
# target/ while tests build).
# Usage: scripts/bench.sh [--runs N] [--warm N]   (defaults 7 cold starts × 5 warm invocations)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "bench: $*" >&2; }
functions=(task-recovery request-scaler alarm-notifier backup daily-digest)
packages=()
for f in "${functions[@]}" hello-bare hello-sdk; do packages+=(-p "$f"); done

scripts/setup.sh --emulator --lambda

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  say "adding the Rust target $target"
  rustup target add "$target" >&2
fi
export PATH="$PWD/.venv/lambda/bin:$PATH"
out="${CARGO_TARGET_DIR:-target}"

say "arm64 release build (cargo lambda, zip)…"
cargo lambda build --release --arm64 --output-format zip --locked "${packages[@]}" >&2

say "native release build (for cold starts)…"
cargo build --release --locked "${packages[@]}" >&2

say "benchmark driver (and its own unit tests)…"
cargo build --profile bench-driver --locked -p phoenix-bench >&2
# The driver's bin has `test = false` (no test executable in scripts/test.sh): its statistics are
# checked here, where they are used.
cargo test --profile bench-driver --locked -p phoenix-bench --bin phoenix-bench >&2

exec "$out/bench-driver/phoenix-bench" \
  --lambda-dir "$out/lambda" \
  --arm64-dir "$out/$target/release" \
  --native-dir "$out/release" \
  "$@"
