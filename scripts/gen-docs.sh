#!/usr/bin/env bash
# Regenerates the pictures under docs/ that README shows:
#   docs/slack/index.html  every Slack message alarm-notifier sends, drawn as Slack shows it
#                          (phoenix-ops gallery: from crates/alarm-notifier/tests/golden/*.slack.json
#                          and docs/slack/samples/*.json)
#   docs/slack/*.png       screenshots of five of them for README (a crash, a CPU alarm and its
#                          recovery, a scale-out, a backup), taken with headless Chromium
# Run it when the notifier's rendering changes: the gallery's test
# (cargo test -p phoenix-ops-cli gallery) fails until docs/slack/index.html is regenerated.
# Needs: Rust (it builds phoenix-ops), Chromium with a colour emoji font
#   (Debian/Ubuntu: apt-get install chromium fonts-noto-color-emoji).
# Usage: scripts/gen-docs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "gen-docs: $*" >&2; exit 1; }
say() { echo "gen-docs: $*" >&2; }

bin="${PHOENIX_OPS_BIN:-}"
if [ -z "$bin" ]; then
  say "building phoenix-ops (debug; the first build takes 7–9 min on 2 cores)…"
  cargo build --locked -p phoenix-ops-cli
  bin="${CARGO_TARGET_DIR:-target}/debug/phoenix-ops"
fi
"$bin" gallery --out docs/slack

chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$chromium" ] || die "no Chromium to take the screenshots (Debian/Ubuntu: apt-get install chromium fonts-noto-color-emoji); docs/slack/index.html is up to date, the PNGs are not"
headless=("$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1)
width=760

# message id in the gallery → picture README embeds
shots=(
  "task-recovery-crash:crash"
  "sns-cloudwatch-alarm-cpu:cpu-alarm"
  "cloudwatch-alarm-cpu-ok:cpu-recovery"
  "request-scaler-scale-out:scale-out"
  "backup-done:backup"
)
for shot in "${shots[@]}"; do
  id=${shot%%:*} png="docs/slack/${shot##*:}.png"
  url="file://$PWD/docs/slack/index.html#only=$id"
  # The page measures the message and writes its height on <html data-height>.
  height=$("${headless[@]}" --window-size="$width,2000" --dump-dom "$url" 2>/dev/null \
    | sed -n 's/.*data-height="\([0-9]*\)".*/\1/p' | head -n 1)
  [[ "$height" =~ ^[0-9]+$ ]] || die "cannot measure #$id in docs/slack/index.html (is it in the gallery?)"
  "${headless[@]}" --window-size="$width,$height" --screenshot="$png" "$url" 2>/dev/null
  say "$png ($width×$height) ← #$id"
done
