-- mixed.lua - scenario 2: the app in use.  Out of 100 requests:
--   50 list a group's tasks, 15 read one task, 15 read the activity feed
--      (80 reads of tasks and activity);
--    8 create a task, 7 complete one (15 writes to tasks);
--    5 add a comment.
-- Every request is made by a member of the group it names, with that
-- member's token, spread over every user the seeder logged in.
--
-- Completions take open tasks from tasks.tsv; each wrk thread takes a
-- disjoint share (line i goes to thread i mod threads), so no task is
-- completed twice and every completion is a legitimate 200.  Should a
-- thread run out, it creates instead.  BENCH_SLICE=k/K splits the file
-- once more, for K runs against the same data (the worker sweep): run k
-- only touches slice k.

local c = dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local users, tasks, open, bygid = {}, {}, {}, {}
local ctype = {["Content-Type"] = "application/json"}
n_list, n_get, n_activity, n_create, n_complete, n_comment = 0, 0, 0, 0, 0, 0
local seq = 0

function setup(thread) c.setup(thread) end

local function auth(token, extra)
  local h = {["Authorization"] = "Bearer " .. token}
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

function init(args)
  c.seed(17)
  users = c.users()
  for _, u in ipairs(users) do
    local g = bygid[u.gid]
    if not g then g = {}; bygid[u.gid] = g end
    g[#g + 1] = u
  end
  local me, nthreads = tonumber(thread_no) or 0, tonumber(thread_count) or 1
  if nthreads < 1 then nthreads = 1 end
  local k, nk = (os.getenv("BENCH_SLICE") or "0/1"):match("^(%d+)/(%d+)$")
  k, nk = tonumber(k) or 0, tonumber(nk) or 1
  local share, mine = nthreads * nk, k * nthreads + me
  for i, t in ipairs(c.tasks()) do
    if bygid[t.gid] then
      tasks[#tasks + 1] = t
      if (i - 1) % share == mine then open[#open + 1] = t end
    end
  end
  for i = #open, 2, -1 do -- shuffle: completions spread over groups
    local j = math.random(i)
    open[i], open[j] = open[j], open[i]
  end
end

local function member_of(gid)
  local g = bygid[gid]
  return g[math.random(#g)]
end

local function create(u)
  n_create = n_create + 1
  seq = seq + 1
  local g = bygid[u.gid]
  local who = g[math.random(#g)].uid
  local due = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + math.random(3600, 30 * 86400))
  local body = string.format(
    '{"title": "Bench chore %d-%d", "description": "Made by the mixed scenario.", ' ..
    '"assignee_id": "%s", "due_at": "%s"}', tonumber(thread_no) or 0, seq, who, due)
  return wrk.format("POST", "/v1/groups/" .. u.gid .. "/tasks", auth(u.token, ctype), body)
end

function request()
  local r = math.random(100)
  local u = users[math.random(#users)]
  if r <= 50 then
    n_list = n_list + 1
    return wrk.format("GET", "/v1/groups/" .. u.gid .. "/tasks?limit=20", auth(u.token))
  elseif r <= 65 then
    n_get = n_get + 1
    local t = tasks[math.random(#tasks)]
    return wrk.format("GET", "/v1/groups/" .. t.gid .. "/tasks/" .. t.tid,
                      auth(member_of(t.gid).token))
  elseif r <= 80 then
    n_activity = n_activity + 1
    return wrk.format("GET", "/v1/groups/" .. u.gid .. "/activity?limit=20", auth(u.token))
  elseif r <= 88 then
    return create(u)
  elseif r <= 95 then
    local t = table.remove(open)
    if not t then return create(u) end
    n_complete = n_complete + 1
    return wrk.format("POST", "/v1/groups/" .. t.gid .. "/tasks/" .. t.tid .. "/complete",
                      auth(member_of(t.gid).token, ctype), "{}")
  else
    n_comment = n_comment + 1
    local t = tasks[math.random(#tasks)]
    return wrk.format("POST", "/v1/groups/" .. t.gid .. "/tasks/" .. t.tid .. "/comments",
                      auth(member_of(t.gid).token, ctype),
                      '{"body": "Done the first half, the rest after dinner."}')
  end
end

function response(status, headers, body)
  c.count(status, body)
end

function done(summary, latency, requests)
  c.done(summary, latency, {"list", "get", "activity", "create", "complete", "comment"})
end
