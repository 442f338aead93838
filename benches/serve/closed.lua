-- closed.lua: closed-loop load for `credseal bench serve` (wrk 4.1, LuaJIT 2.1).
--
-- Every connection sends its next query as soon as its previous answer is in: the rate the
-- server sustains this way is its peak. Each thread walks its own slice of the bodies file
-- (common.lua) and never sends a body twice: the server refuses a replayed token, and
-- would answer a token it still holds from memory without a second receipt. A thread stops
-- sending when its slice is used up or CREDSEAL_WRK_SECONDS have passed since its first
-- query, and stops itself once its last answer is in.
--
-- Latency (send to answer) comes from wrk's own per-connection histogram; the counts and
-- the first-send / last-answer times from this script. done() prints one line:
-- {"credseal_wrk":"closed","sent":…,"ok":…,"non200":…,"abandoned":…,"after_stop":…,
--  "threads":…,"stopped":…,"first_status":…,"first_code":"…","seconds":…,
--  "p50_us":…,"p99_us":…,"max_us":…}

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

-- Main state: the threads, numbered from 1 in the order wrk creates them.
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("thread_id", #threads)
end

-- Thread state. `stats` and `thread_id` are globals so that thread:get can read them.
local bodies, budget_us
local reserved = 0 -- bodies promised to a connection by delay() (sent or about to be)
local deadline_us = nil

function init(args)
  stats = common.new_stats()
  bodies = common.load_slice(thread_id)
  budget_us = common.env_number("CREDSEAL_WRK_SECONDS") * 1e6
end

-- True once the thread will promise no more bodies.
local function exhausted()
  return reserved >= #bodies or (deadline_us ~= nil and common.now_us() >= deadline_us)
end

-- Stops the thread once nothing is promised but unsent and nothing is in flight.
local function stop_if_idle()
  if not stats.stopped and stats.inflight == 0 and stats.sent == reserved and exhausted() then
    stats.stopped = true
    wrk.thread:stop()
  end
end

-- Called before every request of a connection: 0 ms (send now, one body promised) or,
-- once the slice or the time is spent, never again.
function delay()
  if deadline_us == nil then
    deadline_us = common.now_us() + budget_us
  end
  if stats.stopped or exhausted() then
    stop_if_idle()
    return common.PARK_MS
  end
  reserved = reserved + 1
  return 0
end

function request()
  if deadline_us == nil then
    -- wrk parses thread 1's first request once before the run to check it; nothing is sent.
    return common.idle_request()
  end
  if stats.stopped or stats.sent >= #bodies then
    stats.after_stop = stats.after_stop + 1
    return common.idle_request()
  end
  stats.sent = stats.sent + 1
  if stats.sent > reserved then
    -- wrk resent without asking delay() (a reconnect): this body is promised now.
    reserved = stats.sent
  end
  stats.inflight = stats.inflight + 1
  if stats.first_us < 0 then
    stats.first_us = common.now_us()
  end
  local body = bodies[stats.sent]
  bodies[stats.sent] = false
  return wrk.format("POST", "/v1/queries", common.headers, body)
end

function response(status, headers, body)
  common.count_answer(stats, status, body)
  stop_if_idle()
end

function done(summary, latency, requests)
  local t = common.sum_stats(threads)
  io.write(common.json_line {
    "credseal_wrk", "closed",
    "sent", t.sent,
    "ok", t.ok,
    "non200", t.non200,
    "abandoned", t.abandoned,
    "after_stop", t.after_stop,
    "threads", #threads,
    "stopped", t.stopped,
    "first_status", t.first_status,
    "first_code", t.first_code,
    "seconds", (t.first_us >= 0 and t.last_us >= t.first_us) and (t.last_us - t.first_us) / 1e6 or 0,
    "p50_us", latency:percentile(50),
    "p99_us", latency:percentile(99),
    "max_us", latency.max,
  })
  io.stdout:flush()
end
