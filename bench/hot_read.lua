-- hot_read.lua - scenario 1: GET /v1/groups/{gid}/tasks?limit=20, the
-- app's busiest screen, spread over every member the seeder logged in
-- (each with a valid access token for a group they belong to).
--
-- Requests are formatted once in init() (wrk's advice for fast servers);
-- request() only picks one at random.

local c = dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local reqs = {}

function setup(thread) c.setup(thread) end

function init(args)
  c.seed()
  for _, u in ipairs(c.users()) do
    reqs[#reqs + 1] = wrk.format("GET", "/v1/groups/" .. u.gid .. "/tasks?limit=20",
                                 {["Authorization"] = "Bearer " .. u.token})
  end
end

function request()
  return reqs[math.random(#reqs)]
end

function response(status, headers, body)
  c.count(status, body)
end

function done(summary, latency, requests)
  c.done(summary, latency)
end
