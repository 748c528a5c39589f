-- wrk script: one new order per request (POST /v1/orders), ids unique across threads.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  counter = 0
  token = os.getenv("ZENGZHI_ADMIN_TOKEN") or "bench-admin-token"
  members = tonumber(os.getenv("BENCH_MEMBERS") or "1000")
  stores = tonumber(os.getenv("BENCH_STORES") or "10")
  run = os.getenv("BENCH_RUN") or "r"
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"order":"%s-%d-%d","member":"m%d","merchant":"s%d","amount":"%d.%02d"}',
    run, tid, counter, counter % members, counter % stores, 10 + counter % 490, counter % 100)
  return wrk.format("POST", "/v1/orders",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

-- Beyond wrk's own report: the far tail, and the mean that Little's law allows (connections /
-- requests per second), a check on the latency figures.
function done(summary, latency, requests)
  local rate = summary.requests / (summary.duration / 1e6)
  io.write(string.format("tail: p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; mean %.2f ms (Little's law with 64 connections: %.2f ms)\n",
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000, latency.mean / 1000, 64 / rate * 1000))
end
