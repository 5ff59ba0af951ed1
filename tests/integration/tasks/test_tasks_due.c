/*
 * test_tasks_due.c - task.due is emitted exactly once per occurrence when
 * its due time passes, with two tasqlyd processes on one database both
 * running the periodic job (every second here), and never for a task
 * done in time or not due yet.
 */
#include "tk.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tqt_host *H1, *H2;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = TK_PLUGINS};
    H1 = tqt_start("tasks_due", &o);
    tqt_opts o2 = {.plugins_yaml = TK_PLUGINS, .database = tqt_database(H1)};
    H2 = tqt_start("tasks_due", &o2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (H2) /* NULL when the setup failed */
        assert_int_equal(tqt_stop(H2), 0);
    if (H1)
        assert_int_equal(tqt_stop(H1), 0);
    return 0;
}

static int due_events(const char *tid)
{
    char *n = tqt_sql(H1,
                      "SELECT count(*) FROM tasqly.events WHERE type = "
                      "'task.due' AND subject_id = '%s'",
                      tid);
    int c = atoi(n);
    free(n);
    return c;
}

static void due_once_with_two_hosts(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H1, &hh, "Europe/Berlin");
    char due[32], later[32], soon[32], body[256];

    /* Overdue already, due in 2 s, done before its time, far ahead. */
    tk_time_from_now(-3600, due);
    snprintf(body, sizeof body,
             "{\"title\":\"Overdue\",\"due_at\":\"%s\",\"assignee_id\":\"%s\"}",
             due, hh.bob.id);
    char *overdue = tk_task(H1, &hh.alice, hh.gid, body);
    tk_time_from_now(2, soon);
    snprintf(body, sizeof body,
             "{\"title\":\"Soon\",\"due_at\":\"%s\",\"recurrence\":"
             "{\"freq\":\"daily\"}}",
             soon);
    char *soon_id = tk_task(H2, &hh.alice, hh.gid, body);
    tk_time_from_now(4, later);
    snprintf(body, sizeof body, "{\"title\":\"Done in time\",\"due_at\":\"%s\"}",
             later);
    char *in_time = tk_task(H1, &hh.alice, hh.gid, body);
    tqt_resp r = tqt_req(H2, "POST", tk_tpath(hh.gid, in_time, "/complete"),
                         hh.carol.token, NULL);
    tk_expect(&r, 200, "complete in time");
    tqt_resp_free(&r);
    char *ahead = tk_task(H1, &hh.alice, hh.gid,
                          "{\"title\":\"Ahead\",\"due_at\":"
                          "\"2030-01-01T00:00:00Z\"}");

    /* Both come due; wait for them, then for several more job runs on
     * both hosts. */
    for (int i = 0; i < 150 && (due_events(overdue) == 0 ||
                                due_events(soon_id) == 0);
         i++)
        usleep(100 * 1000);
    assert_int_equal(due_events(overdue), 1);
    assert_int_equal(due_events(soon_id), 1);
    sleep(5);
    assert_int_equal(due_events(overdue), 1);
    assert_int_equal(due_events(soon_id), 1);
    assert_int_equal(due_events(in_time), 0);
    assert_int_equal(due_events(ahead), 0);

    /* The job kept running meanwhile (every second, on either host). */
    char *runs = tqt_sql(H1, "SELECT runs FROM tasqly.jobs WHERE name = "
                             "'tasks.due'");
    assert_true(atoi(runs) >= 5);
    free(runs);

    /* The event, as the feed and the notify plugin see it. */
    char *payload = tqt_sql(H1,
                            "SELECT payload::text FROM tasqly.events WHERE "
                            "type = 'task.due' AND subject_id = '%s'",
                            overdue);
    json_t *p = json_loads(payload, 0, NULL);
    assert_non_null(p);
    assert_string_equal(tk_s(p, "assignee_id"), hh.bob.id);
    assert_string_equal(tk_s(p, "task_id"), overdue);
    assert_string_equal(tk_s(p, "summary"), "\"Overdue\" is due");
    json_decref(p);
    free(payload);
    char path[160];
    snprintf(path, sizeof path, "/v1/groups/%s/activity?limit=100", hh.gid);
    r = tqt_req(H2, "GET", path, hh.carol.token, NULL);
    tk_expect(&r, 200, "activity");
    int seen = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "items"), i, e) {
        if (strcmp(tk_s(e, "type"), "task.due") == 0) {
            seen++;
            assert_true(json_is_null(json_object_get(e, "actor_id")) ||
                        !json_object_get(e, "actor_id"));
        }
    }
    assert_int_equal(seen, 2);
    tqt_resp_free(&r);

    /* Completing the daily one makes the next occurrence, due tomorrow:
     * it gets its own task.due then, not now. */
    r = tqt_req(H1, "POST", tk_tpath(hh.gid, soon_id, "/complete"),
                hh.alice.token, NULL);
    tk_expect(&r, 200, "complete soon");
    char *next = strdup(tk_s(json_object_get(r.json, "next"), "id"));
    tqt_resp_free(&r);
    sleep(2);
    assert_int_equal(due_events(next), 0);

    /* Moving an announced task's due time into the future re-arms it;
     * when that passes, it is announced once more. */
    tk_time_from_now(2, soon);
    snprintf(body, sizeof body, "{\"due_at\":\"%s\"}", soon);
    r = tqt_req(H2, "PATCH", tk_tpath(hh.gid, overdue, NULL), hh.bob.token,
                "%s", body);
    tk_expect(&r, 200, "move due time");
    tqt_resp_free(&r);
    for (int k = 0; k < 100 && due_events(overdue) < 2; k++)
        usleep(100 * 1000);
    sleep(3);
    assert_int_equal(due_events(overdue), 2);

    free(next);
    free(overdue);
    free(soon_id);
    free(in_time);
    free(ahead);
    tk_house_free(&hh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(due_once_with_two_hosts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
