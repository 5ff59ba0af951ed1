/*
 * test_metrics.c - request counters, histograms and the pool/outbox/job
 * numbers come out of host_metrics_render() as Prometheus text.
 *
 * The globals other modules own (db, events, the registry) are defined
 * here, so this test links metrics.c and the router alone.
 */
#include "host.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

host_db_stats host_db_stats_g;
host_event_stats host_event_stats_g;
host_registry host_reg;

static int h(tq_req *r) { (void)r; return 200; }

static host_router *router;
static const host_route_rec *get_group, *post_tasks, *get_stats;

static const host_route_rec *route(int m, const char *pat, const char *path)
{
    host_route_rec rec;
    memset(&rec, 0, sizeof(rec));
    rec.r.handler = h;
    assert_int_equal(host_router_add(router, m, pat, &rec, NULL), TQ_OK);
    host_arena a;
    host_arena_init(&a);
    host_param p[HOST_MAX_PARAMS];
    int n;
    unsigned allowed;
    const host_route_rec *r = host_router_match(router, m, path, &a, p, &n,
                                                &allowed);
    host_arena_free(&a);
    assert_non_null(r);
    return r;
}

static int setup(void **state)
{
    (void)state;
    router = host_router_new();
    get_group = route(HOST_GET, "/v1/groups/{gid}", "/v1/groups/x");
    post_tasks = route(HOST_POST, "/v1/groups/{gid}/tasks", "/v1/groups/x/tasks");
    /* The router refuses such a pattern; a hand-made record with a slot
     * of its own checks the label escaping anyway. */
    static host_route_rec odd;
    odd.r.path = "/v1/\"odd\\route";
    odd.r.method = "GET";
    odd.metrics_slot = 60000;
    get_stats = &odd;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_router_free(router);
    return 0;
}

/* The value on the line that starts with prefix (exactly), or -1. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;
    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

/* Every line is a comment or "name{labels} value", and ends in \n. */
static void assert_well_formed(const char *text, size_t len)
{
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            const char *sp = nl;
            while (sp > p && sp[-1] != ' ')
                sp--;
            assert_true(sp > p);
            char *end;
            strtod(sp, &end);
            assert_ptr_equal(end, nl);
            assert_true(strncmp(p, "tasqly_", 7) == 0);
        } else {
            assert_true(strncmp(p, "# HELP ", 7) == 0
                        || strncmp(p, "# TYPE ", 7) == 0);
        }
        p = nl + 1;
    }
}

static void test_requests_and_histogram(void **state)
{
    (void)state;
    host_metrics_request(get_group, HOST_GET, 200, 0.0005);  /* <= 1ms */
    host_metrics_request(get_group, HOST_GET, 200, 0.003);   /* <= 5ms */
    host_metrics_request(get_group, HOST_GET, 404, 0.2);     /* <= 250ms */
    host_metrics_request(get_group, HOST_GET, 200, 30.0);    /* +Inf */
    host_metrics_request(post_tasks, HOST_POST, 201, 0.01);  /* le 0.01 */
    host_metrics_request(NULL, HOST_GET, 404, 0.0001);
    host_metrics_request(NULL, HOST_PUT, 405, 0.0001);
    host_metrics_request(NULL, -1, 405, 0.0001);
    host_metrics_request(get_stats, HOST_GET, 999, -1.0); /* clamped */

    size_t len = 0;
    char *text = host_metrics_render(&len);
    assert_non_null(text);
    assert_well_formed(text, len);

    assert_non_null(strstr(text, "# TYPE tasqly_http_requests_total counter\n"));
    assert_non_null(strstr(text, "# TYPE tasqly_http_request_duration_seconds "
                                 "histogram\n"));
    const char *rq = "tasqly_http_requests_total{route=\"/v1/groups/{gid}\","
                     "method=\"GET\",status=";
    char s[256];
    snprintf(s, sizeof(s), "%s\"200\"}", rq);
    assert_true(value_of(text, s) == 3);
    snprintf(s, sizeof(s), "%s\"404\"}", rq);
    assert_true(value_of(text, s) == 1);
    snprintf(s, sizeof(s), "%s\"500\"}", rq);
    assert_true(value_of(text, s) == -1); /* no zero series */
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"/v1/groups/"
                               "{gid}/tasks\",method=\"POST\",status=\"201\"}")
                == 1);
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"unmatched\","
                               "method=\"GET\",status=\"404\"}") == 1);
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"unmatched\","
                               "method=\"PUT\",status=\"405\"}") == 1);
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"unmatched\","
                               "method=\"OTHER\",status=\"405\"}") == 1);
    /* Label values are escaped; a status out of range counts as 500. */
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"/v1/\\\"odd"
                               "\\\\route\",method=\"GET\",status=\"500\"}")
                == 1);

    const char *hb = "tasqly_http_request_duration_seconds_bucket{route=\"/v1/"
                     "groups/{gid}\",method=\"GET\",le=";
    static const struct { const char *le; double want; } b[] = {
        {"0.001", 1}, {"0.0025", 1}, {"0.005", 2}, {"0.01", 2}, {"0.1", 2},
        {"0.25", 3}, {"1", 3}, {"10", 3}, {"+Inf", 4},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        snprintf(s, sizeof(s), "%s\"%s\"}", hb, b[i].le);
        assert_true(value_of(text, s) == b[i].want);
    }
    double sum = value_of(text, "tasqly_http_request_duration_seconds_sum{route="
                                "\"/v1/groups/{gid}\",method=\"GET\"}");
    assert_true(sum > 30.2 && sum < 30.21);
    assert_true(value_of(text, "tasqly_http_request_duration_seconds_count{"
                               "route=\"/v1/groups/{gid}\",method=\"GET\"}")
                == 4);
    /* A bucket boundary is inclusive (le). */
    assert_true(value_of(text, "tasqly_http_request_duration_seconds_bucket{"
                               "route=\"/v1/groups/{gid}/tasks\",method=\"POST\","
                               "le=\"0.01\"}") == 1);
    free(text);
}

static void test_pool_events_jobs(void **state)
{
    (void)state;
    atomic_store(&host_db_stats_g.size, 8);
    atomic_store(&host_db_stats_g.in_use, 3);
    atomic_store(&host_db_stats_g.waits, 11);
    atomic_store(&host_db_stats_g.query_errors, 2);
    atomic_store(&host_db_stats_g.reconnects, 1);
    atomic_store(&host_event_stats_g.delivered, 40);
    atomic_store(&host_event_stats_g.failed_attempts, 5);
    atomic_store(&host_event_stats_g.dead, 1);
    atomic_store(&host_event_stats_g.pending_gauge, 7);
    atomic_store(&host_event_stats_g.dead_gauge, 1);
    atomic_store(&host_event_stats_g.dispatch_us_total, 2500000);
    atomic_store(&host_event_stats_g.dispatch_count, 50);

    host_job due = {.name = "tasks.due", .interval_s = 60};
    atomic_store(&due.last_run_unix, 1767225600);
    atomic_store(&due.runs, 12);
    atomic_store(&due.failures, 1);
    host_job odd = {.name = "x\"y"};
    *(host_job **)host_vec_push(&host_reg.jobs) = &due;
    *(host_job **)host_vec_push(&host_reg.jobs) = &odd;

    size_t len;
    char *text = host_metrics_render(&len);
    assert_non_null(text);
    assert_well_formed(text, len);
    assert_true(value_of(text, "tasqly_db_pool_connections") == 8);
    assert_true(value_of(text, "tasqly_db_pool_in_use") == 3);
    assert_true(value_of(text, "tasqly_db_pool_waits_total") == 11);
    assert_true(value_of(text, "tasqly_db_query_errors_total") == 2);
    assert_true(value_of(text, "tasqly_db_reconnects_total") == 1);
    assert_true(value_of(text, "tasqly_events_delivered_total") == 40);
    assert_true(value_of(text, "tasqly_events_failed_attempts_total") == 5);
    assert_true(value_of(text, "tasqly_events_dead_total") == 1);
    assert_true(value_of(text, "tasqly_events_pending_deliveries") == 7);
    assert_true(value_of(text, "tasqly_events_dead_deliveries") == 1);
    assert_true(value_of(text, "tasqly_events_dispatch_seconds_sum") == 2.5);
    assert_true(value_of(text, "tasqly_events_dispatch_seconds_count") == 50);
    assert_true(value_of(text, "tasqly_job_last_run_timestamp_seconds{job="
                               "\"tasks.due\"}") == 1767225600);
    assert_true(value_of(text, "tasqly_job_runs_total{job=\"tasks.due\"}")
                == 12);
    assert_true(value_of(text, "tasqly_job_failures_total{job=\"tasks.due\"}")
                == 1);
    assert_true(value_of(text, "tasqly_job_runs_total{job=\"x\\\"y\"}") == 0);
    assert_non_null(strstr(text, "# TYPE tasqly_db_pool_in_use gauge\n"));
    assert_non_null(strstr(text, "# TYPE tasqly_job_runs_total counter\n"));
    free(text);
    free(host_reg.jobs.v);
    memset(&host_reg.jobs, 0, sizeof(host_reg.jobs));
}

static void *hammer(void *arg)
{
    const host_route_rec *r = arg;
    for (int i = 0; i < 20000; i++)
        host_metrics_request(r, HOST_GET, 204, 0.002);
    return NULL;
}

static void test_concurrent_recording_is_exact(void **state)
{
    (void)state;
    /* A fresh route, so its first request installs a new slot while
     * other threads race for it too. */
    const host_route_rec *r = route(HOST_GET, "/race", "/race");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)r), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t len;
    char *text = host_metrics_render(&len);
    assert_true(value_of(text, "tasqly_http_requests_total{route=\"/race\","
                               "method=\"GET\",status=\"204\"}") == 80000);
    assert_true(value_of(text, "tasqly_http_request_duration_seconds_bucket{"
                               "route=\"/race\",method=\"GET\",le=\"0.0025\"}")
                == 80000);
    assert_true(value_of(text, "tasqly_http_request_duration_seconds_bucket{"
                               "route=\"/race\",method=\"GET\",le=\"0.001\"}")
                == 0);
    free(text);
}

static void test_many_routes_get_their_own_slots(void **state)
{
    (void)state;
    /* More routes than one chunk of slots holds. */
    const host_route_rec *rs[200];
    char pat[64];
    for (int i = 0; i < 200; i++) {
        snprintf(pat, sizeof(pat), "/many/%d", i);
        rs[i] = route(HOST_DELETE, pat, pat);
    }
    for (int i = 0; i < 200; i++)
        for (int k = 0; k <= i % 5; k++)
            host_metrics_request(rs[i], HOST_DELETE, 204, 0.001);
    size_t len;
    char *text = host_metrics_render(&len);
    assert_well_formed(text, len);
    for (int i = 0; i < 200; i++) {
        char s[160];
        snprintf(s, sizeof(s), "tasqly_http_requests_total{route=\"/many/%d\","
                 "method=\"DELETE\",status=\"204\"}", i);
        assert_true(value_of(text, s) == i % 5 + 1);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_and_histogram),
        cmocka_unit_test(test_pool_events_jobs),
        cmocka_unit_test(test_concurrent_recording_is_exact),
        cmocka_unit_test(test_many_routes_get_their_own_slots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
