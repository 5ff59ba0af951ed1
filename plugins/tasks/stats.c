/*
 * stats.c - GET /v1/groups/{gid}/tasks/stats?days=30: completions per
 * member over the last days, so the app can show who carries the house.
 *
 * Every current tenant is listed, with 0 when they completed nothing;
 * people who completed tasks in the window and have since left are
 * listed too (member: false), since their work still counted.  Sorted by
 * completions, most first.
 *
 * Memory: request memory and kept json only.
 */
#include "tasks_int.h"

#include <stdlib.h>
#include <string.h>

/* The window's start comes back even when nothing was completed. */
static const char sql_stats[] =
    "WITH w AS (SELECT now() - make_interval(days => $2::integer) AS since)"
    " SELECT w.since, c.user_id, c.completed FROM w"
    " LEFT JOIN LATERAL (SELECT completed_by AS user_id,"
    "   count(*)::integer AS completed FROM tasks.tasks"
    "   WHERE group_id = $1 AND status = 'done' AND completed_at >= w.since"
    "   GROUP BY completed_by) c ON true";

static int by_completed(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t cx = json_integer_value(json_object_get(x, "completed"));
    json_int_t cy = json_integer_value(json_object_get(y, "completed"));
    if (cx != cy)
        return cx < cy ? 1 : -1;
    const char *nx = json_string_value(json_object_get(x, "user_id"));
    const char *ny = json_string_value(json_object_get(y, "user_id"));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

int tsk_h_stats(tq_req *req)
{
    const char *gid;
    json_t *members;
    tq_res *res;
    int st = tsk_enter(req, &gid, NULL);
    if (st)
        return st;

    long days = 30;
    const char *d = tq_query(req, "days");
    if (d) {
        char *end;
        days = strtol(d, &end, 10);
        if (!*d || *end || days < 1 || days > TSK_STATS_DAYS_MAX)
            return tq_error(req, 400, "validation_failed", "days",
                            "days must be an integer from 1 to %d, got "
                            "\"%.20s\"",
                            TSK_STATS_DAYS_MAX, d);
    }
    int rc = tq_sql(req, &res, sql_stats, gid, tq_printf(req, "%ld", days));
    if (rc || (rc = tsk_members(req, gid, &members)))
        return tq_fail(req, rc);
    json_t *first = tq_keep(req, tq_row_json(res, 0));
    if (!first)
        return tq_fail(req, TQ_E_NOMEM);

    /* Current tenants first with 0, then the counts on top. */
    json_t *byuser = tq_keep(req, json_object());
    size_t i;
    json_t *m;
    if (!byuser)
        return tq_fail(req, TQ_E_NOMEM);
    json_array_foreach(members, i, m) {
        const char *uid = tsk_str(m, "user_id");
        if (uid && tsk_is_tenant(members, uid))
            json_object_set_new(byuser, uid,
                                json_pack("{s:s, s:O, s:i, s:b}", "user_id",
                                          uid, "display_name",
                                          json_object_get(m, "display_name"),
                                          "completed", 0, "member", 1));
    }
    for (int r = 0; r < tq_rows(res); r++) {
        const char *uid = tq_get(res, r, 1);
        if (!uid)
            continue; /* nothing completed in the window */
        json_t *e = json_object_get(byuser, uid);
        if (!e) {
            e = json_pack("{s:s, s:n, s:b}", "user_id", uid, "display_name",
                          "member", 0);
            json_object_set_new(byuser, uid, e);
        }
        json_object_set_new(e, "completed",
                            json_integer(tq_get_ll(res, r, 2)));
    }

    size_t n = json_object_size(byuser), k = 0;
    json_t **v = tq_alloc(req, (n ? n : 1) * sizeof *v);
    const char *key;
    json_t *val;
    json_object_foreach(byuser, key, val) {
        v[k++] = val;
    }
    qsort(v, k, sizeof *v, by_completed);
    json_t *list = json_array();
    for (size_t j = 0; list && j < k; j++)
        json_array_append(list, v[j]);
    json_t *body = json_pack("{s:O, s:i, s:o}", "since",
                             json_object_get(first, "since"), "days",
                             (int)days, "members", list);
    if (!body)
        return tq_fail(req, TQ_E_NOMEM);
    return tq_json(req, 200, body);
}
