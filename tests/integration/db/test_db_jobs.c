/*
 * test_db_jobs - periodic jobs with two hosts on one database: a job runs
 * on one host per interval, never on both, and its runs show in /metrics.
 */
#include "dbt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sum over all lines "name{job="job"} value" of /metrics. */
static double job_metric(tqt_host *h, const char *name, const char *job)
{
    tqt_resp m = tqt_req(h, "GET", "/metrics", NULL, NULL);
    assert_int_equal(m.status, 200);
    char key[160];
    snprintf(key, sizeof key, "\n%s{job=\"%s\"} ", name, job);
    const char *p = strstr(m.body, key);
    double v = p ? atof(p + strlen(key)) : -1;
    tqt_resp_free(&m);
    return v;
}

static void test_long_interval_runs_once_across_hosts(void **state)
{
    (void)state;
    char *pa = dbt_plugins("a", false, NULL), *pb = dbt_plugins("b", false, NULL);
    tqt_opts oa = {.plugins_yaml = pa};
    tqt_host *a = tqt_start("jobs_once", &oa);
    tqt_opts ob = {.plugins_yaml = pb, .database = tqt_database(a)};
    tqt_host *b = tqt_start("jobs_once", &ob);
    dbt_wait_sql(a, "1", 10, "SELECT count(*) FROM dbfix.job_runs");
    /* Both hosts check at start and every 5 s: give b two chances. */
    usleep(6000 * 1000);
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM dbfix.job_runs"), 1);
    char *row = tqt_sql(a, "SELECT runs || ':' || failures || ':' || "
                           "(last_error IS NULL) FROM tasqly.jobs WHERE "
                           "name = 'dbfix.tick'");
    assert_string_equal(row, "1:0:true");
    free(row);
    /* The host that ran it says so in /metrics; the other shows 0. */
    double ra = job_metric(a, "tasqly_job_runs_total", "dbfix.tick");
    double rb = job_metric(b, "tasqly_job_runs_total", "dbfix.tick");
    assert_true(ra + rb == 1);
    char *who = tqt_sql(a, "SELECT label FROM dbfix.job_runs");
    assert_true(strcmp(who, ra == 1 ? "a" : "b") == 0);
    free(who);
    assert_true(job_metric(ra == 1 ? a : b,
                           "tasqly_job_last_run_timestamp_seconds",
                           "dbfix.tick") > 1.7e9);
    assert_int_equal(tqt_stop(b), 0);
    assert_int_equal(tqt_stop(a), 0);
    free(pa);
    free(pb);
}

static void test_short_interval_one_host_per_interval(void **state)
{
    (void)state;
    const char *every = "      job_interval: 2\n";
    char *pa = dbt_plugins("a", false, every), *pb = dbt_plugins("b", false, every);
    tqt_opts oa = {.plugins_yaml = pa};
    tqt_host *a = tqt_start("jobs_short", &oa);
    tqt_opts ob = {.plugins_yaml = pb, .database = tqt_database(a)};
    tqt_host *b = tqt_start("jobs_short", &ob);
    usleep(9000 * 1000);
    long long runs = dbt_sql_ll(a, "SELECT count(*) FROM dbfix.job_runs");
    /* ~9 s at one run per 2 s (checks every 2 s, so 2-4 s apart). */
    if (runs < 2 || runs > 5)
        fail_msg("%lld runs in 9 s with a 2 s interval", runs);
    /* Never two runs within the interval, whichever host ran them. */
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM (SELECT at - lag(at) "
                                   "OVER (ORDER BY at) AS gap FROM "
                                   "dbfix.job_runs) g WHERE gap < "
                                   "interval '2 seconds'"),
                     0);
    assert_int_equal(tqt_stop(b), 0);
    assert_int_equal(tqt_stop(a), 0);
    free(pa);
    free(pb);
}

static void test_failing_job(void **state)
{
    (void)state;
    char *p = dbt_plugins("a", false, "      fail_job: true\n");
    tqt_opts o = {.plugins_yaml = p};
    tqt_host *h = tqt_start("jobs_fail", &o);
    dbt_wait_sql(h, "t", 15, "SELECT failures >= 2 FROM tasqly.jobs WHERE "
                             "name = 'dbfix.boom'");
    char *err = tqt_sql(h, "SELECT last_error FROM tasqly.jobs WHERE "
                           "name = 'dbfix.boom'");
    assert_string_equal(err, "job returned TQ_ERR (-1)");
    free(err);
    /* What the failing run wrote went with it. */
    assert_int_equal(dbt_sql_ll(h, "SELECT count(*) FROM dbfix.job_runs "
                                   "WHERE label = 'boom'"), 0);
    assert_true(job_metric(h, "tasqly_job_failures_total", "dbfix.boom") >= 2);
    /* The healthy job next to it is unaffected. */
    assert_int_equal(dbt_sql_ll(h, "SELECT failures FROM tasqly.jobs WHERE "
                                   "name = 'dbfix.tick'"), 0);
    assert_int_equal(tqt_stop(h), 0);
    free(p);
}

/* The host's own retention job: finished events older than
 * events.retention_days go, events still owed to a subscriber stay. */
static void test_event_retention(void **state)
{
    (void)state;
    char *p = dbt_plugins("a", false, NULL);
    tqt_opts o = {.plugins_yaml = p,
                  .extra_yaml = "events:\n  retention_days: 30\n"};
    tqt_host *h = tqt_start("retention", &o);
    dbt_wait_sql(h, "1", 10, "SELECT runs FROM tasqly.jobs WHERE name = "
                             "'tasqly.event_retention'");
    static const struct { const char *type, *age, *state; } ev[] = {
        {"t.old_done", "31 days", "done"},
        {"t.old_dead", "31 days", "dead"},
        {"t.old_pending", "40 days", "pending"},
        {"t.recent_done", "29 days", "done"},
        {"t.old_no_subscriber", "31 days", NULL},
    };
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++) {
        /* "nobody" is no loaded plugin: the dispatcher leaves it alone. */
        free(tqt_sql(h,
                     "WITH e AS (INSERT INTO tasqly.events (type, summary, "
                     "created_at) VALUES ('%s', 'retention', now() - "
                     "interval '%s') RETURNING id) "
                     "INSERT INTO tasqly.deliveries (event_id, subscriber, "
                     "state) SELECT id, 'nobody', '%s' FROM e WHERE %s",
                     ev[i].type, ev[i].age, ev[i].state ? ev[i].state : "done",
                     ev[i].state ? "true" : "false"));
    }
    /* Due again: the running host picks it up within its 5 s check. */
    free(tqt_sql(h, "UPDATE tasqly.jobs SET last_run = now() - interval "
                    "'2 hours' WHERE name = 'tasqly.event_retention'"));
    dbt_wait_sql(h, "2", 15, "SELECT runs FROM tasqly.jobs WHERE name = "
                             "'tasqly.event_retention'");
    char *left = tqt_sql(h, "SELECT string_agg(type, ',' ORDER BY type) FROM "
                            "tasqly.events WHERE summary = 'retention'");
    assert_string_equal(left, "t.old_pending,t.recent_done");
    free(left);
    assert_int_equal(tqt_stop(h), 0);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_interval_runs_once_across_hosts),
        cmocka_unit_test(test_short_interval_one_host_per_interval),
        cmocka_unit_test(test_failing_job),
        cmocka_unit_test(test_event_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
