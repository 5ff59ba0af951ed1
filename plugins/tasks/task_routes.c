/*
 * task_routes.c - /v1/groups/{gid}/tasks and /tasks/{tid}: create, list,
 * get, patch, delete.
 *
 * The list is the app's busiest screen: after the membership check it is
 * one index range scan (see migrations.c for the order and the index), in
 * one of two constant statements (with or without ?assignee=) so each is
 * prepared once per connection and its generic plan stays an index scan.
 *
 * Memory: request memory and kept json only; see tasks_int.h.
 */
#include "tasks_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------- body fields */

/* title: 1 to 200 characters, not all blank, no control characters:
 * titles go into event summaries, and from there into e-mail subjects
 * and push notifications, where a line break is a header injection (the
 * rule group names and display names already follow). */
static int get_title(tq_req *req, const char **out)
{
    int st = tq_get_str(req, "title", 1, 1, TSK_TITLE_MAX, out);
    if (st)
        return st;
    for (const unsigned char *p = (const unsigned char *)*out; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return tq_error(req, 400, "validation_failed", "title",
                            "title must not contain control characters "
                            "(newlines, tabs); put details in the "
                            "description");
    if (tsk_blank(*out))
        return tq_error(req, 400, "validation_failed", "title",
                        "title must not be blank; name the chore, such as "
                        "\"Take out the bins\"");
    return 0;
}

/* recurrence: *out is its canonical form (kept by the request), or NULL
 * when absent or null. */
static int get_recurrence(tq_req *req, json_t **out)
{
    json_t *v = json_object_get(tq_body(req), "recurrence");
    tsk_err err;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    json_t *r = tsk_recurrence_parse(v, &err);
    if (!r)
        return tq_error(req, 400, "validation_failed", err.field, "%s",
                        err.msg);
    *out = tq_keep(req, r);
    return 0;
}

/* The assignee and everyone in rotation (either may be NULL) must be
 * tenants of the group: landlords see no chores, so they take none. */
static int check_people(tq_req *req, json_t *members, const char *assignee,
                        json_t *recurrence)
{
    size_t i;
    json_t *u;
    if (assignee && !tsk_is_tenant(members, assignee))
        return tq_error(req, 400, "validation_failed", "assignee_id",
                        "assignee_id: user %s is not a member of this group "
                        "(landlords take no chores); invite them first or "
                        "pick a member",
                        assignee);
    json_array_foreach(json_object_get(recurrence, "rotation"), i, u) {
        const char *uid = json_string_value(u);
        if (!tsk_is_tenant(members, uid))
            return tq_error(req, 400, "validation_failed",
                            tq_printf(req, "recurrence.rotation[%zu]", i),
                            "recurrence.rotation[%zu]: user %s is not a "
                            "member of this group (landlords take no "
                            "chores); invite them first or leave them out",
                            i, uid);
    }
    return 0;
}

static int need_due(tq_req *req)
{
    return tq_error(req, 400, "validation_failed", "due_at",
                    "a recurring task needs due_at, the first "
                    "occurrence's due time (such as "
                    "2026-12-04T19:00:00Z); later ones follow from it");
}

static bool streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* ------------------------------------------------------------ create */

static const char sql_insert[] =
    "INSERT INTO tasks.tasks (group_id, title, description, assignee_id,"
    " created_by, due_at, recurrence, rotation_idx)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    " RETURNING " TSK_COLS;

int tsk_h_create(tq_req *req)
{
    const char *gid, *title, *desc, *assignee, *due;
    const char *me = tq_user(req);
    json_t *rec, *members;
    int idx = -1;

    int st = tsk_enter(req, &gid, NULL);
    if (st || (st = get_title(req, &title)) ||
        (st = tq_get_str(req, "description", 0, 0, TSK_DESCRIPTION_MAX,
                         &desc)) ||
        (st = tq_get_uuid(req, "assignee_id", 0, &assignee)) ||
        (st = tq_get_time(req, "due_at", 0, &due)) ||
        (st = get_recurrence(req, &rec)))
        return st;
    if (rec && !due)
        return need_due(req);

    /* Members: to check the people named, and for the event summaries. */
    int rc = tsk_members(req, gid, &members);
    if (rc)
        return tq_fail(req, rc);
    if ((st = check_people(req, members, assignee, rec)))
        return st;

    /* With a rotation the first turn is the assignee's if they are in
     * it, else the rotation's first member's. */
    json_t *rot = json_object_get(rec, "rotation");
    if (json_array_size(rot)) {
        idx = tsk_rotation_find(rot, assignee);
        if (!assignee) {
            idx = 0;
            assignee = json_string_value(json_array_get(rot, 0));
        }
    }

    tq_res *res;
    rc = tq_sql(req, &res, sql_insert, gid, title, desc, assignee, me, due,
                tsk_json_text(req, rec), tq_printf(req, "%d", idx));
    if (rc)
        return tq_fail(req, rc);
    json_t *task = tq_keep(req, tq_row_json(res, 0));
    if (!task)
        return tq_fail(req, TQ_E_NOMEM);

    const char *id = tsk_str(task, "id");
    rc = tsk_emit(req, "task.created", gid, task,
                  tq_printf(req, "%s added \"%s\"", tsk_name(members, me),
                            title),
                  json_pack("{s:s}", "created_by", me));
    if (rc == 0)
        rc = tsk_emit_assigned(req, gid, task, members, me);
    if (rc)
        return tq_fail(req, rc);
    tq_set_header(req, "Location",
                  tq_printf(req, "/v1/groups/%s/tasks/%s", gid, id));
    return tsk_reply_task(req, 201, json_incref(task));
}

/* -------------------------------------------------------------- list */

/*
 * $2..$3 bound the rank (status), ($4, $5, $6) is the cursor (or a key
 * below every row), $7 the optional due_before, $8 the page size plus
 * one (to know whether there is a next page).
 */
#define LIST_SQL(extra)                                                    \
    "SELECT " TSK_COLS ", sort_rank, sort_key FROM tasks.tasks"           \
    " WHERE group_id = $1" extra                                           \
    "   AND sort_rank BETWEEN $2::smallint AND $3::smallint"              \
    "   AND (sort_rank, sort_key, id) > ($4::smallint, $5::bigint, $6::uuid)" \
    "   AND ($7::timestamptz IS NULL OR due_at < $7::timestamptz)"        \
    " ORDER BY sort_rank, sort_key, id LIMIT $8"

static const char sql_list[] = LIST_SQL("");
static const char sql_list_assignee[] = LIST_SQL(" AND assignee_id = $9");

/* TSK_COLS, in its order, as JSON members: raw cells are JSON already
 * (integers, jsonb), the others strings or null.  The first prefix opens
 * a row and separates it from the previous one; on the first row its
 * comma is skipped.  test_tasks_api checks that a listed task equals the
 * same task from GET (tq_row_json). */
static const struct {
    const char *prefix;
    bool raw;
} task_cols[] = {
    {",{\"id\":", false},          {",\"group_id\":", false},
    {",\"title\":", false},        {",\"description\":", false},
    {",\"status\":", false},       {",\"assignee_id\":", false},
    {",\"created_by\":", false},   {",\"due_at\":", false},
    {",\"recurrence\":", true},    {",\"version\":", true},
    {",\"created_at\":", false},   {",\"updated_at\":", false},
    {",\"completed_at\":", false}, {",\"completed_by\":", false},
};
enum { TASK_NCOLS = sizeof task_cols / sizeof *task_cols };

int tsk_h_list(tq_req *req)
{
    const char *gid, *cursor;
    int limit;
    int st = tsk_enter(req, &gid, NULL);
    if (st || (st = tq_page(req, &limit, &cursor)))
        return st;

    const char *status = tq_query(req, "status");
    const char *lo = "0", *hi = "1";
    if (status && strcmp(status, "open") == 0)
        hi = "0";
    else if (status && strcmp(status, "done") == 0)
        lo = "1";
    else if (status)
        return tq_error(req, 400, "validation_failed", "status",
                        "status must be open or done, got \"%.40s\"",
                        status);

    const char *assignee = tq_query(req, "assignee");
    if (assignee && strcmp(assignee, "me") == 0)
        assignee = tq_user(req);
    else if (assignee && !tq_is_uuid(assignee))
        return tq_error(req, 400, "validation_failed", "assignee",
                        "assignee must be me or a user id (a UUID), got "
                        "\"%.40s\"",
                        assignee);

    char *before = NULL;
    const char *db = tq_query(req, "due_before");
    if (db) {
        if (!tsk_rfc3339_ok(db))
            return tq_error(req, 400, "validation_failed", "due_before",
                            "due_before must be an RFC 3339 date-time such "
                            "as 2026-12-04T15:00:00Z, got \"%.40s\"",
                            db);
        before = tq_printf(req, "%s", db);
        char *sp = strchr(before, ' '); /* a '+' that decoded as a space */
        if (sp)
            *sp = '+';
    }

    int rank = -1;
    long long key = LLONG_MIN; /* below every row */
    char id[37] = "00000000-0000-0000-0000-000000000000";
    if (cursor && !tsk_cursor_task_parse(cursor, &rank, &key, id))
        return tq_error(req, 400, "validation_failed", "cursor",
                        "cursor is not one this list gave; start again "
                        "without it");

    const char *p_rank = tq_printf(req, "%d", rank);
    const char *p_key = tq_printf(req, "%lld", key);
    const char *p_limit = tq_printf(req, "%d", limit + 1);
    tq_res *res;
    int rc = assignee
                 ? tq_sql(req, &res, sql_list_assignee, gid, lo, hi, p_rank,
                          p_key, id, before, p_limit, assignee)
                 : tq_sql(req, &res, sql_list, gid, lo, hi, p_rank, p_key,
                          id, before, p_limit);
    /* Every other parameter is ours or checked: an input error is
     * due_before's, whose offset (RFC 3339: up to 23:59) PostgreSQL
     * refuses past 15:59. */
    if (rc == TQ_E_INVALID && before)
        return tq_error(req, 400, "validation_failed", "due_before",
                        "due_before \"%.40s\" is out of range; give it in "
                        "UTC, such as 2026-12-04T15:00:00Z",
                        db);
    if (rc)
        return tq_fail(req, rc);

    /* The page is written as text straight from the cells (see jsonw.c
     * for why); the shape is exactly what tq_row_json gives elsewhere. */
    int n = tq_rows(res);
    int shown = n > limit ? limit : n;
    tsk_buf b = {0};
    tsk_buf_cstr(&b, "{\"items\":[");
    for (int i = 0; i < shown; i++) {
        for (int c = 0; c < TASK_NCOLS; c++) {
            tsk_buf_cstr(&b, task_cols[c].prefix + (c == 0 && i == 0));
            if (task_cols[c].raw)
                tsk_buf_cstr(&b, tq_get(res, i, c) ? tq_get(res, i, c)
                                                   : "null");
            else
                tsk_buf_jstr(&b, tq_get(res, i, c));
        }
        tsk_buf_raw(&b, "}", 1);
    }
    tsk_buf_cstr(&b, "],\"next_cursor\":");
    if (n > limit) {
        char c[TSK_CURSOR_LEN];
        int last = limit - 1;
        tsk_cursor_task(c, atoi(tq_get(res, last, TASK_NCOLS)),
                        strtoll(tq_get(res, last, TASK_NCOLS + 1), NULL, 10),
                        tq_get(res, last, 0));
        tsk_buf_jstr(&b, c);
    } else {
        tsk_buf_cstr(&b, "null");
    }
    tsk_buf_raw(&b, "}", 1);
    if (b.oom) {
        tsk_buf_free(&b);
        return tq_fail(req, TQ_E_NOMEM);
    }
    st = tq_json_text(req, 200, b.p, b.n);
    tsk_buf_free(&b);
    return st;
}

/* --------------------------------------------------------------- get */

static const char sql_get[] =
    "SELECT " TSK_COLS " FROM tasks.tasks WHERE id = $1 AND group_id = $2";

int tsk_h_get(tq_req *req)
{
    const char *gid, *tid;
    tq_res *res;
    int st = tsk_enter_task(req, &gid, &tid, NULL);
    if (st)
        return st;
    int rc = tq_sql(req, &res, sql_get, tid, gid);
    if (rc)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_not_found(req);
    json_t *task = tq_row_json(res, 0);
    if (!task)
        return tq_fail(req, TQ_E_NOMEM);
    return tsk_reply_task(req, 200, task);
}

/* ------------------------------------------------------------- patch */

static const char sql_lock[] =
    "SELECT " TSK_COLS ", rotation_idx FROM tasks.tasks"
    " WHERE id = $1 AND group_id = $2 FOR UPDATE";

/*
 * Every column gets its final value (merged in C).  A new due time or
 * rule re-anchors the series (the next occurrence follows the new
 * one); a due time moved into the future may be announced again.
 */
static const char sql_update[] =
    "UPDATE tasks.tasks SET title = $3, description = $4,"
    " assignee_id = $5::uuid, due_at = $6::timestamptz,"
    " recurrence = $7::jsonb, rotation_idx = $8::integer,"
    " anchor_local = CASE WHEN due_at IS DISTINCT FROM $6::timestamptz"
    "   OR recurrence IS DISTINCT FROM $7::jsonb THEN NULL"
    "   ELSE anchor_local END,"
    " series_seq = CASE WHEN due_at IS DISTINCT FROM $6::timestamptz"
    "   OR recurrence IS DISTINCT FROM $7::jsonb THEN 0"
    "   ELSE series_seq END,"
    " due_notified = CASE WHEN due_at IS DISTINCT FROM $6::timestamptz"
    "   AND $6::timestamptz > now() THEN false ELSE due_notified END,"
    " version = version + 1, updated_at = now()"
    " WHERE id = $1 AND group_id = $2"
    " RETURNING " TSK_COLS;

int tsk_h_patch(tq_req *req)
{
    const char *gid, *tid, *title = NULL, *desc = NULL, *assignee = NULL,
                           *due = NULL;
    const char *me = tq_user(req);
    json_t *rec = NULL, *members = NULL;
    long long want;

    int st = tsk_enter_task(req, &gid, &tid, NULL);
    if (st || (st = tsk_precondition(req, &want)))
        return st;
    if (!json_is_object(tq_body(req)))
        return tq_error(req, 400, "bad_request", NULL,
                        "the body must be a JSON object with the fields to "
                        "change: title, description, assignee_id, due_at, "
                        "recurrence");
    bool has_title = tq_has(req, "title"), has_desc = tq_has(req, "description"),
         has_assignee = tq_has(req, "assignee_id"),
         has_due = tq_has(req, "due_at"), has_rec = tq_has(req, "recurrence");
    if ((has_title && (st = get_title(req, &title))) ||
        (has_desc && (st = tq_get_str(req, "description", 0, 0,
                                      TSK_DESCRIPTION_MAX, &desc))) ||
        (has_assignee && (st = tq_get_uuid(req, "assignee_id", 0, &assignee))) ||
        (has_due && (st = tq_get_time(req, "due_at", 0, &due))) ||
        (has_rec && (st = get_recurrence(req, &rec))))
        return st;

    /* The row lock makes read-compare-write one step: a concurrent PATCH
     * waits here and then sees our version. */
    tq_res *res;
    int rc = tq_sql(req, &res, sql_lock, tid, gid);
    if (rc)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_not_found(req);
    json_t *cur = tq_keep(req, tq_row_json(res, 0));
    if (!cur)
        return tq_fail(req, TQ_E_NOMEM);
    long long version = json_integer_value(json_object_get(cur, "version"));
    int idx = (int)json_integer_value(json_object_get(cur, "rotation_idx"));
    json_object_del(cur, "rotation_idx");
    if ((st = tsk_check_version(req, want, version)))
        return st;
    if (!has_title && !has_desc && !has_assignee && !has_due && !has_rec)
        return tsk_reply_task(req, 200, json_incref(cur));

    const char *old_assignee = tsk_str(cur, "assignee_id");
    json_t *old_rec = json_object_get(cur, "recurrence");
    if (json_is_null(old_rec))
        old_rec = NULL;
    if (!has_title)
        title = tsk_str(cur, "title");
    if (!has_desc)
        desc = tsk_str(cur, "description");
    if (!has_assignee)
        assignee = old_assignee;
    if (!has_due)
        due = tsk_str(cur, "due_at");
    if (!has_rec)
        rec = old_rec;
    if (rec && !due)
        return need_due(req);

    bool assignee_changed = !streq(old_assignee, assignee);
    bool rec_changed = !(rec == old_rec || (rec && old_rec &&
                                            json_equal(rec, old_rec)));
    if ((assignee_changed && assignee) || (rec_changed && rec)) {
        if ((rc = tsk_members(req, gid, &members)))
            return tq_fail(req, rc);
        if ((st = check_people(req, members, assignee_changed ? assignee : NULL,
                               rec_changed ? rec : NULL)))
            return st;
    }
    /* The turn follows the assignee while they are in the rotation; a new
     * rotation without them starts from its top. */
    int pos = tsk_rotation_find(json_object_get(rec, "rotation"), assignee);
    if (pos >= 0)
        idx = pos;
    else if (rec_changed)
        idx = -1;

    rc = tq_sql(req, &res, sql_update, tid, gid, title, desc, assignee, due,
                tsk_json_text(req, rec), tq_printf(req, "%d", idx));
    if (rc)
        return tq_fail(req, rc);
    json_t *task = tq_keep(req, tq_row_json(res, 0));
    if (!task)
        return tq_fail(req, TQ_E_NOMEM);
    if (assignee_changed && assignee &&
        (rc = tsk_emit_assigned(req, gid, task, members, me)))
        return tq_fail(req, rc);
    return tsk_reply_task(req, 200, json_incref(task));
}

/* ------------------------------------------------------------ delete */

int tsk_h_delete(tq_req *req)
{
    const char *gid, *tid, *role;
    long long want;
    tq_res *res;
    int st = tsk_enter_task(req, &gid, &tid, &role);
    if (st || (st = tsk_precondition(req, &want)))
        return st;
    int rc = tq_sql(req, &res,
                    "SELECT created_by, version FROM tasks.tasks"
                    " WHERE id = $1 AND group_id = $2 FOR UPDATE",
                    tid, gid);
    if (rc)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_not_found(req);
    if (strcmp(role, "owner") != 0 && strcmp(role, "admin") != 0 &&
        !streq(tq_get(res, 0, 0), tq_user(req)))
        return tq_forbidden(req, "only the task's creator, an admin or the "
                                 "owner may delete it; your role in this "
                                 "group is member");
    if ((st = tsk_check_version(req, want, tq_get_ll(res, 0, 1))))
        return st;
    rc = tq_sql(req, NULL,
                "DELETE FROM tasks.tasks WHERE id = $1 AND group_id = $2",
                tid, gid);
    if (rc)
        return tq_fail(req, rc);
    return tq_status(req, 204);
}
