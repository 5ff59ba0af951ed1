/*
 * test_tasks_recurrence.c - recurring chores over HTTP against real
 * PostgreSQL: a weekly chore rotating through three people across the
 * spring-forward and fall-back changes of a non-UTC group (the local
 * time stays 19:00), a monthly chore on the 31st (Feb 28, Mar 31, Apr 30,
 * no drift), edits that keep or move the series' anchor, a member leaving
 * mid-rotation, and two people completing the same occurrence at once.
 */
#include "tk.h"

#include <stdbool.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *H;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = TK_PLUGINS};
    H = tqt_start("tasks_recurrence", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (H) /* NULL when the setup failed */
        assert_int_equal(tqt_stop(H), 0);
    return 0;
}

/*
 * Completes tid as u and checks the next occurrence: due want_due,
 * assigned to want_assignee (NULL: nobody).  Returns the next one's id
 * (malloc'd).
 */
static char *complete_expect(const tk_house *hh, const tqt_user *u,
                             const char *tid, const char *want_due,
                             const char *want_assignee)
{
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh->gid, tid, "/complete"),
                         u->token, NULL);
    tk_expect(&r, 200, "complete");
    assert_string_equal(tqt_str(&r, "status"), "done");
    assert_string_equal(tqt_str(&r, "completed_by"), u->id);
    json_t *next = json_object_get(r.json, "next");
    if (!json_is_object(next))
        fail_msg("no next occurrence: %s", r.body);
    const char *due = tk_s(next, "due_at"), *who = tk_s(next, "assignee_id");
    if (!due || strcmp(due, want_due) != 0)
        fail_msg("next due %s, want %s", due ? due : "null", want_due);
    if (want_assignee ? !who || strcmp(who, want_assignee) != 0 : who != NULL)
        fail_msg("next assignee %s, want %s", who ? who : "null",
                 want_assignee ? want_assignee : "null");
    assert_string_equal(tk_s(next, "status"), "open");
    assert_string_equal(tk_s(next, "title"), tqt_str(&r, "title"));
    assert_int_equal(tk_i(next, "version"), 1);
    assert_true(json_equal(json_object_get(next, "recurrence"),
                           json_object_get(r.json, "recurrence")));
    assert_string_not_equal(tk_s(next, "id"), tid);
    char *id = strdup(tk_s(next, "id"));
    tqt_resp_free(&r);
    return id;
}

/* The number of open tasks titled title in the group. */
static int open_count(const tk_house *hh, const char *title)
{
    char *n = tqt_sql(H,
                      "SELECT count(*) FROM tasks.tasks WHERE group_id = '%s'"
                      " AND title = '%s' AND status = 'open'",
                      hh->gid, title);
    int c = atoi(n);
    free(n);
    return c;
}

static void weekly_rotation_across_dst(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, "America/New_York");
    char body[512];

    /* Sunday 7 March 2027, 19:00 EST; DST starts 14 March. No assignee:
     * the rotation's first takes the first turn. */
    snprintf(body, sizeof body,
             "{\"title\":\"Bins\",\"due_at\":\"2027-03-08T00:00:00Z\","
             "\"recurrence\":{\"freq\":\"weekly\",\"rotation\":"
             "[\"%s\",\"%s\",\"%s\"]}}",
             hh.alice.id, hh.bob.id, hh.carol.id);
    tqt_resp r = tqt_req(H, "POST", tk_path(hh.gid, NULL), hh.dave.token,
                         "%s", body);
    tk_expect(&r, 201, "create weekly chore");
    assert_string_equal(tqt_str(&r, "assignee_id"), hh.alice.id);
    json_t *rec = json_object_get(r.json, "recurrence");
    assert_string_equal(tk_s(rec, "freq"), "weekly");
    assert_int_equal(tk_i(rec, "interval"), 1);
    assert_int_equal(json_array_size(json_object_get(rec, "rotation")), 3);
    char *t0 = strdup(tqt_str(&r, "id"));
    tqt_resp_free(&r);

    /* 19:00 local every week: 00:00Z in EST, 23:00Z in EDT. */
    char *t1 = complete_expect(&hh, &hh.alice, t0, "2027-03-14T23:00:00Z",
                               hh.bob.id);
    assert_int_equal(open_count(&hh, "Bins"), 1);
    char *t2 = complete_expect(&hh, &hh.bob, t1, "2027-03-21T23:00:00Z",
                               hh.carol.id);
    /* Whoever completes it, the turn goes by the rotation. */
    char *t3 = complete_expect(&hh, &hh.alice, t2, "2027-03-28T23:00:00Z",
                               hh.alice.id);
    char *t4 = complete_expect(&hh, &hh.alice, t3, "2027-04-04T23:00:00Z",
                               hh.bob.id);

    /* The rotation announces whose turn it is. */
    char path[160];
    snprintf(path, sizeof path, "/v1/groups/%s/activity?limit=5", hh.gid);
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "activity");
    json_t *first = json_array_get(json_object_get(r.json, "items"), 0);
    assert_string_equal(tk_s(first, "type"), "task.assigned");
    assert_string_equal(tk_s(first, "summary"), "\"Bins\" is now Bob's turn");
    assert_string_equal(tk_s(first, "subject_id"), t4);
    tqt_resp_free(&r);

    /* Every other week across the fall-back change (7 November): Sunday
     * 31 October 19:00 EDT, then Sunday 14 November 19:00 EST. */
    snprintf(body, sizeof body,
             "{\"title\":\"Windows\",\"assignee_id\":\"%s\",\"due_at\":"
             "\"2027-10-31T23:00:00Z\",\"recurrence\":{\"freq\":\"weekly\","
             "\"interval\":2}}",
             hh.carol.id);
    char *w0 = tk_task(H, &hh.alice, hh.gid, body);
    char *w1 = complete_expect(&hh, &hh.carol, w0, "2027-11-15T00:00:00Z",
                               hh.carol.id);
    char *w2 = complete_expect(&hh, &hh.bob, w1, "2027-11-29T00:00:00Z",
                               hh.carol.id);

    /* Daily at 08:30 local across spring-forward. */
    snprintf(body, sizeof body,
             "{\"title\":\"Feed the cat\",\"due_at\":\"2027-03-13T13:30:00Z\","
             "\"recurrence\":{\"freq\":\"daily\"}}");
    char *d0 = tk_task(H, &hh.alice, hh.gid, body);
    char *d1 = complete_expect(&hh, &hh.alice, d0, "2027-03-14T12:30:00Z",
                               NULL);
    char *d2 = complete_expect(&hh, &hh.alice, d1, "2027-03-15T12:30:00Z",
                               NULL);

    char *all[] = {t0, t1, t2, t3, t4, w0, w1, w2, d0, d1, d2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    tk_house_free(&hh);
}

static void monthly_on_the_31st(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, "Europe/Berlin");
    char body[256];
    /* 31 January 2027, 19:00 CET; summer time from 28 March. */
    snprintf(body, sizeof body,
             "{\"title\":\"Pay rent\",\"assignee_id\":\"%s\",\"due_at\":"
             "\"2027-01-31T18:00:00Z\",\"recurrence\":{\"freq\":"
             "\"monthly\"}}",
             hh.bob.id);
    char *m0 = tk_task(H, &hh.alice, hh.gid, body);
    char *m1 = complete_expect(&hh, &hh.bob, m0, "2027-02-28T18:00:00Z",
                               hh.bob.id);

    /* A title edit keeps the series' anchor: March is the 31st again,
     * not the 28th. */
    tqt_resp r = tqt_req(H, "PATCH", tk_tpath(hh.gid, m1, NULL),
                         hh.bob.token, "{\"title\":\"Pay the rent\"}");
    tk_expect(&r, 200, "rename");
    tqt_resp_free(&r);
    char *m2 = complete_expect(&hh, &hh.bob, m1, "2027-03-31T17:00:00Z",
                               hh.bob.id);
    char *m3 = complete_expect(&hh, &hh.bob, m2, "2027-04-30T17:00:00Z",
                               hh.bob.id);
    char *m4 = complete_expect(&hh, &hh.bob, m3, "2027-05-31T17:00:00Z",
                               hh.bob.id);

    /* Moving an occurrence's due time re-anchors the series on it. */
    r = tqt_req(H, "PATCH", tk_tpath(hh.gid, m4, NULL), hh.bob.token,
                "{\"due_at\":\"2027-06-02T07:00:00Z\"}");
    tk_expect(&r, 200, "move due date");
    tqt_resp_free(&r);
    char *m5 = complete_expect(&hh, &hh.bob, m4, "2027-07-02T07:00:00Z",
                               hh.bob.id);

    /* Every 3 months from 30 November: 28/29 February is not special. */
    char *q0 = tk_task(H, &hh.alice, hh.gid,
                       "{\"title\":\"Smoke alarms\",\"due_at\":"
                       "\"2027-11-30T09:00:00Z\",\"recurrence\":{\"freq\":"
                       "\"monthly\",\"interval\":3}}");
    char *q1 = complete_expect(&hh, &hh.carol, q0, "2028-02-29T09:00:00Z",
                               NULL);
    char *q2 = complete_expect(&hh, &hh.carol, q1, "2028-05-30T08:00:00Z",
                               NULL);

    /* Dropping the recurrence: completion makes no next one. */
    r = tqt_req(H, "PATCH", tk_tpath(hh.gid, q2, NULL), hh.bob.token,
                "{\"recurrence\":null}");
    tk_expect(&r, 200, "stop recurring");
    assert_true(json_is_null(json_object_get(r.json, "recurrence")));
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", tk_tpath(hh.gid, q2, "/complete"), hh.bob.token,
                NULL);
    tk_expect(&r, 200, "complete the last one");
    assert_null(json_object_get(r.json, "next"));
    tqt_resp_free(&r);
    assert_int_equal(open_count(&hh, "Smoke alarms"), 0);

    char *all[] = {m0, m1, m2, m3, m4, m5, q0, q1, q2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    tk_house_free(&hh);
}

static void member_leaves_mid_rotation(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char body[512], path[200];
    snprintf(body, sizeof body,
             "{\"title\":\"Bathroom\",\"assignee_id\":\"%s\",\"due_at\":"
             "\"2027-06-01T08:00:00Z\",\"recurrence\":{\"freq\":\"daily\","
             "\"rotation\":[\"%s\",\"%s\",\"%s\"]}}",
             hh.alice.id, hh.alice.id, hh.bob.id, hh.carol.id);
    char *r0 = tk_task(H, &hh.dave, hh.gid, body);
    char *r1 = complete_expect(&hh, &hh.alice, r0, "2027-06-02T08:00:00Z",
                               hh.bob.id);
    /* A plain task of dave's, who will be removed. */
    snprintf(body, sizeof body,
             "{\"title\":\"Fix the shelf\",\"assignee_id\":\"%s\"}",
             hh.dave.id);
    char *plain = tk_task(H, &hh.alice, hh.gid, body);

    /* Bob leaves while it is his turn: it passes to the next one. */
    snprintf(path, sizeof path, "/v1/groups/%s/members/%s", hh.gid, hh.bob.id);
    tqt_resp r = tqt_req(H, "DELETE", path, hh.bob.token, NULL);
    tk_expect(&r, 204, "bob leaves");
    tqt_resp_free(&r);
    tk_wait_assignee(H, &hh.alice, hh.gid, r1, hh.carol.id, 20);
    /* ... and he can no longer see or take chores here. */
    r = tqt_req(H, "GET", tk_tpath(hh.gid, r1, NULL), hh.bob.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"assignee_id\":\"%s\"}", hh.bob.id);
    r = tqt_req(H, "PATCH", tk_tpath(hh.gid, r1, NULL), hh.alice.token, "%s",
                body);
    tk_expect_field(&r, "assignee_id", "assign someone who left");
    tqt_resp_free(&r);

    /* Dave is removed by the owner: his plain task is unassigned. */
    snprintf(path, sizeof path, "/v1/groups/%s/members/%s", hh.gid,
             hh.dave.id);
    r = tqt_req(H, "DELETE", path, hh.alice.token, NULL);
    tk_expect(&r, 204, "dave removed");
    tqt_resp_free(&r);
    tk_wait_assignee(H, &hh.alice, hh.gid, plain, NULL, 20);

    /* The rotation goes on without bob: carol, alice, carol, alice. */
    char *r2 = complete_expect(&hh, &hh.carol, r1, "2027-06-03T08:00:00Z",
                               hh.alice.id);
    char *r3 = complete_expect(&hh, &hh.alice, r2, "2027-06-04T08:00:00Z",
                               hh.carol.id);
    char *r4 = complete_expect(&hh, &hh.carol, r3, "2027-06-05T08:00:00Z",
                               hh.alice.id);

    /* Carol leaves too: alice is the last one, and keeps the chore. */
    snprintf(path, sizeof path, "/v1/groups/%s/members/%s", hh.gid,
             hh.carol.id);
    r = tqt_req(H, "DELETE", path, hh.carol.token, NULL);
    tk_expect(&r, 204, "carol leaves");
    tqt_resp_free(&r);
    char *r5 = complete_expect(&hh, &hh.alice, r4, "2027-06-06T08:00:00Z",
                               hh.alice.id);

    char *all[] = {r0, r1, r2, r3, r4, r5, plain};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        free(all[i]);
    tk_house_free(&hh);
}

/* Made landlord, a member takes no more chores: their open ones are
 * unassigned, or pass on in their rotation. */
static void member_becomes_landlord(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char body[512], path[200];
    snprintf(body, sizeof body,
             "{\"title\":\"Recycling\",\"assignee_id\":\"%s\"}", hh.bob.id);
    char *plain = tk_task(H, &hh.alice, hh.gid, body);
    snprintf(body, sizeof body,
             "{\"title\":\"Hallway\",\"assignee_id\":\"%s\",\"due_at\":"
             "\"2027-06-01T08:00:00Z\",\"recurrence\":{\"freq\":\"weekly\","
             "\"rotation\":[\"%s\",\"%s\"]}}",
             hh.bob.id, hh.bob.id, hh.carol.id);
    char *rot = tk_task(H, &hh.alice, hh.gid, body);
    snprintf(body, sizeof body, "{\"title\":\"Carol's\",\"assignee_id\":\"%s\"}",
             hh.carol.id);
    char *other = tk_task(H, &hh.alice, hh.gid, body);

    snprintf(path, sizeof path, "/v1/groups/%s/members/%s", hh.gid, hh.bob.id);
    tqt_resp r = tqt_req(H, "PATCH", path, hh.alice.token,
                         "{\"role\":\"landlord\"}");
    tk_expect(&r, 200, "bob becomes landlord");
    tqt_resp_free(&r);
    tk_wait_assignee(H, &hh.alice, hh.gid, plain, NULL, 20);
    tk_wait_assignee(H, &hh.alice, hh.gid, rot, hh.carol.id, 20);
    r = tk_get(H, &hh.alice, hh.gid, other);
    assert_string_equal(tqt_str(&r, "assignee_id"), hh.carol.id);
    tqt_resp_free(&r);

    free(plain);
    free(rot);
    free(other);
    tk_house_free(&hh);
}

/* -------------------------------------------- concurrent completion */

typedef struct racer {
    const tk_house *hh;
    const tqt_user *u;
    const char *tid;
    pthread_barrier_t *go;
    long status;
} racer;

static void *race(void *arg)
{
    racer *x = arg;
    pthread_barrier_wait(x->go);
    tqt_resp r = tqt_req(H, "POST", tk_tpath(x->hh->gid, x->tid, "/complete"),
                         x->u->token, NULL);
    x->status = r.status;
    tqt_resp_free(&r);
    return NULL;
}

static void completing_at_once(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    for (int round = 0; round < 5; round++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"title\":\"Race %d\",\"due_at\":\"2027-08-01T08:00:00Z\","
                 "\"recurrence\":{\"freq\":\"weekly\"}}",
                 round);
        char *tid = tk_task(H, &hh.alice, hh.gid, body);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        racer a = {&hh, &hh.bob, tid, &go, 0}, b = {&hh, &hh.carol, tid, &go, 0};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, race, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        pthread_barrier_destroy(&go);
        /* One wins, the other is told it is done already. */
        if (!((a.status == 200 && b.status == 409) ||
              (a.status == 409 && b.status == 200)))
            fail_msg("round %d: statuses %ld and %ld", round, a.status,
                     b.status);
        /* Exactly one next occurrence. */
        snprintf(body, sizeof body, "Race %d", round);
        assert_int_equal(open_count(&hh, body), 1);
        free(tid);
    }
    tk_house_free(&hh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weekly_rotation_across_dst),
        cmocka_unit_test(monthly_on_the_31st),
        cmocka_unit_test(member_leaves_mid_rotation),
        cmocka_unit_test(member_becomes_landlord),
        cmocka_unit_test(completing_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
