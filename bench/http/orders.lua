-- wrk script: new orders, ids unique across threads. BENCH_BATCH=N (N > 0) posts N orders per
-- request to POST /v1/orders/batch; without it, one order per request to POST /v1/orders.
dofile("bench/http/common.lua")

function init(args)
  counter = 0
  read_settings()
  batch = tonumber(os.getenv("BENCH_BATCH") or "0")
end

local function order(prefix)
  counter = counter + 1
  return string.format(
    '{"order":"%s-%s%d-%d","member":"m%d","merchant":"s%d","amount":"%d.%02d"}',
    run, prefix, tid, counter, counter % members, counter % stores, 10 + counter % 490, counter % 100)
end

request = function()
  if batch <= 0 then
    return wrk.format("POST", "/v1/orders", headers, order(""))
  end
  local items = {}
  for i = 1, batch do
    items[i] = order("b")
  end
  return wrk.format("POST", "/v1/orders/batch", headers, '{"orders":[' .. table.concat(items, ",") .. ']}')
end

-- Beyond wrk's own report: the far tail, and the mean that Little's law allows (connections /
-- requests per second), a check on the latency figures. BENCH_CONNECTIONS: wrk's -c.
function done(summary, latency, requests)
  local rate = summary.requests / (summary.duration / 1e6)
  local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "64")
  io.write(string.format("tail: p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; mean %.2f ms (Little's law with %d connections: %.2f ms)\n",
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000,
    connections, connections / rate * 1000))
end
