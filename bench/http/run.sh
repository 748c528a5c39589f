#!/usr/bin/env bash
# HTTP load benchmark of `zengzhi serve` with wrk (Debian package `wrk`).
#
#   bench/http/run.sh [SECONDS] [single|batch|both]      (ZENGZHI_BIN=path: another binary)
#
# Starts the release binary on a fresh SQLite store (fsync on) at 127.0.0.1:18181, registers
# 1,000 members and 10 stores through the API, then runs (sampling the projection lag and the
# WAL size once a second meanwhile):
#   1. single orders: POST /v1/orders, 64 connections, 2 wrk threads;
#   2. batches:       POST /v1/orders/batch with 1,000 orders each, 8 connections.
# wrk's own report (requests/s, latency percentiles, non-2xx count) is printed for each; for
# batches, orders/s = requests/s × 1,000. The load generator shares this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-15}"
WHICH="${2:-both}"
case "$WHICH" in single|batch|both) ;; *) echo "usage: $0 [SECONDS] [single|batch|both]" >&2; exit 2;; esac
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
# Builds (or takes ZENGZHI_BIN), starts the server on a fresh store, registers members and stores.
source bench/http/start.sh
# Once a second while wrk runs: how far the query tables are behind the journal (entries, and
# the seconds of the journal's own rate those entries are), and the journal's WAL size.
sample() {
  python3 - "$URL" "$DATA" "$1" <<'PY' &
import os, sys, time, urllib.request
url, data, label = sys.argv[1], sys.argv[2], sys.argv[3]
def gauges():
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    g = dict(l.split(" ", 1) for l in text.splitlines() if l.startswith("zengzhi_") and "{" not in l)
    return int(g["zengzhi_journal_head"]), int(g["zengzhi_projection_watermark"])
wal = os.path.join(data, "zengzhi.db-wal")
worst, worst_s, wal_max, prev = 0, 0.0, 0, None
stop = os.path.join(data, "stop-sampling")
while not os.path.exists(stop):
    t = time.time()
    try:
        head, projected = gauges()
    except Exception:
        time.sleep(1); continue
    if prev is not None and head > prev[0]:
        rate = (head - prev[0]) / (t - prev[1])
        lag = head - projected
        if lag > worst:
            worst, worst_s = lag, lag / rate
    prev = (head, t)
    if os.path.exists(wal):
        wal_max = max(wal_max, os.path.getsize(wal))
    time.sleep(max(0, 1 - (time.time() - t)))
print(f"{label}: projection lag at most {worst} entries (~{worst_s:.1f} s of the journal's rate), "
      f"zengzhi.db-wal at most {wal_max / 2**20:.0f} MiB", flush=True)
PY
  SAMPLER=$!
}
end_sample() { touch "$DATA/stop-sampling"; wait "$SAMPLER" || true; rm -f "$DATA/stop-sampling"; }
writer_figures() {
  curl -s "$URL/metrics" | awk '/^zengzhi_writer_(apply|append)_seconds_max /{printf "  %s %.1f ms\n", $1, $2 * 1000}'
}
if [ "$WHICH" != batch ]; then
  echo "== single orders: POST /v1/orders, 64 connections, ${SECONDS_EACH}s"
  sample single
  wrk -t2 -c64 -d"${SECONDS_EACH}s" --latency -s bench/http/orders.lua "$URL"
  end_sample
  writer_figures
fi
if [ "$WHICH" != single ]; then
  echo "== batches: POST /v1/orders/batch (1000 orders each), 8 connections, ${SECONDS_EACH}s"
  sample batch
  BENCH_BATCH=1000 BENCH_CONNECTIONS=8 wrk -t2 -c8 -d"${SECONDS_EACH}s" --latency -s bench/http/orders.lua "$URL"
  end_sample
  writer_figures
fi
curl -s "$URL/v1/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("orders in the engine:", s["orders"], " exits:", s["exits"], " price:", s["price"])'
# The query tables (history, candles, order lookups) are projected behind the journal at low
# priority; under saturation they lag. How far, and how long they take to catch up:
python3 - "$URL" "$DATA" <<'PY'
import os, sys, time, urllib.request
url, data = sys.argv[1], sys.argv[2]
def gauges():
    text = urllib.request.urlopen(url + "/metrics").read().decode()
    g = dict(l.split(" ", 1) for l in text.splitlines() if l.startswith("zengzhi_") and "{" not in l)
    return int(g["zengzhi_journal_head"]), int(g["zengzhi_projection_watermark"])
def size(name):
    p = os.path.join(data, name)
    return os.path.getsize(p) / 2**20 if os.path.exists(p) else 0
head, projected = gauges()
print(f"after the load: journal head {head}, query tables at {projected} ({head - projected} entries behind); "
      f"zengzhi.db-wal {size('zengzhi.db-wal'):.0f} MiB")
start = time.time()
while projected < head and time.time() - start < 600:
    time.sleep(0.5)
    head, projected = gauges()
print(f"query tables caught up in {time.time() - start:.1f} s" if projected >= head else "query tables still behind after 600 s")
PY
