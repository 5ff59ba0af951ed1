/*
 * common.c - what the task routes share: entering a group (the membership
 * check every route starts with), the group's members, task replies with
 * their ETag, preconditions, and task events.
 *
 * Memory: json results are kept by the request (tq_keep) and borrowed by
 * callers; strings are request memory.
 */
#include "tasks_int.h"

#include <stdlib.h>
#include <string.h>

int tsk_enter(tq_req *req, const char **gid, const char **role)
{
    int st = tq_param_uuid(req, "gid", gid);
    if (st)
        return st;
    return tsk_groups->require(req, *gid, TQ_ROLE_TENANT, role);
}

int tsk_enter_task(tq_req *req, const char **gid, const char **tid,
                   const char **role)
{
    int st = tsk_enter(req, gid, role);
    if (st)
        return st;
    return tq_param_uuid(req, "tid", tid);
}

int tsk_members(tq_req *req, const char *gid, json_t **out)
{
    int rc = tsk_groups->members(req, gid, out);
    if (rc == TQ_OK)
        tq_keep(req, *out);
    return rc;
}

static json_t *member(json_t *members, const char *uid)
{
    size_t i;
    json_t *m;
    if (!uid)
        return NULL;
    json_array_foreach(members, i, m) {
        const char *id = json_string_value(json_object_get(m, "user_id"));
        if (id && strcmp(id, uid) == 0)
            return m;
    }
    return NULL;
}

bool tsk_is_tenant(json_t *members, const char *uid)
{
    json_t *m = member(members, uid);
    const char *role = json_string_value(json_object_get(m, "role"));
    return role && strcmp(role, "landlord") != 0;
}

const char *tsk_name(json_t *members, const char *uid)
{
    const char *n =
        json_string_value(json_object_get(member(members, uid),
                                          "display_name"));
    return n && *n ? n : "Someone";
}

const char *tsk_json_text(tq_req *req, json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return NULL;
    const char *copy = tq_printf(req, "%s", s);
    free(s);
    return copy;
}

int tsk_reply_task(tq_req *req, int status, json_t *task)
{
    json_t *v = json_object_get(task, "version");
    if (json_is_integer(v))
        tq_set_header(req, "ETag",
                      tq_printf(req, "\"%lld\"",
                                (long long)json_integer_value(v)));
    return tq_json(req, status, task);
}

int tsk_precondition(tq_req *req, long long *version)
{
    if (tsk_if_match(tq_header(req, "If-Match"), version) < 0)
        return tq_error(req, 400, "bad_request", NULL,
                        "If-Match must be the task's ETag, such as \"3\" "
                        "(quotes included), or *");
    return 0;
}

int tsk_check_version(tq_req *req, long long want, long long have)
{
    if (want < 0 || want == have)
        return 0;
    return tq_error(req, 409, "conflict", NULL,
                    "the task changed since you read it: If-Match says "
                    "version %lld, it is now %lld; fetch it again and "
                    "reapply your change",
                    want, have);
}

json_t *tsk_jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

const char *tsk_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int tsk_emit(tq_req *req, const char *type, const char *gid, json_t *task,
             const char *summary, json_t *extra)
{
    json_t *p = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                          "subject_id", tsk_jstr(tsk_str(task, "id")),
                          "task_id", tsk_jstr(tsk_str(task, "id")),
                          "title", tsk_jstr(tsk_str(task, "title")),
                          "assignee_id",
                          tsk_jstr(tsk_str(task, "assignee_id")),
                          "due_at", tsk_jstr(tsk_str(task, "due_at")),
                          "summary", tsk_jstr(summary));
    if (!p || (extra && json_object_update(p, extra))) {
        json_decref(p);
        json_decref(extra);
        return TQ_E_NOMEM;
    }
    json_decref(extra);
    return tq_emit(req, type, gid, p);
}

int tsk_emit_assigned(tq_req *req, const char *gid, json_t *task,
                      json_t *members, const char *actor)
{
    const char *title = tsk_str(task, "title");
    const char *who = tsk_str(task, "assignee_id");
    const char *summary;
    if (!who)
        return TQ_OK;
    if (!actor)
        summary = tq_printf(req, "\"%s\" is now %s's turn", title,
                            tsk_name(members, who));
    else if (strcmp(actor, who) == 0)
        summary = tq_printf(req, "%s took \"%s\"", tsk_name(members, actor),
                            title);
    else
        summary = tq_printf(req, "%s assigned \"%s\" to %s",
                            tsk_name(members, actor), title,
                            tsk_name(members, who));
    return tsk_emit(req, "task.assigned", gid, task, summary,
                    json_pack("{s:o}", "assigned_by", tsk_jstr(actor)));
}
