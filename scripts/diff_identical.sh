#!/bin/bash
# Byte-identical check of two apiscope binaries: `diff` (text/json, with and without --strict)
# for every fixture/sample input against every spec in the repository, `flows --summary`, and
# the same on big HARs plus damaged/unusual variants of one (made here, once, in $WORK) that
# exercise the HAR reader's fall-backs. Usage: scripts/diff_identical.sh OLD NEW [BIG.har...]
# (default BIG: /tmp/big/20k.har); also the files of ../shared/samples not in fixtures/samples.
# Prints one line per difference and a count.
set -u
OLD=$1; NEW=$2; shift 2
R=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/apiscope-identical}
BIGS=("$@"); [ ${#BIGS[@]} -eq 0 ] && BIGS=(/tmp/big/20k.har)
mkdir -p "$WORK"
if [ ! -e "$WORK/typeerr.har" ]; then python3 - "${BIGS[0]}" "$WORK" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
d = open(src, 'rb').read(); n = len(d)
def w(name, b): open(f'{out}/{name}.har', 'wb').write(b)
for i, f in enumerate([0.3, 0.5001, 0.77777]): w(f'trunc{i}', d[:int(n * f)])
def sub(at, old, new): k = d.find(old, at); return d[:k] + new + d[k + len(old):]
w('typeerr', sub(n // 3, b'"request": {', b'"request": 5, "x": {'))
w('syntaxerr', sub(n // 2, b'"statusText": "OK"', b'"statusText": "O\\xK"'))
w('badutf8', sub(n // 4, b'"statusText": "OK"', b'"statusText": "O\xffK"'))
w('trailing', d.rstrip() + b' x')
j = d.rstrip(); r = j.rfind(b']')
w('pagesafter', j[:r + 1] + b', "pages": [{"id": "p\\u0031"}], "entries": 7' + j[r + 1:])
o = json.loads(d)
w('compact', json.dumps(o, separators=(',', ':')).encode())
e = o['log']['entries']
e[100]['request']['headers'] = [["X-a", "b"]]; e[200]['_private'] = {"a": [1, 2, {"b": None}]}
e[300] = [1, 2]; e[301] = 5; e[302] = {}; e[304]['time'] = "12.5"
w('odd', json.dumps(o, indent=1, ensure_ascii=False).encode())
e[400]['response']['content']['text'] = "\ud800"
w('surrogate', json.dumps(o).encode())
e[400]['response']['content']['text'] = "x"
t = json.dumps(o); k = t.find('"cache": {}', len(t) // 2)
w('deep', (t[:k] + '"cache": ' + '[' * 126 + ']' * 126 + t[k + len('"cache": {}'):]).encode())
PY
fi
SPECS=$(ls "$R"/fixtures/trading-api.openapi.yaml "$R"/fixtures/analysis/*.yaml "$R"/fixtures/gaps/gaps.openapi.yaml "$R"/fixtures/samples/*openapi*)
SMALL=$(ls "$R"/fixtures/*.har "$R"/fixtures/*.pcap* "$R"/fixtures/*.gz "$R"/fixtures/gaps/*.har "$R"/fixtures/samples/*.har \
  "$R"/fixtures/samples/*.chlsj "$R"/fixtures/samples/*.mitm "$R"/fixtures/samples/*.pcap | sort -u)
# the shared sample collection (SHARED, default ../shared/samples beside the repository): files not copied into fixtures/samples
SHARED=${SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared/samples}
if [ -d "$SHARED" ]; then
  for f in $(ls "$SHARED"/openapi/* 2>/dev/null); do [ -e "$R/fixtures/samples/$(basename "$f")" ] || SPECS="$SPECS $f"; done
  for f in $(ls "$SHARED"/*/*.har "$SHARED"/*/*.chlsj "$SHARED"/*/*.mitm "$SHARED"/*/*.pcap* 2>/dev/null); do
    [ -e "$R/fixtures/samples/$(basename "$f")" ] || SMALL="$SMALL $f"
  done
fi
n=0; bad=0
run() {
  local a b ra rb
  a=$("$OLD" "$@" 2>&1); ra=$?
  b=$("$NEW" "$@" 2>&1); rb=$?
  n=$((n + 1))
  if [ "$a" != "$b" ] || [ $ra != $rb ]; then bad=$((bad + 1)); echo "DIFF: $*"; fi
}
both() { for f in text json; do run diff "$1" --spec "$2" --format $f --color never; run diff "$1" --spec "$2" --format $f --strict --color never; done; }
for i in $SMALL; do for s in $SPECS; do both "$i" "$s"; done; run flows "$i" --summary; done
for i in "${BIGS[@]}" "$WORK"/*.har; do both "$i" "$R/fixtures/trading-api.openapi.yaml"; run flows "$i" --summary; done
echo "$n comparisons, $bad differ"
