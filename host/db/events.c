/*
 * events.c - the transactional outbox and its dispatcher.
 *
 * emit() inserts the event and one delivery row per subscribing plugin in
 * one statement of the caller's transaction, then NOTIFYs tasqly_events
 * (NOTIFY is transactional too: it fires at commit, and never for a
 * rolled-back change).  Dispatcher threads, each with a connection of its
 * own, LISTEN on that channel and otherwise sleep until the next retry is
 * due (at most DISPATCH_IDLE_MS).  A delivery is handled in a transaction
 * of its own:
 *
 *   BEGIN; claim one due row FOR UPDATE SKIP LOCKED; SAVEPOINT;
 *   run the subscriber; RELEASE (or ROLLBACK TO on failure);
 *   mark it done (or count the attempt, back off, maybe mark it dead);
 *   COMMIT
 *
 * so the subscriber's database effects and the "done" mark commit
 * together, other threads and replicas skip the locked row, and a crash
 * anywhere before COMMIT means another attempt later: at least once.
 *
 * Memory: the dispatcher state is static and lives from start() to stop();
 * each delivery's tq_req, payload and results are freed before the next.
 */
#include "dbpriv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

host_event_stats host_event_stats_g;

#define DISPATCH_THREADS 2
#define DISPATCH_IDLE_MS 5000   /* wake at least this often regardless */
#define GAUGE_EVERY_MS 5000
#define BACKOFF_BASE_S 1.0
#define BACKOFF_CAP_S 600.0
#define RETENTION_INTERVAL_S 3600

static const char events_sql[] =
    "CREATE TABLE tasqly.events (\n"
    "    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    "    type       text NOT NULL CHECK (type <> ''),\n"
    "    group_id   uuid,\n"
    "    actor_id   uuid,\n"
    "    subject_id text,\n"
    "    summary    text,\n"
    "    payload    jsonb NOT NULL DEFAULT '{}',\n"
    "    created_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE INDEX events_group_idx ON tasqly.events (group_id, id DESC)\n"
    "    WHERE group_id IS NOT NULL;\n"
    "-- retention scans by time; BRIN suits an append-only log\n"
    "CREATE INDEX events_created_brin ON tasqly.events USING brin (created_at);\n"
    "CREATE TABLE tasqly.deliveries (\n"
    "    event_id   bigint NOT NULL REFERENCES tasqly.events (id)\n"
    "               ON DELETE CASCADE,\n"
    "    subscriber text NOT NULL,\n"
    "    state      text NOT NULL DEFAULT 'pending'\n"
    "               CHECK (state IN ('pending', 'done', 'dead')),\n"
    "    attempts   integer NOT NULL DEFAULT 0,\n"
    "    next_at    timestamptz NOT NULL DEFAULT now(),\n"
    "    last_error text,\n"
    "    updated_at timestamptz NOT NULL DEFAULT now(),\n"
    "    PRIMARY KEY (event_id, subscriber)\n"
    ");\n"
    "CREATE INDEX deliveries_due_idx ON tasqly.deliveries (next_at)\n"
    "    WHERE state = 'pending';\n"
    "CREATE INDEX deliveries_dead_idx ON tasqly.deliveries (subscriber)\n"
    "    WHERE state = 'dead';\n";

static const char jobs_sql[] =
    "CREATE TABLE tasqly.jobs (\n"
    "    name       text PRIMARY KEY,\n"
    "    last_run   timestamptz,\n"
    "    last_error text,\n"
    "    runs       bigint NOT NULL DEFAULT 0,\n"
    "    failures   bigint NOT NULL DEFAULT 0,\n"
    "    last_host  text\n"
    ");\n";

/* Everything the threads share; written by start() before they exist. */
static struct {
    char *url;
    int timeout_ms;
    int max_attempts;
    char *subscribers; /* "{notify,tasks}": the plugins we deliver for */
    int wake[2];       /* stop() writes here to end the polls */
    pthread_t th[DISPATCH_THREADS];
    int nth;
    atomic_bool stop;
} ev = {.wake = {-1, -1}};

static atomic_int retention_days = 90;

/* --------------------------------------------------------------- emit */

static bool valid_type(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 100)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '.' || *t == '_' || *t == '-'))
            return false;
    return true;
}

/* "{a,b}": the plugins subscribed to type (plugin names need no quoting:
 * the loader and migrate.c hold them to [a-z][a-z0-9_]*).  Arena memory;
 * "{}" when nobody listens. */
static char *subscribers_of(host_arena *a, const char *type)
{
    size_t len = 3;
    for (size_t i = 0; i < host_reg.subs.n; i++)
        len += strlen(host_reg.subs.v[i].plugin->name) + 1;
    char *s = host_arena_alloc(a, len), *p = s;
    *p++ = '{';
    for (size_t i = 0; i < host_reg.subs.n; i++) {
        const host_subscription *sub = &host_reg.subs.v[i];
        if (strcmp(sub->type, type) != 0)
            continue;
        /* One delivery per plugin, even if (against the rules) it
         * subscribed twice. */
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = host_reg.subs.v[j].plugin == sub->plugin &&
                  strcmp(host_reg.subs.v[j].type, type) == 0;
        if (dup)
            continue;
        if (p > s + 1)
            *p++ = ',';
        size_t n = strlen(sub->plugin->name);
        memcpy(p, sub->plugin->name, n);
        p += n;
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/* A payload key for the activity feed: strings as they are, integers as
 * text, anything else ignored. */
static const char *feed_key(tq_req *req, json_t *payload, const char *key)
{
    json_t *v = json_object_get(payload, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return host_arena_printf(&req->arena, "%lld",
                                 (long long)json_integer_value(v));
    return NULL;
}

int host_emit(tq_req *req, const char *type, const char *group_id,
              json_t *payload)
{
    int rc = TQ_OK;
    char *text = NULL;
    if (!req || !req->db) {
        host_log(TQ_LOG_ERROR, "tq_emit(%s) without a database connection",
                 type ? type : "(null)");
        rc = TQ_E_STATE;
    } else if (!valid_type(type)) {
        host_log(TQ_LOG_ERROR,
                 "tq_emit: event type \"%s\" is not valid: use 1 to 100 "
                 "characters of a-z 0-9 . _ - such as \"task.assigned\"",
                 type ? type : "(null)");
        rc = TQ_E_INVALID;
    } else if (group_id && !host_is_uuid(group_id)) {
        host_log(TQ_LOG_ERROR, "tq_emit(%s): group id \"%s\" is not a uuid",
                 type, group_id);
        rc = TQ_E_INVALID;
    } else if (payload && !json_is_object(payload)) {
        host_log(TQ_LOG_ERROR, "tq_emit(%s): the payload must be a JSON "
                               "object or NULL", type);
        rc = TQ_E_INVALID;
    } else if (!(text = payload ? json_dumps(payload, JSON_COMPACT)
                                : strdup("{}"))) {
        rc = TQ_E_NOMEM;
    }
    if (rc != TQ_OK) {
        json_decref(payload);
        if (req && !req->db_error)
            req->db_error = rc;
        return rc;
    }

    /* The outbox row must commit or roll back with the change it
     * describes, so emit always runs in a transaction: even from a GET
     * handler, which then gets one (committed by the handler runner). */
    if (!req->in_tx) {
        rc = host_db_begin(req->db);
        if (rc == TQ_OK)
            req->in_tx = true;
        else if (!req->db_error)
            req->db_error = rc;
    }
    const char *subs = subscribers_of(&req->arena, type);
    if (rc == TQ_OK) {
        const char *p[] = {type,
                           group_id,
                           req->user_id[0] ? req->user_id : NULL,
                           feed_key(req, payload, "subject_id"),
                           feed_key(req, payload, "summary"),
                           text,
                           subs};
        rc = host_db_exec_req(
            req, NULL,
            "WITH e AS (INSERT INTO tasqly.events "
            "(type, group_id, actor_id, subject_id, summary, payload) "
            "VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6::jsonb) "
            "RETURNING id) "
            "INSERT INTO tasqly.deliveries (event_id, subscriber) "
            "SELECT e.id, s FROM e, unnest($7::text[]) AS s",
            7, p);
    }
    if (rc == TQ_OK && strcmp(subs, "{}") != 0)
        rc = host_db_exec_req(req, NULL,
                              "SELECT pg_notify('tasqly_events', '')", 0,
                              NULL);
    free(text);
    json_decref(payload);
    return rc;
}

/* ----------------------------------------------------------- the feed */

int host_events_list(tq_req *req, const char *group_id, int limit,
                     const char *cursor, json_t **out)
{
    if (out)
        *out = NULL;
    if (!req || !out)
        return TQ_E_STATE;
    if (!host_is_uuid(group_id))
        return TQ_E_INVALID;
    if (cursor) { /* our cursors are event ids; anything else is forged */
        size_t n = strspn(cursor, "0123456789");
        if (n == 0 || n > 18 || cursor[n])
            return TQ_E_INVALID;
    }
    if (limit < 1)
        limit = 20;
    if (limit > 100)
        limit = 100;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1); /* one more: is there a next? */
    const char *p[] = {group_id, cursor, lim};
    tq_res *r;
    int rc = host_db_exec_req(
        req, &r,
        "SELECT id, type, actor_id, subject_id, created_at, summary "
        "FROM tasqly.events WHERE group_id = $1::uuid "
        "AND id < COALESCE($2::bigint, 9223372036854775807) "
        "ORDER BY id DESC LIMIT $3::int",
        3, p);
    if (rc)
        return rc;
    int rows = host_res_rows(r);
    int n = rows > limit ? limit : rows;
    json_t *items = json_array();
    for (int i = 0; items && i < n; i++) {
        json_t *it = json_pack(
            "{s:s, s:s, s:s?, s:s?, s:s?, s:s?}", "id", host_res_get(r, i, 0),
            "type", host_res_get(r, i, 1), "actor_id", host_res_get(r, i, 2),
            "subject_id", host_res_get(r, i, 3), "at", host_res_get(r, i, 4),
            "summary", host_res_get(r, i, 5));
        if (!it || json_array_append_new(items, it)) {
            json_decref(items);
            items = NULL;
        }
    }
    json_t *o = items ? json_pack("{s:o, s:s?}", "items", items,
                                  "next_cursor",
                                  rows > limit ? host_res_get(r, n - 1, 0)
                                               : NULL)
                      : NULL;
    if (!o)
        return TQ_E_NOMEM;
    *out = o;
    return TQ_OK;
}

/* -------------------------------------------------------- registration */

static int retention_job(tq_req *ctx)
{
    int days = atomic_load(&retention_days);
    if (days <= 0)
        return TQ_OK; /* keep everything */
    char d[16];
    snprintf(d, sizeof d, "%d", days);
    const char *p[] = {d};
    tq_res *r;
    /* Events still owed to someone stay, however old. */
    int rc = host_db_exec_req(
        ctx, &r,
        "DELETE FROM tasqly.events e "
        "WHERE e.created_at < now() - make_interval(days => $1::int) "
        "AND NOT EXISTS (SELECT 1 FROM tasqly.deliveries d "
        "WHERE d.event_id = e.id AND d.state = 'pending')",
        1, p);
    if (rc == TQ_OK && host_res_affected(r) > 0)
        host_log(TQ_LOG_INFO, "event retention: deleted %d events older "
                              "than %d days", host_res_affected(r), days);
    return rc;
}

int host_events_register(tq_plugin *core)
{
    int rc = host_api.migration(core, "events_0001_outbox", events_sql);
    if (rc == TQ_OK)
        rc = host_api.migration(core, "jobs_0001_jobs", jobs_sql);
    if (rc == TQ_OK)
        rc = host_api.job(core, "event_retention", RETENTION_INTERVAL_S,
                          retention_job);
    return rc;
}

/* ---------------------------------------------------------- dispatcher */

static const host_subscription *find_sub(const char *plugin, const char *type)
{
    for (size_t i = 0; i < host_reg.subs.n; i++) {
        const host_subscription *s = &host_reg.subs.v[i];
        if (strcmp(s->plugin->name, plugin) == 0 && strcmp(s->type, type) == 0)
            return s;
    }
    return NULL;
}

/* Seconds before attempt n+1 after n failures: 1, 2, 4 ... 600, each
 * drawn from [d/2, d] so that a burst of failures does not retry in step. */
static double backoff_s(int failures, unsigned *seed)
{
    double d = BACKOFF_BASE_S;
    for (int i = 1; i < failures && d < BACKOFF_CAP_S; i++)
        d *= 2;
    if (d > BACKOFF_CAP_S)
        d = BACKOFF_CAP_S;
    return d / 2 + d / 2 * ((double)rand_r(seed) / RAND_MAX);
}

static int q(host_db *db, tq_res **out, const char *sql, int n,
             const char *const *p)
{
    return host_db_exec(db, NULL, out, sql, n, p);
}

/*
 * Claim and handle one due delivery.  1: handled (success or failure
 * recorded), 0: nothing due, <0: database trouble (the transaction is
 * rolled back; the row stays pending for a later attempt).
 */
static int deliver_one(host_db *db, unsigned *seed)
{
    int rc = host_db_begin(db);
    if (rc)
        return rc;
    tq_res *r;
    const char *sp[] = {ev.subscribers};
    rc = q(db, &r,
           "SELECT d.event_id, d.subscriber, d.attempts, e.type, "
           "e.group_id, e.actor_id, e.created_at, e.payload "
           "FROM tasqly.deliveries d JOIN tasqly.events e ON e.id = d.event_id "
           "WHERE d.state = 'pending' AND d.next_at <= now() "
           "AND d.subscriber = ANY ($1::text[]) "
           "ORDER BY d.next_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED",
           1, sp);
    if (rc || host_res_rows(r) == 0) {
        host_db_rollback(db);
        host_db_clear_results(db);
        return rc ? rc : 0;
    }
    const char *id = host_res_get(r, 0, 0), *subscriber = host_res_get(r, 0, 1);
    const char *type = host_res_get(r, 0, 3);
    int attempt = (int)host_res_int(r, 0, 2) + 1;
    const host_subscription *sub = find_sub(subscriber, type);

    tq_req ctx;
    host_req_init(&ctx, sub ? sub->plugin : NULL, db);
    ctx.write = true;
    ctx.in_tx = true;
    snprintf(ctx.request_id, sizeof ctx.request_id, "event-%s-%.20s", id,
             subscriber);

    char err[512] = "";
    int hrc = TQ_OK;
    if (!sub) {
        /* This plugin no longer subscribes to the type (it was upgraded):
         * nothing to do, and nothing to retry. */
        host_log(TQ_LOG_INFO, "event %s (%s): plugin %s has no handler for "
                              "it any more; marking it done", id, type,
                 subscriber);
    } else {
        json_t *payload = json_loads(host_res_get(r, 0, 7), JSON_DECODE_ANY,
                                     NULL);
        tq_event e = {
            .id = strtoll(id, NULL, 10),
            .type = type,
            .group_id = host_res_get(r, 0, 4),
            .actor_id = host_res_get(r, 0, 5),
            .created_at = host_res_get(r, 0, 6),
            .payload = payload ? payload : json_object(),
            .attempt = attempt,
        };
        rc = q(db, NULL, "SAVEPOINT tq_delivery", 0, NULL);
        if (rc == TQ_OK) {
            hrc = sub->fn(&ctx, &e);
            if (hrc == TQ_OK && ctx.db_error)
                hrc = ctx.db_error; /* it ignored a failed statement */
            /* ROLLBACK TO also works in a transaction the handler's
             * failed statement aborted; on a lost connection it fails
             * and the whole attempt is rolled back below. */
            rc = q(db, NULL,
                   hrc == TQ_OK ? "RELEASE SAVEPOINT tq_delivery"
                                : "ROLLBACK TO SAVEPOINT tq_delivery",
                   0, NULL);
        }
        if (hrc != TQ_OK)
            snprintf(err, sizeof err, "handler returned %s (%d)%s%s",
                     host_rc_name(hrc), hrc, ctx.db_error ? ": " : "",
                     ctx.db_error ? host_db_last_error(db) : "");
        json_decref(e.payload);
    }

    bool dead = false;
    if (rc == TQ_OK && hrc == TQ_OK) {
        const char *p[] = {id, subscriber};
        tq_res *d;
        rc = q(db, &d,
               "UPDATE tasqly.deliveries SET state = 'done', "
               "attempts = attempts + 1, last_error = NULL, "
               "updated_at = now() "
               "WHERE event_id = $1::bigint AND subscriber = $2 "
               "RETURNING (SELECT (extract(epoch FROM clock_timestamp() - "
               "created_at) * 1e6)::bigint FROM tasqly.events "
               "WHERE id = $1::bigint)",
               2, p);
        if (rc == TQ_OK && host_res_rows(d) == 1) {
            atomic_fetch_add(&host_event_stats_g.delivered, 1);
            atomic_fetch_add(&host_event_stats_g.dispatch_us_total,
                             host_res_int(d, 0, 0));
            atomic_fetch_add(&host_event_stats_g.dispatch_count, 1);
        }
    } else if (rc == TQ_OK) {
        char delay[32];
        snprintf(delay, sizeof delay, "%.3f", backoff_s(attempt, seed));
        dead = attempt >= ev.max_attempts;
        const char *p[] = {id, subscriber, err, dead ? "dead" : "pending",
                           delay};
        rc = q(db, NULL,
               "UPDATE tasqly.deliveries SET state = $4, "
               "attempts = attempts + 1, last_error = $3, "
               "next_at = now() + make_interval(secs => $5::float8), "
               "updated_at = now() "
               "WHERE event_id = $1::bigint AND subscriber = $2",
               5, p);
    }
    if (rc == TQ_OK)
        rc = host_db_commit(db);
    else
        host_db_rollback(db);

    if (rc == TQ_OK && hrc != TQ_OK) {
        atomic_fetch_add(&host_event_stats_g.failed_attempts, 1);
        if (dead) {
            atomic_fetch_add(&host_event_stats_g.dead, 1);
            host_log(TQ_LOG_ERROR,
                     "event %s (%s) to %s is dead after %d attempts: %s; it "
                     "stays in tasqly.deliveries with state 'dead'",
                     id, type, subscriber, attempt, err);
        } else {
            host_log(TQ_LOG_WARN, "event %s (%s) to %s, attempt %d of %d: "
                                  "%s; retrying later",
                     id, type, subscriber, attempt, ev.max_attempts, err);
        }
    }
    /* Last: this frees the claim result our strings point into. */
    host_req_free(&ctx);
    host_db_clear_results(db);
    return rc ? rc : 1;
}

static void refresh_gauges(host_db *db)
{
    tq_res *r;
    if (q(db, &r,
          "SELECT (SELECT count(*) FROM tasqly.deliveries "
          "WHERE state = 'pending'), "
          "(SELECT count(*) FROM tasqly.deliveries WHERE state = 'dead')",
          0, NULL) == TQ_OK) {
        atomic_store(&host_event_stats_g.pending_gauge,
                     (long)host_res_int(r, 0, 0));
        atomic_store(&host_event_stats_g.dead_gauge,
                     (long)host_res_int(r, 0, 1));
    }
    host_db_clear_results(db);
}

/* Milliseconds until our next retry is due, capped at DISPATCH_IDLE_MS. */
static int next_due_ms(host_db *db)
{
    tq_res *r;
    const char *p[] = {ev.subscribers};
    int ms = DISPATCH_IDLE_MS;
    if (q(db, &r,
          "SELECT ceil(extract(epoch FROM min(next_at) - now()) * 1000)"
          "::bigint FROM tasqly.deliveries "
          "WHERE state = 'pending' AND subscriber = ANY ($1::text[])",
          1, p) == TQ_OK &&
        host_res_get(r, 0, 0)) {
        long long x = host_res_int(r, 0, 0);
        ms = x < 0 ? 0 : x < DISPATCH_IDLE_MS ? (int)x : DISPATCH_IDLE_MS;
    }
    host_db_clear_results(db);
    return ms;
}

/* True when a notification (or anything) is already buffered. */
static bool drain_notifies(PGconn *c)
{
    bool any = false;
    if (!c)
        return false;
    PQconsumeInput(c);
    PGnotify *n;
    while ((n = PQnotifies(c))) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/* Sleep until the stop pipe, the connection's socket (a NOTIFY) or ms. */
static void wait_for(PGconn *c, int ms)
{
    struct pollfd pfd[2] = {{.fd = ev.wake[0], .events = POLLIN},
                            {.fd = c ? PQsocket(c) : -1, .events = POLLIN}};
    int rc = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, ms);
    if (rc < 0 && errno != EINTR)
        host_log(TQ_LOG_WARN, "dispatcher poll: %s", strerror(errno));
}

static void *dispatch_main(void *arg)
{
    int idx = (int)(intptr_t)arg;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^
                    (unsigned)(idx * 7919);
    host_db *db = host_db_new(ev.url, ev.timeout_ms);
    if (!db) {
        host_log(TQ_LOG_ERROR, "event dispatcher %d: out of memory; events "
                               "are not delivered by this process", idx);
        return NULL;
    }
    unsigned listening = 0; /* generation of the connection we LISTEN on */
    long long next_gauge = 0;
    while (!atomic_load(&ev.stop)) {
        if (!host_db_ok(db)) {
            wait_for(NULL, 1000);
            continue;
        }
        if (listening != host_db_generation(db)) {
            if (q(db, NULL, "LISTEN tasqly_events", 0, NULL) != TQ_OK) {
                wait_for(NULL, 1000);
                continue;
            }
            listening = host_db_generation(db);
        }
        int rc = 0;
        while (!atomic_load(&ev.stop) && (rc = deliver_one(db, &seed)) == 1)
            ;
        if (idx == 0 && host_now_ms() >= next_gauge) {
            refresh_gauges(db);
            next_gauge = host_now_ms() + GAUGE_EVERY_MS;
        }
        if (atomic_load(&ev.stop))
            break;
        int ms = rc < 0 ? 1000 : next_due_ms(db);
        /* A NOTIFY may have arrived with the last result: do not sleep on
         * a socket whose news libpq already read. */
        if (drain_notifies(host_db_conn(db)) || ms == 0)
            continue;
        wait_for(host_db_conn(db), ms);
        drain_notifies(host_db_conn(db));
    }
    host_db_free(db);
    return NULL;
}

static char *all_subscribers(void)
{
    size_t len = 3;
    for (size_t i = 0; i < host_reg.subs.n; i++)
        len += strlen(host_reg.subs.v[i].plugin->name) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < host_reg.subs.n; i++) {
        const tq_plugin *pl = host_reg.subs.v[i].plugin;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = host_reg.subs.v[j].plugin == pl;
        if (dup)
            continue;
        if (p > s + 1)
            *p++ = ',';
        memcpy(p, pl->name, strlen(pl->name));
        p += strlen(pl->name);
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

int host_events_start(const host_config *c)
{
    if (ev.nth)
        return TQ_E_STATE;
    atomic_store(&retention_days, c->event_retention_days);
    ev.max_attempts = c->event_max_attempts > 0 ? c->event_max_attempts : 8;
    ev.timeout_ms = c->statement_timeout_ms;
    ev.url = c->database_url ? strdup(c->database_url) : NULL;
    ev.subscribers = all_subscribers();
    if ((c->database_url && !ev.url) || !ev.subscribers) {
        free(ev.url);
        free(ev.subscribers);
        return TQ_E_NOMEM;
    }
    if (pipe(ev.wake) != 0) {
        host_log(TQ_LOG_ERROR, "event dispatcher: pipe: %s", strerror(errno));
        free(ev.url);
        free(ev.subscribers);
        return TQ_ERR;
    }
    atomic_store(&ev.stop, false);
    for (int i = 0; i < DISPATCH_THREADS; i++) {
        int e = pthread_create(&ev.th[i], NULL, dispatch_main,
                               (void *)(intptr_t)i);
        if (e) {
            host_log(TQ_LOG_ERROR, "event dispatcher: pthread_create: %s",
                     strerror(e));
            host_events_stop();
            return TQ_ERR;
        }
        ev.nth++;
    }
    host_log(TQ_LOG_DEBUG, "event dispatcher: %d threads for %s", ev.nth,
             ev.subscribers);
    return TQ_OK;
}

void host_events_stop(void)
{
    atomic_store(&ev.stop, true);
    if (ev.wake[1] >= 0) {
        char b = 1;
        ssize_t w = write(ev.wake[1], &b, 1); /* one byte wakes every poll */
        (void)w;
    }
    for (int i = 0; i < ev.nth; i++)
        pthread_join(ev.th[i], NULL);
    ev.nth = 0;
    for (int i = 0; i < 2; i++) {
        if (ev.wake[i] >= 0)
            close(ev.wake[i]);
        ev.wake[i] = -1;
    }
    free(ev.url);
    free(ev.subscribers);
    ev.url = ev.subscribers = NULL;
}
