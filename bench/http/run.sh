#!/usr/bin/env bash
# HTTP load benchmark of `zengzhi serve` with wrk (Debian package `wrk`).
#
#   bench/http/run.sh [SECONDS]
#
# Starts the release binary on a fresh SQLite store (fsync on) at 127.0.0.1:18181, registers
# 1,000 members and 10 stores through the API, then runs:
#   1. single orders: POST /v1/orders, 64 connections, 2 wrk threads;
#   2. batches:       POST /v1/orders/batch with 1,000 orders each, 8 connections.
# wrk's own report (requests/s, latency percentiles, non-2xx count) is printed for each; for
# batches, orders/s = requests/s × 1,000. The load generator shares this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-15}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p zengzhi-cli
DATA="$(mktemp -d)"
PORT=18181
URL="http://127.0.0.1:$PORT"
export ZENGZHI_ADMIN_TOKEN="bench-admin-token"
export BENCH_RUN="run$$"
./target/release/zengzhi serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" >"$DATA/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer bench-admin-token"})
    urllib.request.urlopen(req).read()
for s in range(10):
    post("/v1/merchants", {"merchant": f"s{s}", "region": "441900"})
for m in range(1000):
    body = {"member": f"m{m}"}
    if m > 0:
        body["referrer"] = f"m{(m - 1) // 3}"
    post("/v1/members", body)
print("set-up: 10 stores, 1000 members")
PY
echo "== single orders: POST /v1/orders, 64 connections, ${SECONDS_EACH}s"
wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s bench/http/orders.lua "$URL"
echo "== batches: POST /v1/orders/batch (1000 orders each), 8 connections, ${SECONDS_EACH}s"
BENCH_BATCH=1000 wrk -t2 -c8 -d"${SECONDS_EACH}s" --latency -s bench/http/batch.lua "$URL"
curl -s "$URL/v1/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("orders in the engine:", s["orders"], " exits:", s["exits"], " price:", s["price"])'
