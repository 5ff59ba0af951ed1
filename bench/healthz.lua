-- healthz.lua - scenario 3: GET /healthz, the HTTP ceiling (no database,
-- no auth): what the I/O path alone costs per request.

local c = dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local req

function setup(thread) c.setup(thread) end

function init(args)
  req = wrk.format("GET", "/healthz")
end

function request()
  return req
end

function response(status, headers, body)
  c.count(status, body)
end

function done(summary, latency, requests)
  c.done(summary, latency)
end
