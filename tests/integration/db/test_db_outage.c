/*
 * test_db_outage - PostgreSQL stops under load and comes back: requests
 * get 503 "unavailable" quickly (none hangs), /readyz says 503, /healthz
 * stays 200, and once the server is back the same process answers 200
 * again and delivers events, without a restart.
 *
 * It stops the shared test cluster (TASQLY_TEST_PGDATA, exported by
 * `./tq test`), so meson runs it alone and last (is_parallel: false,
 * priority -100), and it keeps the outage to a couple of seconds.
 */
#include "dbt.h"

#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char pg_opts[2048]; /* the server's own options, from postmaster.opts */
static char pg_bindir[1024];
static bool pg_stopped;

static const char *pgdata(void)
{
    const char *d = getenv("TASQLY_TEST_PGDATA");
    if (!d || !*d)
        fail_msg("TASQLY_TEST_PGDATA is not set: run the suite with `./tq "
                 "test`, which exports the test cluster's data directory");
    return d;
}

/* "runuser -u postgres -- " when we are root and the cluster is not. */
static void as_owner(char *out, size_t outlen)
{
    struct stat st;
    if (stat(pgdata(), &st) != 0)
        fail_msg("cannot stat %s", pgdata());
    out[0] = '\0';
    if (geteuid() == 0 && st.st_uid != 0) {
        struct passwd *pw = getpwuid(st.st_uid);
        if (!pw)
            fail_msg("no user for uid %d owning %s", (int)st.st_uid, pgdata());
        snprintf(out, outlen, "runuser -u %s -- ", pw->pw_name);
    }
}

/* postmaster.opts: /usr/lib/postgresql/15/bin/postgres "-D" "..." "-k" ... */
static void read_opts(void)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/postmaster.opts", pgdata());
    char *s = dbt_slurp(path);
    char *sp = strchr(s, ' ');
    if (!s[0] || !sp)
        fail_msg("cannot read the server's options from %s", path);
    *sp = '\0';
    snprintf(pg_bindir, sizeof pg_bindir, "%s", dirname(s));
    snprintf(pg_opts, sizeof pg_opts, "%s", sp + 1);
    pg_opts[strcspn(pg_opts, "\n")] = '\0';
    if (strchr(pg_opts, '\''))
        fail_msg("unexpected quote in the server options: %s", pg_opts);
    free(s);
}

static void pg_ctl(const char *action)
{
    char who[128], cmd[4096];
    as_owner(who, sizeof who);
    if (strcmp(action, "stop") == 0)
        snprintf(cmd, sizeof cmd,
                 "%s%s/pg_ctl stop -D '%s' -m fast -w -t 30 >/dev/null",
                 who, pg_bindir, pgdata());
    else
        snprintf(cmd, sizeof cmd,
                 "%s%s/pg_ctl start -D '%s' -w -t 30 -l '%s/outage-test.log' "
                 "-o '%s' >/dev/null",
                 who, pg_bindir, pgdata(), pgdata(), pg_opts);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("%s: exit %d", cmd, rc);
    pg_stopped = strcmp(action, "stop") == 0;
}

/* ------------------------------------------------------------ the load */

typedef struct load {
    tqt_host *h;
    atomic_bool stop;
    atomic_long ok, unavailable, other, max_ms;
    char other_body[512];
} load;

static void *load_main(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        long long t0 = dbt_now_ms();
        tqt_resp r = tqt_req(l->h, "GET", "/v1/dbfix/ping", NULL, NULL);
        long ms = (long)(dbt_now_ms() - t0);
        if (ms > atomic_load(&l->max_ms))
            atomic_store(&l->max_ms, ms);
        if (r.status == 200) {
            atomic_fetch_add(&l->ok, 1);
        } else if (r.status == 503) {
            json_t *e = json_object_get(r.json, "error");
            const char *code = json_string_value(json_object_get(e, "code"));
            if (code && strcmp(code, "unavailable") == 0)
                atomic_fetch_add(&l->unavailable, 1);
            else
                atomic_fetch_add(&l->other, 1);
        } else {
            snprintf(l->other_body, sizeof l->other_body, "%ld %s", r.status,
                     r.body);
            atomic_fetch_add(&l->other, 1);
        }
        tqt_resp_free(&r);
        usleep(5 * 1000);
    }
    return NULL;
}

static long status_of(tqt_host *h, const char *path)
{
    tqt_resp r = tqt_req(h, "GET", path, NULL, NULL);
    long s = r.status;
    if (s == 503)
        tqt_assert_error(&r, 503, "unavailable");
    tqt_resp_free(&r);
    return s;
}

/* Poll path until it answers want; the milliseconds it took. */
static long wait_status(tqt_host *h, const char *path, long want, int seconds)
{
    long long t0 = dbt_now_ms();
    long s = 0;
    while (dbt_now_ms() - t0 < seconds * 1000LL) {
        if ((s = status_of(h, path)) == want)
            return (long)(dbt_now_ms() - t0);
        usleep(20 * 1000);
    }
    fail_msg("%s: still %ld after %d s, want %ld", path, s, seconds, want);
    return -1;
}

static void test_outage_and_recovery(void **state)
{
    (void)state;
    read_opts();
    char *plugins = dbt_plugins("a", true, NULL);
    tqt_opts o = {.plugins_yaml = plugins};
    tqt_host *h = tqt_start("outage", &o);
    pid_t pid = tqt_pid(h);
    char url[600];
    snprintf(url, sizeof url, "%s", tqt_db_url(h));
    assert_int_equal(status_of(h, "/v1/dbfix/ping"), 200);

    load l = {.h = h};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_main, &l), 0);
    usleep(300 * 1000);
    assert_true(atomic_load(&l.ok) > 0);

    pg_ctl("stop");
    long long down_at = dbt_now_ms();
    /* Requests fail fast with the error shape; readiness follows. */
    wait_status(h, "/v1/dbfix/ping", 503, 5);
    wait_status(h, "/readyz", 503, 5);
    assert_int_equal(status_of(h, "/healthz"), 200);
    long long t0 = dbt_now_ms();
    assert_int_equal(status_of(h, "/v1/dbfix/ping"), 503);
    assert_in_range(dbt_now_ms() - t0, 0, 1000);
    long unavailable_while_down = atomic_load(&l.unavailable);
    while (dbt_now_ms() - down_at < 1500)
        usleep(50 * 1000);

    pg_ctl("start");
    long back = wait_status(h, "/v1/dbfix/ping", 200, 15);
    wait_status(h, "/readyz", 200, 15);
    fprintf(stderr, "200 again %ld ms after the server was started\n", back);
    long ok_before = atomic_load(&l.ok);
    usleep(500 * 1000);
    atomic_store(&l.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);

    if (atomic_load(&l.other))
        fail_msg("%ld answers neither 200 nor 503 unavailable (last: %s)",
                 atomic_load(&l.other), l.other_body);
    assert_true(unavailable_while_down > 0);
    assert_true(atomic_load(&l.ok) > ok_before); /* 200s under load again */
    /* No request hung: well inside the 10 s request timeout. */
    if (atomic_load(&l.max_ms) > 3000)
        fail_msg("a request took %ld ms during the outage",
                 atomic_load(&l.max_ms));
    assert_int_equal(tqt_pid(h), pid);
    assert_int_equal(kill(pid, 0), 0); /* the same process throughout */

    /* The dispatcher reconnected and LISTENs again: a new event is
     * delivered promptly. */
    char name[64];
    snprintf(name, sizeof name, "after-outage-%s", tqt_unique());
    tqt_resp r = tqt_req(h, "POST", "/v1/dbfix/items", NULL,
                         "{\"name\": \"%s\"}", name);
    assert_int_equal(r.status, 201);
    tqt_resp_free(&r);
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *p[] = {name};
    long long w0 = dbt_now_ms();
    bool delivered = false;
    while (!delivered && dbt_now_ms() - w0 < 10000) {
        PGresult *res = PQexecParams(c,
                                     "SELECT count(*) FROM dbsub_a.received "
                                     "WHERE name = $1",
                                     1, NULL, p, NULL, NULL, 0);
        delivered = PQresultStatus(res) == PGRES_TUPLES_OK &&
                    strcmp(PQgetvalue(res, 0, 0), "1") == 0;
        PQclear(res);
        if (!delivered)
            usleep(50 * 1000);
    }
    PQfinish(c);
    assert_true(delivered);

    assert_int_equal(tqt_stop(h), 0);
    free(plugins);
}

/* Whatever happened above, leave the cluster running for others. */
static int teardown(void **state)
{
    (void)state;
    if (pg_stopped)
        pg_ctl("start");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_outage_and_recovery, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
