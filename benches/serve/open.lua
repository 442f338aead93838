-- open.lua: open-loop load at a fixed total rate for `credseal bench serve` (wrk 4.1,
-- LuaJIT 2.1; run with one connection per thread, `-t N -c N`).
--
-- Thread i of N sends its k-th query at start + phase_i + k·interval, interval = N /
-- CREDSEAL_WRK_RATE, phase_i = (i-1)·interval/N (the threads interleave), whatever the
-- server does: delay() returns the time to the next slot (0 when late). A late answer
-- therefore delays the next send, and that wait is counted: each latency runs from the
-- query's *scheduled* send time to its answer (coordinated omission corrected, as wrk2
-- does), or from its real send time when that is earlier (wrk's millisecond timer can fire
-- up to a millisecond early): always the longer of the two. Latencies are
-- kept per thread and merged in done(), which prints one line:
-- {"credseal_wrk":"open","sent":…,"ok":…,"non200":…,"abandoned":…,"after_stop":…,
--  "threads":…,"stopped":…,"first_status":…,"first_code":"…","seconds":…,
--  "rate":…,"count":…,"p50_us":…,"p99_us":…,"max_us":…}
-- Each thread sends every body of its slice on its schedule and stops itself after the
-- last answer.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

-- Thread state. `stats`, `lat` and `thread_id` are globals so that thread:get can read them.
local bodies, interval_us, phase_us
local start_us = nil
local pending_us = nil -- the latency origin of the query in flight (one per connection)

function init(args)
  stats = common.new_stats()
  lat = {}
  bodies = common.load_slice(thread_id)
  local n = common.slice_count()
  interval_us = n * 1e6 / common.env_number("CREDSEAL_WRK_RATE")
  phase_us = (thread_id - 1) * interval_us / n
end

-- The scheduled send time of the query after `stats.sent` sent ones.
local function due_us()
  return start_us + stats.sent * interval_us
end

local function stop_if_idle()
  if not stats.stopped and stats.inflight == 0 and stats.sent >= #bodies then
    stats.stopped = true
    wrk.thread:stop()
  end
end

function delay()
  local now = common.now_us()
  if start_us == nil then
    start_us = now + phase_us
    stats.first_us = start_us
  end
  if stats.stopped or stats.sent >= #bodies then
    stop_if_idle()
    return common.PARK_MS
  end
  local wait = due_us() - now
  if wait <= 0 then
    return 0
  end
  return math.ceil(wait / 1000)
end

function request()
  if start_us == nil then
    -- wrk parses thread 1's first request once before the run to check it; nothing is sent.
    return common.idle_request()
  end
  if stats.stopped or stats.sent >= #bodies then
    stats.after_stop = stats.after_stop + 1
    return common.idle_request()
  end
  pending_us = math.min(due_us(), common.now_us())
  stats.sent = stats.sent + 1
  stats.inflight = stats.inflight + 1
  local body = bodies[stats.sent]
  bodies[stats.sent] = false
  return wrk.format("POST", "/v1/queries", common.headers, body)
end

function response(status, headers, body)
  common.count_answer(stats, status, body)
  if pending_us ~= nil then
    lat[#lat + 1] = stats.last_us - pending_us
    pending_us = nil
  end
  stop_if_idle()
end

-- The value at quantile p of the sorted list `xs` (nearest rank, as the bench's Rust side).
local function percentile(xs, p)
  if #xs == 0 then
    return 0
  end
  local i = math.floor((#xs - 1) * p + 0.5) + 1
  return xs[math.min(i, #xs)]
end

function done(summary, latency, requests)
  local t = common.sum_stats(threads)
  local all = {}
  for _, th in ipairs(threads) do
    for _, v in ipairs(th:get("lat")) do
      all[#all + 1] = v
    end
  end
  table.sort(all)
  local seconds = (t.first_us >= 0 and t.last_us >= t.first_us) and (t.last_us - t.first_us) / 1e6 or 0
  io.write(common.json_line {
    "credseal_wrk", "open",
    "sent", t.sent,
    "ok", t.ok,
    "non200", t.non200,
    "abandoned", t.abandoned,
    "after_stop", t.after_stop,
    "threads", #threads,
    "stopped", t.stopped,
    "first_status", t.first_status,
    "first_code", t.first_code,
    "seconds", seconds,
    "rate", common.env_number("CREDSEAL_WRK_RATE"),
    "count", #all,
    "p50_us", percentile(all, 0.50),
    "p99_us", percentile(all, 0.99),
    "max_us", all[#all] or 0,
  })
  io.stdout:flush()
end
