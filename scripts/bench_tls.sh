#!/usr/bin/env bash
# Time apiscope's TLS decryption against tshark on the same HTTPS capture and key log.
#
# Usage: scripts/bench_tls.sh [FILE.pcap | SIZE]     (default SIZE 100M)
#   FILE   an existing capture with FILE.keylog beside it
#   SIZE   generate /tmp/apiscope-bench-tls-SIZE.pcap (+ .keylog) with
#          scripts/gen_tls_capture.py (reused when it exists); needs python3 `cryptography`
# Env:
#   TSHARK=0          skip tshark
#   APISCOPE=PATH     the apiscope binary (default: target/release/apiscope, built if needed)
#
# apiscope runs `flows --summary --keylog K FILE`; tshark runs
# `tshark -r FILE -o tls.keylog_file:K -q -z http,tree` (it decrypts and counts HTTP).
# Prints wall and CPU seconds, MB/s per CPU second and peak RSS of each, then the ratio.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-100M}
if [ -f "$ARG" ]; then
  FILE=$ARG
else
  FILE=/tmp/apiscope-bench-tls-$ARG.pcap
  if [ ! -f "$FILE" ]; then
    echo "generating $FILE ($ARG) ..." >&2
    python3 "$HERE/scripts/gen_tls_capture.py" "$FILE" --bytes "$ARG" >&2
  fi
fi
KEYS=$FILE.keylog
[ -f "$KEYS" ] || { echo "no key log $KEYS" >&2; exit 2; }
BYTES=$(stat -c %s "$FILE")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
APISCOPE=${APISCOPE:-$CARGO_TARGET_DIR/release/apiscope}
if [ ! -x "$APISCOPE" ]; then (cd "$HERE" && cargo build --release --quiet --bin apiscope) >&2; fi

run() {  # label, command...; prints "label wall user sys rss_kb"
  local label=$1; shift
  local t; t=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" > "$t.out" 2>/dev/null || true
  read -r wall user sys rss < "$t"
  local cpu; cpu=$(echo "$user + $sys" | bc -l)
  printf '%-9s wall %7.2f s  cpu %7.2f s  %8.1f MB/s (cpu)  peak RSS %6.0f MiB\n' \
    "$label" "$wall" "$cpu" "$(echo "$BYTES / 1000000 / $cpu" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
  echo "$cpu" > "$t.cpu"; CPU_OUT=$t
}
echo "file $FILE: $BYTES bytes, $(grep -c . "$KEYS") key lines"
# Warm the page cache so both read from memory.
cat "$FILE" > /dev/null
run apiscope "$APISCOPE" flows --summary --keylog "$KEYS" "$FILE"
A_CPU=$(cat "$CPU_OUT.cpu"); A_OUT=$CPU_OUT.out
grep -E '^exchanges|tls_decrypted|tls_sessions|http_exchanges|tls_plaintext_bytes' "$A_OUT" | sed 's/^/  /'
if [ "${TSHARK:-1}" != 0 ]; then
  run tshark tshark -r "$FILE" -o "tls.keylog_file:$KEYS" -q -z http,tree
  T_CPU=$(cat "$CPU_OUT.cpu")
  grep -E 'Total HTTP Packets|HTTP Request Packets|HTTP Response Packets' "$CPU_OUT.out" | sed 's/^/  /' | tr -s ' '
  printf 'apiscope is %.1fx faster than tshark (CPU time)\n' "$(echo "$T_CPU / $A_CPU" | bc -l)"
fi
