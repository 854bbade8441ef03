#!/usr/bin/env bash
# End-to-end check of going back and keeping the user's work, in a real terminal (tmux, on a
# private server socket): on the demo, Gaps → enter (its flows) → enter (a flow) → q → q
# lands on Gaps with the same finding focused; a mark makes `q` at the top ask before
# quitting (n stays, y quits); the mark is there again after a restart; an invalid filter
# stays in the prompt and esc never quits; the help lists every filter term (g/G reach its
# ends); Tab completes a filter term and `~flag scanner` keeps the flows `apiscope flows
# --filter` keeps; `D` orders slowest first; on Clients `a` shows the flagged clients only and
# the detail gives the pattern's explanation. Runs at the size given (default 160x48).
#
#   scripts/tmux_nav_e2e.sh [path/to/apiscope] [COLSxROWS]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-}
SIZE=${2:-160x48}
if [[ -z "$BIN" ]]; then
  for d in "${CARGO_TARGET_DIR:-$ROOT/target}"/release "${CARGO_TARGET_DIR:-$ROOT/target}"/debug; do
    if [[ -x "$d/apiscope" ]]; then BIN="$d/apiscope"; break; fi
  done
fi
[[ -x "$BIN" ]] || { echo "tmux_nav_e2e: no apiscope binary (build first or pass its path)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux_nav_e2e: tmux is not installed" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
COLS=${SIZE%x*}
ROWS=${SIZE#*x}

SOCK="apiscope-nav-$$"
T() { tmux -L "$SOCK" "$@"; }
WORK=$(mktemp -d)
mkdir -p "$WORK/config"
cleanup() { T kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

RUN=0
screen() { T capture-pane -p -t "nav$RUN" 2>/dev/null || true; }
fail() {
  echo "tmux_nav_e2e: FAIL ($SIZE): $*" >&2
  echo "----- screen -----" >&2
  screen >&2
  exit 1
}
wait_for() {
  local re=$1 limit=${2:-20} i
  for ((i = 0; i < limit * 10; i++)); do
    if screen | grep -Eq -- "$re"; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for /$re/"
}
keys() { T send-keys -t "nav$RUN" "$@"; }
step() { echo "tmux_nav_e2e ($SIZE): $*"; }
start() {
  RUN=$((RUN + 1))
  T new-session -d -s "nav$RUN" -x "$COLS" -y "$ROWS" -c "$WORK" \
    "APISCOPE_CONFIG_DIR=$WORK/config NO_COLOR=1 TERM=xterm-256color $BIN demo; echo APISCOPE_EXIT=\$?; sleep 60"
  wait_for 'loaded [0-9]+ flows' 120
}
# The title of the focused Gaps finding (the first line of the lower pane).
focused_finding() { screen | grep -A1 -E '^observed─' | sed -n 2p | cut -c1-$((COLS / 2 - 2)) | sed 's/ *$//'; }

step "start the demo"
start

step "gaps: focus the fourth finding"
keys 2
wait_for 'findings \([0-9]+ error' 90
wait_for '^ *[0-9]+ flows · computed in' 90
keys j j j
sleep 0.3
BEFORE=$(focused_finding)
[[ -n "$BEFORE" ]] || fail "no focused finding"
step "focused: $BEFORE"

step "drill down, open a flow, back, back"
keys Enter
wait_for '[0-9]+/[0-9]+ flows' 20
keys Enter
wait_for 'Request +Response' 10
keys q
wait_for '│ time ▲' 10
screen | grep -q 'Request   Response' && fail "the flow did not close"
keys q
wait_for 'findings \([0-9]+ error' 90
wait_for '^ *[0-9]+ flows · computed in' 90
sleep 0.3
AFTER=$(focused_finding)
[[ "$AFTER" == "$BEFORE" ]] || fail "back on Gaps with \"$AFTER\" focused, not \"$BEFORE\""
screen | grep -q 'APISCOPE_EXIT' && fail "the app quit"

step "an invalid filter stays in the prompt; esc never quits"
keys f
keys -l '~c 200 & ('
keys Enter
sleep 0.3
screen | grep -Eq '^filter: ~c 200 & \(' || fail "the invalid filter left the prompt"
keys Escape
sleep 0.3
keys Escape
sleep 0.5
screen | grep -q 'APISCOPE_EXIT' && fail "esc after a filter error quit"

step "mark a flow; q at the top asks first"
keys 1
wait_for '│ time ▲' 10
keys m
sleep 0.3
for _ in 1 2 3 4 5 6; do
  screen | grep -q 'quit apiscope?' && break
  screen | grep -q 'APISCOPE_EXIT' && fail "quit without asking"
  keys q
  sleep 0.4
done
wait_for 'quit apiscope\?' 5
screen | grep -q '1 mark' || fail "the question does not name the mark"
keys n
sleep 0.3
screen | grep -q 'quit apiscope?' && fail "n did not close the question"
screen | grep -q 'APISCOPE_EXIT' && fail "n quit"
keys q
wait_for 'quit apiscope\?' 5
keys y
wait_for 'APISCOPE_EXIT=0' 10

step "restart: the mark is back"
start
wait_for '1 marks/comments from last time' 5
keys M
wait_for '1/[0-9]+ flows' 10
keys M
wait_for ' 2008 flows │' 10

step "help lists every filter term, g/G reach its ends"
keys '?'
wait_for 'keys and filter terms' 5
keys G
wait_for '~websocket +WebSocket upgrade' 5
wait_for 'APISCOPE_KEYS' 5
keys g
wait_for 'flows \(here\)' 5
keys q
sleep 0.3
screen | grep -q 'keys and filter terms' && fail "q did not close the help"

step "tab completes a filter term; ~flag scanner keeps what the CLI keeps"
WANT=$("$BIN" flows "$ROOT/fixtures/demo.pcap.gz" --spec "$ROOT/fixtures/trading-api.openapi.yaml" --summary \
  --filter '~flag scanner' 2>/dev/null | sed -nE 's/^exchanges +([0-9]+) matching the filter.*/\1/p')
[[ -n "$WANT" && "$WANT" -gt 0 ]] || fail "the CLI kept no flow for ~flag scanner"
keys f
keys -l '~fla'
keys Tab
wait_for '^filter: ~flag ' 5
keys -l 'scanner'
keys Enter
wait_for " $WANT/2008 flows" 60

step "D orders slowest first"
keys D
wait_for 'dur ▼' 5
keys F
wait_for ' 2008 flows │' 10

step "clients: a shows the flagged clients only, with the pattern's explanation"
keys 4
wait_for '^ *[0-9]+ flows · computed in' 90
keys a
wait_for 'flagged clients only' 5
keys G
wait_for 'scanner: sent [0-9]+ request' 5
keys g
sleep 0.3
screen | grep -q 'scanner: sent' && fail "g did not go back to the first client"
keys a
wait_for 'all clients' 5
keys Q
wait_for 'APISCOPE_EXIT=0' 10
step "PASS"
