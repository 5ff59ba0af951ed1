/*
 * tasks_int.h - what the files of the tasks plugin share; not part of the
 * SDK and never included by anything outside plugins/tasks/.
 *
 * Files, one idea each:
 *   tasks.c        descriptor, configuration, init(): the table of contents
 *   migrations.c   the schema, as ordered migrations
 *   common.c       what every route shares: entering a group, members,
 *                  task replies with their ETag, events
 *   task_routes.c  create, list, get, patch, delete
 *   complete.c     completion, and the next occurrence of a recurring task
 *   comments.c     comments on a task
 *   stats.c        completions per member (fairness)
 *   activity.c     the group's activity feed (every plugin's events)
 *   due_job.c      the periodic job that emits task.due
 *   cleanup.c      subscribers: a member left, a group was deleted
 *   cursor.c       keyset cursors, encoded opaquely (pure C)
 *   recurrence.c   recurrence validation and rotation order (pure C)
 *   params.c       If-Match, RFC 3339 and UUID checks (pure C)
 *   jsonw.c        a JSON text writer for the list's hot path (pure C)
 *
 * The pure-C files use jansson and libc only, so the unit tests compile
 * them without a host.
 *
 * Memory: handlers produce request memory (tq_alloc, tq_printf, results)
 * or jansson references handed to the host (tq_json steals, tq_keep
 * adopts).  The plugin holds no heap memory between requests; its only
 * globals are set once in init() and read-only afterwards.  Internal
 * names start with tsk_; -fvisibility=hidden keeps them inside the .so.
 */
#ifndef TASKS_INT_H
#define TASKS_INT_H

#include <tasqly/groups.h>
#include <tasqly/media.h>
#include <tasqly/tasqly.h>

#include <stdbool.h>
#include <stddef.h>

/* ------------------------------------------------------------- limits */

enum {
    TSK_TITLE_MAX = 200,
    TSK_DESCRIPTION_MAX = 10000,
    TSK_COMMENT_MAX = 5000,
    TSK_INTERVAL_MAX = 365,  /* every 365 days/weeks/months at most */
    TSK_ROTATION_MAX = 50,   /* more people than a household has */
    TSK_MEDIA_MAX = 10,      /* photos on one comment */
    TSK_STATS_DAYS_MAX = 365,
};

/* ------------------------------------------------------------- config */

typedef struct tsk_config {
    unsigned due_interval_s; /* how often the task.due job runs: 60 */
} tsk_config;

extern tsk_config tsk_conf;

/* The membership service, looked up once in init() (groups is a
 * requirement, so it loads first).  The media service is optional and
 * may load after us, so comments.c asks for it when it needs it. */
extern const tq_groups_service *tsk_groups;

int tsk_register_migrations(void);

/* ---------------------------------------------------------- pure C */

/* A validation failure found by pure code: the body field at fault
 * ("recurrence.rotation[2]") and a message naming value and fix. */
typedef struct tsk_err {
    char field[64];
    char msg[256];
} tsk_err;

/* True when s is a UUID in canonical text form (any case). */
/* True when s is an RFC 3339 date-time ("2026-12-04T15:00:00Z",
 * "2026-12-04T16:00:00.5+01:00").  A space where the offset's '+' belongs
 * is accepted: an unencoded '+' in a query string decodes as a space. */
bool tsk_rfc3339_ok(const char *s);
/* True when s is empty or only whitespace. */
bool tsk_blank(const char *s);

/*
 * The If-Match header: "\"7\"" (our ETag), a bare 7, or "*".
 * Returns 1 and *version for a version, 0 when the header is absent or
 * "*" (no precondition), -1 when it is none of those.
 */
int tsk_if_match(const char *header, long long *version);

/*
 * Validates a request's recurrence object and returns its canonical form
 * {"freq", "interval", "rotation": [uuid, ...]} (new reference; interval
 * defaults to 1, rotation to [], uuids lower-cased), or NULL with *err
 * filled.  Unknown keys are refused: a misspelt "intervall" must not
 * silently mean every 1.
 */
json_t *tsk_recurrence_parse(json_t *in, tsk_err *err);

/* Position of uid in the rotation array, or -1. */
int tsk_rotation_find(json_t *rotation, const char *uid);

/*
 * The rotation entry that follows position from (-1: start at the top),
 * wrapping around, skipping entries for which ok() is false; from itself
 * comes last, so a rotation with one remaining member stays with them.
 * Returns its index, or -1 when nobody in the rotation is ok.
 */
int tsk_rotation_next(json_t *rotation, int from,
                      bool (*ok)(void *arg, const char *uid), void *arg);

/* Keyset cursors: base64url (no padding) of a kind byte and the sort key,
 * so clients treat them as opaque and cannot forge a malformed one. */
enum { TSK_CURSOR_LEN = 64 };
/* Tasks sort by (rank, key, id): see migrations.c. */
void tsk_cursor_task(char out[TSK_CURSOR_LEN], int rank, long long key,
                     const char *id);
bool tsk_cursor_task_parse(const char *s, int *rank, long long *key,
                           char id[37]);
/* Comments sort by their insertion sequence. */
void tsk_cursor_seq(char out[TSK_CURSOR_LEN], long long seq);
bool tsk_cursor_seq_parse(const char *s, long long *seq);

/* A growing JSON text (jsonw.c); zero-initialise, free with
 * tsk_buf_free().  oom is set, and writes stop, when memory ran out. */
typedef struct tsk_buf {
    char *p;
    size_t n, cap;
    bool oom;
} tsk_buf;
void tsk_buf_raw(tsk_buf *b, const char *s, size_t n);
void tsk_buf_cstr(tsk_buf *b, const char *s);
/* s as a JSON string (escaped), or null when s is NULL. */
void tsk_buf_jstr(tsk_buf *b, const char *s);
void tsk_buf_free(tsk_buf *b);

/* ----------------------------------------------------- shared by routes */

/* A task's columns as the API shows them (TSK_COLS) and the hidden ones
 * the routes need.  Constant text, so every statement is prepared once. */
#define TSK_COLS                                                         \
    "id, group_id, title, description, status, assignee_id, created_by," \
    " due_at, recurrence, version, created_at, updated_at, completed_at," \
    " completed_by"

/*
 * The group of the path ({gid}) for a tenant (owner, admin, member):
 * 404 for anyone else who is not a member, 403 for the landlord (chores
 * are the household's business; see README.md).  Returns 0 with *gid
 * (and *role when role is not NULL), or the status of the response set.
 */
int tsk_enter(tq_req *req, const char **gid, const char **role);
/* The same, then {tid}: 404 unless it is a UUID. */
int tsk_enter_task(tq_req *req, const char **gid, const char **tid,
                   const char **role);

/* The group's members, [{user_id, display_name, role, joined_at}], kept
 * by the request (borrowed result).  0 or a TQ_E_* code. */
int tsk_members(tq_req *req, const char *gid, json_t **out);
/* True when uid is an owner, admin or member (not a landlord) of the
 * group whose members are given. */
bool tsk_is_tenant(json_t *members, const char *uid);
/* uid's display name for event summaries, or "Someone". */
const char *tsk_name(json_t *members, const char *uid);

/* A JSON value as compact text in request memory (NULL for NULL). */
const char *tsk_json_text(tq_req *req, json_t *v);

/* Reply with a task row: sets ETag "<version>" and steals task. */
int tsk_reply_task(tq_req *req, int status, json_t *task);

/* Reads If-Match: 0 with *version (-1 when there is no precondition), or
 * a 400 set and returned. */
int tsk_precondition(tq_req *req, long long *version);
/* 0 when want is -1 or equals have; else a 409 set and returned. */
int tsk_check_version(tq_req *req, long long want, long long have);

/* A JSON string, or null for NULL (new reference). */
json_t *tsk_jstr(const char *s);
/* A string member of obj, NULL when absent or null (borrowed). */
const char *tsk_str(json_t *obj, const char *key);

/*
 * Emits a task event about task (a row as the API shows it) with the
 * payload keys every task event has: subject_id and summary (the activity
 * feed's), task_id, title, assignee_id, due_at.  Steals extra (may be
 * NULL), which adds or overrides keys.  0 or a TQ_E_* code.
 */
int tsk_emit(tq_req *req, const char *type, const char *gid, json_t *task,
             const char *summary, json_t *extra);
/* task.assigned for task's current assignee, by actor (NULL when nobody
 * acted: a member left and the turn passed on). */
int tsk_emit_assigned(tq_req *req, const char *gid, json_t *task,
                      json_t *members, const char *actor);

/* ------------------------------------------------------------ handlers */

int tsk_h_create(tq_req *req);
int tsk_h_list(tq_req *req);
int tsk_h_get(tq_req *req);
int tsk_h_patch(tq_req *req);
int tsk_h_delete(tq_req *req);
int tsk_h_complete(tq_req *req);
int tsk_h_comment_add(tq_req *req);
int tsk_h_comment_list(tq_req *req);
int tsk_h_stats(tq_req *req);
int tsk_h_activity(tq_req *req);

/* The task.due job, and the event subscribers. */
int tsk_job_due(tq_req *ctx);
int tsk_on_member_left(tq_req *ctx, const tq_event *ev);
int tsk_on_role_changed(tq_req *ctx, const tq_event *ev);
int tsk_on_group_deleted(tq_req *ctx, const tq_event *ev);

#endif
