/*
 * test_db_events - the outbox through the real tasqlyd: one delivery to
 * each of two subscribers, woken by NOTIFY; nothing emitted for a
 * rolled-back change; retries after a failing handler (whose writes are
 * rolled back); dead after events.max_attempts, visible in /metrics and
 * the admin listing; the activity feed with cursors; two hosts sharing
 * the dispatch without delivering twice; the serialization-failure retry.
 */
#include "dbt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct env {
    tqt_host *h;
    char *plugins;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    e->plugins = dbt_plugins("a", true, NULL);
    tqt_opts o = {.plugins_yaml = e->plugins,
                  .extra_yaml = "events:\n  max_attempts: 3\n"};
    e->h = tqt_start("events", &o);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    assert_int_equal(tqt_stop(e->h), 0);
    free(e->plugins);
    free(e);
    return 0;
}

/* POST an item; returns its event id (malloc'd). */
static char *post_item(tqt_host *h, const char *name, const char *gid,
                       const char *fail)
{
    char extra[256] = "";
    if (gid)
        snprintf(extra, sizeof extra, ", \"group_id\": \"%s\"", gid);
    if (fail) {
        size_t n = strlen(extra);
        snprintf(extra + n, sizeof extra - n, ", \"fail\": %s", fail);
    }
    tqt_resp r = tqt_req(h, "POST", "/v1/dbfix/items", NULL,
                         "{\"name\": \"%s\"%s}", name, extra);
    if (r.status != 201)
        fail_msg("POST item %s: %ld %s", name, r.status, r.body);
    tqt_resp_free(&r);
    return tqt_sql(h, "SELECT id FROM tasqly.events WHERE payload->>'name' = "
                      "'%s'", name);
}

static void test_delivered_once_to_each_subscriber(void **state)
{
    env *e = *state;
    char gid[37], name[64];
    dbt_uuid(gid);
    /* Five events one after the other, each awaited: with the dispatcher
     * idling up to 5 s between polls, only NOTIFY makes this quick. */
    long long t0 = dbt_now_ms();
    char *id = NULL;
    for (int i = 0; i < 5; i++) {
        free(id);
        snprintf(name, sizeof name, "once-%d-%s", i, tqt_unique());
        id = post_item(e->h, name, gid, NULL);
        dbt_wait_sql(e->h, "2", 10,
                     "SELECT (SELECT count(*) FROM dbsub_a.received WHERE "
                     "event_id = %s) + (SELECT count(*) FROM dbsub_b.received "
                     "WHERE event_id = %s)", id, id);
    }
    long long took = dbt_now_ms() - t0;
    if (took > 4000)
        fail_msg("5 deliveries took %lld ms: is LISTEN/NOTIFY waking the "
                 "dispatcher?", took);

    /* Exactly once each, with the event's fields, after a pause in which
     * a duplicate would show up. */
    usleep(1500 * 1000);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM dbsub_a.received "
                                      "WHERE event_id = %s", id), 1);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM dbsub_b.received "
                                      "WHERE event_id = %s", id), 1);
    char *row = tqt_sql(e->h, "SELECT type || '|' || attempt || '|' || "
                              "group_id || '|' || name || '|' || ok FROM "
                              "dbsub_a.received WHERE event_id = %s", id);
    char want[256];
    snprintf(want, sizeof want, "dbfix.created|1|%s|%s|true", gid, name);
    assert_string_equal(row, want);
    free(row);
    char *st = tqt_sql(e->h, "SELECT string_agg(subscriber || ':' || state || "
                             "':' || attempts, ',' ORDER BY subscriber) FROM "
                             "tasqly.deliveries WHERE event_id = %s", id);
    assert_string_equal(st, "dbsub_a:done:1,dbsub_b:done:1");
    free(st);
    /* The feed columns came from the payload. */
    char *ev = tqt_sql(e->h, "SELECT subject_id || '|' || summary || '|' || "
                             "(actor_id IS NULL) FROM tasqly.events WHERE "
                             "id = %s", id);
    assert_non_null(strstr(ev, "|created once-4-"));
    assert_non_null(strstr(ev, "|true"));
    free(ev);
    free(id);
}

static void test_not_emitted_on_rollback(void **state)
{
    env *e = *state;
    char name[64], gid[37];
    dbt_uuid(gid);
    snprintf(name, sizeof name, "rollback-%s", tqt_unique());
    tqt_resp r = tqt_req(e->h, "POST", "/v1/dbfix/items/rollback", NULL,
                         "{\"name\": \"%s\", \"group_id\": \"%s\"}", name, gid);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/dbfix/items/%s", name);
    r = tqt_req(e->h, "GET", path, NULL, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM tasqly.events "
                                      "WHERE group_id = '%s'", gid), 0);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM dbsub_a.received "
                                      "WHERE group_id = '%s'", gid), 0);

    /* A read route that emits gets a transaction of its own. */
    snprintf(path, sizeof path, "/v1/dbfix/touch/%s", gid);
    r = tqt_req(e->h, "GET", path, NULL, NULL);
    assert_int_equal(r.status, 200);
    tqt_resp_free(&r);
    dbt_wait_sql(e->h, "1", 10, "SELECT count(*) FROM dbsub_b.received WHERE "
                                "group_id = '%s' AND type = 'dbfix.touched'",
                 gid);
}

static void test_retried_after_failure(void **state)
{
    env *e = *state;
    char name[64];
    snprintf(name, sizeof name, "retry-%s", tqt_unique());
    char *id = post_item(e->h, name, NULL, "{\"dbsub_a\": 2}");
    /* Attempts 1 and 2 fail (backoff ~0.5-1 s, then ~1-2 s), 3 succeeds. */
    dbt_wait_sql(e->h, "done:3", 20, "SELECT state || ':' || attempts FROM "
                                     "tasqly.deliveries WHERE event_id = %s "
                                     "AND subscriber = 'dbsub_a'", id);
    /* The failing attempts' writes were rolled back with them. */
    char *rows = tqt_sql(e->h, "SELECT string_agg(attempt || ':' || ok, ',') "
                               "FROM dbsub_a.received WHERE event_id = %s", id);
    assert_string_equal(rows, "3:true");
    free(rows);
    char *err = tqt_sql(e->h, "SELECT coalesce(last_error, 'null') FROM "
                              "tasqly.deliveries WHERE event_id = %s AND "
                              "subscriber = 'dbsub_a'", id);
    assert_string_equal(err, "null");
    free(err);
    /* The other subscriber has its own progress: done at once. */
    char *b = tqt_sql(e->h, "SELECT state || ':' || attempts FROM "
                            "tasqly.deliveries WHERE event_id = %s AND "
                            "subscriber = 'dbsub_b'", id);
    assert_string_equal(b, "done:1");
    free(b);
    /* Backoff: the third attempt came at least ~1.5 s after the first. */
    assert_true(dbt_sql_ll(e->h, "SELECT extract(epoch FROM d.updated_at - "
                                 "e.created_at) * 1000 FROM tasqly.deliveries "
                                 "d JOIN tasqly.events e ON e.id = d.event_id "
                                 "WHERE d.event_id = %s AND d.subscriber = "
                                 "'dbsub_a'", id) >= 1400);
    free(id);
}

/* The value of a metric line "name value" in a /metrics body, or -1. */
static double metric(const char *body, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(body, key);
    return p ? atof(p + strlen(key)) : -1;
}

static void test_dead_after_max_attempts(void **state)
{
    env *e = *state;
    char name[64];
    snprintf(name, sizeof name, "dead-%s", tqt_unique());
    char *id = post_item(e->h, name, NULL, "{\"dbsub_a\": 99}");
    dbt_wait_sql(e->h, "dead:3", 20, "SELECT state || ':' || attempts FROM "
                                     "tasqly.deliveries WHERE event_id = %s "
                                     "AND subscriber = 'dbsub_a'", id);
    char *err = tqt_sql(e->h, "SELECT last_error FROM tasqly.deliveries "
                              "WHERE event_id = %s AND subscriber = 'dbsub_a'",
                        id);
    assert_non_null(strstr(err, "handler returned TQ_E_IO"));
    free(err);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM dbsub_a.received "
                                      "WHERE event_id = %s", id), 0);
    /* No fourth attempt. */
    usleep(2500 * 1000);
    assert_int_equal(dbt_sql_ll(e->h, "SELECT attempts FROM tasqly.deliveries "
                                      "WHERE event_id = %s AND subscriber = "
                                      "'dbsub_a'", id), 3);

    /* Visible in /metrics (the gauge refreshes every 5 s)... */
    long long t0 = dbt_now_ms();
    double dead = -1, total = -1;
    while (dbt_now_ms() - t0 < 10000) {
        tqt_resp m = tqt_req(e->h, "GET", "/metrics", NULL, NULL);
        assert_int_equal(m.status, 200);
        dead = metric(m.body, "tasqly_events_dead_deliveries");
        total = metric(m.body, "tasqly_events_dead_total");
        tqt_resp_free(&m);
        if (dead >= 1)
            break;
        usleep(200 * 1000);
    }
    assert_true(dead >= 1);
    assert_true(total >= 1);
    /* ...and in the admin listing, against the plugin. */
    char auth[128];
    snprintf(auth, sizeof auth, "%s", tqt_admin_token());
    tqt_resp r = tqt_req(e->h, "GET", "/v1/admin/plugins", auth, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    long long a_dead = -1, b_dead = -1;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *n = json_string_value(json_object_get(it, "name"));
        json_int_t d = json_integer_value(json_object_get(it, "dead_deliveries"));
        if (n && strcmp(n, "dbsub_a") == 0)
            a_dead = d;
        if (n && strcmp(n, "dbsub_b") == 0)
            b_dead = d;
    }
    assert_true(a_dead >= 1);
    assert_int_equal(b_dead, 0);
    tqt_resp_free(&r);
    free(id);
}

static void test_activity_feed(void **state)
{
    env *e = *state;
    char gid[37], other[37], name[64];
    dbt_uuid(gid);
    dbt_uuid(other);
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "feed-%d-%s", i, tqt_unique());
        free(post_item(e->h, name, gid, NULL));
    }
    snprintf(name, sizeof name, "feed-other-%s", tqt_unique());
    free(post_item(e->h, name, other, NULL));

    char path[256], cursor[64] = "";
    int seen = 0;
    long long last_id = -1;
    for (int page = 0; page < 4; page++) {
        if (cursor[0])
            snprintf(path, sizeof path,
                     "/v1/dbfix/groups/%s/events?limit=2&cursor=%s", gid,
                     cursor);
        else
            snprintf(path, sizeof path, "/v1/dbfix/groups/%s/events?limit=2",
                     gid);
        tqt_resp r = tqt_req(e->h, "GET", path, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *it = json_array_get(items, i);
            long long id = atoll(json_string_value(json_object_get(it, "id")));
            if (last_id >= 0)
                assert_true(id < last_id); /* newest first */
            last_id = id;
            assert_string_equal(json_string_value(json_object_get(it, "type")),
                                "dbfix.created");
            const char *at = json_string_value(json_object_get(it, "at"));
            assert_non_null(at);
            assert_int_equal(strlen(at), 20);
            assert_int_equal(at[19], 'Z');
            const char *sum = json_string_value(json_object_get(it, "summary"));
            char want[32];
            snprintf(want, sizeof want, "created feed-%d-", 4 - seen);
            assert_non_null(sum);
            assert_memory_equal(sum, want, strlen(want));
            assert_non_null(json_object_get(it, "subject_id"));
            assert_true(json_is_null(json_object_get(it, "actor_id")));
            seen++;
        }
        json_t *next = json_object_get(r.json, "next_cursor");
        if (seen < 5) {
            assert_int_equal(json_array_size(items), 2);
            assert_true(json_is_string(next));
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        } else {
            assert_true(json_is_null(next));
            tqt_resp_free(&r);
            break;
        }
        tqt_resp_free(&r);
    }
    assert_int_equal(seen, 5);

    snprintf(path, sizeof path, "/v1/dbfix/groups/%s/events?cursor=abc", gid);
    tqt_resp r = tqt_req(e->h, "GET", path, NULL, NULL);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
}

static void test_serialization_failure_retried_once(void **state)
{
    env *e = *state;
    for (int i = 0; i < 3; i++) {
        tqt_resp r = tqt_req(e->h, "POST", "/v1/dbfix/flaky", NULL, "{}");
        if (r.status != 201)
            fail_msg("flaky: %ld %s", r.status, r.body);
        /* The first run failed with 40001; the host ran it again. */
        assert_int_equal(json_integer_value(json_object_get(r.json, "call")) % 2,
                         0);
        tqt_resp_free(&r);
    }
}

static void test_unique_violation_is_409(void **state)
{
    env *e = *state;
    char name[64];
    snprintf(name, sizeof name, "dup-%s", tqt_unique());
    free(post_item(e->h, name, NULL, NULL));
    tqt_resp r = tqt_req(e->h, "POST", "/v1/dbfix/items", NULL,
                         "{\"name\": \"%s\"}", name);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    /* Exactly one event: the failed insert emitted nothing. */
    assert_int_equal(dbt_sql_ll(e->h, "SELECT count(*) FROM tasqly.events "
                                      "WHERE payload->>'name' = '%s'", name),
                     1);
}

/* Two hosts on one database share the deliveries without doubling any. */
static void test_two_hosts_no_double_delivery(void **state)
{
    (void)state;
    char *pa = dbt_plugins("a", true, NULL), *pb = dbt_plugins("b", true, NULL);
    tqt_opts oa = {.plugins_yaml = pa};
    tqt_host *a = tqt_start("events_two", &oa);
    tqt_opts ob = {.plugins_yaml = pb, .database = tqt_database(a)};
    tqt_host *b = tqt_start("events_two", &ob);
    enum { N = 120 };
    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof name, "pair-%d-%s", i, tqt_unique());
        tqt_resp r = tqt_req(i % 2 ? a : b, "POST", "/v1/dbfix/items", NULL,
                             "{\"name\": \"%s\"}", name);
        assert_int_equal(r.status, 201);
        tqt_resp_free(&r);
    }
    char want[16];
    snprintf(want, sizeof want, "%d", 2 * N);
    dbt_wait_sql(a, want, 30, "SELECT count(*) FROM tasqly.deliveries WHERE "
                              "state = 'done'");
    usleep(1000 * 1000);
    snprintf(want, sizeof want, "%d", N);
    const char *subs[] = {"dbsub_a", "dbsub_b"};
    for (int s = 0; s < 2; s++) {
        char *n = tqt_sql(a, "SELECT count(*) FROM %s.received", subs[s]);
        assert_string_equal(n, want);
        free(n);
        n = tqt_sql(a, "SELECT count(DISTINCT event_id) FROM %s.received",
                    subs[s]);
        assert_string_equal(n, want);
        free(n);
    }
    /* Both hosts took part (each has two dispatcher threads awake on every
     * NOTIFY). */
    char *labels = tqt_sql(a, "SELECT string_agg(DISTINCT label, ',' ORDER "
                              "BY label) FROM dbsub_a.received");
    fprintf(stderr, "deliveries by host: %s\n", labels);
    free(labels);
    assert_int_equal(tqt_stop(b), 0);
    assert_int_equal(tqt_stop(a), 0);
    free(pa);
    free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivered_once_to_each_subscriber),
        cmocka_unit_test(test_not_emitted_on_rollback),
        cmocka_unit_test(test_retried_after_failure),
        cmocka_unit_test(test_dead_after_max_attempts),
        cmocka_unit_test(test_activity_feed),
        cmocka_unit_test(test_serialization_failure_retried_once),
        cmocka_unit_test(test_unique_violation_is_409),
    };
    const struct CMUnitTest two[] = {
        cmocka_unit_test(test_two_hosts_no_double_delivery),
    };
    int failed = cmocka_run_group_tests_name("one host", tests, setup,
                                             teardown);
    return failed + cmocka_run_group_tests_name("two hosts", two, NULL, NULL);
}
