#!/usr/bin/env bash
# Render real runs of the TUI to PNG: drive `apiscope demo` in tmux, capture each scene with
# colours (capture-pane -e), convert to HTML (scripts/ansi2html.py) and screenshot it with
# headless Chromium. Output: screenshots/*.png (and the .html next to them in a temp dir).
#
#   scripts/screenshots.sh [path/to/apiscope]    # needs tmux, python3, chromium
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-}
if [[ -z "$BIN" ]]; then
  for d in "${CARGO_TARGET_DIR:-$ROOT/target}"/release "${CARGO_TARGET_DIR:-$ROOT/target}"/debug; do
    if [[ -x "$d/apiscope" ]]; then BIN="$d/apiscope"; break; fi
  done
fi
[[ -x "$BIN" ]] || { echo "screenshots: no apiscope binary (build first or pass its path)" >&2; exit 2; }
BIN=$(realpath "$BIN") # the TUI runs in a scratch directory
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$CHROME" ]] || { echo "screenshots: chromium not found (apt-get install chromium)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "screenshots: tmux not found" >&2; exit 2; }

COLS=150
ROWS=40
OUT="$ROOT/screenshots"
WORK=$(mktemp -d)
SESSION="apiscope-shots-$$"
mkdir -p "$OUT"
cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.4; }
wait_for() {
  local re=$1 i
  for ((i = 0; i < 1200; i++)); do
    if tmux capture-pane -p -t "$SESSION" | grep -Eq -- "$re"; then return 0; fi
    sleep 0.1
  done
  echo "screenshots: timed out waiting for /$re/" >&2
  tmux capture-pane -p -t "$SESSION" >&2
  exit 1
}
shot() {
  local name=$1 title=$2
  sleep 0.3
  tmux capture-pane -e -p -t "$SESSION" > "$WORK/$name.ansi"
  python3 "$ROOT/scripts/ansi2html.py" "$WORK/$name.ansi" "$WORK/$name.html" --title "$title" --cols "$COLS"
  # 8.45 px per column and 17.5 px per row at 14px DejaVu Sans Mono, plus padding
  local w=$((COLS * 845 / 100 + 24)) h=$((ROWS * 35 / 2 + 20))
  "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$w,$h" --screenshot="$OUT/$name.png" "file://$WORK/$name.html" >/dev/null 2>&1
  echo "screenshots: $OUT/$name.png"
}

tmux new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" -c "$WORK" "TERM=xterm-256color $BIN demo; sleep 60"
wait_for 'loaded [0-9]+ flows'
shot flows "apiscope: flows"

keys f
tmux send-keys -t "$SESSION" -l '~c >=400 & ~zz'
shot filter-error "apiscope: live filter error"
keys Escape
keys f
tmux send-keys -t "$SESSION" -l '~c >=400 | ~dur >500ms'
keys Enter
for _ in $(seq 1 12); do
  if tmux capture-pane -p -t "$SESSION" | head -1 | grep -q 'dur ▲'; then break; fi
  keys o
done
keys v
keys g
shot flows-filtered "apiscope: filtered, slowest first"

keys F
keys g
keys /
tmux send-keys -t "$SESSION" -l 'limit_price'
keys Enter
keys Enter
shot detail-request "apiscope: flow detail, request"
keys Tab
shot detail-response "apiscope: flow detail, response"
keys Tab
shot detail-timing "apiscope: flow detail, timing"
keys q

keys m
keys j
keys j
keys m
keys =
shot diff "apiscope: diff of two flows"
keys q
keys x
shot export "apiscope: export dialog"
keys Escape
keys '?'
shot help "apiscope: keys"
keys Escape
keys Q

# The insight views (Gaps, Endpoints, Clients, Structure, a journey) on a fresh demo run.
tmux kill-session -t "$SESSION" 2>/dev/null || true
tmux new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" -c "$WORK" "TERM=xterm-256color $BIN demo; sleep 60"
wait_for 'loaded [0-9]+ flows'
keys 2
wait_for 'findings'
shot gaps "apiscope: contract gaps"
keys 3
wait_for 'computed in'
shot endpoints "apiscope: endpoint KPIs"
keys 4
wait_for 'computed in'
shot clients "apiscope: clients and abusers"
keys J
shot journey "apiscope: one client's journey"
keys q
keys 5
wait_for 'computed in'
shot structure "apiscope: structure"
keys Q

