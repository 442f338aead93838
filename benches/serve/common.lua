-- common.lua: what closed.lua and open.lua share (wrk 4.1, LuaJIT 2.1).
--
-- `credseal bench serve` writes these scripts into its work directory and runs wrk with
-- them; it passes its parameters in the environment:
--   CREDSEAL_WRK_BODIES   the file of queries, one a line: the query id (hex, as the
--                         server's answer names it), a tab, the JSON request body;
--   CREDSEAL_WRK_SLICES   "offset:count,offset:count,…": thread i (from 1) sends the `count`
--                         lines that start at byte `offset` of that file, and no others;
--   CREDSEAL_WRK_SECONDS  closed.lua: how long each thread keeps sending;
--   CREDSEAL_WRK_RATE     open.lua: the total request rate, requests per second.
-- Each thread stops itself (`wrk.thread:stop()`) once it will send nothing more and every
-- answer it waits for is in, so no request is left in flight when wrk ends; the `-d` wrk
-- runs with is only an upper bound. done() prints one line `{"credseal_wrk":…}` on stdout.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } credseal_timespec;
int clock_gettime(int clock_id, credseal_timespec *tp);
]]

local M = {}

-- CLOCK_MONOTONIC (Linux): one clock for every thread of the process.
local CLOCK_MONOTONIC = 1
local ts = ffi.new("credseal_timespec")

-- Microseconds on the monotonic clock.
function M.now_us()
  if ffi.C.clock_gettime(CLOCK_MONOTONIC, ts) ~= 0 then
    error("credseal-wrk: clock_gettime(CLOCK_MONOTONIC) failed")
  end
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

-- A delay() that keeps a connection quiet for good (an hour; wrk's -d ends the run first).
M.PARK_MS = 3600 * 1000

-- The environment variable `name`, or an error naming it.
function M.env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error("credseal-wrk: environment variable " .. name .. " is not set")
  end
  return v
end

-- A positive number from the environment.
function M.env_number(name)
  local v = tonumber(M.env(name))
  if v == nil or v <= 0 then
    error("credseal-wrk: " .. name .. " must be a positive number")
  end
  return v
end

-- The number of slices in CREDSEAL_WRK_SLICES (one per thread).
function M.slice_count()
  local n = 0
  for _ in M.env("CREDSEAL_WRK_SLICES"):gmatch("(%d+):(%d+)") do
    n = n + 1
  end
  return n
end

-- The queries of thread `id` (from 1): its slice of the bodies file, read by byte offset.
-- Returns two lists in the same order: the JSON bodies and their query ids.
function M.load_slice(id)
  local path = M.env("CREDSEAL_WRK_BODIES")
  local slices = M.env("CREDSEAL_WRK_SLICES")
  local offset, count
  local i = 0
  for off, n in slices:gmatch("(%d+):(%d+)") do
    i = i + 1
    if i == id then
      offset, count = tonumber(off), tonumber(n)
    end
  end
  if offset == nil then
    error("credseal-wrk: CREDSEAL_WRK_SLICES has " .. i .. " slices, none for thread " .. id)
  end
  local f, err = io.open(path, "rb")
  if f == nil then
    error("credseal-wrk: " .. tostring(err))
  end
  f:seek("set", offset)
  local bodies, ids = {}, {}
  for _ = 1, count do
    local line = f:read("*l")
    local qid, body = (line or ""):match("^(%x+)\t({.*)$")
    if qid == nil then
      error("credseal-wrk: " .. path .. ": thread " .. id .. " expected " .. count ..
        " queries (query id, tab, JSON body) from byte " .. offset .. ", found " .. #bodies)
    end
    bodies[#bodies + 1] = body
    ids[#ids + 1] = qid
  end
  f:close()
  return bodies, ids
end

-- The query id an answer 200 names (`"query_id":"…"`), or nil.
function M.answer_query_id(body)
  return body and body:match('"query_id"%s*:%s*"(%x+)"')
end

-- The headers of every query.
M.headers = { ["Content-Type"] = "application/json" }

-- The problem code of a non-200 answer (`"code":"…"` of its problem document), or "".
function M.problem_code(body)
  local c = body and body:match('"code"%s*:%s*"([%w%-]+)"') or ""
  return c:sub(1, 64)
end

-- Counters of one thread, read by done() through thread:get("stats").
function M.new_stats()
  return {
    sent = 0,            -- bodies sent
    ok = 0,              -- answers 200
    non200 = 0,          -- other answers
    inflight = 0,        -- sent, not answered yet
    after_stop = 0,      -- requests wrk asked for after the thread stopped (sent no body)
    first_status = 0,    -- the first non-200 status
    first_code = "",     -- and its problem code
    first_us = -1,       -- the first send (closed) or scheduled send (open), monotonic µs
    last_us = -1,        -- the last answer, monotonic µs
    stopped = false,     -- the thread stopped itself
  }
end

-- Records an answer in `s`.
function M.count_answer(s, status, body)
  s.inflight = s.inflight - 1
  s.last_us = M.now_us()
  if status == 200 then
    s.ok = s.ok + 1
  else
    s.non200 = s.non200 + 1
    if s.first_status == 0 then
      s.first_status = status
      s.first_code = M.problem_code(body)
    end
  end
end

-- The request a stopped thread returns if wrk still asks for one: no body is spent on it,
-- and it changes nothing on the server.
function M.idle_request()
  return wrk.format("GET", "/healthz")
end

-- The sums over the threads' stats (main state, in done()).
function M.sum_stats(threads)
  local t = { sent = 0, ok = 0, non200 = 0, abandoned = 0, after_stop = 0, first_status = 0,
    first_code = "", first_us = -1, last_us = -1, stopped = 0 }
  for _, th in ipairs(threads) do
    local s = th:get("stats")
    t.sent = t.sent + s.sent
    t.ok = t.ok + s.ok
    t.non200 = t.non200 + s.non200
    t.abandoned = t.abandoned + s.inflight
    t.after_stop = t.after_stop + s.after_stop
    if s.stopped then
      t.stopped = t.stopped + 1
    end
    if t.first_status == 0 and s.first_status ~= 0 then
      t.first_status, t.first_code = s.first_status, s.first_code
    end
    if s.first_us >= 0 and (t.first_us < 0 or s.first_us < t.first_us) then
      t.first_us = s.first_us
    end
    if s.last_us > t.last_us then
      t.last_us = s.last_us
    end
  end
  return t
end

-- One JSON object on one line: keys in the order given, values numbers or strings.
function M.json_line(pairs_list)
  local parts = {}
  for i = 1, #pairs_list, 2 do
    local k, v = pairs_list[i], pairs_list[i + 1]
    local s
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then
        s = "null"
      else
        s = string.format("%.17g", v)
      end
    else
      s = '"' .. tostring(v):gsub('[%c"\\]', "") .. '"'
    end
    parts[#parts + 1] = '"' .. k .. '":' .. s
  end
  return "{" .. table.concat(parts, ",") .. "}\n"
end

return M
