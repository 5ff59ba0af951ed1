/*
 * complete.c - POST /v1/groups/{gid}/tasks/{tid}/complete: mark a task
 * done and, for a recurring one, create its next occurrence in the same
 * transaction.
 *
 * Dates are computed in SQL in the group's time zone: the series keeps
 * an anchor (the first occurrence's wall-clock time, as a timestamp
 * without time zone) and occurrence n is due at
 *
 *     (anchor + n * step) AT TIME ZONE <group zone>
 *
 * with step 1 day, 7 days or 1 month times the interval.  Adding to a
 * wall-clock time keeps 19:00 at 19:00 across daylight-saving changes,
 * and adding n months to the anchor (not one month to the previous
 * occurrence) keeps a chore of the 31st on the last day of shorter
 * months without drifting: Jan 31, Feb 28, Mar 31, Apr 30.  A wall-clock
 * time that does not exist on a spring-forward day (02:30) is read as
 * standard time by PostgreSQL, i.e. one hour later (03:30).
 *
 * Memory: request memory and kept json only.
 */
#include "tasks_int.h"

#include <string.h>

/* Completing twice: the WHERE status = 'open' makes a concurrent second
 * completion wait for the row lock, then match nothing.  $4 is bigint: an
 * If-Match past the integer column's range is a version the task does
 * not have (409 below), not a cast error. */
static const char sql_done[] =
    "UPDATE tasks.tasks SET status = 'done', completed_at = now(),"
    " completed_by = $3, version = version + 1, updated_at = now()"
    " WHERE id = $1 AND group_id = $2 AND status = 'open'"
    "   AND ($4::bigint IS NULL OR version = $4::bigint)"
    " RETURNING " TSK_COLS ", rotation_idx";

static const char sql_why[] =
    "SELECT status, version FROM tasks.tasks WHERE id = $1 AND group_id = $2";

/* $1 the task just completed, $2 the group's time zone, $3 and $4 the
 * next assignee and rotation position. */
static const char sql_next[] =
    "INSERT INTO tasks.tasks (group_id, title, description, assignee_id,"
    " created_by, due_at, recurrence, rotation_idx, series_id, series_seq,"
    " anchor_local)"
    " SELECT t.group_id, t.title, t.description, $3::uuid, t.created_by,"
    "   (a.anchor + s.step * (t.series_seq + 1)) AT TIME ZONE $2::text,"
    "   t.recurrence, $4::integer, COALESCE(t.series_id, t.id),"
    "   t.series_seq + 1, a.anchor"
    " FROM tasks.tasks t"
    " CROSS JOIN LATERAL (SELECT COALESCE(t.anchor_local,"
    "   t.due_at AT TIME ZONE $2::text) AS anchor) a"
    " CROSS JOIN LATERAL (SELECT CASE t.recurrence->>'freq'"
    "   WHEN 'daily' THEN interval '1 day'"
    "   WHEN 'weekly' THEN interval '7 days'"
    "   ELSE interval '1 month' END"
    "   * (t.recurrence->>'interval')::integer AS step) s"
    " WHERE t.id = $1"
    " RETURNING " TSK_COLS;

static bool is_tenant(void *members, const char *uid)
{
    return tsk_is_tenant(members, uid);
}

/* Creates the occurrence after done (a row with rotation_idx); *next is
 * kept by the request.  0 or a TQ_E_* code. */
static int create_next(tq_req *req, const char *gid, json_t *done,
                       json_t *members, json_t **next)
{
    json_t *group;
    tq_res *res;
    int rc = tsk_groups->group(req, gid, &group);
    if (rc)
        return rc;
    tq_keep(req, group);
    const char *tz = tsk_str(group, "timezone");

    /* Next turn: after the one who had it, if they are in the rotation,
     * else after the last position a rotation member held. */
    json_t *rot = json_object_get(json_object_get(done, "recurrence"),
                                  "rotation");
    const char *assignee = tsk_str(done, "assignee_id");
    int idx = (int)json_integer_value(json_object_get(done, "rotation_idx"));
    if (json_array_size(rot)) {
        int from = tsk_rotation_find(rot, assignee);
        idx = tsk_rotation_next(rot, from >= 0 ? from : idx, is_tenant,
                                members);
        assignee = idx >= 0 ? json_string_value(json_array_get(rot, (size_t)idx))
                            : NULL;
    } else if (assignee && !tsk_is_tenant(members, assignee)) {
        assignee = NULL; /* they left; the next one waits for a volunteer */
    }

    rc = tq_sql(req, &res, sql_next, tsk_str(done, "id"), tz ? tz : "UTC",
                assignee, tq_printf(req, "%d", idx));
    if (rc)
        return rc;
    *next = tq_keep(req, tq_row_json(res, 0));
    return *next ? TQ_OK : TQ_E_NOMEM;
}

int tsk_h_complete(tq_req *req)
{
    const char *gid, *tid, *me = tq_user(req);
    long long want;
    json_t *members, *next = NULL;
    tq_res *res;

    int st = tsk_enter_task(req, &gid, &tid, NULL);
    if (st || (st = tsk_precondition(req, &want)))
        return st;
    int rc = tq_sql(req, &res, sql_done, tid, gid, me,
                    want < 0 ? NULL : tq_printf(req, "%lld", want));
    if (rc)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0) {
        rc = tq_sql(req, &res, sql_why, tid, gid);
        if (rc)
            return tq_fail(req, rc);
        if (tq_rows(res) == 0)
            return tq_not_found(req);
        if (strcmp(tq_get(res, 0, 0), "done") == 0)
            return tq_error(req, 409, "conflict", NULL,
                            "the task is already done; a recurring task's "
                            "next occurrence is a new task");
        return tsk_check_version(req, want, tq_get_ll(res, 0, 1));
    }
    json_t *done = tq_keep(req, tq_row_json(res, 0));
    if (!done)
        return tq_fail(req, TQ_E_NOMEM);

    if ((rc = tsk_members(req, gid, &members)))
        return tq_fail(req, rc);
    if (json_is_object(json_object_get(done, "recurrence")) &&
        (rc = create_next(req, gid, done, members, &next)))
        return tq_fail(req, rc);
    json_object_del(done, "rotation_idx");

    const char *title = tsk_str(done, "title");
    json_t *extra = json_pack("{s:s, s:o, s:o}", "completed_by", me,
                              "next_task_id",
                              tsk_jstr(tsk_str(next, "id")),
                              "next_assignee_id",
                              tsk_jstr(tsk_str(next, "assignee_id")));
    rc = tsk_emit(req, "task.completed", gid, done,
                  tq_printf(req, "%s completed \"%s\"", tsk_name(members, me),
                            title),
                  extra);
    /* Nobody chose the next assignee: the rotation did. */
    if (rc == 0 && next)
        rc = tsk_emit_assigned(req, gid, next, members, NULL);
    if (rc)
        return tq_fail(req, rc);

    json_t *body = json_deep_copy(done);
    if (!body)
        return tq_fail(req, TQ_E_NOMEM);
    if (next)
        json_object_set(body, "next", next);
    return tsk_reply_task(req, 200, body);
}
