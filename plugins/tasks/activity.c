/*
 * activity.c - GET /v1/groups/{gid}/activity: the group's events from
 * every plugin, newest first, each with a one-line summary.  The host
 * keeps the event log and pages it; this route only decides who may see
 * it (the household, like the tasks: landlords get 403 and follow their
 * requests through /v1/landlord/requests instead).
 *
 * Memory: the host's list is a new reference handed straight back.
 */
#include "tasks_int.h"

int tsk_h_activity(tq_req *req)
{
    const char *gid, *cursor;
    int limit;
    json_t *out;
    int st = tsk_enter(req, &gid, NULL);
    if (st || (st = tq_page(req, &limit, &cursor)))
        return st;
    int rc = tq_events_list(req, gid, limit, cursor, &out);
    if (rc == TQ_E_INVALID) /* gid is a checked UUID: the cursor is bad */
        return tq_error(req, 400, "validation_failed", "cursor",
                        "cursor is not one this feed gave; start again "
                        "without it");
    if (rc)
        return tq_fail(req, rc);
    return tq_json(req, 200, out);
}
