/*
 * test_observability.c - what an operator sees of real traffic: the access
 * log (one JSON line per request, route pattern, user, no query strings,
 * no headers, no bodies) and /metrics (exact counts by route, method and
 * status; unmatched requests; histogram agreeing with the counter).
 */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tqt_host *H;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = "  - name: fx_good\n    enabled: true\n"};
    H = tqt_start("observability", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(tqt_stop(H), 0);
    return 0;
}

/* The value of one exact series in /metrics, 0 when absent. */
static double metric(const char *series)
{
    tqt_resp r = tqt_req(H, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    double v = 0;
    size_t n = strlen(series);
    for (const char *p = r.body; (p = strstr(p, series)) != NULL; p += n)
        if ((p == r.body || p[-1] == '\n') && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
    tqt_resp_free(&r);
    return v;
}

static void get_n(const char *method, const char *path, int n, long status)
{
    for (int i = 0; i < n; i++) {
        tqt_resp r = tqt_req(H, method, path, NULL, NULL);
        assert_int_equal(r.status, status);
        tqt_resp_free(&r);
    }
}

static void test_metrics_count_exactly(void **state)
{
    (void)state;
    const char *hz = "tasqly_http_requests_total{route=\"/healthz\","
                     "method=\"GET\",status=\"200\"}";
    const char *hz_count = "tasqly_http_request_duration_seconds_count{"
                           "route=\"/healthz\",method=\"GET\"}";
    const char *nf = "tasqly_http_requests_total{route=\"unmatched\","
                     "method=\"GET\",status=\"404\"}";
    const char *na = "tasqly_http_requests_total{route=\"unmatched\","
                     "method=\"DELETE\",status=\"405\"}";
    const char *pub = "tasqly_http_requests_total{route=\"/v1/fx/public/"
                      "{id}\",method=\"GET\",status=\"200\"}";
    double hz0 = metric(hz), hzc0 = metric(hz_count), nf0 = metric(nf);
    double na0 = metric(na), pub0 = metric(pub);

    get_n("GET", "/healthz", 5, 200);
    get_n("GET", "/v1/no-such-thing", 3, 404);
    get_n("DELETE", "/healthz", 2, 405);
    get_n("GET", "/v1/fx/public/a", 1, 200);
    get_n("GET", "/v1/fx/public/b?x=1", 1, 200);

    assert_true(metric(hz) == hz0 + 5);
    assert_true(metric(hz_count) == hzc0 + 5);
    assert_true(metric(nf) == nf0 + 3);
    assert_true(metric(na) == na0 + 2);
    assert_true(metric(pub) == pub0 + 2);

    tqt_resp r = tqt_req(H, "GET", "/metrics", NULL, NULL);
    assert_non_null(strstr(r.body, "# TYPE tasqly_http_request_duration_seconds"
                                   " histogram\n"));
    assert_non_null(strstr(r.body, "tasqly_db_pool_connections "));
    assert_non_null(strstr(r.body, "tasqly_events_pending_deliveries "));
    /* Raw paths never become labels: cardinality stays the route table. */
    assert_null(strstr(r.body, "/v1/no-such-thing"));
    assert_null(strstr(r.body, "/v1/fx/public/a\""));
    tqt_resp_free(&r);
}

/* Every line of the host's log, parsed; waits until want_rid shows up. */
static json_t *log_lines(const char *want_rid)
{
    for (int tries = 0; tries < 50; tries++) {
        FILE *f = fopen(tqt_log_path(H), "r");
        assert_non_null(f);
        json_t *arr = json_array();
        char line[65536];
        bool seen = false;
        while (fgets(line, sizeof(line), f)) {
            size_t n = strlen(line);
            assert_true(n > 0 && line[n - 1] == '\n');
            json_error_t e;
            json_t *j = json_loads(line, 0, &e);
            if (!j)
                fail_msg("log line is not JSON (%s): %s", e.text, line);
            assert_true(json_is_object(j));
            const char *rid = json_string_value(json_object_get(j,
                                                                "request_id"));
            if (rid && want_rid && strcmp(rid, want_rid) == 0)
                seen = true;
            json_array_append_new(arr, j);
        }
        fclose(f);
        if (seen || !want_rid)
            return arr;
        json_decref(arr);
        usleep(100 * 1000); /* the access line may trail the response */
    }
    fail_msg("request %s never reached the log", want_rid);
    return NULL;
}

static json_t *access_line(json_t *lines, const char *rid)
{
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *r = json_string_value(json_object_get(l, "request_id"));
        const char *m = json_string_value(json_object_get(l, "msg"));
        if (r && m && !strcmp(r, rid) && !strcmp(m, "request"))
            return l;
    }
    fail_msg("no access line for %s", rid);
    return NULL;
}

static void test_access_log(void **state)
{
    (void)state;
    tqt_user u = tqt_register(H, "Log Reader");
    const char *hdr1[] = {"X-Request-Id: obs-anon-1",
                          "X-Api-Key: HEADER-SECRET-1", NULL};
    tqt_resp r = tqt_req_raw(H, "GET",
                             "/v1/fx/public/s3cr%65t?token=QUERY-SECRET-1",
                             NULL, NULL, NULL, 0, hdr1);
    assert_int_equal(r.status, 200);
    tqt_resp_free(&r);

    const char *hdr2[] = {"X-Request-Id: obs-user-2", NULL};
    r = tqt_req_raw(H, "GET", "/v1/fx/good/42", u.token, NULL, NULL, 0, hdr2);
    assert_int_equal(r.status, 200);
    tqt_resp_free(&r);

    const char *hdr3[] = {"X-Request-Id: obs-miss-3", NULL};
    r = tqt_req_raw(H, "POST", "/v1/nothing/here", NULL, "application/json",
                    "{\"password\":\"BODY-SECRET-3\"}", 28, hdr3);
    assert_int_equal(r.status, 404);
    tqt_resp_free(&r);

    json_t *lines = log_lines("obs-miss-3");
    json_t *a = access_line(lines, "obs-anon-1");
    assert_string_equal(json_string_value(json_object_get(a, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(a, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(a, "route")),
                        "/v1/fx/public/{id}");
    assert_string_equal(json_string_value(json_object_get(a, "path")),
                        "/v1/fx/public/s3cr%65t");
    assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
    assert_true(json_is_number(json_object_get(a, "ms")));
    assert_true(json_number_value(json_object_get(a, "ms")) >= 0);
    assert_true(json_is_null(json_object_get(a, "user")));
    assert_non_null(json_string_value(json_object_get(a, "client")));
    assert_non_null(json_string_value(json_object_get(a, "ts")));

    json_t *b = access_line(lines, "obs-user-2");
    assert_string_equal(json_string_value(json_object_get(b, "user")), u.id);
    assert_string_equal(json_string_value(json_object_get(b, "route")),
                        "/v1/fx/good/{id}");

    json_t *c = access_line(lines, "obs-miss-3");
    assert_true(json_is_null(json_object_get(c, "route")));
    assert_string_equal(json_string_value(json_object_get(c, "method")), "POST");
    assert_int_equal(json_integer_value(json_object_get(c, "status")), 404);
    json_decref(lines);

    /* Nothing of queries, headers, bodies or tokens, anywhere in the log. */
    FILE *f = fopen(tqt_log_path(H), "r");
    assert_non_null(f);
    char *all = calloc(1, 1 << 22);
    size_t n = fread(all, 1, (1 << 22) - 1, f);
    fclose(f);
    all[n] = '\0';
    assert_null(strstr(all, "QUERY-SECRET"));
    assert_null(strstr(all, "HEADER-SECRET"));
    assert_null(strstr(all, "BODY-SECRET"));
    assert_null(strstr(all, u.token));
    assert_null(strstr(all, u.refresh));
    free(all);
    tqt_user_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_count_exactly),
        cmocka_unit_test(test_access_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
