-- Replays the requests bench/gen wrote (NUL-separated raw HTTP), each once, in order.
-- wrk -s bench/wrk.lua URL -- REQUESTS_FILE
local reqs, n, i = {}, 0, 0
local threads = {}
wrapped = 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for r in data:gmatch("([^%z]+)%z") do
    n = n + 1
    reqs[n] = r
  end
  assert(n > 0, "no requests in " .. args[1])
end

function request()
  i = i + 1
  if i > n then
    -- out of fresh events: repeats only measure the dedup path, so they are counted
    i = 1
    wrapped = wrapped + 1
  end
  return reqs[i]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d wrapped=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), w))
end
