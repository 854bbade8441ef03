#!/usr/bin/env bash
# Peak memory (max RSS) and time of `flows --summary` and `stats` on the hostile inputs made by
# scripts/hostile_inputs.py: a SYN flood, a flood of `100 Continue`, a HAR of empty entries and
# decompression bombs. Target: every run under 256 MiB.
#
#   scripts/hostile_memory.sh [BINARY] [OUTDIR] [SCALE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/apiscope}
dir=${2:-$here/../bench-data/hostile}
scale=${3:-1}
[ -f "$dir/bombs.pcap" ] || python3 "$here/hostile_inputs.py" "$dir" --scale "$scale"
printf '%-20s %-16s %10s %8s %s\n' input command max_rss_MiB seconds exit
for f in synflood.pcap continue.pcap empty-entries.har bombs.pcap; do
  for cmd in "flows --summary" "stats"; do
    set +e
    /usr/bin/time -o "$dir/.time" -f '%M %e' "$bin" $cmd "$dir/$f" >/dev/null 2>&1
    code=$?
    set -e
    read -r kb secs < <(tail -1 "$dir/.time")
    printf '%-20s %-16s %10.1f %8s %s\n' "$f" "$cmd" "$((kb / 1024))" "$secs" "$code"
  done
done
