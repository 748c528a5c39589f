# Sourced by the load scripts: starts `zengzhi serve` on a fresh SQLite store (fsync on) at
# 127.0.0.1:$PORT (default 18181) and registers 10 stores and 1,000 members (each referred by
# the member a third of its number) through the API. Sets BIN, DATA, PORT, URL and SERVER, and
# removes the store at exit.
# ZENGZHI_BIN: measure that binary instead of building this checkout's (e.g. an older build, to
# compare two in the same sitting).
BIN="${ZENGZHI_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q -p zengzhi-cli
  BIN=./target/release/zengzhi
fi
DATA="$(mktemp -d)"
PORT="${PORT:-18181}"
URL="http://127.0.0.1:$PORT"
export ZENGZHI_ADMIN_TOKEN="bench-admin-token"
export BENCH_RUN="run$$"
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" >"$DATA/serve.log" 2>&1 &
SERVER=$!
# Each step may fail (the server already gone) without stopping the rest: errexit applies in traps.
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"; }
trap stop_server EXIT
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
