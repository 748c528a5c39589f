#!/usr/bin/env bash
# Soak run of `zengzhi serve` (release build, fresh SQLite store, fsync on) with wrk:
#
#   bench/soak/run.sh [MINUTES] [RATE] [OUT_DIR]     (ZENGZHI_BIN=path: another binary)
#
# A steady mix at about RATE requests/s (default 12,000: half of the single-order maximum
# measured with bench/http/run.sh on the development machine) for MINUTES (default 30): 80%
# orders, member reads, history, sells and withdrawals with member tokens of 500 members, and
# admin reads (bench/soak/mix.lua). Once a second bench/soak/sample.py records the server's RSS,
# the engine's heap bytes, per-second p50/p99, non-2xx answers, the writer's queue depth, the
# projection lag and the store's file sizes into OUT_DIR/samples.csv (default
# target/soak-<time>); at the end OUT_DIR/summary.json (memory growth in MiB/hour, also net of
# the engine's own tables, whose order-id set grows with every order; p99 early and late; 5xx;
# lag; WAL) and OUT_DIR/chart.svg. wrk shares this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES="${1:-30}"
RATE="${2:-12000}"
OUT="${3:-target/soak-$(date -u +%Y%m%dT%H%M%SZ)}"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
CONNECTIONS=64
source bench/http/start.sh
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export SOAK_TOKENS="$DATA/tokens.txt"
python3 - "$URL" "$SOAK_TOKENS" <<'PY'
import json, sys, urllib.request
url, path = sys.argv[1], sys.argv[2]
def post(p, body):
    req = urllib.request.Request(url + p, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer bench-admin-token"})
    return json.load(urllib.request.urlopen(req))
# Every member buys once first, so that sells and withdrawals have points and cash to use.
for m in range(1000):
    post("/v1/orders", {"order": f"warm-{m}", "member": f"m{m}", "merchant": f"s{m % 10}", "amount": "100"})
with open(path, "w") as f:
    for m in range(0, 1000, 2):
        f.write(f"m{m} {post(f'/v1/members/m{m}/token', {})['token']}\n")
print("set-up: 1000 warm-up orders, 500 member tokens")
PY
# The pause before each request of a connection, for about RATE requests/s when answers are fast.
export SOAK_DELAY_MS=$(( CONNECTIONS * 1000 / RATE ))
[ "$SOAK_DELAY_MS" -ge 1 ] || SOAK_DELAY_MS=1
python3 bench/soak/sample.py "$URL" "$DATA" "$SERVER" "$OUT" &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null || true; stop_server' EXIT
echo "== soak: ${MINUTES} min at about ${RATE}/s (${CONNECTIONS} connections, ${SOAK_DELAY_MS} ms between a connection's requests); samples in $OUT"
wrk -t2 -c"$CONNECTIONS" -d"${MINUTES}m" --timeout 10s -s bench/soak/mix.lua "$URL" | tee "$OUT/wrk.txt"
curl -s "$URL/metrics" | awk '/^zengzhi_http_requests_total\{/ && !/status="2/ {print "  " $0}' | tee "$OUT/non-2xx.txt"
kill -TERM "$SAMPLER"
wait "$SAMPLER" || true
echo "chart: $OUT/chart.svg"
exit 0
