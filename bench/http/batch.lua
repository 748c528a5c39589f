-- wrk script: POST /v1/orders/batch with BENCH_BATCH new orders per request.
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
  batch = tonumber(os.getenv("BENCH_BATCH") or "1000")
  run = os.getenv("BENCH_RUN") or "r"
end

request = function()
  local items = {}
  for i = 1, batch do
    counter = counter + 1
    items[i] = string.format(
      '{"order":"%s-b%d-%d","member":"m%d","merchant":"s%d","amount":"%d.%02d"}',
      run, tid, counter, counter % members, counter % stores, 10 + counter % 490, counter % 100)
  end
  local body = '{"orders":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/v1/orders/batch",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
