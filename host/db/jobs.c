/*
 * jobs.c - periodic jobs (tq_job), run by exactly one replica per interval.
 *
 * One thread with its own connection checks each job every
 * min(interval, JOB_CHECK_S) seconds.  A run is one transaction:
 *
 *   BEGIN; pg_try_advisory_xact_lock(JOB_LOCK_CLASS, hashtext(name));
 *   UPDATE tasqly.jobs SET last_run = now() ... WHERE the interval has
 *   passed RETURNING; SAVEPOINT; the job; RELEASE (or ROLLBACK TO and
 *   count the failure); COMMIT
 *
 * The advisory lock keeps a second replica from even waiting on the row;
 * the last_run condition, evaluated under the row lock, keeps it from
 * running the job again within the interval once the first one committed.
 * A failed run still moves last_run, so a broken job retries once per
 * interval instead of in a hot loop.  The job's own database work commits
 * with the last_run mark, or not at all.
 *
 * Memory: static state from start() to stop(); each run's tq_req is freed
 * before the next.
 */
#include "dbpriv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOB_CHECK_S 5
/* First key of the two-int advisory locks: "tqjb".  The migration lock
 * uses the one-bigint form, a separate key space. */
#define JOB_LOCK_CLASS "1953590882"

static struct {
    char *url;
    int timeout_ms;
    char who[96]; /* "hostname:pid", recorded as last_host */
    int wake[2];
    pthread_t th;
    bool started;
    atomic_bool stop;
} js = {.wake = {-1, -1}};

static int q(host_db *db, tq_res **out, const char *sql, int n,
             const char *const *p)
{
    return host_db_exec(db, NULL, out, sql, n, p);
}

/* 1: ran (ok or failed), 0: not due or another replica has it, <0: db. */
static int run_job(host_db *db, host_job *j)
{
    char ival[16];
    snprintf(ival, sizeof ival, "%u", j->interval_s);
    const char *p[] = {j->name, ival, js.who};
    tq_res *r;
    int rc = host_db_begin(db);
    if (rc == TQ_OK)
        rc = q(db, &r,
               "SELECT pg_try_advisory_xact_lock(" JOB_LOCK_CLASS
               ", hashtext($1))",
               1, p);
    if (rc == TQ_OK && host_res_bool(r, 0, 0))
        rc = q(db, NULL,
               "INSERT INTO tasqly.jobs (name) VALUES ($1) "
               "ON CONFLICT (name) DO NOTHING",
               1, p);
    else if (rc == TQ_OK)
        rc = 1; /* another replica is running it right now */
    if (rc == TQ_OK)
        rc = q(db, &r,
               "UPDATE tasqly.jobs SET last_run = now(), runs = runs + 1, "
               "last_host = $3 WHERE name = $1 AND (last_run IS NULL OR "
               "last_run <= now() - make_interval(secs => $2::int)) "
               "RETURNING name",
               3, p);
    if (rc == TQ_OK && host_res_rows(r) == 0)
        rc = 1; /* ran elsewhere within the interval */
    if (rc == TQ_OK)
        rc = q(db, NULL, "SAVEPOINT tq_job", 0, NULL);
    if (rc != TQ_OK) {
        host_db_rollback(db);
        host_db_clear_results(db);
        return rc == 1 ? 0 : rc;
    }

    tq_req ctx;
    host_req_init(&ctx, j->plugin, db);
    ctx.write = true;
    ctx.in_tx = true;
    snprintf(ctx.request_id, sizeof ctx.request_id, "job-%.34s", j->name);
    long long t0 = host_now_ms();
    int jrc = j->fn(&ctx);
    if (jrc == TQ_OK && ctx.db_error)
        jrc = ctx.db_error; /* it ignored a failed statement */
    char err[512] = "";
    if (jrc == TQ_OK) {
        rc = q(db, NULL, "RELEASE SAVEPOINT tq_job", 0, NULL);
        if (rc == TQ_OK)
            rc = q(db, NULL,
                   "UPDATE tasqly.jobs SET last_error = NULL WHERE name = $1",
                   1, p);
    } else {
        snprintf(err, sizeof err, "job returned %s (%d)%s%s",
                 host_rc_name(jrc), jrc,
                 ctx.db_error ? ": " : "",
                 ctx.db_error ? host_db_last_error(db) : "");
        const char *fp[] = {j->name, err};
        rc = q(db, NULL, "ROLLBACK TO SAVEPOINT tq_job", 0, NULL);
        if (rc == TQ_OK)
            rc = q(db, NULL,
                   "UPDATE tasqly.jobs SET failures = failures + 1, "
                   "last_error = $2 WHERE name = $1",
                   2, fp);
    }
    rc = rc == TQ_OK ? host_db_commit(db) : (host_db_rollback(db), rc);
    host_req_free(&ctx);
    host_db_clear_results(db);
    if (rc != TQ_OK)
        return rc; /* not recorded: it runs again when next due */

    atomic_fetch_add(&j->runs, 1);
    atomic_store(&j->last_run_unix, (long long)time(NULL));
    if (jrc != TQ_OK) {
        atomic_fetch_add(&j->failures, 1);
        host_log(TQ_LOG_WARN, "job %s failed after %lld ms: %s; next try in "
                              "%u s",
                 j->name, host_now_ms() - t0, err, j->interval_s);
    } else {
        host_log(TQ_LOG_DEBUG, "job %s ran in %lld ms", j->name,
                 host_now_ms() - t0);
    }
    return 1;
}

static void *jobs_main(void *arg)
{
    (void)arg;
    size_t n = host_reg.jobs.n;
    long long *next = calloc(n ? n : 1, sizeof *next);
    host_db *db = next ? host_db_new(js.url, js.timeout_ms) : NULL;
    if (!db) {
        host_log(TQ_LOG_ERROR, "jobs: out of memory; periodic jobs do not "
                               "run in this process");
        free(next);
        return NULL;
    }
    while (!atomic_load(&js.stop)) {
        long long now = host_now_ms(), soonest = now + 1000;
        for (size_t i = 0; i < n && !atomic_load(&js.stop); i++) {
            host_job *j = host_reg.jobs.v[i];
            if (now >= next[i]) {
                unsigned every = j->interval_s < JOB_CHECK_S ? j->interval_s
                                                             : JOB_CHECK_S;
                /* While the database is away, look again in a second. */
                int rc = host_db_ok(db) ? run_job(db, j) : TQ_E_UNAVAILABLE;
                next[i] = now + (rc == TQ_E_UNAVAILABLE
                                     ? 1000
                                     : (long long)every * 1000);
            }
            if (next[i] < soonest)
                soonest = next[i];
        }
        long long ms = soonest - host_now_ms();
        struct pollfd pfd = {.fd = js.wake[0], .events = POLLIN};
        if (ms > 0 && poll(&pfd, 1, (int)ms) < 0 && errno != EINTR)
            host_log(TQ_LOG_WARN, "jobs poll: %s", strerror(errno));
    }
    host_db_free(db);
    free(next);
    return NULL;
}

int host_jobs_start(const host_config *c)
{
    if (js.started)
        return TQ_E_STATE;
    char host[64] = "?";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    snprintf(js.who, sizeof js.who, "%s:%ld", host, (long)getpid());
    js.timeout_ms = c->statement_timeout_ms;
    js.url = c->database_url ? strdup(c->database_url) : NULL;
    if (c->database_url && !js.url)
        return TQ_E_NOMEM;
    if (pipe(js.wake) != 0) {
        host_log(TQ_LOG_ERROR, "jobs: pipe: %s", strerror(errno));
        free(js.url);
        js.url = NULL;
        return TQ_ERR;
    }
    atomic_store(&js.stop, false);
    int e = pthread_create(&js.th, NULL, jobs_main, NULL);
    if (e) {
        host_log(TQ_LOG_ERROR, "jobs: pthread_create: %s", strerror(e));
        close(js.wake[0]);
        close(js.wake[1]);
        js.wake[0] = js.wake[1] = -1;
        free(js.url);
        js.url = NULL;
        return TQ_ERR;
    }
    js.started = true;
    return TQ_OK;
}

void host_jobs_stop(void)
{
    if (!js.started)
        return;
    atomic_store(&js.stop, true);
    char b = 1;
    ssize_t w = write(js.wake[1], &b, 1);
    (void)w;
    pthread_join(js.th, NULL);
    close(js.wake[0]);
    close(js.wake[1]);
    js.wake[0] = js.wake[1] = -1;
    free(js.url);
    js.url = NULL;
    js.started = false;
}
