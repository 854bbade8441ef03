#!/usr/bin/env bash
# Time apiscope's capture reader against tshark on the same generated capture.
#
# Usage: scripts/bench_vs_tshark.sh [FILE.pcap | SIZE]     (default SIZE 100M)
#   FILE      an existing capture (reused as is)
#   SIZE      generate /tmp/apiscope-bench-SIZE.pcap with ../shared/gen/gen_pcap.py (reused
#             when it exists), e.g. 100M or 1G
# Env:
#   TSHARK=0            skip tshark (it needs ~2.5 GiB RAM and minutes on 1G)
#   TSHARK_MODE=tree    tshark -q -z http,tree (default, tshark's fastest HTTP count)
#   TSHARK_MODE=fields  tshark -Y http.request -T fields -e http.request.method
#   APISCOPE=PATH       the apiscope binary (default: target/release/apiscope, built if needed)
#
# apiscope runs `flows FILE --summary` when the binary has it; otherwise the
# `capture_summary` example (same reader, same counting path: bodies not kept).
# Prints wall and CPU time, MB/s and requests/s per CPU second, peak RSS of each, then the
# ratios (on a shared machine CPU time is the steadier figure).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-100M}
# shellcheck source=scripts/bench_input.sh
. "$HERE/scripts/bench_input.sh"
bench_capture "$ARG"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
APISCOPE=${APISCOPE:-$CARGO_TARGET_DIR/release/apiscope}
(cd "$HERE" && cargo build --release --quiet --bin apiscope --example capture_summary) >&2
OURS=("$APISCOPE" flows "$FILE" --summary)
FALLBACK=("$CARGO_TARGET_DIR/release/examples/capture_summary" "$FILE")

# Warm the page cache so both tools read from memory.
cat "$FILE" > /dev/null

measure() { # label out-file command...
  local label=$1 out=$2; shift 2
  local tv; tv=$(mktemp)
  if ! /usr/bin/time -v -o "$tv" "$@" > "$out" 2>/dev/null; then rm -f "$tv"; return 1; fi
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$tv")
  rm -f "$tv"
  echo "$label $wall $rss $cpu"
}

OUT_OURS=$(mktemp); OUT_TS=$(mktemp)
trap 'rm -f "$OUT_OURS" "$OUT_TS"' EXIT
if R=$(measure apiscope "$OUT_OURS" "${OURS[@]}"); then :; else
  echo "(apiscope flows --summary not available yet: timing the capture_summary example, same reader)" >&2
  OURS=("${FALLBACK[@]}")
  R=$(measure apiscope "$OUT_OURS" "${OURS[@]}")
fi
read -r _ OW ORSS OCPU <<< "$R"
# The exchange count: the example prints "exchanges N"; flows --summary a line with "exchanges".
OREQ=$(grep -m1 -iE '(^| )exchanges' "$OUT_OURS" | grep -oE '[0-9]+' | head -1)
OREQ=${OREQ:-0}

printf 'file      %s (%d bytes)\n' "$FILE" "$BYTES"
printf 'apiscope  %-20s wall %8.3f s  cpu %8.3f s  %7.1f MB/s (cpu)  %9.0f req/s (cpu)  peak RSS %7.1f MiB  (%s exchanges)\n' \
  "$(basename "${OURS[0]}") ${OURS[1]:+${OURS[1]}}" "$OW" "$OCPU" "$(echo "$BYTES/$OCPU/1000000" | bc -l)" \
  "$(echo "$OREQ/$OCPU" | bc -l)" "$(echo "$ORSS/1024" | bc -l)" "$OREQ"

if [ "${TSHARK:-1}" = "0" ] || ! command -v tshark >/dev/null; then
  echo "tshark    skipped"
  exit 0
fi
if [ "${TSHARK_MODE:-tree}" = "fields" ]; then
  TS=(tshark -o tcp.reassemble_out_of_order:TRUE -r "$FILE" -Y http.request -T fields -e http.request.method)
else
  TS=(tshark -o tcp.reassemble_out_of_order:TRUE -q -r "$FILE" -z http,tree)
fi
R=$(measure tshark "$OUT_TS" "${TS[@]}")
read -r _ TW TRSS TCPU <<< "$R"
if [ "${TSHARK_MODE:-tree}" = "fields" ]; then
  TREQ=$(wc -l < "$OUT_TS")
else
  TREQ=$(awk '/HTTP Request Packets/ {print $4; exit}' "$OUT_TS")
fi
printf 'tshark    %-20s wall %8.3f s  cpu %8.3f s  %7.1f MB/s (cpu)  %9.0f req/s (cpu)  peak RSS %7.1f MiB  (%s requests)\n' \
  "${TSHARK_MODE:-tree}" "$TW" "$TCPU" "$(echo "$BYTES/$TCPU/1000000" | bc -l)" "$(echo "${TREQ:-0}/$TCPU" | bc -l)" \
  "$(echo "$TRSS/1024" | bc -l)" "${TREQ:-?}"
printf 'ratio     apiscope is %.1fx faster by wall time, %.1fx by CPU time, with %.1fx less memory\n' \
  "$(echo "$TW/$OW" | bc -l)" "$(echo "$TCPU/$OCPU" | bc -l)" "$(echo "$TRSS/$ORSS" | bc -l)"
