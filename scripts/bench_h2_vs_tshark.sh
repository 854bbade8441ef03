#!/usr/bin/env bash
# Time apiscope's HTTP/2 reading against tshark's HTTP/2 dissector on a generated h2c capture.
#
# Usage: scripts/bench_h2_vs_tshark.sh [FILE.pcap | SIZE]     (default SIZE 100M)
#   FILE      an existing h2c capture made by scripts/gen_h2c_pcap.py (port 8080)
#   SIZE      generate /tmp/apiscope-h2c-SIZE.pcap with scripts/gen_h2c_pcap.py (reused)
# Env:
#   TSHARK=0            skip tshark
#   APISCOPE=PATH       the apiscope binary (default: target/release/apiscope, built if needed)
#
# apiscope runs `flows FILE --summary`; tshark runs `-d tcp.port==8080,http2 -Y
# http2.headers.method -T fields -e http2.headers.method` (every frame dissected, HPACK
# decoded, one method printed per request). Prints wall and
# CPU seconds, peak RSS, MB/s and exchanges/s per CPU second for both, and checks that both
# saw every request of the truth file.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-100M}
if [ -f "$ARG" ]; then
  FILE=$ARG
else
  FILE=/tmp/apiscope-h2c-$ARG.pcap
  [ -f "$FILE" ] || python3 "$HERE/scripts/gen_h2c_pcap.py" --bytes "$ARG" -o "$FILE" >&2
fi
BYTES=$(stat -c %s "$FILE")
REQUESTS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$FILE.truth.json")

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
APISCOPE=${APISCOPE:-$CARGO_TARGET_DIR/release/apiscope}
[ -x "$APISCOPE" ] || (cd "$HERE" && cargo build --release --quiet --bin apiscope) >&2
cat "$FILE" > /dev/null

measure() { # label out-file command...
  local label=$1 out=$2; shift 2
  local tv; tv=$(mktemp)
  /usr/bin/time -v -o "$tv" "$@" > "$out" 2>/dev/null || { rm -f "$tv"; return 1; }
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$tv")
  rm -f "$tv"
  echo "$label $wall $rss $cpu"
}
report() { # label wall rss cpu exchanges
  awk -v l="$1" -v w="$2" -v r="$3" -v c="$4" -v n="$5" -v b="$BYTES" 'BEGIN {
    printf "%-9s wall %7.2f s  cpu %7.2f s  rss %6.0f MiB  %7.1f MB/s  %9.0f exchanges/s  (%d exchanges)\n",
      l, w, c, r / 1024, b / 1e6 / c, n / c, n }'
}

OUT=$(mktemp); trap 'rm -f "$OUT"' EXIT
echo "file $FILE: $((BYTES / 1000000)) MB, $REQUESTS requests (truth)"
read -r _ w r c < <(measure apiscope "$OUT" "$APISCOPE" flows "$FILE" --summary)
n=$(awk '/^exchanges/ {print $2; exit}' "$OUT")
report apiscope "$w" "$r" "$c" "$n"
[ "$n" = "$REQUESTS" ] || echo "apiscope: $n exchanges, truth says $REQUESTS" >&2
if [ "${TSHARK:-1}" != 0 ]; then
  read -r _ w r c < <(measure tshark "$OUT" tshark -r "$FILE" -d tcp.port==8080,http2 -Y 'http2.headers.method' -T fields -e http2.headers.method)
  n=$(tr ',' '\n' < "$OUT" | awk 'NF {c++} END {print c + 0}')
  report tshark "$w" "$r" "$c" "$n"
  [ "$n" = "$REQUESTS" ] || echo "tshark: $n streams, truth says $REQUESTS" >&2
fi
