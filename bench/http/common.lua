-- Shared by the wrk scripts (loaded with dofile from the repository's root, where the scripts
-- run): numbers each wrk thread (`tid`, for ids unique across threads) and reads the load's
-- settings from the environment.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function read_settings()
  token = os.getenv("ZENGZHI_ADMIN_TOKEN") or "bench-admin-token"
  members = tonumber(os.getenv("BENCH_MEMBERS") or "1000")
  stores = tonumber(os.getenv("BENCH_STORES") or "10")
  run = os.getenv("BENCH_RUN") or "r"
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
end
