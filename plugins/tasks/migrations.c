/*
 * migrations.c - the tasks plugin's schema, as ordered migrations.  The
 * host creates schema "tasks", runs these once each under an advisory
 * lock and refuses to start when an applied one was edited: add a new
 * migration, never change one that shipped.
 *
 * There is no foreign key into the groups plugin's or the host's tables
 * (group_id, user ids): plugins never touch each other's schema.  A
 * deleted group's tasks go when its group.deleted event arrives
 * (cleanup.c).
 *
 * Static strings only; the host copies them.
 */
#include "tasks_int.h"

/*
 * The list order (task_routes.c) is one keyset over generated columns:
 *
 *   sort_rank  0 for open tasks, 1 for done ones: open come first;
 *   sort_key   open: due_at in microseconds since 1970, undated last
 *              (the largest bigint); done: minus completed_at in
 *              microseconds, so the latest completion comes first;
 *   id         the tie-break that makes the order total.
 *
 * One btree (group_id, sort_rank, sort_key, id) then serves every page of
 * every status filter as a single index range scan, and a cursor is just
 * the last row's (sort_rank, sort_key, id).  The epoch arithmetic uses
 * timestamptz - timestamptz and extract() on the interval, both
 * immutable, as generated columns require (extract() on a timestamptz is
 * only stable).  The same index with assignee_id after group_id serves
 * ?assignee=.
 *
 * Recurrence: recurrence holds the canonical rule (recurrence.c);
 * series_id links the occurrences of one chore, series_seq counts them
 * from the anchor, anchor_local is the anchor's wall-clock time in the
 * group's zone (set at the first completion), and rotation_idx is the
 * rotation position of the current turn.  See README.md.
 */
static const char m001_init[] =
    "CREATE TABLE tasks.tasks (\n"
    "    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "    group_id     uuid NOT NULL,\n"
    "    title        text NOT NULL\n"
    "                 CHECK (char_length(title) BETWEEN 1 AND 200),\n"
    "    description  text CHECK (char_length(description) <= 10000),\n"
    "    status       text NOT NULL DEFAULT 'open'\n"
    "                 CHECK (status IN ('open', 'done')),\n"
    "    assignee_id  uuid,\n"
    "    created_by   uuid NOT NULL,\n"
    "    due_at       timestamptz,\n"
    "    recurrence   jsonb CHECK (recurrence IS NULL\n"
    "                              OR jsonb_typeof(recurrence) = 'object'),\n"
    "    rotation_idx integer NOT NULL DEFAULT -1,\n"
    "    series_id    uuid,\n"
    "    series_seq   integer NOT NULL DEFAULT 0,\n"
    "    anchor_local timestamp,\n"
    "    due_notified boolean NOT NULL DEFAULT false,\n"
    "    version      integer NOT NULL DEFAULT 1,\n"
    "    created_at   timestamptz NOT NULL DEFAULT now(),\n"
    "    updated_at   timestamptz NOT NULL DEFAULT now(),\n"
    "    completed_at timestamptz,\n"
    "    completed_by uuid,\n"
    "    CHECK ((status = 'done') = (completed_at IS NOT NULL)),\n"
    "    CHECK ((status = 'done') = (completed_by IS NOT NULL)),\n"
    "    sort_rank    smallint GENERATED ALWAYS AS\n"
    "                 (CASE WHEN status = 'open' THEN 0 ELSE 1 END) STORED,\n"
    "    sort_key     bigint GENERATED ALWAYS AS (CASE\n"
    "        WHEN status = 'open' THEN COALESCE((extract(epoch FROM\n"
    "            due_at - timestamptz '1970-01-01 00:00:00+00')\n"
    "            * 1000000)::bigint, 9223372036854775807)\n"
    "        ELSE -(extract(epoch FROM\n"
    "            completed_at - timestamptz '1970-01-01 00:00:00+00')\n"
    "            * 1000000)::bigint END) STORED\n"
    ");\n"
    "CREATE INDEX tasks_list ON tasks.tasks\n"
    "    (group_id, sort_rank, sort_key, id);\n"
    "CREATE INDEX tasks_list_assignee ON tasks.tasks\n"
    "    (group_id, assignee_id, sort_rank, sort_key, id);\n"
    /* The task.due job's scan: only open, not yet announced tasks. */
    "CREATE INDEX tasks_due ON tasks.tasks (due_at)\n"
    "    WHERE status = 'open' AND NOT due_notified;\n"
    /* Fairness stats: completions of a group in a window. */
    "CREATE INDEX tasks_done ON tasks.tasks (group_id, completed_at)\n"
    "    WHERE status = 'done';\n"
    "\n"
    /* seq orders comments (oldest first) and is their cursor. */
    "CREATE TABLE tasks.comments (\n"
    "    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,\n"
    "    task_id     uuid NOT NULL\n"
    "                REFERENCES tasks.tasks (id) ON DELETE CASCADE,\n"
    "    author_id   uuid NOT NULL,\n"
    "    body        text NOT NULL\n"
    "                CHECK (char_length(body) BETWEEN 1 AND 5000),\n"
    "    media_ids   jsonb NOT NULL DEFAULT '[]'\n"
    "                CHECK (jsonb_typeof(media_ids) = 'array'),\n"
    "    created_at  timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE INDEX comments_by_task ON tasks.comments (task_id, seq);\n";

int tsk_register_migrations(void)
{
    return tq_migration("001_init", m001_init);
}
