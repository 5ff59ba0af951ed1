/*
 * test_tasks_security.c - regression tests of the security review of the
 * tasks plugin: ids of another group in the path and in bodies (nothing
 * of it is reachable, nothing of it changes), If-Match values past the
 * version column's range (a stale write is a 409, never a 400 from
 * PostgreSQL), control characters in titles (titles go into event
 * summaries and from there into e-mail subjects, so CR/LF are refused
 * like in group names and display names), and ?due_before= offsets that
 * PostgreSQL cannot take (a 400 naming the parameter).
 */
#include "tk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *H;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = TK_PLUGINS};
    H = tqt_start("tasks_security", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (H)
        assert_int_equal(tqt_stop(H), 0);
    return 0;
}

/* --------------------------------------------------- another group */

/* Every task route, through group A with a task id of group B, by an
 * owner of A: 404 as for a task that does not exist, and B's task is
 * untouched. */
static void task_of_another_group_through_this_one(void **state)
{
    (void)state;
    tk_house a, b;
    tk_house_init(H, &a, NULL);
    tk_house_init(H, &b, NULL);
    char *theirs = tk_task(H, &b.alice, b.gid, "{\"title\":\"Theirs\"}");
    tqt_resp r = tqt_req(H, "POST", tk_tpath(b.gid, theirs, "/comments"),
                         b.alice.token, "{\"body\":\"ours\"}");
    tk_expect(&r, 201, "a comment in B");
    tqt_resp_free(&r);

    static const struct {
        const char *method, *suffix, *body;
    } routes[] = {
        {"GET", NULL, NULL},
        {"PATCH", NULL, "{\"title\":\"Mine now\"}"},
        {"DELETE", NULL, NULL},
        {"POST", "/complete", NULL},
        {"POST", "/comments", "{\"body\":\"hi\"}"},
        {"GET", "/comments", NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const char *path = tk_tpath(a.gid, theirs, routes[i].suffix);
        r = routes[i].body ? tqt_req(H, routes[i].method, path,
                                     a.alice.token, "%s", routes[i].body)
                           : tqt_req(H, routes[i].method, path,
                                     a.alice.token, NULL);
        if (r.status != 404)
            fail_msg("%s %s: expected 404, got %ld: %s", routes[i].method,
                     path, r.status, r.body);
        tqt_assert_error(&r, 404, "not_found");
        tqt_resp_free(&r);
    }
    r = tk_get(H, &b.alice, b.gid, theirs);
    assert_string_equal(tk_s(r.json, "title"), "Theirs");
    assert_string_equal(tk_s(r.json, "status"), "open");
    assert_int_equal(tk_i(r.json, "version"), 1);
    tqt_resp_free(&r);
    char *n = tqt_sql(H, "SELECT count(*) FROM tasks.comments"
                         " WHERE task_id = '%s'", theirs);
    assert_string_equal(n, "1");
    free(n);

    /* People of B are nobody in A: not as assignee, not in a rotation,
     * not on create, not on PATCH. */
    char *mine = tk_task(H, &a.alice, a.gid, "{\"title\":\"Mine\"}");
    char body[600];
    snprintf(body, sizeof body, "{\"title\":\"x\",\"assignee_id\":\"%s\"}",
             b.bob.id);
    r = tqt_req(H, "POST", tk_path(a.gid, NULL), a.alice.token, "%s", body);
    tk_expect_field(&r, "assignee_id", "assignee of another group");
    tqt_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"title\":\"x\",\"due_at\":\"2030-01-01T10:00:00Z\","
             "\"recurrence\":{\"freq\":\"weekly\",\"rotation\":[\"%s\","
             "\"%s\"]}}",
             a.bob.id, b.bob.id);
    r = tqt_req(H, "POST", tk_path(a.gid, NULL), a.alice.token, "%s", body);
    tk_expect_field(&r, "recurrence.rotation[1]", "rotation, create");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"assignee_id\":\"%s\"}", b.bob.id);
    r = tqt_req(H, "PATCH", tk_tpath(a.gid, mine, NULL), a.alice.token,
                "%s", body);
    tk_expect_field(&r, "assignee_id", "assignee of another group, patch");
    tqt_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"due_at\":\"2030-01-01T10:00:00Z\",\"recurrence\":"
             "{\"freq\":\"daily\",\"rotation\":[\"%s\"]}}",
             b.alice.id);
    r = tqt_req(H, "PATCH", tk_tpath(a.gid, mine, NULL), a.alice.token,
                "%s", body);
    tk_expect_field(&r, "recurrence.rotation[0]", "rotation, patch");
    tqt_resp_free(&r);
    r = tk_get(H, &a.alice, a.gid, mine);
    assert_int_equal(tk_i(r.json, "version"), 1);
    tqt_resp_free(&r);

    free(mine);
    free(theirs);
    tk_house_free(&a);
    tk_house_free(&b);
}

/* ---------------------------------------------------------- If-Match */

/* The version column is an integer; an If-Match past its range names a
 * version the task does not have: 409 like any stale one, on every route
 * that takes If-Match, and nothing changes. */
static void huge_if_match_is_a_conflict(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Bins\"}");
    static const char *const huge[] = {"\"2147483648\"", "4294967297",
                                       "\"999999999999999999\""};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        tqt_resp r = tk_req_if(H, "POST", tk_tpath(hh.gid, tid, "/complete"),
                               &hh.bob, huge[i], NULL);
        if (r.status != 409)
            fail_msg("complete with If-Match %s: expected 409, got %ld: %s",
                     huge[i], r.status, r.body);
        tqt_assert_error(&r, 409, "conflict");
        tqt_resp_free(&r);
        r = tk_req_if(H, "PATCH", tk_tpath(hh.gid, tid, NULL), &hh.bob,
                      huge[i], "{\"title\":\"Recycling\"}");
        tqt_assert_error(&r, 409, "conflict");
        tqt_resp_free(&r);
        r = tk_req_if(H, "DELETE", tk_tpath(hh.gid, tid, NULL), &hh.alice,
                      huge[i], NULL);
        tqt_assert_error(&r, 409, "conflict");
        tqt_resp_free(&r);
    }
    tqt_resp r = tk_get(H, &hh.bob, hh.gid, tid);
    assert_string_equal(tk_s(r.json, "status"), "open");
    assert_string_equal(tk_s(r.json, "title"), "Bins");
    assert_int_equal(tk_i(r.json, "version"), 1);
    tqt_resp_free(&r);
    /* The real version still works. */
    r = tk_req_if(H, "POST", tk_tpath(hh.gid, tid, "/complete"), &hh.bob,
                  "\"1\"", NULL);
    tk_expect(&r, 200, "complete with the current version");
    tqt_resp_free(&r);
    /* A done task with a huge If-Match: still the 409 of a done task. */
    r = tk_req_if(H, "POST", tk_tpath(hh.gid, tid, "/complete"), &hh.bob,
                  "\"2147483648\"", NULL);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    free(tid);
    tk_house_free(&hh);
}

/* ------------------------------------------------------------ titles */

static void control_characters_in_titles(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    static const char *const bad[] = {
        "Bins\\r\\nBcc: everyone@example.com", "Bins\\n", "\\u0007Bins",
        "Bins\\tout", "Bins\\u007f",
    };
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Bins\"}");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tqt_resp r = tqt_req(H, "POST", tk_path(hh.gid, NULL),
                             hh.alice.token, "{\"title\":\"%s\"}", bad[i]);
        tk_expect_field(&r, "title", bad[i]);
        tqt_resp_free(&r);
        r = tqt_req(H, "PATCH", tk_tpath(hh.gid, tid, NULL), hh.alice.token,
                    "{\"title\":\"%s\"}", bad[i]);
        tk_expect_field(&r, "title", bad[i]);
        tqt_resp_free(&r);
    }
    char *n = tqt_sql(H, "SELECT count(*) FROM tasks.tasks WHERE group_id ="
                         " '%s' AND title ~ '[[:cntrl:]]'", hh.gid);
    assert_string_equal(n, "0");
    free(n);
    /* Other scripts, emoji and punctuation are titles like any other;
     * descriptions and comments may have lines. */
    free(tk_task(H, &hh.alice, hh.gid,
                 "{\"title\":\"M\\u00fcll \\u2192 Tonne \\ud83d\\uddd1 "
                 "\\\"quoted\\\"\",\"description\":\"line 1\\nline 2\"}"));
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, tid, "/comments"),
                         hh.bob.token, "{\"body\":\"done?\\nnot yet\"}");
    tk_expect(&r, 201, "a comment with two lines");
    tqt_resp_free(&r);
    free(tid);
    tk_house_free(&hh);
}

/* ------------------------------------------------------- ?due_before */

/* RFC 3339 allows offsets up to 23:59, PostgreSQL up to 15:59: beyond,
 * the answer is a 400 naming due_before, not an anonymous one. */
static void due_before_offsets(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    free(tk_task(H, &hh.alice, hh.gid,
                 "{\"title\":\"Due\",\"due_at\":\"2030-01-01T10:00:00Z\"}"));
    static const char *const bad[] = {"2030-01-01T10:00:00%2B23:59",
                                      "2030-01-01T10:00:00-16:00",
                                      "0001-01-01T00:00:00%2B20:00"};
    char path[300];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(path, sizeof path, "%s?due_before=%s",
                 tk_path(hh.gid, NULL), bad[i]);
        tqt_resp r = tqt_req(H, "GET", path, hh.bob.token, NULL);
        tk_expect_field(&r, "due_before", bad[i]);
        tqt_resp_free(&r);
    }
    /* Offsets PostgreSQL takes still filter. */
    snprintf(path, sizeof path, "%s?due_before=2030-01-01T23:59:01%%2B13:59",
             tk_path(hh.gid, NULL));
    tqt_resp r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "due_before with +13:59");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    tqt_resp_free(&r);
    snprintf(path, sizeof path, "%s?due_before=2030-01-01T00:00:00-09:59",
             tk_path(hh.gid, NULL));
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "due_before with -09:59");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    tqt_resp_free(&r);
    tk_house_free(&hh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(task_of_another_group_through_this_one),
        cmocka_unit_test(huge_if_match_is_a_conflict),
        cmocka_unit_test(control_characters_in_titles),
        cmocka_unit_test(due_before_offsets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
