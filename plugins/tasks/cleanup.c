/*
 * cleanup.c - what the tasks plugin does when the groups plugin changes
 * membership: event subscribers, run by the host's dispatcher inside a
 * transaction that also marks the delivery done (so each runs to
 * completion once, retried with backoff on failure).
 *
 *   group.member_left, and group.member_role_changed to landlord:
 *     the person's open tasks pass to the next member of their rotation,
 *     or become unassigned when they have none.  Their ids stay in the
 *     rotation lists and are skipped at each turn (complete.c), so if
 *     they come back they take their turns again.
 *   group.deleted: the group's tasks go, and their comments with them
 *     (ON DELETE CASCADE).  By then the membership service answers 404
 *     for the group, so nothing of it was reachable meanwhile.
 *
 * Deliveries are at least once and may arrive late, so the handlers
 * decide from the current state, not from the event: someone who left
 * and rejoined before the delivery keeps their tasks.
 *
 * Memory: job-context memory and kept json only.
 */
#include "tasks_int.h"

#include <string.h>

static const char sql_theirs[] =
    "SELECT " TSK_COLS ", rotation_idx FROM tasks.tasks"
    " WHERE group_id = $1 AND assignee_id = $2 AND status = 'open'"
    " ORDER BY id FOR UPDATE";

static const char sql_pass[] =
    "UPDATE tasks.tasks SET assignee_id = $2::uuid,"
    " rotation_idx = $3::integer, version = version + 1, updated_at = now()"
    " WHERE id = $1 RETURNING " TSK_COLS;

static bool is_tenant(void *members, const char *uid)
{
    return tsk_is_tenant(members, uid);
}

/* uid no longer takes chores in gid: hand their open tasks on. */
static int hand_on(tq_req *ctx, const char *gid, const char *uid)
{
    json_t *members;
    tq_res *res;
    if (!tq_is_uuid(gid) || !tq_is_uuid(uid)) {
        /* A retry cannot fix a malformed payload; say so and move on. */
        tq_log(ctx, TQ_LOG_WARN,
               "membership event without a valid group_id/user_id "
               "(%s/%s); nothing to hand on",
               gid ? gid : "null", uid ? uid : "null");
        return TQ_OK;
    }
    int rc = tsk_members(ctx, gid, &members);
    if (rc)
        return rc;
    if (tsk_is_tenant(members, uid))
        return TQ_OK; /* back in the household before we got here */
    if ((rc = tq_sql(ctx, &res, sql_theirs, gid, uid)))
        return rc;

    for (int i = 0; i < tq_rows(res); i++) {
        json_t *task = tq_keep(ctx, tq_row_json(res, i));
        if (!task)
            return TQ_E_NOMEM;
        json_t *rot = json_object_get(json_object_get(task, "recurrence"),
                                      "rotation");
        int idx = (int)json_integer_value(json_object_get(task,
                                                          "rotation_idx"));
        const char *next = NULL;
        if (json_array_size(rot)) {
            int from = tsk_rotation_find(rot, uid);
            int n = tsk_rotation_next(rot, from >= 0 ? from : idx, is_tenant,
                                      members);
            if (n >= 0) {
                idx = n;
                next = json_string_value(json_array_get(rot, (size_t)n));
            }
        }
        tq_res *upd;
        rc = tq_sql(ctx, &upd, sql_pass, tsk_str(task, "id"), next,
                    tq_printf(ctx, "%d", idx));
        if (rc)
            return rc;
        if (next) {
            json_t *now = tq_keep(ctx, tq_row_json(upd, 0));
            if (!now)
                return TQ_E_NOMEM;
            if ((rc = tsk_emit_assigned(ctx, gid, now, members, NULL)))
                return rc;
        }
    }
    return TQ_OK;
}

static const char *payload_str(const tq_event *ev, const char *key)
{
    return json_string_value(json_object_get(ev->payload, key));
}

int tsk_on_member_left(tq_req *ctx, const tq_event *ev)
{
    return hand_on(ctx, ev->group_id, payload_str(ev, "user_id"));
}

int tsk_on_role_changed(tq_req *ctx, const tq_event *ev)
{
    const char *role = payload_str(ev, "role");
    if (!role || strcmp(role, "landlord") != 0)
        return TQ_OK; /* tenants keep their chores whatever their rank */
    return hand_on(ctx, ev->group_id, payload_str(ev, "user_id"));
}

int tsk_on_group_deleted(tq_req *ctx, const tq_event *ev)
{
    const char *gid = ev->group_id ? ev->group_id
                                   : payload_str(ev, "group_id");
    if (!tq_is_uuid(gid)) {
        tq_log(ctx, TQ_LOG_WARN,
               "group.deleted without a valid group id (%s); nothing to "
               "delete",
               gid ? gid : "null");
        return TQ_OK;
    }
    return tq_sql(ctx, NULL, "DELETE FROM tasks.tasks WHERE group_id = $1",
                  gid);
}
