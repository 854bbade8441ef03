#!/usr/bin/env bash
# apiscope on one thread and on every core, side by side with tshark, in one run.
#
# Usage: scripts/bench_cores.sh [FILE.pcap | SIZE]      (default SIZE 1G)
#   FILE   an existing capture (reused as is)
#   SIZE   generate /tmp/apiscope-bench-SIZE.pcap with ../shared/gen/gen_pcap.py (reused when
#          it exists; never inside the repository)
# Env:
#   THREADS=N     the many-threads runs use --threads N (default: the machine's cores)
#   TSHARK=0      skip tshark (about 2.5 GiB and two minutes on 1G)
#   TUI=0         skip the TUI figures (full load, body search)
#   APISCOPE=PATH the apiscope binary (default: $CARGO_TARGET_DIR/release/apiscope, built)
#
# Each command runs under /usr/bin/time -o (wall, user + system CPU, peak RSS). It prints one
# line per run, the ratios, and checks that `flows --format ndjson` and `stats --format json`
# are byte-identical on one thread and on many.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-1G}
# shellcheck source=scripts/bench_input.sh
. "$HERE/scripts/bench_input.sh"
bench_capture "$ARG"
NPROC=$(nproc)
THREADS=${THREADS:-$NPROC}

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
APISCOPE=${APISCOPE:-$CARGO_TARGET_DIR/release/apiscope}
(cd "$HERE" && cargo build --release --quiet --bin apiscope) >&2
if [ "${TUI:-1}" != "0" ]; then
  (cd "$HERE" && cargo build --release --quiet --example tui_figures) >&2
fi
cat "$FILE" > /dev/null

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run LABEL OUT command... → "LABEL wall cpu rss_mib"
run() {
  local label=$1 out=$2; shift 2
  /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$@" > "$out" 2>/dev/null || { echo "$label failed" >&2; return 1; }
  read -r wall user sys rss < "$TMP/time"
  local cpu; cpu=$(echo "$user + $sys" | bc -l)
  printf '%-34s wall %7.2f s  cpu %7.2f s  %7.0f MB/s (wall)  peak RSS %6.1f MiB\n' \
    "$label" "$wall" "$cpu" "$(echo "$BYTES / $wall / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  echo "$wall" > "$TMP/$label.wall"
}

echo "file $FILE ($BYTES bytes), $NPROC cores, many = --threads $THREADS, load $(cut -d' ' -f1-3 /proc/loadavg)"
run summary-1 "$TMP/s1" "$APISCOPE" flows "$FILE" --summary --threads 1
run summary-N "$TMP/sN" "$APISCOPE" flows "$FILE" --summary --threads "$THREADS"
run stats-1 "$TMP/st1" "$APISCOPE" stats "$FILE" --format json --threads 1
run stats-N "$TMP/stN" "$APISCOPE" stats "$FILE" --format json --threads "$THREADS"
cmp -s "$TMP/s1" "$TMP/sN" && echo "flows --summary: identical" || echo "flows --summary: DIFFERENT"
cmp -s "$TMP/st1" "$TMP/stN" && echo "stats --format json: identical" || echo "stats --format json: DIFFERENT"
"$APISCOPE" flows "$FILE" --format ndjson --threads 1 > "$TMP/n1" 2>/dev/null
"$APISCOPE" flows "$FILE" --format ndjson --threads "$THREADS" > "$TMP/nN" 2>/dev/null
cmp -s "$TMP/n1" "$TMP/nN" && echo "flows --format ndjson: identical ($(wc -l < "$TMP/n1") lines)" \
  || echo "flows --format ndjson: DIFFERENT"

if [ "${TUI:-1}" != "0" ]; then
  for t in 1 "$THREADS"; do
    echo "TUI, --threads $t:"
    APISCOPE_THREADS=$t "$CARGO_TARGET_DIR/release/examples/tui_figures" "$FILE" 2>/dev/null \
      | grep -E '^(full load|search|after load)' | sed 's/^/  /'
  done
fi

if [ "${TSHARK:-1}" != "0" ] && command -v tshark >/dev/null; then
  run tshark "$TMP/ts" tshark -o tcp.reassemble_out_of_order:TRUE -q -r "$FILE" -z http,tree
  printf 'ratio: flows --summary on %s threads is %.0fx tshark by wall time\n' "$THREADS" \
    "$(echo "$(cat "$TMP/tshark.wall") / $(cat "$TMP/summary-N.wall")" | bc -l)"
fi
printf 'ratio: stats / flows --summary on %s threads: %.2f\n' "$THREADS" \
  "$(echo "$(cat "$TMP/stats-N.wall") / $(cat "$TMP/summary-N.wall")" | bc -l)"
