#!/bin/bash
# Byte-identical check of two apiscope binaries for `stats` and `journey`: every
# fixture/sample input, with learnt names and with each spec that fits, in every format and
# grouping, then journeys of the busiest clients; plus the big generated inputs given
# (default /tmp/big/1g.pcap if present). Usage: scripts/stats_identical.sh OLD NEW [BIG...]
# Prints one line per difference and a count.
set -u
OLD=$1; NEW=$2; shift 2
R=$(cd "$(dirname "$0")/.." && pwd)
BIGS=("$@"); [ ${#BIGS[@]} -eq 0 ] && [ -e /tmp/big/1g.pcap ] && BIGS=(/tmp/big/1g.pcap)
SPECS=$(ls "$R"/fixtures/trading-api.openapi.yaml "$R"/fixtures/analysis/*.yaml "$R"/fixtures/gaps/gaps.openapi.yaml "$R"/fixtures/samples/*openapi*)
SMALL=$(ls "$R"/fixtures/*.har "$R"/fixtures/*.pcap* "$R"/fixtures/*.gz "$R"/fixtures/gaps/*.har "$R"/fixtures/samples/*.har \
  "$R"/fixtures/samples/*.chlsj "$R"/fixtures/samples/*.mitm "$R"/fixtures/samples/*.pcap 2>/dev/null \
  | grep -v -e '\.yaml$' -e '\.json$' | sort -u)
n=0; bad=0
run() {
  local a b ra rb
  a=$("$OLD" "$@" 2>&1); ra=$?
  b=$("$NEW" "$@" 2>&1); rb=$?
  n=$((n + 1))
  if [ "$a" != "$b" ] || [ $ra != $rb ]; then bad=$((bad + 1)); echo "DIFF: $*"; fi
}
all() {
  local i=$1; shift
  for f in text json csv markdown; do run stats "$i" "$@" --format "$f"; done
  for by in client status; do run stats "$i" "$@" --by "$by"; done
  run stats "$i" "$@" --client-key ip --top 5
  # journeys of the three busiest clients (ids as the JSON report gives them)
  for c in $("$NEW" stats "$i" "$@" --format json 2>/dev/null | python3 -c '
import json, sys
try: r = json.load(sys.stdin)
except Exception: sys.exit()
for c in sorted(r.get("clients", []), key=lambda c: -c["kpis"]["requests"])[:3]: print(c["id"])' | tr " " "\001"); do
    run journey "$i" --client "$(printf %s "$c" | tr "\001" " ")"
  done
}
for i in $SMALL; do all "$i"; for s in $SPECS; do run stats "$i" --spec "$s"; run stats "$i" --spec "$s" --format json; done; done
for i in "${BIGS[@]}"; do run stats "$i"; run stats "$i" --format json; run stats "$i" --spec "$R/fixtures/trading-api.openapi.yaml"; done
echo "$n comparisons, $bad differ"
