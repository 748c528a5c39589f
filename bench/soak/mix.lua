-- wrk script for the soak run: a steady mix at a set rate, ids unique across threads.
--   80% POST /v1/orders (integration key), 8% GET /v1/me, 4% GET /v1/me/history,
--   3% POST /v1/me/sell (0.01 points), 2% POST /v1/me/withdraw (0.01 yuan),
--   3% admin reads (GET /v1/stats, /v1/admin/members, /v1/admin/stats/daily).
-- SOAK_TOKENS: a file of "member token" lines; SOAK_DELAY_MS: the pause before each request
-- of a connection (connections × 1000 / delay ≈ the rate when answers are fast).
dofile("bench/http/common.lua")

function init(args)
  -- Separate counters for orders and member requests, so that every member buys and every
  -- token is used (one counter for all would tie members to the mix's slots).
  counter, orders, acts = 0, 0, 0
  read_settings()
  pause = tonumber(os.getenv("SOAK_DELAY_MS") or "5")
  tokens = {}
  for line in io.lines(os.getenv("SOAK_TOKENS")) do
    local member, token = line:match("^(%S+) (%S+)$")
    tokens[#tokens + 1] = token
  end
  reads = {"/v1/stats", "/v1/admin/members?page_size=20", "/v1/admin/stats/daily"}
end

function delay()
  return pause
end

local function as_member(method, path, body)
  acts = acts + 1
  local token = tokens[acts % #tokens + 1]
  local headers = {["Authorization"] = "Bearer " .. token}
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end

request = function()
  counter = counter + 1
  local k = counter % 100
  if k < 80 then
    orders = orders + 1
    return wrk.format("POST", "/v1/orders", headers, string.format(
      '{"order":"%s-%d-%d","member":"m%d","merchant":"s%d","amount":"%d.%02d"}',
      run, tid, orders, orders % members, orders % stores, 10 + orders % 490, orders % 100))
  elseif k < 88 then
    return as_member("GET", "/v1/me")
  elseif k < 92 then
    return as_member("GET", "/v1/me/history?limit=20")
  elseif k < 95 then
    return as_member("POST", "/v1/me/sell", '{"points":"0.01"}')
  elseif k < 97 then
    return as_member("POST", "/v1/me/withdraw", '{"amount":"0.01"}')
  else
    return wrk.format("GET", reads[counter % #reads + 1], headers)
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("soak: %d requests in %.0f s = %.0f/s; p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; "
    .. "socket errors: connect %d read %d write %d timeout %d; non-2xx %d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status))
end
