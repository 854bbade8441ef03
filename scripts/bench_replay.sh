#!/usr/bin/env bash
# Replay throughput: `apiscope replay --concurrency 32` against a local HTTP/1.1 server on
# 127.0.0.1 (examples/bench_server.rs), next to wrk with 32 connections on the same server.
# Bounded: N recorded requests × TIMES passes for apiscope, DUR seconds for wrk; the server
# exits by itself after 5 minutes at most.
#
#   scripts/bench_replay.sh            # N=2000 TIMES=10 DUR=10
#   N=500 TIMES=4 DUR=5 scripts/bench_replay.sh
#   PROFILE=debug scripts/bench_replay.sh   # a debug build (checks the script, not for figures)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
TIMES=${TIMES:-10}
DUR=${DUR:-10}
CONC=${CONC:-32}
command -v wrk >/dev/null || { echo "bench_replay: wrk is needed (apt-get install wrk)" >&2; exit 2; }
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin apiscope --example bench_server
else
  cargo build --quiet --bin apiscope --example bench_server
fi
bin=${CARGO_TARGET_DIR:-target}/$PROFILE
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$bin/examples/bench_server" 0 300 >"$tmp/port" &
srv=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(head -n1 "$tmp/port")
python3 - "$tmp/rec.har" "$N" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
body = '{"id":1,"name":"item","price":5}'
entries = []
for i in range(n):
    entries.append({
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1.0,
        "request": {"method": "GET", "url": f"http://api.example.com/v1/items/{i % 50}", "httpVersion": "HTTP/1.1",
                    "cookies": [], "headers": [{"name": "Accept", "value": "application/json"}],
                    "queryString": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "cookies": [],
                     "headers": [{"name": "Content-Type", "value": "application/json"}],
                     "content": {"size": len(body), "mimeType": "application/json", "text": body},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(body)},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}})
json.dump({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": entries}}, open(path, "w"))
PY
echo "server 127.0.0.1:$port; $N recorded requests × $TIMES passes; concurrency $CONC; $(nproc) cores"
"$bin/apiscope" replay "$tmp/rec.har" --target "http://127.0.0.1:$port" --concurrency "$CONC" --times "$TIMES" \
  --format json --quiet >"$tmp/report.json" || true
python3 - "$tmp/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"apiscope replay: {r['sent']} requests in {r['elapsed_s']:.2f} s = {r['rate']:.0f} requests/s "
      f"(identical {r['identical']}, differing {r['differing']}, failed {r['failed']})")
PY
wrk -t2 -c"$CONC" -d"${DUR}s" "http://127.0.0.1:$port/v1/items/1" | sed 's/^/wrk: /'
