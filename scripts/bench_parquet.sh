#!/usr/bin/env bash
# Parquet write throughput: `flows --format parquet` against `flows --summary` on the same
# capture in the same run (wall and CPU time, MB/s of input, peak RSS, output size).
#
#   scripts/bench_parquet.sh [FILE | SIZE]     SIZE such as 100M or 1G (default 1G)
#
# A SIZE generates /tmp/apiscope-bench-SIZE.pcap with the project's generator (reused when it
# is there; KEEP=0 deletes it at the end). APISCOPE=PATH picks the binary (default: the
# release build); RUNS=N repeats each measurement and keeps the best wall time (default 3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-1G}
runs=${RUNS:-3}
bin=${APISCOPE:-${CARGO_TARGET_DIR:-$root/target}/release/apiscope}
gen=${APISCOPE_SHARED:-$root/../shared}/gen/gen_pcap.py

if [[ -f $arg ]]; then
  input=$arg
else
  input=/tmp/apiscope-bench-$arg.pcap
  if [[ ! -f $input ]]; then
    echo "generating $input ($arg) …" >&2
    python3 "$gen" --bytes "$arg" -o "$input" >&2
  fi
fi
[[ -x $bin ]] || { echo "no binary at $bin (cargo build --release, or set APISCOPE)" >&2; exit 2; }
size=$(stat -c %s "$input")
out=$(mktemp -d /tmp/apiscope-parquet-XXXXXX)
cleanup() {
  rm -rf "$out"
  if [[ ${KEEP:-1} == 0 && ! -f $arg ]]; then rm -f "$input"; fi
}
trap cleanup EXIT

# measure NAME CMD…: best wall time of $runs runs, with that run's CPU time and peak RSS.
measure() {
  local name=$1; shift
  local best="" line
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$out/time" -f '%e %U %S %M' "$@" >/dev/null 2>/dev/null
    line=$(tail -1 "$out/time")
    if [[ -z $best ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then best=$line; fi
  done
  read -r wall user sys rss <<<"$best"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v b="$size" 'BEGIN{
    printf "%-34s wall %6.2f s  cpu %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", n, w, u+s, b/1e6/w, r/1024 }'
}

echo "input: $input ($(awk -v b="$size" 'BEGIN{printf "%.0f MB", b/1e6}')), binary: $bin, best of $runs"
measure "flows --summary" "$bin" flows "$input" --summary
measure "flows --format parquet (file)" "$bin" flows "$input" --format parquet -o "$out/flows.parquet"
measure "flows --format parquet --bodies hash" "$bin" flows "$input" --format parquet --bodies hash -o "$out/hash.parquet"
measure "flows --format parquet (hour parts)" "$bin" flows "$input" --format parquet --partition-by hour -o "$out/ds/"
rows=$("$bin" flows "$input" --summary --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["exchanges"])')
echo "rows: $rows; Parquet file: $(du -m "$out/flows.parquet" | cut -f1) MiB ($(du -m "$out/hash.parquet" | cut -f1) MiB with body hashes)"
