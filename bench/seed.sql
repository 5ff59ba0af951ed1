-- seed.sql - the benchmark's data set, written straight into the real
-- tables after tasqlyd has migrated the schema (HTTP would take minutes
-- for 100 000 tasks; the shapes come from the migrations in host/auth,
-- host/db/events.c, plugins/groups and plugins/tasks).
--
-- psql variables: groups, members (per group), tasks (per group), hash (a
-- password hash tasqlyd made, so every bench user logs in with the same
-- password).  Default: 500 groups x 4 members x 200 tasks, with about 1.5
-- comments per task and an activity feed of one event per creation and
-- completion.
--
-- Shape, meant to look like households a while after sign-up:
--   member 1 of a group is its owner, the others are members;
--   60 % of tasks are open: due in the next 60 days (15 % undated, 5 %
--   overdue and already announced), 10 % weekly chores; 40 % are done
--   within the last 90 days.  90 % have an assignee.
-- Ids the scenarios need are kept in schema bench (not the app's):
--   bench.users (n, id), bench.groups (n, id), bench.pairs (n, gid, uid)
--   (pairs feed pgbench's scenario 4).
\set ON_ERROR_STOP on
\timing off
SET client_min_messages = warning;

BEGIN;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

CREATE TABLE bench.users (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.users
SELECT n, gen_random_uuid() FROM generate_series(1, :groups * :members) n;

INSERT INTO tasqly.users (id, email, display_name, password_hash, created_at,
                          updated_at)
SELECT id, format('bench%s@example.test', n),
       (ARRAY['Alex', 'Sam', 'Robin', 'Kim', 'Jo', 'Charlie', 'Maya',
              'Noah'])[1 + n % 8] || ' ' || n,
       :'hash', now() - interval '200 days', now() - interval '200 days'
FROM bench.users;

CREATE TABLE bench.groups (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO bench.groups
SELECT n, gen_random_uuid() FROM generate_series(1, :groups) n;

INSERT INTO groups.groups (id, name, timezone, currency, created_by,
                           created_at, updated_at)
SELECT g.id, format('Flat %s', g.n),
       (ARRAY['Europe/Berlin', 'Europe/London', 'America/New_York',
              'UTC'])[1 + g.n % 4],
       (ARRAY['EUR', 'GBP', 'USD', 'USD'])[1 + g.n % 4],
       u.id, now() - interval '180 days', now() - interval '180 days'
FROM bench.groups g
JOIN bench.users u ON u.n = (g.n - 1) * :members + 1;

-- (group n, member k) is user (n - 1) * members + k.
CREATE TABLE bench.pairs (n int PRIMARY KEY, gid uuid NOT NULL,
                          uid uuid NOT NULL, k int NOT NULL);
INSERT INTO bench.pairs
SELECT (g.n - 1) * :members + k, g.id, u.id, k
FROM bench.groups g
CROSS JOIN generate_series(1, :members) k
JOIN bench.users u ON u.n = (g.n - 1) * :members + k;

INSERT INTO groups.members (group_id, user_id, role, joined_at)
SELECT gid, uid, CASE WHEN k = 1 THEN 'owner' ELSE 'member' END,
       now() - interval '180 days' + k * interval '1 day'
FROM bench.pairs;

-- Tasks.  r is a per-task random number that decides the shape.
CREATE TEMP TABLE t0 ON COMMIT DROP AS
SELECT g.n AS gn, g.id AS gid, t, random() AS r, random() AS r2,
       1 + floor(random() * :members)::int AS creator,
       1 + floor(random() * :members)::int AS assignee
FROM bench.groups g CROSS JOIN generate_series(1, :tasks) t;

INSERT INTO tasks.tasks (group_id, title, description, status, assignee_id,
                         created_by, due_at, recurrence, due_notified,
                         version, created_at, updated_at, completed_at,
                         completed_by)
SELECT t0.gid,
       (ARRAY['Take out the bins', 'Clean the bathroom', 'Vacuum the hall',
              'Water the plants', 'Buy toilet paper', 'Defrost the freezer',
              'Wipe the kitchen counters', 'Pay the internet bill'])
         [1 + t0.t % 8] || ' #' || t0.t,
       CASE WHEN t0.r2 < 0.5 THEN
         'Remember the recycling goes out on Tuesdays; the bags are under the sink.'
       END,
       CASE WHEN t0.r < 0.6 THEN 'open' ELSE 'done' END,
       CASE WHEN t0.r2 < 0.9 THEN a.id END,
       c.id,
       CASE
         WHEN t0.r < 0.03 THEN now() - t0.r2 * interval '10 days'
         WHEN t0.r < 0.12 THEN NULL
         WHEN t0.r < 0.6 THEN now() + interval '1 hour' + t0.r2 * interval '60 days'
         ELSE now() - t0.r2 * interval '90 days' - interval '1 day'
       END,
       CASE WHEN t0.r >= 0.12 AND t0.r < 0.18
            THEN '{"freq": "weekly", "interval": 1}'::jsonb END,
       t0.r < 0.03,
       CASE WHEN t0.r < 0.6 THEN 1 ELSE 2 END,
       now() - interval '100 days' + t0.r2 * interval '5 days',
       now() - t0.r2 * interval '90 days',
       CASE WHEN t0.r >= 0.6 THEN now() - t0.r2 * interval '90 days' END,
       CASE WHEN t0.r >= 0.6 THEN a.id END
FROM t0
JOIN bench.users c ON c.n = (t0.gn - 1) * :members + t0.creator
JOIN bench.users a ON a.n = (t0.gn - 1) * :members + t0.assignee;

-- About 1.5 comments per task: 0 to 3 (a hash of the id, so the count is
-- decided per row), by the task's creator.
INSERT INTO tasks.comments (task_id, author_id, body, created_at)
SELECT t.id, t.created_by,
       (ARRAY['On it.', 'Can someone swap with me this week?',
              'Done, but we are out of bin bags.',
              'I did this last time, your turn!'])[1 + i],
       t.created_at + i * interval '1 hour'
FROM tasks.tasks t
CROSS JOIN LATERAL generate_series(1, abs(hashtext(t.id::text)) % 4) i;

-- The activity feed: a creation for every task, a completion for every
-- done one, in time order so event ids follow time as they do live.
INSERT INTO tasqly.events (type, group_id, actor_id, subject_id, summary,
                           payload, created_at)
SELECT type, group_id, actor, id::text, summary,
       jsonb_build_object('task_id', id, 'title', title), at
FROM (
  SELECT 'task.created' AS type, group_id, created_by AS actor, id,
         'Someone added "' || title || '"' AS summary, title,
         created_at AS at
  FROM tasks.tasks
  UNION ALL
  SELECT 'task.completed', group_id, completed_by, id,
         'Someone completed "' || title || '"', title, completed_at
  FROM tasks.tasks WHERE status = 'done'
) e
ORDER BY at;
COMMIT;

VACUUM (ANALYZE) tasqly.users, groups.groups, groups.members, tasks.tasks,
  tasks.comments, tasqly.events, bench.users, bench.groups, bench.pairs;
CHECKPOINT;

SELECT format('seeded %s users, %s groups, %s tasks (%s open), %s comments, %s events',
  (SELECT count(*) FROM tasqly.users),
  (SELECT count(*) FROM groups.groups),
  (SELECT count(*) FROM tasks.tasks),
  (SELECT count(*) FROM tasks.tasks WHERE status = 'open'),
  (SELECT count(*) FROM tasks.comments),
  (SELECT count(*) FROM tasqly.events));
