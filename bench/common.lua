-- common.lua - what the wrk scripts share: reading the seeder's files,
-- counting responses that are not 2xx (3xx count as errors here: the app
-- never follows a redirect from this API), and writing one JSON summary
-- that bench/bench.py turns into the results table.
--
-- wrk gives every thread its own Lua state (init/request/response) and a
-- separate one for setup/done; numbers travel between them only through
-- thread:get() on plain globals, which is why the counters are globals.
--
-- Environment: BENCH_DATA (the seeder's folder: users.tsv, tasks.tsv),
-- BENCH_OUT (where done() writes its JSON; nothing is written when unset).

local M = {}

-- ------------------------------------------------------------ files

local function lines(path)
  local f = io.open(path, "r")
  if not f then
    error(path .. ": cannot open; run the seeder first (bench/run does)")
  end
  local out = {}
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

local function data_dir()
  local d = os.getenv("BENCH_DATA")
  if not d or d == "" then
    error("BENCH_DATA is not set: point it at the seeder's output folder")
  end
  return d
end

-- {token=, gid=, uid=} for every member the seeder logged in.
function M.users()
  local out = {}
  for _, l in ipairs(lines(data_dir() .. "/users.tsv")) do
    local token, gid, uid = l:match("^(%S+)\t(%S+)\t(%S+)")
    if token then out[#out + 1] = {token = token, gid = gid, uid = uid} end
  end
  if #out == 0 then error("users.tsv is empty") end
  return out
end

-- {gid=, tid=} for open tasks of the logged-in users' groups.
function M.tasks()
  local out = {}
  for _, l in ipairs(lines(data_dir() .. "/tasks.tsv")) do
    local gid, tid = l:match("^(%S+)\t(%S+)")
    if gid then out[#out + 1] = {gid = gid, tid = tid} end
  end
  if #out == 0 then error("tasks.tsv is empty") end
  return out
end

-- ------------------------------------------------------ thread side

-- Thread-local counters, read by done() through thread:get().
ok, bad, by_status, samples = 0, 0, {}, {}

-- Give each thread its own random sequence (wrk starts them together).
function M.seed(extra)
  local id = tonumber(thread_no) or 0
  math.randomseed(os.time() * 1000 + id * 7919 + (extra or 0))
end

function M.count(status, body)
  if status >= 200 and status <= 299 then
    ok = ok + 1
    return true
  end
  bad = bad + 1
  local k = tostring(status)
  by_status[k] = (by_status[k] or 0) + 1
  if #samples < 5 and body then samples[#samples + 1] = k .. " " .. body:sub(1, 300) end
  return false
end

-- ------------------------------------------------------- main side

local threads = {}

function M.setup(thread)
  thread:set("thread_no", #threads)
  thread:set("thread_count", tonumber(os.getenv("BENCH_THREADS") or "0"))
  threads[#threads + 1] = thread
end

local function json_str(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- extra(thread) may return a table of name -> number merged per thread.
function M.done(summary, latency, kinds)
  local t_ok, t_bad, statuses, samp, kind_n = 0, 0, {}, {}, {}
  for _, t in ipairs(threads) do
    t_ok = t_ok + (t:get("ok") or 0)
    t_bad = t_bad + (t:get("bad") or 0)
    for k, v in pairs(t:get("by_status") or {}) do statuses[k] = (statuses[k] or 0) + v end
    for _, s in ipairs(t:get("samples") or {}) do
      if #samp < 5 then samp[#samp + 1] = s end
    end
    for _, k in ipairs(kinds or {}) do
      kind_n[k] = (kind_n[k] or 0) + (t:get("n_" .. k) or 0)
    end
  end
  local e = summary.errors
  local parts = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"rps": %.1f', summary.requests / (summary.duration / 1e6)),
    string.format('"bytes": %d', summary.bytes),
    string.format('"lat_mean_us": %.1f', latency.mean),
    string.format('"lat_p50_us": %d', latency:percentile(50)),
    string.format('"lat_p90_us": %d', latency:percentile(90)),
    string.format('"lat_p99_us": %d', latency:percentile(99)),
    string.format('"lat_p999_us": %d', latency:percentile(99.9)),
    string.format('"lat_max_us": %d', latency.max),
    string.format('"ok": %d', t_ok),
    string.format('"non2xx": %d', t_bad),
    string.format('"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}',
                  e.connect, e.read, e.write, e.timeout),
  }
  local st = {}
  for k, v in pairs(statuses) do st[#st + 1] = json_str(k) .. ": " .. v end
  parts[#parts + 1] = '"by_status": {' .. table.concat(st, ", ") .. "}"
  local sm = {}
  for _, s in ipairs(samp) do sm[#sm + 1] = json_str(s) end
  parts[#parts + 1] = '"samples": [' .. table.concat(sm, ", ") .. "]"
  local kn = {}
  for k, v in pairs(kind_n) do kn[#kn + 1] = json_str(k) .. ": " .. v end
  parts[#parts + 1] = '"kinds": {' .. table.concat(kn, ", ") .. "}"
  local text = "{" .. table.concat(parts, ", ") .. "}\n"

  local out = os.getenv("BENCH_OUT")
  if out and out ~= "" then
    local f = assert(io.open(out, "w"))
    f:write(text)
    f:close()
  end
  io.write(string.format("non-2xx responses: %d (of %d)\n", t_bad, t_ok + t_bad))
end

return M
