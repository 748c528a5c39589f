#!/usr/bin/env bash
# Times `zengzhi serve --demo` from launch to its first answered /v1/stats, on a fresh data dir.
# Usage: bench/demo-start.sh [path/to/zengzhi] [port]
set -euo pipefail
BIN=${1:-target/release/zengzhi}
PORT=${2:-18771}
DIR=$(mktemp -d)
START=$(date +%s%N)
"$BIN" serve --demo --listen 127.0.0.1:"$PORT" --data-dir "$DIR" >"$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 1 1200); do
  if curl -sf "http://127.0.0.1:$PORT/v1/stats" >/dev/null; then break; fi
  sleep 0.05
done
END=$(date +%s%N)
kill "$PID"; wait "$PID" 2>/dev/null || true
rm -rf "$DIR"
echo "demo start: $(( (END - START) / 1000000 )) ms"
