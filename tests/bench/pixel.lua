-- pixel.lua: wrk script for tests/bench/run.sh.
--
-- Every request is a distinct pixel hit: campaign over 1,000 ids, subject
-- over 100,000, event over open/view/click/signup, and a nonce unique per
-- request (thread id + sequence), on one keep-alive connection per wrk
-- connection (no pipelining).
--
-- Exact loss accounting: wrk stops at the end of -d with one request in
-- flight on every connection, which the server may already have recorded
-- although wrk never counts its response.  So the script sends pixels only
-- until `pixel_secs` (first argument) after the thread started, then
-- switches to GET /__bench_drain (a 404 on every server, never recorded).
-- Every pixel request was then answered before wrk stops, and
--   pixels answered 2xx = requests - non-2xx/3xx responses
-- is exactly what the server must have recorded.
--
-- done() prints one machine-readable line:
--   BENCH requests=N non2xx=N errors_connect=N errors_read=N errors_write=N
--         errors_timeout=N

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local events = { "open", "view", "click", "signup" }
local ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 " ..
           "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local deadline, seq, prefix, drain_req, pixel_secs

function init(args)
  pixel_secs = tonumber(args[1] or "1e9")
  deadline = now() + pixel_secs
  seq = 0
  prefix = string.format("%d-%d-", tid or 0, math.floor(now() * 1000) % 100000000)
  math.randomseed((tid or 1) * 7919 + os.time())
  wrk.headers["User-Agent"] = ua
  drain_req = wrk.format("GET", "/__bench_drain")
end

function request()
  if now() >= deadline then
    return drain_req
  end
  seq = seq + 1
  local path = string.format("/p.gif?c=camp-%d&e=%s&s=subj-%d&n=%s%d",
    math.random(0, 999), events[math.random(1, 4)], math.random(0, 99999),
    prefix, seq)
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d non2xx=%d errors_connect=%d errors_read=%d " ..
    "errors_write=%d errors_timeout=%d\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout))
end
