/*
 * test_groups_invites.c - invites over HTTP: shape and defaults, preview
 * without auth, lenient typing, accept, already-a-member before a use is
 * taken, max uses, expiry, revocation, validation, and accepts racing for
 * the last use (exactly the available uses win).
 */
#include "gt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *host;

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    static __thread char buf[4][256];
    static __thread int i;
    va_list ap;
    va_start(ap, fmt);
    char *b = buf[i++ % 4];
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

static long accept_as(const tqt_user *u, const char *code)
{
    return gt_status(host, "POST", pathf("/v1/invites/%s/accept", code), u,
                     NULL);
}

static long preview(const char *code)
{
    return gt_status(host, "GET", pathf("/v1/invites/%s", code), NULL, NULL);
}

static char *uses_of(const char *code)
{
    char canon[32];
    int n = 0;
    for (const char *p = code; *p; p++)
        if (*p != '-')
            canon[n++] = *p;
    canon[n] = '\0';
    return tqt_sql(host,
                   "SELECT uses FROM groups.invites"
                   " WHERE code_hash = sha256(convert_to('%s', 'UTF8'))",
                   canon);
}

static int count_members(const char *gid)
{
    char *n = tqt_sql(host,
                      "SELECT count(*) FROM groups.members WHERE group_id='%s'",
                      gid);
    int v = atoi(n);
    free(n);
    return v;
}

static void create_shape_and_defaults(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Ivy Inviter");
    char *gid = gt_create_group(host, &o, "Invite House");
    tqt_resp r = tqt_req(host, "POST", pathf("/v1/groups/%s/invites", gid),
                         o.token, "{}");
    gt_expect(&r, 201, "create invite");
    const char *code = tqt_str(&r, "code");
    assert_non_null(code);
    assert_int_equal(strlen(code), 19);
    for (int i = 0; i < 19; i++)
        if (i % 5 == 4)
            assert_int_equal(code[i], '-');
        else
            assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", code[i]));
    assert_string_equal(tqt_str(&r, "role"), "member");
    assert_string_equal(tqt_str(&r, "group_id"), gid);
    assert_int_equal(json_integer_value(json_object_get(r.json, "max_uses")), 1);
    long left = gt_seconds_until(tqt_str(&r, "expires_at"));
    assert_true(left > 168 * 3600 - 120 && left <= 168 * 3600 + 5);
    /* Only a hash is stored: the code itself is nowhere in the table. */
    char *n = tqt_sql(host,
                      "SELECT count(*) FROM groups.invites WHERE group_id='%s'"
                      " AND length(code_hash) = 32"
                      " AND position(convert_to('%s', 'UTF8') IN code_hash) = 0",
                      gid, code);
    assert_string_equal(n, "1");
    free(n);
    tqt_resp_free(&r);

    r = tqt_req(host, "POST", pathf("/v1/groups/%s/invites", gid), o.token,
                "{\"role\":\"landlord\",\"max_uses\":4,"
                "\"expires_in_hours\":1}");
    gt_expect(&r, 201, "create landlord invite");
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    assert_int_equal(json_integer_value(json_object_get(r.json, "max_uses")), 4);
    left = gt_seconds_until(tqt_str(&r, "expires_at"));
    assert_true(left > 3600 - 120 && left <= 3600 + 5);
    tqt_resp_free(&r);

    /* Two invites never share a code. */
    char *a = gt_invite(host, &o, gid, NULL), *b = gt_invite(host, &o, gid, NULL);
    assert_string_not_equal(a, b);
    free(a);
    free(b);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"role\":\"admin\"}", "role"},
        {"{\"role\":\"owner\"}", "role"},
        {"{\"max_uses\":0}", "max_uses"},
        {"{\"max_uses\":1001}", "max_uses"},
        {"{\"max_uses\":\"2\"}", "max_uses"},
        {"{\"expires_in_hours\":0}", "expires_in_hours"},
        {"{\"expires_in_hours\":8761}", "expires_in_hours"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = tqt_req(host, "POST", pathf("/v1/groups/%s/invites", gid), o.token,
                    "%s", bad[i].body);
        tqt_assert_error(&r, 400, "validation_failed");
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(r.json, "error"), "field")),
                            bad[i].field);
        tqt_resp_free(&r);
    }
    free(gid);
    tqt_user_free(&o);
}

static void preview_and_accept(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Olga"), j = tqt_register(host, "Jo Joiner");
    char *gid = gt_create_group(host, &o, "Preview House");
    char *code = gt_invite(host, &o, gid, "{\"role\":\"landlord\"}");

    tqt_resp r = tqt_req(host, "GET", pathf("/v1/invites/%s", code), NULL, NULL);
    gt_expect(&r, 200, "preview");
    assert_string_equal(tqt_str(&r, "group_name"), "Preview House");
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    assert_non_null(tqt_str(&r, "expires_at"));
    assert_null(json_object_get(r.json, "group_id")); /* nothing more */
    tqt_resp_free(&r);

    /* Typed by hand: lower case, no dashes, O for 0 and l for 1. */
    char typed[32];
    int n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == '-')
            continue;
        char c = *p;
        if (c == '0')
            c = 'o';
        else if (c == '1')
            c = 'l';
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        typed[n++] = c;
    }
    typed[n] = '\0';
    assert_int_equal(preview(typed), 200);
    assert_int_equal(preview("AAAA-BBBB-CCCC-DDDD"), 404);
    assert_int_equal(preview("not-a-code"), 404);
    assert_int_equal(preview("UUUU-UUUU-UUUU-UUUU"), 404);

    r = tqt_req(host, "POST", pathf("/v1/invites/%s/accept", typed), j.token,
                NULL);
    gt_expect(&r, 200, "accept");
    assert_string_equal(tqt_str(&r, "group_id"), gid);
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    tqt_resp_free(&r);
    char *role = gt_role_in_db(host, gid, j.id);
    assert_string_equal(role, "landlord");
    free(role);
    r = tqt_req(host, "GET", pathf("/v1/groups/%s", gid), j.token, NULL);
    gt_expect(&r, 200, "joiner sees the group");
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    tqt_resp_free(&r);

    /* Used up (max_uses 1): preview and accept are 404 now. */
    tqt_user k = tqt_register(host, "Kim Late");
    assert_int_equal(preview(code), 404);
    r = tqt_req(host, "POST", pathf("/v1/invites/%s/accept", code), k.token,
                NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    assert_int_equal(accept_as(&k, "AAAA-BBBB-CCCC-DDDD"), 404);
    assert_int_equal(accept_as(&k, "garbage"), 404);
    assert_int_equal(count_members(gid), 2);
    free(code);
    free(gid);
    tqt_user_free(&o);
    tqt_user_free(&j);
    tqt_user_free(&k);
}

/* 409 for a member, before a use is taken: the use is still there. */
static void already_a_member_takes_no_use(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Oscar"), j = tqt_register(host, "Jan");
    char *gid = gt_create_group(host, &o, "Member House");
    char *code = gt_invite(host, &o, gid, NULL); /* one use */
    tqt_resp r = tqt_req(host, "POST", pathf("/v1/invites/%s/accept", code),
                         o.token, NULL);
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    char *uses = uses_of(code);
    assert_string_equal(uses, "0");
    free(uses);
    assert_int_equal(accept_as(&j, code), 200);
    /* A second invite does not make a member twice. */
    char *code2 = gt_invite(host, &o, gid, "{\"max_uses\":2}");
    assert_int_equal(accept_as(&j, code2), 409);
    uses = uses_of(code2);
    assert_string_equal(uses, "0");
    free(uses);
    assert_int_equal(count_members(gid), 2);
    free(code);
    free(code2);
    free(gid);
    tqt_user_free(&o);
    tqt_user_free(&j);
}

static void max_uses_are_counted(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Otis");
    char *gid = gt_create_group(host, &o, "Busy House");
    char *code = gt_invite(host, &o, gid, "{\"max_uses\":3}");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(preview(code), 200);
        tqt_user u = tqt_register(host, "Guest");
        assert_int_equal(accept_as(&u, code), 200);
        tqt_user_free(&u);
    }
    tqt_user late = tqt_register(host, "Fourth Guest");
    assert_int_equal(accept_as(&late, code), 404);
    assert_int_equal(preview(code), 404);
    char *uses = uses_of(code);
    assert_string_equal(uses, "3");
    free(uses);
    assert_int_equal(count_members(gid), 4);
    free(code);
    free(gid);
    tqt_user_free(&o);
    tqt_user_free(&late);
}

static void expired_invites_are_gone(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Eve"), j = tqt_register(host, "Jay");
    char *gid = gt_create_group(host, &o, "Expiry House");
    char *code = gt_invite(host, &o, gid, "{\"max_uses\":5}");
    assert_int_equal(preview(code), 200);
    /* Time travel: the invite's hour has passed. */
    free(tqt_sql(host,
                 "UPDATE groups.invites SET expires_at = now() - interval '1 s'"
                 " WHERE group_id = '%s'",
                 gid));
    assert_int_equal(preview(code), 404);
    assert_int_equal(accept_as(&j, code), 404);
    char *uses = uses_of(code);
    assert_string_equal(uses, "0");
    free(uses);
    assert_int_equal(count_members(gid), 1);
    free(code);
    free(gid);
    tqt_user_free(&o);
    tqt_user_free(&j);
}

static void revoked_invites_are_gone(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    char *code = gt_invite(host, &hh.admin, hh.gid, "{\"max_uses\":5}");
    tqt_user j = tqt_register(host, "Joy");
    /* Another group's owner cannot revoke it through their own group. */
    tqt_user x = tqt_register(host, "Xena");
    char *xg = gt_create_group(host, &x, "Other House");
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/invites/%s", xg, code), &x,
                               NULL),
                     404);
    assert_int_equal(preview(code), 200);

    tqt_resp r = tqt_req(host, "DELETE",
                         pathf("/v1/groups/%s/invites/%s", hh.gid, code),
                         hh.owner.token, NULL);
    gt_expect(&r, 204, "revoke");
    assert_int_equal(r.len, 0);
    tqt_resp_free(&r);
    assert_int_equal(preview(code), 404);
    assert_int_equal(accept_as(&j, code), 404);
    /* Again: still 204.  A code that is no invite: 404. */
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/invites/%s", hh.gid, code),
                               &hh.admin, NULL),
                     204);
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/invites/%s", hh.gid,
                                     "AAAA-BBBB-CCCC-DDDD"),
                               &hh.admin, NULL),
                     404);
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/invites/%s", hh.gid, "x"),
                               &hh.admin, NULL),
                     404);
    assert_int_equal(count_members(hh.gid), 7);
    free(xg);
    free(code);
    tqt_user_free(&j);
    tqt_user_free(&x);
    gt_house_free(&hh);
}

/* ----------------------------------------------------------------- races */

typedef struct racer {
    const tqt_user *u;
    const char *code;
    pthread_barrier_t *start;
    long status;
} racer;

static void *race(void *p)
{
    racer *r = p;
    pthread_barrier_wait(r->start);
    r->status = accept_as(r->u, r->code);
    return NULL;
}

/* n users accept an invite with max_uses uses at the same moment: exactly
 * max_uses of them get 200, the others 404, and the counts agree. */
static void race_round(int n, int max_uses)
{
    tqt_user o = tqt_register(host, "Rory Racer");
    char *gid = gt_create_group(host, &o, "Race House");
    char body[64];
    snprintf(body, sizeof body, "{\"max_uses\":%d}", max_uses);
    char *code = gt_invite(host, &o, gid, body);
    tqt_user *users = calloc((size_t)n, sizeof *users);
    racer *rs = calloc((size_t)n, sizeof *rs);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        users[i] = tqt_register(host, "Racer");
        rs[i] = (racer){&users[i], code, &start, 0};
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &rs[i]), 0);
    int won = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (rs[i].status == 200)
            won++;
        else if (rs[i].status != 404)
            fail_msg("racing accept answered %ld", rs[i].status);
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(won, max_uses);
    assert_int_equal(count_members(gid), 1 + max_uses);
    char *uses = uses_of(code);
    assert_int_equal(atoi(uses), max_uses);
    free(uses);
    for (int i = 0; i < n; i++) {
        char *role = gt_role_in_db(host, gid, users[i].id);
        assert_string_equal(role, rs[i].status == 200 ? "member" : "");
        free(role);
        tqt_user_free(&users[i]);
    }
    free(users);
    free(rs);
    free(t);
    free(code);
    free(gid);
    tqt_user_free(&o);
}

static void racing_for_the_last_use(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++)
        race_round(8, 1);
    for (int round = 0; round < 3; round++)
        race_round(8, 3);
}

/* One user accepting the same many-use invite twice at once: one
 * membership, one use. */
static void same_user_racing_themselves(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        tqt_user o = tqt_register(host, "Sol"), j = tqt_register(host, "Twin");
        char *gid = gt_create_group(host, &o, "Twin House");
        char *code = gt_invite(host, &o, gid, "{\"max_uses\":10}");
        enum { N = 6 };
        racer rs[N];
        pthread_t t[N];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, N);
        for (int i = 0; i < N; i++) {
            rs[i] = (racer){&j, code, &start, 0};
            assert_int_equal(pthread_create(&t[i], NULL, race, &rs[i]), 0);
        }
        int won = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(t[i], NULL);
            if (rs[i].status == 200)
                won++;
            else if (rs[i].status != 409)
                fail_msg("self race answered %ld", rs[i].status);
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(won, 1);
        char *uses = uses_of(code);
        assert_string_equal(uses, "1");
        free(uses);
        assert_int_equal(count_members(gid), 2);
        free(code);
        free(gid);
        tqt_user_free(&o);
        tqt_user_free(&j);
    }
}

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = GT_PLUGINS_GROUPS};
    host = tqt_start("groups_invites", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(tqt_stop(host), 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_shape_and_defaults),
        cmocka_unit_test(preview_and_accept),
        cmocka_unit_test(already_a_member_takes_no_use),
        cmocka_unit_test(max_uses_are_counted),
        cmocka_unit_test(expired_invites_are_gone),
        cmocka_unit_test(revoked_invites_are_gone),
        cmocka_unit_test(racing_for_the_last_use),
        cmocka_unit_test(same_user_racing_themselves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
