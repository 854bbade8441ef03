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
# Prints wall time, MB/s, requests/s and peak RSS of each, then the ratio.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-100M}
SHARED=""
for d in "$HERE/../shared" "$HERE/../../shared" "${APISCOPE_SHARED:-/nonexistent}"; do
  if [ -f "$d/gen/gen_pcap.py" ]; then SHARED=$(cd "$d" && pwd); break; fi
done

if [ -f "$ARG" ]; then
  FILE=$ARG
else
  FILE=/tmp/apiscope-bench-$ARG.pcap
  if [ ! -f "$FILE" ]; then
    [ -n "$SHARED" ] || { echo "no ../shared/gen/gen_pcap.py to generate $ARG" >&2; exit 2; }
    echo "generating $FILE ($ARG) ..." >&2
    python3 "$SHARED/gen/gen_pcap.py" --bytes "$ARG" -o "$FILE" >&2
  fi
fi
BYTES=$(stat -c %s "$FILE")

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
APISCOPE=${APISCOPE:-$CARGO_TARGET_DIR/release/apiscope}
(cd "$HERE" && cargo build --release --quiet --bin apiscope --example capture_summary) >&2
if "$APISCOPE" flows --help 2>/dev/null | grep -q -- '--summary'; then
  OURS=("$APISCOPE" flows "$FILE" --summary)
else
  OURS=("$CARGO_TARGET_DIR/release/examples/capture_summary" "$FILE")
fi

# Warm the page cache so both tools read from memory.
cat "$FILE" > /dev/null

measure() { # label out-file command...
  local label=$1 out=$2; shift 2
  local tv; tv=$(mktemp)
  /usr/bin/time -v -o "$tv" "$@" > "$out" 2>/dev/null
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  rm -f "$tv"
  echo "$label $wall $rss"
}

OUT_OURS=$(mktemp); OUT_TS=$(mktemp)
trap 'rm -f "$OUT_OURS" "$OUT_TS"' EXIT
read -r _ OW ORSS < <(measure apiscope "$OUT_OURS" "${OURS[@]}")
OREQ=$(awk '$1=="exchanges" {print $2} /^[A-Za-z]+ +exchanges/ {print $NF}' "$OUT_OURS" | head -1)
OREQ=${OREQ:-0}

printf 'file      %s (%d bytes)\n' "$FILE" "$BYTES"
printf 'apiscope  %-45s %8.3f s %9.1f MB/s %10.0f req/s  peak RSS %6.1f MiB  (%s exchanges)\n' \
  "$(basename "${OURS[0]}") ${OURS[1]:+${OURS[1]}}" "$OW" "$(echo "$BYTES/$OW/1000000" | bc -l)" \
  "$(echo "$OREQ/$OW" | bc -l)" "$(echo "$ORSS/1024" | bc -l)" "$OREQ"

if [ "${TSHARK:-1}" = "0" ] || ! command -v tshark >/dev/null; then
  echo "tshark    skipped"
  exit 0
fi
if [ "${TSHARK_MODE:-tree}" = "fields" ]; then
  TS=(tshark -o tcp.reassemble_out_of_order:TRUE -r "$FILE" -Y http.request -T fields -e http.request.method)
else
  TS=(tshark -o tcp.reassemble_out_of_order:TRUE -q -r "$FILE" -z http,tree)
fi
read -r _ TW TRSS < <(measure tshark "$OUT_TS" "${TS[@]}")
if [ "${TSHARK_MODE:-tree}" = "fields" ]; then
  TREQ=$(wc -l < "$OUT_TS")
else
  TREQ=$(awk '/Total HTTP Packets/ {print $4; exit}' "$OUT_TS")
  TREQ=$(awk '/^ *Total HTTP Packets/ {print $4} /^ *HTTP Request Packets/ {print $4}' "$OUT_TS" | tail -1)
fi
printf 'tshark    %-45s %8.3f s %9.1f MB/s %10.0f req/s  peak RSS %6.1f MiB  (%s requests)\n' \
  "${TSHARK_MODE:-tree}" "$TW" "$(echo "$BYTES/$TW/1000000" | bc -l)" "$(echo "${TREQ:-0}/$TW" | bc -l)" \
  "$(echo "$TRSS/1024" | bc -l)" "${TREQ:-?}"
printf 'ratio     apiscope is %.1fx faster, with %.1fx less memory\n' \
  "$(echo "$TW/$OW" | bc -l)" "$(echo "$TRSS/$ORSS" | bc -l)"
