/*
 * test_http.c - the HTTP contract of the host itself: error bodies, the
 * example plugin, auth on plugin routes, metrics, admin, keep-alive under
 * concurrency, and SIGTERM draining a request in flight.
 */
#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *plugins =
    "  - name: hello\n    enabled: true\n    config:\n      greeting: hej\n"
    "  - name: fx_good\n    enabled: true\n";

static tqt_host *H;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = plugins};
    H = tqt_start("http", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(tqt_stop(H), 0);
    return 0;
}

static void test_404_405(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(H, "GET", "/v1/nope", NULL, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    r = tqt_req(H, "DELETE", "/v1/hello", NULL, NULL);
    tqt_assert_error(&r, 405, "method_not_allowed");
    char *allow = tqt_header(&r, "Allow");
    assert_non_null(allow);
    assert_string_equal(allow, "GET");
    free(allow);
    tqt_resp_free(&r);

    /* Methods no route uses: 405 with what the path has, not 404. */
    static const char *const odd[] = {"HEAD", "OPTIONS"};
    for (int i = 0; i < 2; i++) {
        r = tqt_req(H, odd[i], "/v1/hello", NULL, NULL);
        assert_int_equal(r.status, 405);
        allow = tqt_header(&r, "Allow");
        assert_non_null(allow);
        assert_string_equal(allow, "GET");
        free(allow);
        tqt_resp_free(&r);
    }
    r = tqt_req(H, "OPTIONS", "/v1/nope", NULL, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    r = tqt_req(H, "PUT", "/v1/hello/notes", NULL, NULL);
    tqt_assert_error(&r, 405, "method_not_allowed");
    allow = tqt_header(&r, "Allow");
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "POST"));
    free(allow);
    tqt_resp_free(&r);
}

static void test_413_415_400(void **state)
{
    (void)state;
    char big[2048];
    memset(big, 'a', sizeof big);
    big[sizeof big - 1] = '\0';
    tqt_resp r = tqt_req(H, "POST", "/v1/fx/echo", NULL, "{\"x\":\"%s\"}", big);
    tqt_assert_error(&r, 413, "payload_too_large");
    tqt_resp_free(&r);

    r = tqt_req_raw(H, "POST", "/v1/fx/echo", NULL, "text/plain", "{}", 2, NULL);
    tqt_assert_error(&r, 415, "unsupported_media_type");
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", "/v1/fx/echo", NULL, "{\"a\": ");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", "/v1/fx/echo", NULL, "[1,2]");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", "/v1/fx/echo", NULL, "{\"a\":1,\"a\":2}");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", "/v1/fx/echo", NULL, "{\"k\":\"v\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(tqt_str(&r, "k"), "v");
    tqt_resp_free(&r);

    /* A raw route takes any type, under its own limit. */
    r = tqt_req_raw(H, "POST", "/v1/fx/raw", NULL, "image/png", "\x89PNG", 4, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "len")), 4);
    tqt_resp_free(&r);
    char *blob = calloc(1, 5000);
    r = tqt_req_raw(H, "POST", "/v1/fx/raw", NULL, "image/png", blob, 5000, NULL);
    tqt_assert_error(&r, 413, "payload_too_large");
    tqt_resp_free(&r);
    free(blob);
}

static void test_params_and_auth(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(H, "GET", "/v1/fx/public/a%20b?q=x%26y", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(tqt_str(&r, "id"), "a b");
    assert_string_equal(tqt_str(&r, "q"), "x&y");
    assert_true(json_is_null(json_object_get(r.json, "user_id")));
    tqt_resp_free(&r);

    r = tqt_req(H, "GET", "/v1/fx/good/1", NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", "/v1/fx/good/1", "not-a-token", NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);

    tqt_user u = tqt_register(H, "Ada");
    r = tqt_req(H, "GET", "/v1/fx/good/7", u.token, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(tqt_str(&r, "user_id"), u.id);
    assert_string_equal(tqt_str(&r, "id"), "7");
    tqt_resp_free(&r);
    tqt_user_free(&u);
}

static void test_example_plugin(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(H, "GET", "/v1/hello", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(tqt_str(&r, "message"), "hej");
    char *rid = tqt_header(&r, "X-Request-Id");
    assert_non_null(rid);
    free(rid);
    tqt_resp_free(&r);

    tqt_user u = tqt_register(H, "Bo");
    r = tqt_req(H, "POST", "/v1/hello/notes", u.token, "{\"body\":\"\"}");
    tqt_assert_error(&r, 400, "validation_failed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "error"), "field")),
                        "body");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", "/v1/hello/notes", u.token, "{\"body\":\"milk\"}");
    assert_int_equal(r.status, 201);
    assert_string_equal(tqt_str(&r, "body"), "milk");
    const char *at = tqt_str(&r, "created_at");
    assert_non_null(at);
    assert_int_equal(strlen(at), 20); /* 2026-12-04T15:00:00Z */
    assert_int_equal(at[19], 'Z');
    tqt_resp_free(&r);

    r = tqt_req(H, "GET", "/v1/hello/notes", u.token, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    tqt_resp_free(&r);

    /* The note's event went to the outbox in the same transaction. */
    char *n = tqt_sql(H, "SELECT count(*) FROM tasqly.events "
                         "WHERE type = 'hello.note_added'");
    assert_string_equal(n, "1");
    free(n);
    tqt_user_free(&u);
}

static void test_metrics_admin(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(H, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "tasqly_http_requests_total{"));
    /* Every query result of the finished requests has been released (a
     * worker once kept them until exit). */
    assert_non_null(strstr(r.body, "\ntasqly_db_results_held 0\n"));
    assert_non_null(strstr(r.body, "route=\"/healthz\""));
    tqt_resp_free(&r);

    r = tqt_req(H, "GET", "/v1/admin/plugins", NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", "/v1/admin/plugins", "wrong-token-wrong-token-wrong-tok", NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", "/v1/admin/plugins", tqt_admin_token(), NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    bool found = false;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *p = json_array_get(items, i);
        if (strcmp(json_string_value(json_object_get(p, "name")), "hello") == 0) {
            found = true;
            assert_string_equal(json_string_value(json_object_get(p, "version")), "1.0.0");
            assert_string_equal(json_string_value(json_object_get(p, "abi_version")), "1.1");
            assert_int_equal(json_integer_value(json_object_get(p, "migrations_applied")), 1);
            assert_int_equal(json_array_size(json_object_get(p, "routes")), 3);
        }
    }
    assert_true(found);
    tqt_resp_free(&r);
}

/* Many clients, each on one keep-alive connection. */
#define CLIENTS 16
#define PER_CLIENT 40

static void *client(void *arg)
{
    long *ok = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/hello", tqt_base_url(H));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    for (int i = 0; i < PER_CLIENT; i++) {
        long st = 0;
        if (curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK &&
            st == 200)
            ok[0]++;
    }
    long conns = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
    ok[1] = conns; /* connections opened by the last transfer: 0 = reused */
    fclose(devnull);
    curl_easy_cleanup(c);
    return NULL;
}

static void test_keepalive_concurrency(void **state)
{
    (void)state;
    pthread_t t[CLIENTS];
    long ok[CLIENTS][2] = {{0}};
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], NULL, client, ok[i]);
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(ok[i][0], PER_CLIENT);
        assert_int_equal(ok[i][1], 0);
    }
}

static void *slow_client(void *arg)
{
    tqt_resp *r = arg;
    *r = tqt_req(H, "GET", "/v1/fx/slow?ms=1500", NULL, NULL);
    return NULL;
}

/* Last: stops the host.  The slow request finishes, the exit is clean,
 * and new connections are refused once draining. */
static void test_sigterm_drains(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = plugins};
    tqt_host *h2 = tqt_start("drain", &o);
    tqt_host *saved = H;
    H = h2;
    pthread_t t;
    tqt_resp r;
    pthread_create(&t, NULL, slow_client, &r);
    usleep(400 * 1000);
    kill(tqt_pid(h2), SIGTERM);
    usleep(200 * 1000);
    tqt_resp late = tqt_req(h2, "GET", "/healthz", NULL, NULL);
    assert_int_equal(late.status, 0); /* no longer accepting */
    tqt_resp_free(&late);
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "slept_ms")), 1500);
    tqt_resp_free(&r);
    assert_int_equal(tqt_stop(h2), 0);
    H = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_413_415_400),
        cmocka_unit_test(test_params_and_auth),
        cmocka_unit_test(test_example_plugin),
        cmocka_unit_test(test_metrics_admin),
        cmocka_unit_test(test_keepalive_concurrency),
        cmocka_unit_test(test_sigterm_drains),
    };
    return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
