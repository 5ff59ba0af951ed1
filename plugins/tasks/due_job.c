/*
 * due_job.c - the periodic job "tasks.due": emits task.due once for each
 * open task whose due time has passed.
 *
 * Once, even with several replicas: the host runs a job on one replica
 * per interval, and independently of that each task is marked
 * (due_notified) in the same transaction that writes its event to the
 * outbox, so a second run, here or elsewhere, finds nothing left to
 * announce.  SKIP LOCKED lets two overlapping runs split the work rather
 * than queue behind each other.  A batch is bounded so one run stays
 * short; the rest waits for the next run.
 *
 * Each occurrence of a recurring chore is its own row, so each gets its
 * own task.due.  A due time moved into the future by PATCH is announced
 * again when it comes (task_routes.c clears the mark).
 *
 * Memory: request (job context) memory only.
 */
#include "tasks_int.h"

static const char sql_due[] =
    "WITH d AS (SELECT id FROM tasks.tasks"
    "   WHERE status = 'open' AND NOT due_notified AND due_at <= now()"
    "   ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED)"
    " UPDATE tasks.tasks t SET due_notified = true FROM d WHERE t.id = d.id"
    " RETURNING t.id, t.group_id, t.title, t.assignee_id, t.due_at,"
    "   t.created_by";

int tsk_job_due(tq_req *ctx)
{
    tq_res *res;
    int rc = tq_sql(ctx, &res, sql_due);
    if (rc)
        return rc;
    for (int i = 0; i < tq_rows(res); i++) {
        json_t *task = tq_keep(ctx, tq_row_json(res, i));
        if (!task)
            return TQ_E_NOMEM;
        rc = tsk_emit(ctx, "task.due", tsk_str(task, "group_id"), task,
                      tq_printf(ctx, "\"%s\" is due", tsk_str(task, "title")),
                      json_pack("{s:O}", "created_by",
                                json_object_get(task, "created_by")));
        if (rc)
            return rc;
    }
    if (tq_rows(res) > 0)
        tq_log(ctx, TQ_LOG_DEBUG, "task.due emitted for %d tasks",
               tq_rows(res));
    return TQ_OK;
}
