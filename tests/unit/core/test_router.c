/*
 * test_router.c - the segment-trie router: literal and param matching,
 * percent-decoding, 404 versus 405 masks, collisions, precedence, pattern
 * rules, walking, and a few thousand routes.
 */
#include "host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Handlers are never called here; distinct addresses tell routes apart. */
static int h1(tq_req *r) { (void)r; return 1; }
static int h2(tq_req *r) { (void)r; return 2; }
static int h3(tq_req *r) { (void)r; return 3; }

static host_route_rec rec_of(tq_handler_fn fn)
{
    host_route_rec rec;
    memset(&rec, 0, sizeof(rec));
    rec.r.handler = fn;
    return rec;
}

static void add_ok(host_router *r, int m, const char *pat, tq_handler_fn fn)
{
    host_route_rec rec = rec_of(fn);
    const host_route_rec *clash = (void *)1;
    assert_int_equal(host_router_add(r, m, pat, &rec, &clash), TQ_OK);
    assert_null(clash);
}

typedef struct match {
    const host_route_rec *rec;
    host_param params[HOST_MAX_PARAMS];
    int n;
    unsigned allowed;
} match;

static match do_match(const host_router *r, host_arena *a, int m,
                      const char *path)
{
    match out;
    memset(&out, 0, sizeof(out));
    out.n = -1;
    out.allowed = 0xdead;
    out.rec = host_router_match(r, m, path, a, out.params, &out.n,
                                &out.allowed);
    return out;
}

static const char *param(const match *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

static void test_methods(void **state)
{
    (void)state;
    assert_int_equal(host_method_from_str("GET"), HOST_GET);
    assert_int_equal(host_method_from_str("POST"), HOST_POST);
    assert_int_equal(host_method_from_str("PUT"), HOST_PUT);
    assert_int_equal(host_method_from_str("PATCH"), HOST_PATCH);
    assert_int_equal(host_method_from_str("DELETE"), HOST_DELETE);
    assert_int_equal(host_method_from_str("get"), -1);
    assert_int_equal(host_method_from_str("HEAD"), -1);
    assert_int_equal(host_method_from_str(""), -1);
    assert_int_equal(host_method_from_str(NULL), -1);
    for (int m = 0; m < HOST_NMETHODS; m++)
        assert_int_equal(host_method_from_str(host_method_str(m)), m);
    assert_string_equal(host_method_str(-1), "OTHER");
    assert_string_equal(host_method_str(HOST_NMETHODS), "OTHER");
}

static void test_literal_and_params(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/healthz", h1);
    add_ok(r, HOST_GET, "/v1/groups/{gid}/tasks/{tid}", h2);
    add_ok(r, HOST_GET, "/", h3);

    match m = do_match(r, &a, HOST_GET, "/healthz");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h1);
    assert_int_equal(m.n, 0);
    assert_string_equal(m.rec->r.path, "/healthz");
    assert_string_equal(m.rec->r.method, "GET");

    m = do_match(r, &a, HOST_GET, "/v1/groups/g-1/tasks/t-2");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h2);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.params[0].name, "gid");
    assert_string_equal(m.params[0].value, "g-1");
    assert_string_equal(m.params[1].name, "tid");
    assert_string_equal(m.params[1].value, "t-2");

    m = do_match(r, &a, HOST_GET, "/");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h3);

    /* Not there at all: 404 (allowed 0). */
    m = do_match(r, &a, HOST_GET, "/v1/groups/g-1/tasks");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    m = do_match(r, &a, HOST_GET, "/nope");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    m = do_match(r, &a, HOST_GET, "/v1/groups/g/tasks/t/extra");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    m = do_match(r, &a, HOST_GET, "");
    assert_null(m.rec);
    m = do_match(r, &a, HOST_GET, "healthz");
    assert_null(m.rec);
    m = do_match(r, &a, HOST_GET, NULL);
    assert_null(m.rec);

    host_arena_free(&a);
    host_router_free(r);
}

static void test_trailing_slash_and_empty_segments(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/v1/groups", h1);
    add_ok(r, HOST_GET, "/v1/groups/{gid}", h2);
    /* Strict: a trailing slash is a different path (docs/router.md). */
    match m = do_match(r, &a, HOST_GET, "/v1/groups/");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    m = do_match(r, &a, HOST_GET, "/v1//groups");
    assert_null(m.rec);
    m = do_match(r, &a, HOST_GET, "/v1/groups/x/");
    assert_null(m.rec);
    m = do_match(r, &a, HOST_GET, "//");
    assert_null(m.rec);
    host_arena_free(&a);
    host_router_free(r);
}

static void test_405_mask(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/v1/groups/{gid}", h1);
    add_ok(r, HOST_PATCH, "/v1/groups/{gid}", h2);
    add_ok(r, HOST_DELETE, "/v1/groups/{gid}", h3);
    add_ok(r, HOST_POST, "/v1/groups", h1);

    match m = do_match(r, &a, HOST_PUT, "/v1/groups/abc");
    assert_null(m.rec);
    assert_int_equal(m.allowed, (1u << HOST_GET) | (1u << HOST_PATCH)
                                    | (1u << HOST_DELETE));
    m = do_match(r, &a, HOST_GET, "/v1/groups");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 1u << HOST_POST);
    /* An unknown method (-1) is a 405 on a known path. */
    m = do_match(r, &a, -1, "/v1/groups");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 1u << HOST_POST);
    m = do_match(r, &a, 99, "/v1/groups");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 1u << HOST_POST);
    /* An inner node with no route of its own is a 404, not a 405. */
    m = do_match(r, &a, HOST_GET, "/v1");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    host_arena_free(&a);
    host_router_free(r);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/v1/invites/{code}", h1);
    add_ok(r, HOST_GET, "/v1/me", h2);

    match m = do_match(r, &a, HOST_GET, "/v1/invites/a%20b%2Fc%41");
    assert_non_null(m.rec);
    assert_string_equal(param(&m, "code"), "a b/cA");
    m = do_match(r, &a, HOST_GET, "/v1/invites/%e2%82%ac");
    assert_non_null(m.rec);
    assert_string_equal(param(&m, "code"), "\xe2\x82\xac");
    /* '+' is not a space in a path. */
    m = do_match(r, &a, HOST_GET, "/v1/invites/a+b");
    assert_string_equal(param(&m, "code"), "a+b");
    /* Literal segments match after decoding too. */
    m = do_match(r, &a, HOST_GET, "/v1/%6De");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h2);

    static const char *const bad[] = {
        "/v1/invites/%00", "/v1/invites/a%0", "/v1/invites/%", "/v1/invites/%zz",
        "/v1/invites/%g1", "/v1/invites/abc%2", "/v1/%00me", "/v1/invites/%%41",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = do_match(r, &a, HOST_GET, bad[i]);
        assert_null(m.rec);
        assert_int_equal(m.allowed, 0);
    }
    host_arena_free(&a);
    host_router_free(r);
}

static void test_literal_beats_param(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/v1/groups/{gid}/tasks/{tid}", h1);
    add_ok(r, HOST_GET, "/v1/groups/{gid}/tasks/stats", h2);
    add_ok(r, HOST_PATCH, "/v1/groups/{gid}/tasks/{tid}", h3);

    match m = do_match(r, &a, HOST_GET, "/v1/groups/g/tasks/stats");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h2);
    assert_int_equal(m.n, 1);
    assert_string_equal(param(&m, "gid"), "g");

    m = do_match(r, &a, HOST_GET, "/v1/groups/g/tasks/other");
    assert_ptr_equal(m.rec->r.handler, h1);
    assert_string_equal(param(&m, "tid"), "other");

    /* The literal node wins for the path as a whole: PATCH .../stats is a
     * 405 (Allow: GET), not the param route. */
    m = do_match(r, &a, HOST_PATCH, "/v1/groups/g/tasks/stats");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 1u << HOST_GET);
    host_arena_free(&a);
    host_router_free(r);
}

static void test_backtracking(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/a/b/c", h1);
    add_ok(r, HOST_GET, "/a/{x}/d", h2);
    add_ok(r, HOST_GET, "/{y}/b/e", h3);

    match m = do_match(r, &a, HOST_GET, "/a/b/c");
    assert_ptr_equal(m.rec->r.handler, h1);
    /* The literal "b" subtree has no "d": back off to {x}. */
    m = do_match(r, &a, HOST_GET, "/a/b/d");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h2);
    assert_string_equal(param(&m, "x"), "b");
    /* Neither /a subtree has "e": back off to {y} at the root. */
    m = do_match(r, &a, HOST_GET, "/a/b/e");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h3);
    assert_string_equal(param(&m, "y"), "a");
    assert_int_equal(m.n, 1);
    m = do_match(r, &a, HOST_GET, "/a/b/f");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    host_arena_free(&a);
    host_router_free(r);
}

static void test_param_names_per_route(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    /* The same param position under different names in different
     * routes: each route reports its own names. */
    add_ok(r, HOST_GET, "/v1/media/{id}", h1);
    add_ok(r, HOST_DELETE, "/v1/media/{media_id}", h2);
    add_ok(r, HOST_GET, "/v1/media/{mid}/content", h3);
    match m = do_match(r, &a, HOST_GET, "/v1/media/m1");
    assert_string_equal(m.params[0].name, "id");
    m = do_match(r, &a, HOST_DELETE, "/v1/media/m1");
    assert_string_equal(m.params[0].name, "media_id");
    assert_string_equal(m.params[0].value, "m1");
    m = do_match(r, &a, HOST_GET, "/v1/media/m1/content");
    assert_string_equal(m.params[0].name, "mid");
    host_arena_free(&a);
    host_router_free(r);
}

static void test_collisions(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_route_rec first = rec_of(h1), second = rec_of(h2);
    const host_route_rec *clash = NULL;
    assert_int_equal(host_router_add(r, HOST_GET, "/a/{x}", &first, &clash),
                     TQ_OK);
    /* Param names do not matter: the shape does. */
    assert_int_equal(host_router_add(r, HOST_GET, "/a/{y}", &second, &clash),
                     TQ_E_EXISTS);
    assert_non_null(clash);
    assert_ptr_equal(clash->r.handler, h1);
    assert_string_equal(clash->r.path, "/a/{x}");
    /* Another method on the same shape is fine. */
    assert_int_equal(host_router_add(r, HOST_POST, "/a/{y}", &second, &clash),
                     TQ_OK);
    assert_null(clash);
    /* Literal and param at the same place do not collide. */
    assert_int_equal(host_router_add(r, HOST_GET, "/a/b", &second, &clash),
                     TQ_OK);
    assert_int_equal(host_router_add(r, HOST_GET, "/a/b", &first, &clash),
                     TQ_E_EXISTS);
    assert_ptr_equal(clash->r.handler, h2);
    /* A NULL clash pointer is allowed. */
    assert_int_equal(host_router_add(r, HOST_GET, "/a/b", &first, NULL),
                     TQ_E_EXISTS);
    host_router_free(r);
}

static void test_bad_patterns(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_route_rec rec = rec_of(h1);
    static const char *const bad[] = {
        "", "a", "a/b", "/a/", "//", "/a//b", "/{}", "/{x", "/x}", "/a{x}",
        "/{x}b", "/{1x}", "/{x-y}", "/{x}/{x}", "/a b", "/a%20b", "/a?b",
        "/a#b", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
        "/{xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const host_route_rec *clash = (void *)1;
        assert_int_equal(host_router_add(r, HOST_GET, bad[i], &rec, &clash),
                         TQ_E_INVALID);
        assert_null(clash);
        assert_non_null(host_router_check(bad[i]));
    }
    assert_null(host_router_check("/v1/groups/{gid}"));
    assert_null(host_router_check("/"));
    assert_string_equal(host_router_check("/a//b"),
                        "empty segment (// or a trailing /)");
    assert_int_equal(host_router_add(r, HOST_GET, NULL, &rec, NULL),
                     TQ_E_INVALID);
    assert_int_equal(host_router_add(r, -1, "/a", &rec, NULL), TQ_E_INVALID);
    assert_int_equal(host_router_add(r, HOST_NMETHODS, "/a", &rec, NULL),
                     TQ_E_INVALID);
    assert_int_equal(host_router_add(r, HOST_GET, "/a", NULL, NULL),
                     TQ_E_INVALID);
    /* Eight params is the limit, and fine. */
    assert_int_equal(host_router_add(r, HOST_GET,
                                     "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", &rec,
                                     NULL),
                     TQ_OK);
    assert_int_equal(host_router_add(r, HOST_GET, "/v1/a:b@c,d;e=f~g", &rec,
                                     NULL),
                     TQ_OK);
    host_router_free(r);
}

static void test_router_copies_strings(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "/v1/groups/{gid}");
    char method[8] = "GET";
    host_route_rec rec = rec_of(h1);
    rec.r.path = pattern;
    rec.r.method = method;
    assert_int_equal(host_router_add(r, HOST_GET, pattern, &rec, NULL), TQ_OK);
    memset(pattern, 'Z', sizeof(pattern) - 1);
    memset(method, 'Z', sizeof(method) - 1);
    rec.r.handler = h2;
    match m = do_match(r, &a, HOST_GET, "/v1/groups/x");
    assert_non_null(m.rec);
    assert_ptr_equal(m.rec->r.handler, h1);
    assert_string_equal(m.rec->r.path, "/v1/groups/{gid}");
    assert_string_equal(m.rec->r.method, "GET");
    assert_string_equal(m.params[0].name, "gid");
    assert_true(m.rec->metrics_slot > 0);
    host_arena_free(&a);
    host_router_free(r);
}

typedef struct walked {
    int n;
    char seen[64][80];
} walked;

static void walk_fn(void *arg, int method, const char *pattern,
                    const host_route_rec *rec)
{
    walked *w = arg;
    assert_string_equal(rec->r.path, pattern);
    snprintf(w->seen[w->n++], sizeof(w->seen[0]), "%s %s",
             host_method_str(method), pattern);
}

static void test_walk(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    add_ok(r, HOST_POST, "/v1/groups", h1);
    add_ok(r, HOST_GET, "/v1/groups", h1);
    add_ok(r, HOST_GET, "/v1/groups/{gid}", h1);
    add_ok(r, HOST_GET, "/healthz", h1);
    add_ok(r, HOST_GET, "/", h1);
    walked w = {0};
    host_router_walk(r, walk_fn, &w);
    assert_int_equal(w.n, 5);
    assert_string_equal(w.seen[0], "GET /");
    assert_string_equal(w.seen[1], "GET /healthz");
    assert_string_equal(w.seen[2], "GET /v1/groups");
    assert_string_equal(w.seen[3], "POST /v1/groups");
    assert_string_equal(w.seen[4], "GET /v1/groups/{gid}");
    host_router_walk(NULL, walk_fn, &w); /* no-op */
    host_router_free(r);
    host_router_free(NULL);
}

static void test_many_routes(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    char pat[128], path[128];
    for (int i = 0; i < 500; i++) {
        for (int m = 0; m < HOST_NMETHODS; m++) {
            snprintf(pat, sizeof(pat), "/v1/r%03d/{id}/sub%d", i, m % 2);
            host_route_rec rec = rec_of(m % 2 ? h1 : h2);
            int rc = host_router_add(r, m, pat, &rec, NULL);
            /* Methods sharing a shape add fine; they never collide. */
            assert_int_equal(rc, TQ_OK);
        }
        snprintf(pat, sizeof(pat), "/v1/r%03d", i);
        add_ok(r, HOST_GET, pat, h3);
    }
    for (int i = 499; i >= 0; i--) {
        snprintf(path, sizeof(path), "/v1/r%03d/item-%d/sub1", i, i);
        match m = do_match(r, &a, HOST_POST, path);
        assert_non_null(m.rec);
        assert_ptr_equal(m.rec->r.handler, h1);
        char want[32];
        snprintf(want, sizeof(want), "item-%d", i);
        assert_string_equal(param(&m, "id"), want);
        snprintf(path, sizeof(path), "/v1/r%03d", i);
        m = do_match(r, &a, HOST_GET, path);
        assert_ptr_equal(m.rec->r.handler, h3);
        m = do_match(r, &a, HOST_DELETE, path);
        assert_null(m.rec);
        assert_int_equal(m.allowed, 1u << HOST_GET);
    }
    match m = do_match(r, &a, HOST_GET, "/v1/r500");
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    host_arena_free(&a);
    host_router_free(r);
}

static void test_deep_paths(void **state)
{
    (void)state;
    host_router *r = host_router_new();
    host_arena a;
    host_arena_init(&a);
    add_ok(r, HOST_GET, "/{a}/{b}", h1);
    char path[4096];
    size_t o = 0;
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(path + o, sizeof(path) - o, "/s");
    match m = do_match(r, &a, HOST_GET, path);
    assert_null(m.rec);
    assert_int_equal(m.allowed, 0);
    host_arena_free(&a);
    host_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_literal_and_params),
        cmocka_unit_test(test_trailing_slash_and_empty_segments),
        cmocka_unit_test(test_405_mask),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_literal_beats_param),
        cmocka_unit_test(test_backtracking),
        cmocka_unit_test(test_param_names_per_route),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_router_copies_strings),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_many_routes),
        cmocka_unit_test(test_deep_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
