-- get.lua: `credseal bench tiles` GETs paths from a list, one after another (wrk 4.1,
-- LuaJIT 2.1). `credseal bench tiles` writes this script into its work directory and runs
-- wrk with it; it passes its parameters in the environment:
--   CREDSEAL_WRK_PATHS    a file of request paths, one a line (`/tile/0/000`, `/healthz`);
--   CREDSEAL_WRK_THREADS  wrk's thread count: thread i (from 1) of n starts 1/n of the way
--                         into the list and walks it round, so the threads do not all ask
--                         for the same path at the same time.
-- Closed loop: every connection sends its next request when its answer is in. done()
-- prints one line `{"credseal_wrk_get":…}` on stdout with wrk's own counts and latencies.

local started = 0

function setup(thread)
  started = started + 1
  thread:set("id", started)
end

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error("credseal-wrk: environment variable " .. name .. " is not set")
  end
  return v
end

local reqs = {}
local pos = 0

function init(args)
  local path = env("CREDSEAL_WRK_PATHS")
  local n = tonumber(env("CREDSEAL_WRK_THREADS"))
  local f, err = io.open(path, "rb")
  if f == nil then
    error("credseal-wrk: " .. tostring(err))
  end
  for line in f:lines() do
    if line ~= "" then
      reqs[#reqs + 1] = wrk.format("GET", line)
    end
  end
  f:close()
  if #reqs == 0 then
    error("credseal-wrk: " .. path .. " holds no path")
  end
  pos = math.floor((id - 1) * #reqs / n)
end

function request()
  pos = pos % #reqs + 1
  return reqs[pos]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"credseal_wrk_get":1,"requests":%d,"bytes":%d,"seconds":%.6f,"status_errors":%d,' ..
    '"socket_errors":%d,"p50_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.bytes, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
