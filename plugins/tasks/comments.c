/*
 * comments.c - POST and GET /v1/groups/{gid}/tasks/{tid}/comments.
 *
 * Comments are listed oldest first (a conversation reads downwards) and
 * paged by their insertion sequence.  Photos are attached by media id;
 * the media plugin checks each id (it exists, and the caller may attach
 * it in this group).  Without the media plugin there is nobody to check
 * them, so media_ids are refused rather than stored unchecked.
 *
 * Memory: request memory and kept json only.
 */
#include "tasks_int.h"

#include <stdlib.h>

#define COMMENT_COLS "id, task_id, author_id, body, media_ids, created_at"

/* One statement: the task must be in the group, and the reply needs its
 * title for the event. */
static const char sql_add[] =
    "WITH t AS (SELECT id, title, assignee_id, due_at, created_by"
    "   FROM tasks.tasks WHERE id = $1 AND group_id = $2),"
    " c AS (INSERT INTO tasks.comments (task_id, author_id, body, media_ids)"
    "   SELECT id, $3::uuid, $4, $5::jsonb FROM t"
    "   RETURNING " COMMENT_COLS ")"
    " SELECT c.*, t.title, t.assignee_id AS task_assignee_id,"
    "   t.due_at AS task_due_at, t.created_by AS task_created_by"
    " FROM c, t";

int tsk_h_comment_add(tq_req *req)
{
    const char *gid, *tid, *body, *me = tq_user(req);
    json_t *members;
    tq_res *res;

    int st = tsk_enter_task(req, &gid, &tid, NULL);
    if (st || (st = tq_get_str(req, "body", 1, 1, TSK_COMMENT_MAX, &body)))
        return st;
    if (tsk_blank(body))
        return tq_error(req, 400, "validation_failed", "body",
                        "body must not be blank");

    json_t *ids = json_object_get(tq_body(req), "media_ids");
    if (json_is_null(ids))
        ids = NULL;
    if (ids && (!json_is_array(ids) || json_array_size(ids) > TSK_MEDIA_MAX))
        return tq_error(req, 400, "validation_failed", "media_ids",
                        "media_ids must be an array of at most %d media ids "
                        "from POST /v1/media?purpose=comment",
                        TSK_MEDIA_MAX);
    if (json_array_size(ids)) {
        /* Asked now, not in init(): media may load after tasks. */
        const tq_media_service *media =
            tq_service(TQ_MEDIA_SERVICE, TQ_MEDIA_SERVICE_VERSION);
        if (!media)
            return tq_error(req, 400, "validation_failed", "media_ids",
                            "this server has no media plugin enabled, so "
                            "comments cannot carry photos; send the comment "
                            "without media_ids");
        if ((st = media->check_attach(req, gid, "comment", ids, "media_ids")))
            return st;
    }

    int rc = tq_sql(req, &res, sql_add, tid, gid, me, body,
                    ids ? tsk_json_text(req, ids) : "[]");
    if (rc)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_not_found(req);
    json_t *row = tq_keep(req, tq_row_json(res, 0));
    if (!row)
        return tq_fail(req, TQ_E_NOMEM);

    /* The event is about the task (subject_id), so the feed links there;
     * the notify plugin tells the assignee and the creator. */
    json_t *task = tq_keep(req, json_pack("{s:O, s:O, s:O, s:O}", "id",
                                          json_object_get(row, "task_id"),
                                          "title", json_object_get(row, "title"),
                                          "assignee_id",
                                          json_object_get(row, "task_assignee_id"),
                                          "due_at",
                                          json_object_get(row, "task_due_at")));
    if (!task || (rc = tsk_members(req, gid, &members)))
        return tq_fail(req, task ? rc : TQ_E_NOMEM);
    rc = tsk_emit(req, "task.comment_added", gid, task,
                  tq_printf(req, "%s commented on \"%s\"",
                            tsk_name(members, me), tsk_str(row, "title")),
                  json_pack("{s:O, s:s, s:O}", "comment_id",
                            json_object_get(row, "id"), "author_id", me,
                            "created_by",
                            json_object_get(row, "task_created_by")));
    if (rc)
        return tq_fail(req, rc);

    json_t *out = json_deep_copy(row);
    if (!out)
        return tq_fail(req, TQ_E_NOMEM);
    json_object_del(out, "title");
    json_object_del(out, "task_assignee_id");
    json_object_del(out, "task_due_at");
    json_object_del(out, "task_created_by");
    return tq_json(req, 201, out);
}

/* The task row always comes back (zero rows: no such task, 404); its
 * comments after the cursor ride along, NULL columns when there are none. */
static const char sql_list[] =
    "SELECT c.id, c.task_id, c.author_id, c.body, c.media_ids, c.created_at,"
    "   c.seq"
    " FROM tasks.tasks t"
    " LEFT JOIN LATERAL (SELECT * FROM tasks.comments"
    "   WHERE task_id = t.id AND seq > $3::bigint"
    "   ORDER BY seq LIMIT $4::integer) c ON true"
    " WHERE t.id = $1 AND t.group_id = $2"
    " ORDER BY c.seq";

int tsk_h_comment_list(tq_req *req)
{
    const char *gid, *tid, *cursor;
    int limit;
    long long after = 0;
    tq_res *res;

    int st = tsk_enter_task(req, &gid, &tid, NULL);
    if (st || (st = tq_page(req, &limit, &cursor)))
        return st;
    if (cursor && !tsk_cursor_seq_parse(cursor, &after))
        return tq_error(req, 400, "validation_failed", "cursor",
                        "cursor is not one this list gave; start again "
                        "without it");
    int rc = tq_sql(req, &res, sql_list, tid, gid,
                    tq_printf(req, "%lld", after),
                    tq_printf(req, "%d", limit + 1));
    if (rc)
        return tq_fail(req, rc);
    int n = tq_rows(res);
    if (n == 0)
        return tq_not_found(req);
    if (n == 1 && !tq_get(res, 0, 0))
        n = 0; /* the task, without comments */

    int shown = n > limit ? limit : n;
    json_t *items = json_array();
    json_t *body = json_pack("{s:o}", "items", items);
    if (!items || !body) {
        json_decref(body);
        return tq_fail(req, TQ_E_NOMEM);
    }
    for (int i = 0; i < shown; i++) {
        json_t *row = tq_row_json(res, i);
        if (!row || json_array_append_new(items, row)) {
            json_decref(body);
            return tq_fail(req, TQ_E_NOMEM);
        }
        json_object_del(row, "seq");
    }
    json_t *next = json_null();
    if (n > limit) {
        char c[TSK_CURSOR_LEN];
        tsk_cursor_seq(c, strtoll(tq_get(res, limit - 1, 6), NULL, 10));
        next = json_string(c);
    }
    json_object_set_new(body, "next_cursor", next);
    return tq_json(req, 200, body);
}
