/*
 * test_tasks_api.c - the tasks plugin over HTTP against real PostgreSQL:
 * CRUD and validation, each list filter, pagination while tasks are
 * inserted, optimistic concurrency (If-Match), completion, comments,
 * stats, the activity feed, who may see what (non-members 404 on every
 * route, the landlord 403), and the clean-up when a group is deleted.
 *
 * One tasqlyd (groups + tasks, no media) serves every test; each test
 * makes its own household.
 */
#include "tk.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tqt_host *H;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = TK_PLUGINS};
    H = tqt_start("tasks_api", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (H) /* NULL when the setup failed */
        assert_int_equal(tqt_stop(H), 0);
    return 0;
}

/* A string of n copies of s (malloc'd). */
static char *repeat(const char *s, size_t n)
{
    size_t l = strlen(s);
    char *out = malloc(l * n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * l, s, l);
    out[l * n] = '\0';
    return out;
}

/* ------------------------------------------------------------- CRUD */

static void create_get_and_defaults(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);

    tqt_resp r = tqt_req(H, "POST", tk_path(hh.gid, NULL), hh.bob.token,
                         "{\"title\":\"Take out the bins\"}");
    tk_expect(&r, 201, "create");
    json_t *t = r.json;
    const char *id = tk_s(t, "id");
    assert_non_null(id);
    assert_string_equal(tk_s(t, "group_id"), hh.gid);
    assert_string_equal(tk_s(t, "title"), "Take out the bins");
    assert_string_equal(tk_s(t, "status"), "open");
    assert_string_equal(tk_s(t, "created_by"), hh.bob.id);
    assert_true(json_is_null(json_object_get(t, "description")));
    assert_true(json_is_null(json_object_get(t, "assignee_id")));
    assert_true(json_is_null(json_object_get(t, "due_at")));
    assert_true(json_is_null(json_object_get(t, "recurrence")));
    assert_true(json_is_null(json_object_get(t, "completed_at")));
    assert_true(json_is_null(json_object_get(t, "completed_by")));
    assert_int_equal(tk_i(t, "version"), 1);
    assert_non_null(tk_s(t, "created_at"));
    assert_non_null(tk_s(t, "updated_at"));
    char *etag = tqt_header(&r, "ETag");
    assert_non_null(etag);
    assert_string_equal(etag, "\"1\"");
    free(etag);
    char *loc = tqt_header(&r, "Location");
    assert_non_null(loc);
    assert_string_equal(loc, tk_tpath(hh.gid, id, NULL));
    free(loc);
    char *tid = strdup(id);
    tqt_resp_free(&r);

    /* Everything given, the due time normalised to UTC. */
    r = tqt_req(H, "POST", tk_path(hh.gid, NULL), hh.alice.token,
                "{\"title\":\"Clean the fridge\",\"description\":\"Top shelf "
                "too\",\"assignee_id\":\"%s\",\"due_at\":"
                "\"2027-05-01T10:00:00+02:00\"}",
                hh.carol.id);
    tk_expect(&r, 201, "create with every field");
    assert_string_equal(tqt_str(&r, "description"), "Top shelf too");
    assert_string_equal(tqt_str(&r, "assignee_id"), hh.carol.id);
    assert_string_equal(tqt_str(&r, "due_at"), "2027-05-01T08:00:00Z");
    tqt_resp_free(&r);

    /* GET: the same task, with its ETag. */
    r = tk_get(H, &hh.alice, hh.gid, tid);
    assert_string_equal(tqt_str(&r, "title"), "Take out the bins");
    assert_int_equal(tk_i(r.json, "version"), 1);
    etag = tqt_header(&r, "ETag");
    assert_string_equal(etag, "\"1\"");
    free(etag);
    tqt_resp_free(&r);

    /* Unknown and malformed task ids: 404. */
    r = tqt_req(H, "GET",
                tk_tpath(hh.gid, "0f8fad5b-d9cb-469f-a165-70867728950e", NULL),
                hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", tk_tpath(hh.gid, "not-a-uuid", NULL),
                hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    free(tid);
    tk_house_free(&hh);
}

static void create_validation(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    const char *p = tk_path(hh.gid, NULL);
    char *t200 = repeat("\xc3\xa9", 200), *t201 = repeat("a", 201);
    char *d10000 = repeat("d", 10000), *d10001 = repeat("d", 10001);
    char body[32768];

    struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "title"},
        {"{\"title\":null}", "title"},
        {"{\"title\":\"\"}", "title"},
        {"{\"title\":\"   \"}", "title"},
        {"{\"title\":7}", "title"},
        {"{\"title\":\"x\",\"description\":5}", "description"},
        {"{\"title\":\"x\",\"assignee_id\":\"bob\"}", "assignee_id"},
        {"{\"title\":\"x\",\"due_at\":\"tomorrow\"}", "due_at"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-30T10:00:00Z\"}", "due_at"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00\"}", "due_at"},
        {"{\"title\":\"x\",\"recurrence\":{\"freq\":\"weekly\"}}", "due_at"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00Z\","
         "\"recurrence\":{\"freq\":\"hourly\"}}",
         "recurrence.freq"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00Z\","
         "\"recurrence\":{\"freq\":\"daily\",\"interval\":0}}",
         "recurrence.interval"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00Z\","
         "\"recurrence\":{\"freq\":\"daily\",\"every\":2}}",
         "recurrence"},
        {"{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00Z\","
         "\"recurrence\":[1]}",
         "recurrence"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tqt_resp r = tqt_req(H, "POST", p, hh.alice.token, "%s", bad[i].body);
        tk_expect_field(&r, bad[i].field, bad[i].body);
        tqt_resp_free(&r);
    }

    /* Lengths count characters: 200 two-byte characters fit, 201 don't. */
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", t200);
    tqt_resp r = tqt_req(H, "POST", p, hh.alice.token, "%s", body);
    tk_expect(&r, 201, "200-character title");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", t201);
    r = tqt_req(H, "POST", p, hh.alice.token, "%s", body);
    tk_expect_field(&r, "title", "201-character title");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"title\":\"x\",\"description\":\"%s\"}",
             d10000);
    r = tqt_req(H, "POST", p, hh.alice.token, "%s", body);
    tk_expect(&r, 201, "10000-character description");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"title\":\"x\",\"description\":\"%s\"}",
             d10001);
    r = tqt_req(H, "POST", p, hh.alice.token, "%s", body);
    tk_expect_field(&r, "description", "10001-character description");
    tqt_resp_free(&r);

    /* The assignee must be a current member, and not the landlord. */
    const char *who[] = {hh.sam.id, hh.lena.id,
                         "0f8fad5b-d9cb-469f-a165-70867728950e"};
    for (size_t i = 0; i < 3; i++) {
        r = tqt_req(H, "POST", p, hh.alice.token,
                    "{\"title\":\"x\",\"assignee_id\":\"%s\"}", who[i]);
        tk_expect_field(&r, "assignee_id", who[i]);
        tqt_resp_free(&r);
    }
    r = tqt_req(H, "POST", p, hh.alice.token,
                "{\"title\":\"x\",\"due_at\":\"2027-02-01T10:00:00Z\","
                "\"recurrence\":{\"freq\":\"daily\",\"rotation\":"
                "[\"%s\",\"%s\"]}}",
                hh.bob.id, hh.sam.id);
    tk_expect_field(&r, "recurrence.rotation[1]", "stranger in rotation");
    tqt_resp_free(&r);

    /* Malformed JSON is the host's 400. */
    r = tqt_req_raw(H, "POST", p, hh.alice.token, "application/json",
                    "{\"title\":", 9, NULL);
    tqt_assert_error(&r, 400, NULL);
    tqt_resp_free(&r);

    /* None of the refused ones exists. */
    char *n = tqt_sql(H, "SELECT count(*) FROM tasks.tasks WHERE group_id = "
                         "'%s'",
                      hh.gid);
    assert_string_equal(n, "2");
    free(n);

    free(t200);
    free(t201);
    free(d10000);
    free(d10001);
    tk_house_free(&hh);
}

static void patch_and_if_match(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.bob, hh.gid,
                        "{\"title\":\"Water the plants\",\"description\":"
                        "\"Both balconies\"}");
    const char *p = tk_tpath(hh.gid, tid, NULL);

    /* A PATCH without If-Match applies; the version and ETag move. */
    tqt_resp r = tqt_req(H, "PATCH", p, hh.carol.token,
                         "{\"title\":\"Water all the plants\"}");
    tk_expect(&r, 200, "patch");
    assert_string_equal(tqt_str(&r, "title"), "Water all the plants");
    assert_string_equal(tqt_str(&r, "description"), "Both balconies");
    assert_int_equal(tk_i(r.json, "version"), 2);
    char *etag = tqt_header(&r, "ETag");
    assert_string_equal(etag, "\"2\"");
    free(etag);
    tqt_resp_free(&r);

    /* A stale If-Match: 409, and nothing changes. */
    r = tk_req_if(H, "PATCH", p, &hh.bob, "\"1\"",
                  "{\"title\":\"Stale write\",\"assignee_id\":null}");
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    r = tk_get(H, &hh.bob, hh.gid, tid);
    assert_string_equal(tqt_str(&r, "title"), "Water all the plants");
    assert_int_equal(tk_i(r.json, "version"), 2);
    tqt_resp_free(&r);

    /* The current ETag applies; null clears, an assignee is checked. */
    r = tk_req_if(H, "PATCH", p, &hh.bob, "\"2\"",
                  "{\"description\":null,\"assignee_id\":null}");
    tk_expect(&r, 200, "patch with current If-Match");
    assert_true(json_is_null(json_object_get(r.json, "description")));
    assert_int_equal(tk_i(r.json, "version"), 3);
    tqt_resp_free(&r);
    r = tk_req_if(H, "PATCH", p, &hh.bob, "*", "{\"due_at\":\"2027-01-01T00:00:00Z\"}");
    tk_expect(&r, 200, "If-Match *");
    assert_string_equal(tqt_str(&r, "due_at"), "2027-01-01T00:00:00Z");
    tqt_resp_free(&r);

    char body[128];
    snprintf(body, sizeof body, "{\"assignee_id\":\"%s\"}", hh.sam.id);
    r = tqt_req(H, "PATCH", p, hh.bob.token, "%s", body);
    tk_expect_field(&r, "assignee_id", "patch to a stranger");
    tqt_resp_free(&r);
    r = tqt_req(H, "PATCH", p, hh.bob.token, "{\"title\":null}");
    tk_expect_field(&r, "title", "patch title null");
    tqt_resp_free(&r);
    r = tqt_req(H, "PATCH", p, hh.bob.token,
                "{\"recurrence\":{\"freq\":\"weekly\"},\"due_at\":null}");
    tk_expect_field(&r, "due_at", "recurring without due_at");
    tqt_resp_free(&r);
    r = tk_req_if(H, "PATCH", p, &hh.bob, "yesterday", "{\"title\":\"y\"}");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);

    /* Reassignment: the version is now 4. */
    snprintf(body, sizeof body, "{\"assignee_id\":\"%s\"}", hh.carol.id);
    r = tk_req_if(H, "PATCH", p, &hh.bob, "\"4\"", body);
    tk_expect(&r, 200, "assign carol");
    assert_string_equal(tqt_str(&r, "assignee_id"), hh.carol.id);
    assert_int_equal(tk_i(r.json, "version"), 5);
    tqt_resp_free(&r);

    /* Two writers read version 5; the second write loses. */
    r = tk_req_if(H, "PATCH", p, &hh.bob, "\"5\"", "{\"title\":\"First\"}");
    tk_expect(&r, 200, "first writer");
    tqt_resp_free(&r);
    r = tk_req_if(H, "PATCH", p, &hh.carol, "\"5\"", "{\"title\":\"Second\"}");
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    r = tk_get(H, &hh.bob, hh.gid, tid);
    assert_string_equal(tqt_str(&r, "title"), "First");
    tqt_resp_free(&r);

    /* Unknown task: 404, not 409. */
    r = tk_req_if(H, "PATCH",
                  tk_tpath(hh.gid, "0f8fad5b-d9cb-469f-a165-70867728950e",
                           NULL),
                  &hh.bob, "\"1\"", "{\"title\":\"x\"}");
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    free(tid);
    tk_house_free(&hh);
}

static void delete_rules(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *mine = tk_task(H, &hh.bob, hh.gid, "{\"title\":\"Bob's\"}");
    char *other = tk_task(H, &hh.bob, hh.gid, "{\"title\":\"Bob's too\"}");
    char *third = tk_task(H, &hh.carol, hh.gid, "{\"title\":\"Carol's\"}");

    /* Another member may not; the creator, an admin, the owner may. */
    tqt_resp r = tqt_req(H, "DELETE", tk_tpath(hh.gid, mine, NULL),
                         hh.carol.token, NULL);
    tqt_assert_error(&r, 403, "forbidden");
    tqt_resp_free(&r);
    r = tk_req_if(H, "DELETE", tk_tpath(hh.gid, mine, NULL), &hh.bob, "\"9\"",
                  NULL);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    r = tqt_req(H, "DELETE", tk_tpath(hh.gid, mine, NULL), hh.bob.token, NULL);
    tk_expect(&r, 204, "creator deletes");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", tk_tpath(hh.gid, mine, NULL), hh.bob.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "DELETE", tk_tpath(hh.gid, mine, NULL), hh.bob.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "DELETE", tk_tpath(hh.gid, other, NULL), hh.dave.token,
                NULL);
    tk_expect(&r, 204, "admin deletes");
    tqt_resp_free(&r);
    r = tqt_req(H, "DELETE", tk_tpath(hh.gid, third, NULL), hh.alice.token,
                NULL);
    tk_expect(&r, 204, "owner deletes");
    tqt_resp_free(&r);

    free(mine);
    free(other);
    free(third);
    tk_house_free(&hh);
}

static void complete_once(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Descale kettle\"}");
    const char *p = tk_tpath(hh.gid, tid, "/complete");

    tqt_resp r = tk_req_if(H, "POST", p, &hh.bob, "\"7\"", NULL);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", p, hh.bob.token, NULL);
    tk_expect(&r, 200, "complete");
    assert_string_equal(tqt_str(&r, "status"), "done");
    assert_string_equal(tqt_str(&r, "completed_by"), hh.bob.id);
    assert_non_null(tqt_str(&r, "completed_at"));
    assert_int_equal(tk_i(r.json, "version"), 2);
    assert_null(json_object_get(r.json, "next")); /* not recurring */
    char *etag = tqt_header(&r, "ETag");
    assert_string_equal(etag, "\"2\"");
    free(etag);
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", p, hh.carol.token, NULL);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    r = tk_get(H, &hh.alice, hh.gid, tid);
    assert_string_equal(tqt_str(&r, "completed_by"), hh.bob.id);
    assert_int_equal(tk_i(r.json, "version"), 2);
    tqt_resp_free(&r);

    r = tqt_req(H, "POST",
                tk_tpath(hh.gid, "0f8fad5b-d9cb-469f-a165-70867728950e",
                         "/complete"),
                hh.bob.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    free(tid);
    tk_house_free(&hh);
}

/* ------------------------------------------------------------ lists */

/* The ids of a list page (malloc'd, NULL-terminated) and its cursor. */
static char **page_ids(tqt_resp *r, char **cursor)
{
    json_t *items = json_object_get(r->json, "items");
    if (!json_is_array(items))
        fail_msg("no items: %s", r->body);
    size_t n = json_array_size(items);
    char **ids = calloc(n + 1, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = strdup(tk_s(json_array_get(items, i), "id"));
    json_t *c = json_object_get(r->json, "next_cursor");
    if (!json_is_null(c) && !json_is_string(c))
        fail_msg("next_cursor is neither null nor a string: %s", r->body);
    *cursor = json_is_string(c) ? strdup(json_string_value(c)) : NULL;
    return ids;
}

static size_t count_ids(char **ids)
{
    size_t n = 0;
    while (ids[n])
        n++;
    return n;
}

static void free_ids(char **ids)
{
    for (size_t i = 0; ids[i]; i++)
        free(ids[i]);
    free(ids);
}

/* The list as u with query q, one page of up to 100. */
static tqt_resp list(const tk_house *hh, const tqt_user *u, const char *q)
{
    char suffix[512];
    snprintf(suffix, sizeof suffix, "?limit=100%s%s", q ? "&" : "",
             q ? q : "");
    tqt_resp r = tqt_req(H, "GET", tk_path(hh->gid, suffix), u->token, NULL);
    tk_expect(&r, 200, q ? q : "list");
    return r;
}

/* Titles of a list, joined with commas (malloc'd). */
static char *titles(tqt_resp *r)
{
    json_t *items = json_object_get(r->json, "items");
    size_t i;
    json_t *t;
    char *out = strdup("");
    json_array_foreach(items, i, t) {
        char *n;
        if (asprintf(&n, "%s%s%s", out, i ? "," : "", tk_s(t, "title")) < 0)
            fail_msg("asprintf");
        free(out);
        out = n;
    }
    return out;
}

static void expect_titles(const tk_house *hh, const tqt_user *u,
                          const char *q, const char *want)
{
    tqt_resp r = list(hh, u, q);
    char *got = titles(&r);
    if (strcmp(got, want) != 0)
        fail_msg("list ?%s: got [%s], want [%s]", q ? q : "", got, want);
    free(got);
    tqt_resp_free(&r);
}

static void list_filters_and_order(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char body[256];
    /* Created out of order on purpose. */
    snprintf(body, sizeof body,
             "{\"title\":\"c\",\"due_at\":\"2027-03-03T09:00:00Z\","
             "\"assignee_id\":\"%s\"}",
             hh.bob.id);
    free(tk_task(H, &hh.alice, hh.gid, body));
    free(tk_task(H, &hh.alice, hh.gid, "{\"title\":\"undated1\"}"));
    snprintf(body, sizeof body,
             "{\"title\":\"a\",\"due_at\":\"2027-03-01T09:00:00Z\","
             "\"assignee_id\":\"%s\"}",
             hh.carol.id);
    free(tk_task(H, &hh.alice, hh.gid, body));
    snprintf(body, sizeof body,
             "{\"title\":\"b\",\"due_at\":\"2027-03-02T09:00:00Z\","
             "\"assignee_id\":\"%s\"}",
             hh.bob.id);
    char *b = tk_task(H, &hh.alice, hh.gid, body);
    snprintf(body, sizeof body,
             "{\"title\":\"d\",\"due_at\":\"2027-03-04T09:00:00Z\"}");
    char *d = tk_task(H, &hh.alice, hh.gid, body);
    snprintf(body, sizeof body, "{\"title\":\"undated2\",\"assignee_id\":\"%s\"}",
             hh.bob.id);
    free(tk_task(H, &hh.alice, hh.gid, body));

    /* Complete b, then d: done ones last, latest completion first. */
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, b, "/complete"),
                         hh.bob.token, NULL);
    tk_expect(&r, 200, "complete b");
    tqt_resp_free(&r);
    usleep(20 * 1000);
    r = tqt_req(H, "POST", tk_tpath(hh.gid, d, "/complete"), hh.carol.token,
                NULL);
    tk_expect(&r, 200, "complete d");
    tqt_resp_free(&r);

    /* Undated open ones sort last among the open, by id between
     * themselves: both orders are checked as a set below. */
    tqt_resp all = list(&hh, &hh.alice, NULL);
    /* The list writes its JSON itself: each item must be exactly the
     * task as GET shows it (same keys, types, values). */
    size_t ii;
    json_t *item;
    json_array_foreach(json_object_get(all.json, "items"), ii, item) {
        tqt_resp one = tk_get(H, &hh.alice, hh.gid, tk_s(item, "id"));
        if (!json_equal(item, one.json))
            fail_msg("list item %s differs from GET %s",
                     json_dumps(item, JSON_SORT_KEYS), one.body);
        tqt_resp_free(&one);
    }
    char *got = titles(&all);
    if (strcmp(got, "a,c,undated1,undated2,d,b") != 0 &&
        strcmp(got, "a,c,undated2,undated1,d,b") != 0)
        fail_msg("default order: %s", got);
    free(got);
    tqt_resp_free(&all);

    got = NULL;
    r = list(&hh, &hh.alice, "status=open");
    got = titles(&r);
    assert_true(strncmp(got, "a,c,undated", 11) == 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
    free(got);
    tqt_resp_free(&r);
    expect_titles(&hh, &hh.alice, "status=done", "d,b");

    /* assignee=me and assignee=<uid> */
    r = list(&hh, &hh.bob, "assignee=me&status=open");
    got = titles(&r);
    assert_string_equal(got, "c,undated2");
    free(got);
    tqt_resp_free(&r);
    char q[128];
    snprintf(q, sizeof q, "assignee=%s", hh.bob.id);
    expect_titles(&hh, &hh.alice, q, "c,undated2,b");
    snprintf(q, sizeof q, "assignee=%s", hh.carol.id);
    expect_titles(&hh, &hh.alice, q, "a");
    expect_titles(&hh, &hh.dave, "assignee=me", "");

    /* due_before: strictly before, undated ones never match; an offset
     * is honoured (09:00+01:00 is 08:00Z, before every task). */
    expect_titles(&hh, &hh.alice,
                  "status=open&due_before=2027-03-03T09:00:00Z", "a");
    expect_titles(&hh, &hh.alice, "due_before=2027-03-03T09:00:01Z", "a,c,b");
    expect_titles(&hh, &hh.alice, "due_before=2027-03-01T09:00:00%2B01:00",
                  "");
    expect_titles(&hh, &hh.alice, "due_before=2027-03-01T09:00:00-01:00",
                  "a");
    snprintf(q, sizeof q, "assignee=%s&due_before=2027-03-03T10:00:00Z",
             hh.bob.id);
    expect_titles(&hh, &hh.alice, q, "c,b");

    /* Bad filters are 400s naming the parameter. */
    const char *bad[][2] = {
        {"status=closed", "status"},
        {"assignee=bob", "assignee"},
        {"due_before=soon", "due_before"},
        {"cursor=AAAA", "cursor"},
        {"limit=0", "limit"},
        {"limit=101", "limit"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char s[256];
        snprintf(s, sizeof s, "?%s", bad[i][0]);
        r = tqt_req(H, "GET", tk_path(hh.gid, s), hh.alice.token, NULL);
        tk_expect_field(&r, bad[i][1], bad[i][0]);
        tqt_resp_free(&r);
    }
    free(b);
    free(d);
    tk_house_free(&hh);
}

/*
 * Pages of 7 through 30 tasks while more are inserted between pages,
 * some sorting before the cursor, some after, some undated: every
 * original task appears exactly once, no task twice, and the order
 * holds across pages.
 */
static void pagination_stable_under_inserts(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    enum { N = 30 };
    char *orig[N];
    for (int i = 0; i < N; i++) {
        char body[160];
        if (i % 6 == 5)
            snprintf(body, sizeof body, "{\"title\":\"orig %d\"}", i);
        else /* several share a due time: the id breaks the tie */
            snprintf(body, sizeof body,
                     "{\"title\":\"orig %d\",\"due_at\":"
                     "\"2027-04-%02dT12:00:00Z\"}",
                     i, 1 + (i * 7) % 10);
        orig[i] = tk_task(H, &hh.alice, hh.gid, body);
    }

    char **seen = calloc(200, sizeof *seen);
    size_t nseen = 0;
    char *cursor = NULL;
    char last_due[32] = "";
    bool in_undated = false;
    int pages = 0, inserted = 0;
    do {
        char suffix[256];
        snprintf(suffix, sizeof suffix, "?status=open&limit=7%s%s",
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        tqt_resp r = tqt_req(H, "GET", tk_path(hh.gid, suffix),
                             hh.bob.token, NULL);
        tk_expect(&r, 200, "page");
        free(cursor);
        char **ids = page_ids(&r, &cursor);
        assert_true(count_ids(ids) <= 7);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; ids[i]; i++) {
            for (size_t j = 0; j < nseen; j++)
                if (strcmp(seen[j], ids[i]) == 0)
                    fail_msg("task %s appeared twice (page %d)", ids[i],
                             pages);
            seen[nseen++] = strdup(ids[i]);
            const char *due = tk_s(json_array_get(items, i), "due_at");
            if (!due)
                in_undated = true;
            else if (in_undated)
                fail_msg("dated task after an undated one: %s", r.body);
            else if (strcmp(due, last_due) < 0)
                fail_msg("due_at went backwards: %s after %s", due, last_due);
            else
                snprintf(last_due, sizeof last_due, "%s", due);
        }
        free_ids(ids);
        tqt_resp_free(&r);

        /* Insert: one before everything, one in the middle, one undated. */
        if (pages < 4) {
            char body[160];
            snprintf(body, sizeof body,
                     "{\"title\":\"new %d\",\"due_at\":"
                     "\"2027-03-%02dT12:00:00Z\"}",
                     pages, 1 + pages);
            free(tk_task(H, &hh.carol, hh.gid, body));
            snprintf(body, sizeof body,
                     "{\"title\":\"new mid %d\",\"due_at\":"
                     "\"2027-04-05T12:00:00Z\"}",
                     pages);
            free(tk_task(H, &hh.carol, hh.gid, body));
            snprintf(body, sizeof body, "{\"title\":\"new undated %d\"}",
                     pages);
            free(tk_task(H, &hh.carol, hh.gid, body));
            inserted += 3;
        }
        pages++;
        if (pages > 40)
            fail_msg("pagination does not end");
    } while (cursor);

    for (int i = 0; i < N; i++) {
        int times = 0;
        for (size_t j = 0; j < nseen; j++)
            times += strcmp(seen[j], orig[i]) == 0;
        if (times != 1)
            fail_msg("original task %d seen %d times", i, times);
    }
    assert_true(nseen >= N && nseen <= (size_t)(N + inserted));
    assert_true(pages >= 5);

    /* The cursor of one list works only as a cursor: a comment cursor or
     * garbage is refused. */
    tqt_resp r = tqt_req(H, "GET", tk_path(hh.gid, "?cursor=Y2NjY2NjY2Nj"),
                         hh.bob.token, NULL);
    tk_expect_field(&r, "cursor", "forged cursor");
    tqt_resp_free(&r);

    for (size_t j = 0; j < nseen; j++)
        free(seen[j]);
    free(seen);
    for (int i = 0; i < N; i++)
        free(orig[i]);
    tk_house_free(&hh);
}

/* ------------------------------------------------------------ access */

static void who_may_see(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Hoover\"}");
    struct {
        const char *method, *suffix, *body;
    } routes[] = {
        {"POST", "", "{\"title\":\"x\"}"},
        {"GET", "", NULL},
        {"GET", "/stats", NULL},
        {"GET", "/T", NULL},
        {"PATCH", "/T", "{\"title\":\"x\"}"},
        {"DELETE", "/T", NULL},
        {"POST", "/T/complete", NULL},
        {"POST", "/T/comments", "{\"body\":\"x\"}"},
        {"GET", "/T/comments", NULL},
        {"GET", "ACTIVITY", NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        char path[300];
        const char *s = routes[i].suffix;
        for (int who = 0; who < 3; who++) {
            const char *gid = who == 2 ? "0f8fad5b-d9cb-469f-a165-70867728950e"
                                       : hh.gid;
            if (strcmp(s, "ACTIVITY") == 0)
                snprintf(path, sizeof path, "/v1/groups/%s/activity", gid);
            else if (strncmp(s, "/T", 2) == 0)
                snprintf(path, sizeof path, "/v1/groups/%s/tasks/%s%s", gid,
                         tid, s + 2);
            else
                snprintf(path, sizeof path, "/v1/groups/%s/tasks%s", gid, s);
            /* 0: a stranger, 1: the landlord, 2: a member, another gid */
            const tqt_user *u = who == 1 ? &hh.lena
                                : who == 0 ? &hh.sam
                                           : &hh.bob;
            tqt_resp r = routes[i].body
                             ? tqt_req(H, routes[i].method, path, u->token,
                                       "%s", routes[i].body)
                             : tqt_req(H, routes[i].method, path, u->token,
                                       NULL);
            if (who == 1)
                tqt_assert_error(&r, 403, "forbidden");
            else
                tqt_assert_error(&r, 404, "not_found");
            tqt_resp_free(&r);
        }
    }
    /* No token at all: 401. */
    tqt_resp r = tqt_req(H, "GET", tk_path(hh.gid, NULL), NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);

    /* Nothing the outsiders tried happened. */
    r = tk_get(H, &hh.alice, hh.gid, tid);
    assert_string_equal(tqt_str(&r, "title"), "Hoover");
    assert_string_equal(tqt_str(&r, "status"), "open");
    assert_int_equal(tk_i(r.json, "version"), 1);
    tqt_resp_free(&r);
    char *n = tqt_sql(H, "SELECT count(*) FROM tasks.tasks WHERE group_id = "
                         "'%s'", hh.gid);
    assert_string_equal(n, "1");
    free(n);

    /* A task of another group is not found through this one. */
    tk_house other;
    tk_house_init(H, &other, NULL);
    char *theirs = tk_task(H, &other.alice, other.gid, "{\"title\":\"Theirs\"}");
    r = tqt_req(H, "GET", tk_tpath(hh.gid, theirs, NULL), hh.alice.token,
                NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", tk_tpath(hh.gid, theirs, "/complete"),
                hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", tk_tpath(hh.gid, theirs, "/comments"),
                hh.alice.token, "{\"body\":\"hi\"}");
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    free(theirs);
    tk_house_free(&other);
    free(tid);
    tk_house_free(&hh);
}

/* ---------------------------------------------------------- comments */

static void comments(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Fix the tap\"}");
    const char *p = tk_tpath(hh.gid, tid, "/comments");

    tqt_resp r = tqt_req(H, "GET", p, hh.bob.token, NULL);
    tk_expect(&r, 200, "no comments yet");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    tqt_resp_free(&r);

    r = tqt_req(H, "POST", p, hh.bob.token,
                "{\"body\":\"I bought a washer\",\"media_ids\":[]}");
    tk_expect(&r, 201, "comment");
    assert_non_null(tqt_str(&r, "id"));
    assert_string_equal(tqt_str(&r, "task_id"), tid);
    assert_string_equal(tqt_str(&r, "author_id"), hh.bob.id);
    assert_string_equal(tqt_str(&r, "body"), "I bought a washer");
    assert_true(json_is_array(json_object_get(r.json, "media_ids")));
    assert_non_null(tqt_str(&r, "created_at"));
    assert_null(json_object_get(r.json, "title")); /* no internals */
    tqt_resp_free(&r);

    char *b5000 = repeat("b", 5000), *b5001 = repeat("b", 5001);
    char body[8192];
    snprintf(body, sizeof body, "{\"body\":\"%s\"}", b5000);
    r = tqt_req(H, "POST", p, hh.carol.token, "%s", body);
    tk_expect(&r, 201, "5000-character comment");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"body\":\"%s\"}", b5001);
    r = tqt_req(H, "POST", p, hh.carol.token, "%s", body);
    tk_expect_field(&r, "body", "5001-character comment");
    tqt_resp_free(&r);
    const char *bad[][2] = {
        {"{}", "body"},
        {"{\"body\":\"\"}", "body"},
        {"{\"body\":\"  \"}", "body"},
        {"{\"body\":\"x\",\"media_ids\":\"abc\"}", "media_ids"},
        /* no media plugin here: photos cannot be attached */
        {"{\"body\":\"x\",\"media_ids\":[\"0f8fad5b-d9cb-469f-a165-"
         "70867728950e\"]}",
         "media_ids"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = tqt_req(H, "POST", p, hh.carol.token, "%s", bad[i][0]);
        tk_expect_field(&r, bad[i][1], bad[i][0]);
        tqt_resp_free(&r);
    }

    for (int i = 0; i < 3; i++) {
        r = tqt_req(H, "POST", p, i % 2 ? hh.alice.token : hh.dave.token,
                    "{\"body\":\"comment %d\"}", i);
        tk_expect(&r, 201, "more comments");
        tqt_resp_free(&r);
    }

    /* Oldest first, in pages of 2 without loss or repetition. */
    const char *want[] = {"I bought a washer", NULL, "comment 0",
                          "comment 1", "comment 2"};
    char *cursor = NULL;
    int k = 0, pages = 0;
    do {
        char path[512];
        snprintf(path, sizeof path, "%s?limit=2%s%s", p,
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        r = tqt_req(H, "GET", path, hh.bob.token, NULL);
        tk_expect(&r, 200, "comment page");
        free(cursor);
        char **ids = page_ids(&r, &cursor);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++, k++) {
            const char *b = tk_s(json_array_get(items, i), "body");
            assert_true(k < 5);
            if (want[k] && strcmp(b, want[k]) != 0)
                fail_msg("comment %d: %s, want %s", k, b, want[k]);
            if (!want[k])
                assert_int_equal(strlen(b), 5000);
        }
        free_ids(ids);
        tqt_resp_free(&r);
        pages++;
    } while (cursor && pages < 10);
    assert_int_equal(k, 5);
    assert_int_equal(pages, 3);

    r = tqt_req(H, "GET", tk_tpath(hh.gid, tid, "/comments?cursor=xyz"),
                hh.bob.token, NULL);
    tk_expect_field(&r, "cursor", "bad comment cursor");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET",
                tk_tpath(hh.gid, "0f8fad5b-d9cb-469f-a165-70867728950e",
                         "/comments"),
                hh.bob.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST",
                tk_tpath(hh.gid, "0f8fad5b-d9cb-469f-a165-70867728950e",
                         "/comments"),
                hh.bob.token, "{\"body\":\"hello?\"}");
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    free(b5000);
    free(b5001);
    free(tid);
    tk_house_free(&hh);
}

/* ---------------------------------------------------- activity, stats */

static void activity_feed(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char body[256];
    snprintf(body, sizeof body,
             "{\"title\":\"Mop the floor\",\"assignee_id\":\"%s\"}",
             hh.bob.id);
    char *tid = tk_task(H, &hh.alice, hh.gid, body);
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, tid, "/comments"),
                         hh.carol.token, "{\"body\":\"Use the blue mop\"}");
    tk_expect(&r, 201, "comment");
    tqt_resp_free(&r);
    snprintf(body, sizeof body, "{\"assignee_id\":\"%s\"}", hh.carol.id);
    r = tqt_req(H, "PATCH", tk_tpath(hh.gid, tid, NULL), hh.bob.token, "%s",
                body);
    tk_expect(&r, 200, "reassign");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", tk_tpath(hh.gid, tid, "/complete"),
                hh.carol.token, NULL);
    tk_expect(&r, 200, "complete");
    tqt_resp_free(&r);

    /* Newest first; the group's own events (joins) come after ours. */
    struct {
        const char *type, *actor, *summary;
    } want[] = {
        {"task.completed", hh.carol.id, "Carol completed \"Mop the floor\""},
        {"task.assigned", hh.bob.id, "Bob assigned \"Mop the floor\" to Carol"},
        {"task.comment_added", hh.carol.id,
         "Carol commented on \"Mop the floor\""},
        {"task.assigned", hh.alice.id,
         "Alice assigned \"Mop the floor\" to Bob"},
        {"task.created", hh.alice.id, "Alice added \"Mop the floor\""},
    };
    char path[200];
    snprintf(path, sizeof path, "/v1/groups/%s/activity?limit=3", hh.gid);
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "activity page 1");
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 3);
    const char *c = tqt_str(&r, "next_cursor");
    assert_non_null(c);
    char *cursor = strdup(c);
    json_t *all = json_array();
    json_array_extend(all, items);
    tqt_resp_free(&r);
    snprintf(path, sizeof path, "/v1/groups/%s/activity?limit=2&cursor=%s",
             hh.gid, cursor);
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "activity page 2");
    json_array_extend(all, json_object_get(r.json, "items"));
    tqt_resp_free(&r);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *e = json_array_get(all, i);
        if (!e || strcmp(tk_s(e, "type"), want[i].type) != 0 ||
            strcmp(tk_s(e, "summary"), want[i].summary) != 0 ||
            strcmp(tk_s(e, "actor_id"), want[i].actor) != 0 ||
            strcmp(tk_s(e, "subject_id"), tid) != 0 || !tk_s(e, "at")) {
            char *s = json_dumps(all, JSON_INDENT(1));
            fail_msg("activity item %zu: want %s \"%s\"; feed: %s", i,
                     want[i].type, want[i].summary, s);
        }
    }
    json_decref(all);
    free(cursor);

    snprintf(path, sizeof path, "/v1/groups/%s/activity?cursor=abc", hh.gid);
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect_field(&r, "cursor", "bad activity cursor");
    tqt_resp_free(&r);

    /* The feed has the groups plugin's events too (every plugin's). */
    snprintf(path, sizeof path, "/v1/groups/%s/activity?limit=100", hh.gid);
    r = tqt_req(H, "GET", path, hh.bob.token, NULL);
    tk_expect(&r, 200, "whole feed");
    bool joined = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "items"), i, e) {
        joined |= strcmp(tk_s(e, "type"), "group.member_joined") == 0;
    }
    assert_true(joined);
    tqt_resp_free(&r);

    free(tid);
    tk_house_free(&hh);
}

static void stats(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    const tqt_user *doers[] = {&hh.bob, &hh.bob, &hh.bob, &hh.carol};
    for (size_t i = 0; i < 4; i++) {
        char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Chore\"}");
        tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, tid, "/complete"),
                             doers[i]->token, NULL);
        tk_expect(&r, 200, "complete");
        tqt_resp_free(&r);
        free(tid);
    }
    /* One completed long ago does not count in 30 days. */
    char *old = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Old\"}");
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, old, "/complete"),
                         hh.carol.token, NULL);
    tk_expect(&r, 200, "complete old");
    tqt_resp_free(&r);
    free(tqt_sql(H,
                 "UPDATE tasks.tasks SET completed_at = now() - interval "
                 "'40 days' WHERE id = '%s'",
                 old));

    r = tqt_req(H, "GET", tk_path(hh.gid, "/stats?days=30"), hh.dave.token,
                NULL);
    tk_expect(&r, 200, "stats");
    assert_non_null(tqt_str(&r, "since"));
    json_t *m = json_object_get(r.json, "members");
    /* Tenants only (alice, bob, carol, dave), most completions first. */
    assert_int_equal(json_array_size(m), 4);
    assert_string_equal(tk_s(json_array_get(m, 0), "user_id"), hh.bob.id);
    assert_int_equal(tk_i(json_array_get(m, 0), "completed"), 3);
    assert_string_equal(tk_s(json_array_get(m, 1), "user_id"), hh.carol.id);
    assert_int_equal(tk_i(json_array_get(m, 1), "completed"), 1);
    assert_int_equal(tk_i(json_array_get(m, 2), "completed"), 0);
    assert_int_equal(tk_i(json_array_get(m, 3), "completed"), 0);
    for (size_t i = 0; i < 4; i++)
        assert_string_not_equal(tk_s(json_array_get(m, i), "user_id"),
                                hh.lena.id);
    tqt_resp_free(&r);

    r = tqt_req(H, "GET", tk_path(hh.gid, "/stats?days=60"), hh.dave.token,
                NULL);
    tk_expect(&r, 200, "stats 60 days");
    m = json_object_get(r.json, "members");
    assert_int_equal(tk_i(json_array_get(m, 1), "completed"), 2);
    tqt_resp_free(&r);

    r = tqt_req(H, "GET", tk_path(hh.gid, "/stats"), hh.dave.token, NULL);
    tk_expect(&r, 200, "default window");
    assert_int_equal(tk_i(r.json, "days"), 30);
    tqt_resp_free(&r);
    const char *bad[] = {"?days=0", "?days=366", "?days=x", "?days="};
    for (size_t i = 0; i < 4; i++) {
        char s[64];
        snprintf(s, sizeof s, "/stats%s", bad[i]);
        r = tqt_req(H, "GET", tk_path(hh.gid, s), hh.dave.token, NULL);
        tk_expect_field(&r, "days", bad[i]);
        tqt_resp_free(&r);
    }
    free(old);
    tk_house_free(&hh);
}

/* ----------------------------------------------------- group deletion */

static void deleting_the_group_deletes_its_tasks(void **state)
{
    (void)state;
    tk_house hh;
    tk_house_init(H, &hh, NULL);
    char *tid = tk_task(H, &hh.alice, hh.gid, "{\"title\":\"Doomed\"}");
    tqt_resp r = tqt_req(H, "POST", tk_tpath(hh.gid, tid, "/comments"),
                         hh.bob.token, "{\"body\":\"bye\"}");
    tk_expect(&r, 201, "comment");
    tqt_resp_free(&r);
    tk_house other;
    tk_house_init(H, &other, NULL);
    char *kept = tk_task(H, &other.alice, other.gid, "{\"title\":\"Kept\"}");

    char path[128];
    snprintf(path, sizeof path, "/v1/groups/%s", hh.gid);
    r = tqt_req(H, "DELETE", path, hh.alice.token, NULL);
    tk_expect(&r, 204, "delete group");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", tk_tpath(hh.gid, tid, NULL), hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    /* The group.deleted subscriber removes the rows shortly after. */
    char *n = NULL;
    for (int i = 0; i < 100; i++) {
        free(n);
        n = tqt_sql(H,
                    "SELECT (SELECT count(*) FROM tasks.tasks WHERE group_id "
                    "= '%s') + (SELECT count(*) FROM tasks.comments WHERE "
                    "task_id = '%s')",
                    hh.gid, tid);
        if (strcmp(n, "0") == 0)
            break;
        usleep(100 * 1000);
    }
    assert_string_equal(n, "0");
    free(n);
    r = tk_get(H, &other.alice, other.gid, kept);
    tqt_resp_free(&r);

    free(kept);
    free(tid);
    tk_house_free(&other);
    tk_house_free(&hh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_get_and_defaults),
        cmocka_unit_test(create_validation),
        cmocka_unit_test(patch_and_if_match),
        cmocka_unit_test(delete_rules),
        cmocka_unit_test(complete_once),
        cmocka_unit_test(list_filters_and_order),
        cmocka_unit_test(pagination_stable_under_inserts),
        cmocka_unit_test(who_may_see),
        cmocka_unit_test(comments),
        cmocka_unit_test(activity_feed),
        cmocka_unit_test(stats),
        cmocka_unit_test(deleting_the_group_deletes_its_tasks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
