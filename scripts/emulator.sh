#!/usr/bin/env bash
# Sourced by other scripts: starts the local AWS emulator (moto server) on a free port, exports
# PHOENIX_EMULATOR_URL, and stops it when the calling script exits.
emulator_log=$(mktemp -t phoenix-emulator.XXXXXX)
.venv/emulator/bin/python scripts/emulator.py > "$emulator_log" 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null; wait "$emulator_pid" 2>/dev/null; rm -f "$emulator_log"' EXIT
for _ in $(seq 1 150); do
  grep -q '^PHOENIX_EMULATOR_URL=' "$emulator_log" && break
  kill -0 "$emulator_pid" 2>/dev/null || break
  sleep 0.2
done
PHOENIX_EMULATOR_URL=$(sed -n 's/^PHOENIX_EMULATOR_URL=//p' "$emulator_log")
if [ -z "$PHOENIX_EMULATOR_URL" ]; then
  echo "emulator: moto did not start; its output:" >&2
  cat "$emulator_log" >&2
  exit 1
fi
export PHOENIX_EMULATOR_URL
echo "emulator: moto server at $PHOENIX_EMULATOR_URL" >&2
