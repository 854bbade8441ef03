#!/bin/bash
# `apiscope compare` on two captures against two `apiscope stats` runs on the same files.
# Usage: scripts/bench_compare.sh [SIZE]   (default 100M; generates the pair once into
# /tmp/apiscope-bench-cmp-SIZE-{a,b}.pcap: seed 5, and seed 6 with --regress portfolio:3:0.05)
# APISCOPE=PATH picks the binary (default target/release/apiscope or $CARGO_TARGET_DIR's);
# RUNS=N repeats each (default 3) and prints every run: wall s, CPU s (user+sys), peak RSS MiB.
set -eu
SIZE=${1:-100M}
R=$(cd "$(dirname "$0")/.." && pwd)
GEN=${APISCOPE_SHARED:-$R/../shared}/gen/gen_pcap.py
BIN=${APISCOPE:-${CARGO_TARGET_DIR:-$R/target}/release/apiscope}
RUNS=${RUNS:-3}
A=/tmp/apiscope-bench-cmp-$SIZE-a.pcap
B=/tmp/apiscope-bench-cmp-$SIZE-b.pcap
[ -e "$A" ] || python3 "$GEN" --bytes "$SIZE" --seed 5 -o "$A" >/dev/null
[ -e "$B" ] || python3 "$GEN" --bytes "$SIZE" --seed 6 --regress portfolio:3:0.05 -o "$B" >/dev/null
cat "$A" "$B" >/dev/null   # page cache
measure() {
  local label=$1; shift
  local tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >/dev/null 2>&1 || true
  tail -1 "$tf" | awk -v l="$label" '{printf "%-28s wall %6.2f s  cpu %6.2f s  rss %6.1f MiB\n", l, $1, $2+$3, $4/1024}'
  rm -f "$tf"
}
echo "inputs: $(du -hL "$A" | cut -f1) + $(du -hL "$B" | cut -f1); binary: $BIN; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
  measure "stats A" "$BIN" stats "$A"
  measure "stats B" "$BIN" stats "$B"
  measure "compare A --against B" "$BIN" compare "$A" --against "$B"
done
