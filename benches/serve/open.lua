-- open.lua: open-loop load at a fixed total rate for `credseal bench serve` (wrk 4.1,
-- LuaJIT 2.1; any number of connections per thread, `-t T -c C`, C a multiple of T).
--
-- Thread i of T sends its k-th query at start + phase_i + k·interval, interval = T /
-- CREDSEAL_WRK_RATE, phase_i = (i-1)·interval/T (the threads interleave), whatever the
-- server does. The schedule is the thread's, not a connection's: wrk asks delay() each
-- time one of the thread's connections is free for its next request, and delay() gives
-- that connection the thread's next send time (the time left to it, 0 when late). When
-- every connection is waiting for an answer, the next send time passes unclaimed until
-- one is free; that wait is counted: each latency runs from the query's *scheduled* send
-- time to its answer (coordinated omission corrected, as wrk2 does), or from its real send
-- time when that is earlier (wrk's millisecond timer can fire up to a millisecond early):
-- always the longer of the two.
--
-- wrk 4.1 tells its script neither which connection asks (delay(), request()) nor which
-- request an answer is for (response()). So: the send times handed out by delay() wait in
-- a queue, and each request() takes the earliest (two connections whose timers fire in the
-- same millisecond may swap theirs; the set of send times is the schedule either way); and
-- an answer is matched to its query by the query id it names (the bodies file carries
-- each body's id), whose scheduled time request() noted. Latencies are kept per thread
-- and merged in done(), which prints one line:
-- {"credseal_wrk":"open","sent":…,"ok":…,"non200":…,"abandoned":…,"after_stop":…,
--  "threads":…,"stopped":…,"first_status":…,"first_code":"…","seconds":…,
--  "rate":…,"count":…,"p50_us":…,"p99_us":…,"max_us":…}
-- "count" is the number of answers matched to their query (the bench requires every 200).
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
local bodies, ids, interval_us, phase_us
local start_us = nil
local slots = 0            -- send times handed out (delay()) or taken (request())
local due = {}             -- send times handed out by delay(), not yet taken by a request
local due_head, due_tail = 1, 0
local origin_by_id = {}    -- query id → latency origin, for the queries in flight

function init(args)
  stats = common.new_stats()
  lat = {}
  bodies, ids = common.load_slice(thread_id)
  local n = common.slice_count()
  interval_us = n * 1e6 / common.env_number("CREDSEAL_WRK_RATE")
  phase_us = (thread_id - 1) * interval_us / n
end

-- The next send time of the thread's schedule, handed out.
local function next_slot()
  local t = start_us + slots * interval_us
  slots = slots + 1
  return t
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
  if stats.stopped or slots >= #bodies then
    stop_if_idle()
    return common.PARK_MS
  end
  local t = next_slot()
  due_tail = due_tail + 1
  due[due_tail] = t
  local wait = t - now
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
  local t
  if due_head <= due_tail then
    t = due[due_head]
    due[due_head] = nil
    due_head = due_head + 1
  else
    -- wrk sent without asking delay() (a reconnect): this query takes the next send time.
    t = next_slot()
  end
  stats.sent = stats.sent + 1
  stats.inflight = stats.inflight + 1
  origin_by_id[ids[stats.sent]] = math.min(t, common.now_us())
  local body = bodies[stats.sent]
  bodies[stats.sent] = false
  return wrk.format("POST", "/v1/queries", common.headers, body)
end

function response(status, headers, body)
  common.count_answer(stats, status, body)
  local id = status == 200 and common.answer_query_id(body) or nil
  local origin = id and origin_by_id[id]
  if origin ~= nil then
    lat[#lat + 1] = stats.last_us - origin
    origin_by_id[id] = nil
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
