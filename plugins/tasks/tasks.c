/*
 * tasks.c - the tasks plugin: chores and to-dos of a household, with
 * assignees, due dates, recurrence with rotation, comments, fairness
 * stats, the group activity feed and the task.due job.  This file is the
 * descriptor, the configuration and init(), which registers everything in
 * one place: read it as the plugin's table of contents.  README.md
 * beside it is the operator's and the app developer's manual.
 *
 * Memory: tsk_conf and tsk_groups are written once during
 * init() (single-threaded load) and only read afterwards; the route
 * table is static and copied by the host.
 */
#include "tasks_int.h"

#include <stdlib.h>
#include <string.h>

tsk_config tsk_conf;
const tq_groups_service *tsk_groups;

static const char *const requires_[] = {"groups", NULL};

/* Fixed segments ("stats") win over {tid} in the router, so the stats
 * route does not collide with a task id. */
static const tq_route routes[] = {
    {"POST", "/v1/groups/{gid}/tasks", tsk_h_create, 0, 0},
    {"GET", "/v1/groups/{gid}/tasks", tsk_h_list, 0, 0},
    {"GET", "/v1/groups/{gid}/tasks/stats", tsk_h_stats, 0, 0},
    {"GET", "/v1/groups/{gid}/tasks/{tid}", tsk_h_get, 0, 0},
    {"PATCH", "/v1/groups/{gid}/tasks/{tid}", tsk_h_patch, 0, 0},
    {"DELETE", "/v1/groups/{gid}/tasks/{tid}", tsk_h_delete, 0, 0},
    {"POST", "/v1/groups/{gid}/tasks/{tid}/complete", tsk_h_complete, 0, 0},
    {"POST", "/v1/groups/{gid}/tasks/{tid}/comments", tsk_h_comment_add, 0,
     0},
    {"GET", "/v1/groups/{gid}/tasks/{tid}/comments", tsk_h_comment_list, 0,
     0},
    {"GET", "/v1/groups/{gid}/activity", tsk_h_activity, 0, 0},
};

/* ------------------------------------------------------------ config */

static int load_config(void)
{
    json_t *conf = tq_config();
    const char *key;
    json_t *v;

    json_object_foreach(conf, key, v) {
        if (strcmp(key, "due_interval_s") != 0) {
            tq_log(NULL, TQ_LOG_ERROR,
                   "tasqly.yaml: plugins[tasks].config.%s: unknown "
                   "setting; the tasks plugin knows due_interval_s",
                   key);
            return TQ_E_INVALID;
        }
    }

    tsk_conf = (tsk_config){.due_interval_s = 60};
    v = json_object_get(conf, "due_interval_s");
    if (v) {
        long long x = -1;
        char *end = NULL;
        if (json_is_integer(v))
            x = json_integer_value(v);
        else if (json_is_string(v) && *json_string_value(v)) {
            /* what a ${env:...} reference yields */
            x = strtoll(json_string_value(v), &end, 10);
            if (*end)
                x = -1;
        }
        if (x < 1 || x > 86400) {
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            tq_log(NULL, TQ_LOG_ERROR,
                   "tasqly.yaml: plugins[tasks].config.due_interval_s: "
                   "expected seconds from 1 to 86400, got %s",
                   text ? text : "?");
            free(text);
            return TQ_E_INVALID;
        }
        tsk_conf.due_interval_s = (unsigned)x;
    }
    return TQ_OK;
}

/* -------------------------------------------------------------- init */

static int tasks_init(tq_plugin *p)
{
    (void)p; /* the SDK wrappers already carry this plugin's handle */
    tsk_groups = tq_service_required(TQ_GROUPS_SERVICE,
                                     TQ_GROUPS_SERVICE_VERSION, "groups");
    if (!tsk_groups)
        return TQ_E_NOTFOUND;
    int rc = load_config();
    if (rc == 0)
        rc = tsk_register_migrations();
    if (rc == 0)
        rc = tq_routes(routes, sizeof routes / sizeof *routes);
    if (rc == 0)
        rc = tq_subscribe("group.member_left", tsk_on_member_left);
    if (rc == 0)
        rc = tq_subscribe("group.member_role_changed", tsk_on_role_changed);
    if (rc == 0)
        rc = tq_subscribe("group.deleted", tsk_on_group_deleted);
    if (rc == 0)
        rc = tq_job("due", tsk_conf.due_interval_s, tsk_job_due);
    return rc;
}

TQ_PLUGIN_DEFINE("tasks", "1.0.0", requires_, tasks_init, NULL)
