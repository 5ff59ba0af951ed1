/*
 * test_groups_security.c - regression tests of the security review of the
 * groups plugin: an owner of one group naming objects of another (an
 * invite code, a member, a new owner) reaches nothing and changes
 * nothing there, and list cursors whose key does not fit 64 bits are
 * refused (sscanf's %lld had undefined behaviour on them and let them
 * through as the largest key).
 */
#include "gt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *host;

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = GT_PLUGINS_GROUPS};
    host = tqt_start("groups_security", &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tqt_stop(host) == 0 ? 0 : -1;
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    static char buf[4][512];
    static int i;
    va_list ap;
    va_start(ap, fmt);
    char *b = buf[i++ % 4];
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

static void objects_of_another_group_through_this_one(void **state)
{
    (void)state;
    gt_house a, b;
    gt_house_init(host, &a);
    gt_house_init(host, &b);
    char *code = gt_invite(host, &b.owner, b.gid, "{\"max_uses\":5}");

    /* B's invite code through A: 404, and the code still works in B. */
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/invites/%s", a.gid, code),
                               &a.owner, NULL),
                     404);
    assert_int_equal(gt_status(host, "GET", pathf("/v1/invites/%s", code),
                               NULL, NULL),
                     200);

    /* B's members through A: 404, their roles unchanged. */
    assert_int_equal(gt_status(host, "PATCH",
                               pathf("/v1/groups/%s/members/%s", a.gid,
                                     b.member.id),
                               &a.owner, "{\"role\":\"landlord\"}"),
                     404);
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/members/%s", a.gid,
                                     b.admin.id),
                               &a.owner, NULL),
                     404);
    char *role = gt_role_in_db(host, b.gid, b.member.id);
    assert_string_equal(role, "member");
    free(role);
    role = gt_role_in_db(host, b.gid, b.admin.id);
    assert_string_equal(role, "admin");
    free(role);

    /* Handing A to a member of B: refused on user_id, A keeps its owner,
     * and B's member got no role in A. */
    char body[96];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", b.member.id);
    tqt_resp r = tqt_req(host, "POST",
                         pathf("/v1/groups/%s/transfer-ownership", a.gid),
                         a.owner.token, "%s", body);
    tqt_assert_error(&r, 400, "validation_failed");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"),
                                          "field")),
        "user_id");
    tqt_resp_free(&r);
    role = gt_role_in_db(host, a.gid, a.owner.id);
    assert_string_equal(role, "owner");
    free(role);
    role = gt_role_in_db(host, a.gid, b.member.id);
    assert_string_equal(role, "");
    free(role);

    free(code);
    gt_house_free(&a);
    gt_house_free(&b);
}

static void list_cursor_out_of_range(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Cursor Carl");
    char *g = gt_create_group(host, &u, "Only");
    static const char *const bad[] = {
        "99999999999999999999999", "-99999999999999999999999",
        "9223372036854775808", "-9223372036854775809", "+5", "%205", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tqt_resp r = tqt_req(host, "GET",
                             pathf("/v1/groups?cursor=%s.%s", bad[i], g),
                             u.token, NULL);
        if (r.status != 400)
            fail_msg("cursor key %s: expected 400, got %ld: %s", bad[i],
                     r.status, r.body);
        tqt_assert_error(&r, 400, "validation_failed");
        tqt_resp_free(&r);
    }
    /* The extremes that fit are cursors like any other: past every group,
     * and before every group. */
    tqt_resp r = tqt_req(host, "GET",
                         pathf("/v1/groups?cursor=9223372036854775807.%s", g),
                         u.token, NULL);
    gt_expect(&r, 200, "largest key");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    tqt_resp_free(&r);
    r = tqt_req(host, "GET",
                pathf("/v1/groups?cursor=-9223372036854775808.%s", g),
                u.token, NULL);
    gt_expect(&r, 200, "smallest key");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    tqt_resp_free(&r);
    free(g);
    tqt_user_free(&u);
}

/* Invite codes are bearer secrets stored only hashed: the access log shows
 * the route pattern of the routes that carry one, never the code. */
static void invite_codes_stay_out_of_the_log(void **state)
{
    (void)state;
    tqt_user owner = tqt_register(host, "Owner");
    tqt_user guest = tqt_register(host, "Guest");
    char *g = gt_create_group(host, &owner, "Secret house");
    char *code = gt_invite(host, &owner, g, NULL);
    char *code2 = gt_invite(host, &owner, g, NULL);
    tqt_resp r = tqt_req(host, "GET", pathf("/v1/invites/%s", code), NULL, NULL);
    gt_expect(&r, 200, "preview");
    tqt_resp_free(&r);
    gt_accept(host, &guest, code);
    r = tqt_req(host, "DELETE", pathf("/v1/groups/%s/invites/%s", g, code2),
                owner.token, NULL);
    gt_expect(&r, 204, "revoke");
    tqt_resp_free(&r);

    FILE *f = fopen(tqt_log_path(host), "r");
    assert_non_null(f);
    char line[8192];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, code) || strstr(line, code2))
            fail_msg("invite code in the log: %s", line);
        seen += strstr(line, "\"path\":\"/v1/invites/{code}\"") != NULL;
    }
    fclose(f);
    assert_true(seen >= 1);
    free(code);
    free(code2);
    free(g);
    tqt_user_free(&owner);
    tqt_user_free(&guest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_of_another_group_through_this_one),
        cmocka_unit_test(list_cursor_out_of_range),
        cmocka_unit_test(invite_codes_stay_out_of_the_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
