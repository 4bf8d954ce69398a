#!/usr/bin/env bash
# Builds the five functions for Lambda (release, aarch64 / arm64, provided.al2023) with
# `sam build`: cargo-lambda (pinned, from PyPI, with its Zig) cross-compiles each crate named by
# the template's BuildProperties.Binary. Output: .aws-sam/build (what `sam deploy` uploads).
# It is the README's `sam build` with the pinned tools: the root samconfig.toml names
# infra/template.yaml and the build directory.
# Offline apart from crates.io (and the rust-std for aarch64 on first use). A cold build takes
# about 20 minutes on 2 cores: this is not part of scripts/test.sh; the deploy workflow and
# scripts/bench.sh run it.
# On a checkout shared with other cargo builds, give it its own target directory
# (CARGO_TARGET_DIR=target/lambda-release scripts/build.sh): the release build holds cargo's lock
# on the target directory for its whole duration and debug builds would wait behind it.
# Usage: scripts/build.sh [extra sam build options]
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "build: $*" >&2; }

scripts/setup.sh --sam --lambda

# The standard library for the Lambda target (once per toolchain).
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  command -v rustup >/dev/null || { say "rustup is needed to add the $target target"; exit 1; }
  say "adding the Rust target $target"
  rustup target add "$target" >&2
fi

# cargo-lambda and the venv's python (cargo-zigbuild finds Zig via `python3 -m ziglang`).
export PATH="$PWD/.venv/lambda/bin:$PATH"
export SAM_CLI_TELEMETRY=0 SAM_CLI_BETA_RUST_CARGO_LAMBDA=1
start=$(date +%s)
say "sam build: five release builds for arm64 (cargo lambda build --release --arm64), one after"
say "the other. A cold build takes about 20 min on 2 cores (the AWS SDK dominates); later builds"
say "reuse target/ and take a minute or two. cargo's progress follows."
.venv/sam/bin/sam build "$@"
say "sam build done in $(( $(date +%s) - start ))s"
for f in .aws-sam/build/*Function/bootstrap; do
  [ -f "$f" ] && say "$(du -h "$f" | cut -f1)  $f"
done
