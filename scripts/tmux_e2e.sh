#!/usr/bin/env bash
# End-to-end check of the TUI in a real terminal (tmux): open the demo, filter, sort by
# duration, open a flow, search a body, export it as curl; then (demo) drill from a Gaps
# finding to exactly its flows, open a scanner's journey from Clients, check Endpoints
# recompute under `~c 5xx`; quit. Asserts on capture-pane
# text; exits non-zero on the first failure (printing the screen).
#
#   scripts/tmux_e2e.sh [path/to/apiscope]            # default: target/{release,debug}/apiscope
#   APISCOPE_E2E_INPUT=file.har scripts/tmux_e2e.sh   # another input instead of `demo`
#   APISCOPE_E2E_SEARCH=text                          # body text to search (default "symbol")
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-}
if [[ -z "$BIN" ]]; then
  for d in "${CARGO_TARGET_DIR:-$ROOT/target}"/release "${CARGO_TARGET_DIR:-$ROOT/target}"/debug; do
    if [[ -x "$d/apiscope" ]]; then BIN="$d/apiscope"; break; fi
  done
fi
[[ -x "$BIN" ]] || { echo "tmux_e2e: no apiscope binary (build first or pass its path)" >&2; exit 2; }
command -v tmux >/dev/null || { echo "tmux_e2e: tmux is not installed" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

SESSION="apiscope-e2e-$$"
WORK=$(mktemp -d)
SEARCH=${APISCOPE_E2E_SEARCH:-symbol}
if [[ -n "${APISCOPE_E2E_INPUT:-}" ]]; then
  ARGS=$(printf '%q' "$(cd "$(dirname "$APISCOPE_E2E_INPUT")" && pwd)/$(basename "$APISCOPE_E2E_INPUT")")
else
  ARGS=demo
fi
cleanup() { tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

screen() { tmux capture-pane -p -t "$SESSION" 2>/dev/null || true; }
fail() {
  echo "tmux_e2e: FAIL: $*" >&2
  echo "----- screen -----" >&2
  screen >&2
  exit 1
}
# wait_for REGEX [SECONDS]: poll the screen until it matches.
wait_for() {
  local re=$1 limit=${2:-20} i
  for ((i = 0; i < limit * 10; i++)); do
    if screen | grep -Eq -- "$re"; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for /$re/"
}
keys() { tmux send-keys -t "$SESSION" "$@"; }
step() { echo "tmux_e2e: $*"; }

step "start $BIN $ARGS"
tmux new-session -d -s "$SESSION" -x 160 -y 48 -c "$WORK" \
  "NO_COLOR= TERM=xterm-256color $BIN $ARGS; echo APISCOPE_EXIT=\$?; sleep 60"

wait_for 'loaded [0-9]+ flows|loading stopped' 120
TOTAL=$(screen | grep -Eo 'loaded [0-9]+ flows' | grep -Eo '[0-9]+' | head -1)
[[ "${TOTAL:-0}" -gt 0 ]] || fail "no flows loaded"
step "loaded $TOTAL flows"

step "filter: GET requests with a 2xx response"
keys f
keys -l '~m GET & ~c 2xx'
wait_for 'filter: ~m GET & ~c 2xx +✓'
keys Enter
wait_for '[0-9]+ of [0-9]+ flows match'
SHOWN=$(screen | grep -Eo '[0-9]+ of [0-9]+ flows match' | head -1 | cut -d' ' -f1)
[[ "$SHOWN" -gt 0 && "$SHOWN" -le "$TOTAL" ]] || fail "filter showed $SHOWN of $TOTAL"
screen | grep -Eq "$SHOWN/$TOTAL flows" || fail "title does not show $SHOWN/$TOTAL flows"
# every shown row is a GET with a 2xx code
ROWS=$(screen | sed -n '3,46p' | grep -E '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}' || true)
[[ -n "$ROWS" ]] || fail "no rows shown"
if echo "$ROWS" | grep -Ev ' GET +' | grep -q .; then fail "a non-GET row is shown"; fi
if echo "$ROWS" | grep -Ev ' 2[0-9]{2} ' | grep -q .; then fail "a non-2xx row is shown"; fi

step "sort by duration, slowest first"
for _ in $(seq 1 12); do
  if screen | head -1 | grep -q 'dur ▲'; then break; fi
  keys o
  sleep 0.15
done
screen | head -1 | grep -q 'dur ▲' || fail "could not order by duration"
keys v
wait_for 'dur ▼'
# durations in the first two rows are non-increasing (compare as displayed units)
to_ns() { python3 -c "import re,sys
s=sys.argv[1]; m=re.fullmatch(r'(\d+)m(\d+)s',s)
if m: print(int(m[1])*60e9+int(m[2])*1e9); sys.exit()
n,u=re.fullmatch(r'([\d.]+)(µs|ms|s)',s).groups(); print(float(n)*{'µs':1e3,'ms':1e6,'s':1e9}[u])" "$1"; }
D1=$(screen | sed -n '3p' | awk '{print $NF}')
D2=$(screen | sed -n '4p' | awk '{print $NF}')
if [[ "$D1" != - && "$D2" != - ]]; then
  python3 -c "import sys; sys.exit(0 if float('$(to_ns "$D1")') >= float('$(to_ns "$D2")') else 1)" \
    || fail "not sorted by duration: $D1 before $D2"
fi

step "open the slowest flow"
keys Enter
wait_for ' Request +Response +Timing +Raw +Diagnostics'
wait_for '→ [0-9]{3} '
keys Tab
wait_for 'HTTP/1\.[01] [0-9]{3}'
keys q
wait_for '│ dur ▼'

step "search bodies for \"$SEARCH\""
keys /
keys -l "$SEARCH"
keys Enter
sleep 0.3
screen | grep -q 'no flow contains' && fail "search found nothing"
keys Enter
wait_for ' Request +Response'
screen | sed -n '4,47p' | grep -qi -- "$SEARCH" || fail "the opened flow does not show \"$SEARCH\""
# the hit is highlighted (reverse/underline with NO_COLOR unset: yellow background)
tmux capture-pane -e -p -t "$SESSION" | grep -Eq $'\e\\[([0-9;]*;)?(43|48;5;3|48;5;11|7)m' || fail "search hit not highlighted"
keys n
sleep 0.2

step "export the flow as curl"
keys x
wait_for ' export '
wait_for '› curl'
keys Enter
wait_for 'exported 1 flow\(s\) as curl to '
EXPORT=$(ls "$WORK"/apiscope-export-*.sh 2>/dev/null | head -1)
[[ -n "$EXPORT" && -s "$EXPORT" ]] || fail "no export file in $WORK"
grep -q '^curl ' "$EXPORT" || grep -q 'curl ' "$EXPORT" || fail "export is not curl: $(head -3 "$EXPORT")"
step "wrote $(basename "$EXPORT"): $(grep -m1 curl "$EXPORT" | cut -c1-100)"

if [[ "$ARGS" == demo ]]; then
  # ---- insight views (issue 8): Gaps drill-down, a scanner's journey, Endpoints under a filter
  clear_filter() {
    keys f
    tmux send-keys -t "$SESSION" -N 60 BSpace
    keys Enter
    sleep 0.3
  }
  keys q
  sleep 0.2
  clear_filter

  step "gaps: focus an undocumented-path finding"
  keys 2
  wait_for 'findings \([0-9]+ error' 60
  for _ in $(seq 1 60); do
    if screen | grep -Eq '^Undocumented endpoint [A-Z]+ /'; then break; fi
    keys j
    sleep 0.1
  done
  FOCUS=$(screen | grep -Eo '^Undocumented endpoint [A-Z]+ [^ ]+' | head -1 | sed 's/^Undocumented endpoint //' || true)
  [[ -n "$FOCUS" ]] || fail "no undocumented-path finding in Gaps"
  FPATH=${FOCUS#* }
  COUNT=$(screen | grep -E "^[A-Z]+ +Undocumented endpoint +${FOCUS//./\\.} " | head -1 | awk '{print $6}' || true)
  [[ "${COUNT:-0}" -gt 0 ]] || fail "no count for finding $FOCUS"
  step "drill into \"$FOCUS\" ($COUNT exchanges)"
  keys Enter
  wait_for "$COUNT/$TOTAL flows" 20
  ROWS=$(screen | sed -n '3,46p' | grep -E '[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}' || true)
  [[ $(echo "$ROWS" | grep -c .) -eq "$COUNT" ]] || fail "Flows shows $(echo "$ROWS" | grep -c .) rows, the finding has $COUNT"
  if echo "$ROWS" | grep -Fv -- "$FPATH" | grep -q .; then fail "a shown flow is not on $FPATH"; fi

  step "clients (only those behind the finding): the top one's journey"
  keys 4
  wait_for 'computed in' 60
  keys J
  wait_for 'journey of ' 20
  screen | grep -Fq -- "$FPATH" || fail "the journey does not show the scanner's call to $FPATH"
  screen | grep -Eq 'session 1: [0-9]+ calls' || fail "no sessions in the journey"
  keys q
  sleep 0.2

  step "endpoints: numbers follow the filter (all flows, then only 5xx)"
  clear_filter
  keys 3
  wait_for "^ *$TOTAL flows · computed in" 60
  keys f
  keys -l '~c 5xx'
  keys Enter
  wait_for '^ *[0-9]+ flows · computed in.*filter: ~c 5xx' 60
  # the count line follows the background recomputation: poll until it reflects the filter
  N5=$TOTAL
  for _ in $(seq 1 300); do
    N5=$(screen | grep -E 'filter: ~c 5xx' | grep -Eo '^ *[0-9]+ flows · computed' | grep -Eo '[0-9]+' | head -1 || true)
    [[ -n "$N5" && "$N5" -lt "$TOTAL" ]] && break
    sleep 0.1
  done
  [[ "$N5" -gt 0 && "$N5" -lt "$TOTAL" ]] || fail "Endpoints did not recompute for ~c 5xx ($N5 of $TOTAL)"
  step "endpoints recomputed for $N5 of $TOTAL flows"
  keys 1
  sleep 0.2
fi

step "quit"
keys Q
wait_for 'APISCOPE_EXIT=0' 10
# terminal restored: the shell line is on the normal screen, no leftover TUI bars
screen | grep -q ' apiscope  Flows ' && fail "terminal not restored after quit"
step "PASS"
