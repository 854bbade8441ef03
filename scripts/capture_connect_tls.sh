#!/usr/bin/env bash
# Record a real loopback capture of HTTPS requests sent through an HTTP CONNECT proxy, with
# curl's TLS key log. Usage: capture_connect_tls.sh OUT.pcap [PROXY_PORT] [SERVER_PORT]
# Only the client <-> proxy leg is recorded (the proxy port), so every TLS session in the
# file starts inside a CONNECT tunnel. Writes OUT.pcap, OUT.keylog and OUT.truth.json.
# Needs python3, tcpdump, curl, openssl and ../shared/gen/real_api_server.py.
set -euo pipefail
OUT=${1:?usage: capture_connect_tls.sh OUT.pcap [PROXY_PORT] [SERVER_PORT]}
PPORT=${2:-18780}
SPORT=${3:-18781}
HERE=$(cd "$(dirname "$0")" && pwd)
GEN=${APISCOPE_SHARED:-$HERE/../../shared}/gen
TMP=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
python3 "$GEN/real_api_server.py" --port "$SPORT" --tls "$TMP/cert.pem" "$TMP/key.pem" &
SRV=$!
python3 "$HERE/connect_proxy.py" "$PPORT" &
PRX=$!
cleanup() { kill "$DUMP" 2>/dev/null || true; kill "$SRV" "$PRX" 2>/dev/null || true; rm -rf "$TMP"; }
DUMP=""
trap cleanup EXIT
for _ in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$SPORT/healthz" 2>/dev/null && break; sleep 0.1; done
tcpdump -i lo -s 0 -U -w "$OUT" "host 127.0.0.1 and tcp port $PPORT" 2>/dev/null &
DUMP=$!
sleep 1
export SSLKEYLOGFILE="$OUT.keylog"; : > "$SSLKEYLOGFILE"
BASE=https://127.0.0.1:$SPORT
P=(-x "http://127.0.0.1:$PPORT" -sk --http1.1)
n=0
# TLS 1.3, keep-alive: three GETs in one tunnel.
c=$(curl "${P[@]}" --tlsv1.3 -w '%{http_code}\n' -o /dev/null -o /dev/null -o /dev/null \
  "$BASE/v1/quotes/AAPL" "$BASE/v1/portfolio" "$BASE/v1/quotes/APPL" | grep -c -E '^[1-5][0-9][0-9]$' || true)
n=$((n + c))
# TLS 1.2 (ECDHE AES-GCM): a POST in its own tunnel.
c=$(curl "${P[@]}" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 -o /dev/null -w '%{http_code}\n' \
  -H 'Content-Type: application/json' -X POST \
  -d '{"symbol":"MSFT","side":"buy","type":"limit","qty":"3","limit_price":"415.00"}' \
  "$BASE/v1/orders" | grep -c -E '^[1-5][0-9][0-9]$' || true)
n=$((n + c))
# TLS 1.3 ChaCha20: one GET.
c=$(curl "${P[@]}" --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 -o /dev/null -w '%{http_code}\n' \
  "$BASE/v1/instruments?page=2" | grep -c -E '^[1-5][0-9][0-9]$' || true)
n=$((n + c))
sleep 1; kill -INT "$DUMP" 2>/dev/null || true; wait "$DUMP" 2>/dev/null || true
printf '{"generator":"capture_connect_tls.sh","tunnels":3,"connect_requests":3,"tunnelled_requests":%d,"note":"3 CONNECT tunnels through a loopback proxy: TLS 1.3 keep-alive (3 GETs), TLS 1.2 ECDHE-RSA-AES128-GCM (1 POST), TLS 1.3 ChaCha20 (1 GET)"}\n' "$n" > "$OUT.truth.json"
echo "wrote $OUT, $OUT.keylog ($(wc -l < "$OUT.keylog") key lines), $OUT.truth.json"
