/*
 * test_groups_roles.c - the role table of plugins/groups/README.md over
 * HTTP, row by row and role by role: every cell is one request by a user
 * of that role in a fresh household, and every cell checks both the
 * status and what it did (or did not do) to the database.
 *
 * The expected statuses are written here independently of rules.c, so a
 * change of the rules has to change this file and the README together.
 */
#include "gt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *host;

enum { OWNER, ADMIN, MEMBER, LANDLORD, NACTORS };
static const char *const actor_names[NACTORS] = {"owner", "admin", "member",
                                                 "landlord"};

static const tqt_user *actor_of(const gt_house *hh, int a)
{
    switch (a) {
    case OWNER:
        return &hh->owner;
    case ADMIN:
        return &hh->admin;
    case MEMBER:
        return &hh->member;
    default:
        return &hh->landlord;
    }
}

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
{
    static char buf[4][256];
    static int i;
    va_list ap;
    va_start(ap, fmt);
    char *b = buf[i++ % 4];
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

/* Run one request; when it is refused, assert the error shape. */
static long act(const char *method, const char *path, const tqt_user *u,
                const char *body)
{
    tqt_resp r = body ? tqt_req(host, method, path, u->token, "%s", body)
                      : tqt_req(host, method, path, u->token, NULL);
    long s = r.status;
    if (s == 403)
        tqt_assert_error(&r, 403, "forbidden");
    else if (s == 409)
        tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    return s;
}

static void expect_role(const gt_house *hh, const tqt_user *u,
                        const char *role)
{
    char *got = gt_role_in_db(host, hh->gid, u->id);
    if (strcmp(got, role) != 0)
        fail_msg("role of %s: expected \"%s\", database has \"%s\"", u->email,
                 role, got);
    free(got);
}

/* --------------------------------------------------------------- cells */

static long view(gt_house *hh, const tqt_user *u)
{
    tqt_resp r = tqt_req(host, "GET", path_of("/v1/groups/%s", hh->gid),
                         u->token, NULL);
    long s = r.status;
    if (s == 200)
        assert_int_equal(json_array_size(json_object_get(r.json, "members")),
                         7);
    tqt_resp_free(&r);
    return s;
}

static long edit(gt_house *hh, const tqt_user *u)
{
    long s = act("PATCH", path_of("/v1/groups/%s", hh->gid), u,
                 "{\"name\":\"Renamed\"}");
    char *name = tqt_sql(host, "SELECT name FROM groups.groups WHERE id='%s'",
                         hh->gid);
    assert_string_equal(name, s == 200 ? "Renamed" : "Flat 3");
    free(name);
    return s;
}

static long delete_group(gt_house *hh, const tqt_user *u)
{
    long s = act("DELETE", path_of("/v1/groups/%s", hh->gid), u, NULL);
    char *n = tqt_sql(host, "SELECT count(*) FROM groups.groups WHERE id='%s'",
                      hh->gid);
    assert_string_equal(n, s == 204 ? "0" : "1");
    free(n);
    return s;
}

static long invite(gt_house *hh, const tqt_user *u)
{
    long s = act("POST", path_of("/v1/groups/%s/invites", hh->gid), u, "{}");
    char *n = tqt_sql(host,
                      "SELECT count(*) FROM groups.invites WHERE group_id='%s'",
                      hh->gid);
    /* gt_house_init used six invites, all still stored. */
    assert_string_equal(n, s == 201 ? "7" : "6");
    free(n);
    return s;
}

static long revoke(gt_house *hh, const tqt_user *u)
{
    char *code = gt_invite(host, &hh->owner, hh->gid, "{\"max_uses\":5}");
    long s = act("DELETE",
                 path_of("/v1/groups/%s/invites/%s", hh->gid, code), u, NULL);
    long preview = gt_status(host, "GET", path_of("/v1/invites/%s", code),
                             NULL, NULL);
    assert_int_equal(preview, s == 204 ? 404 : 200);
    free(code);
    return s;
}

static long set_role(gt_house *hh, const tqt_user *u, const tqt_user *target,
                     const char *from, const char *to)
{
    char body[64];
    snprintf(body, sizeof body, "{\"role\":\"%s\"}", to);
    long s = act("PATCH",
                 path_of("/v1/groups/%s/members/%s", hh->gid, target->id), u,
                 body);
    expect_role(hh, target, s == 200 ? to : from);
    return s;
}

static long member_to_landlord(gt_house *hh, const tqt_user *u)
{
    return set_role(hh, u, &hh->member2, "member", "landlord");
}

static long landlord_to_member(gt_house *hh, const tqt_user *u)
{
    return set_role(hh, u, &hh->landlord2, "landlord", "member");
}

static long member_to_admin(gt_house *hh, const tqt_user *u)
{
    return set_role(hh, u, &hh->member2, "member", "admin");
}

static long admin_to_member(gt_house *hh, const tqt_user *u)
{
    return set_role(hh, u, &hh->admin2, "admin", "member");
}

static long owner_to_admin(gt_house *hh, const tqt_user *u)
{
    return set_role(hh, u, &hh->owner, "owner", "admin");
}

static long remove_user(gt_house *hh, const tqt_user *u,
                        const tqt_user *target, const char *role)
{
    long s = act("DELETE",
                 path_of("/v1/groups/%s/members/%s", hh->gid, target->id), u,
                 NULL);
    expect_role(hh, target, s == 204 ? "" : role);
    return s;
}

static long remove_member(gt_house *hh, const tqt_user *u)
{
    return remove_user(hh, u, &hh->member2, "member");
}

static long remove_landlord(gt_house *hh, const tqt_user *u)
{
    return remove_user(hh, u, &hh->landlord2, "landlord");
}

static long remove_admin(gt_house *hh, const tqt_user *u)
{
    return remove_user(hh, u, &hh->admin2, "admin");
}

static long remove_owner(gt_house *hh, const tqt_user *u)
{
    return remove_user(hh, u, &hh->owner, "owner");
}

static long leave(gt_house *hh, const tqt_user *u)
{
    char *before = gt_role_in_db(host, hh->gid, u->id);
    long s = remove_user(hh, u, u, before);
    free(before);
    return s;
}

static long transfer(gt_house *hh, const tqt_user *u)
{
    char *before = gt_role_in_db(host, hh->gid, u->id);
    char body[80];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", hh->member2.id);
    long s = act("POST",
                 path_of("/v1/groups/%s/transfer-ownership", hh->gid), u,
                 body);
    expect_role(hh, &hh->member2, s == 200 ? "owner" : "member");
    expect_role(hh, u, s == 200 ? "admin" : before);
    expect_role(hh, &hh->owner, s == 200 ? "admin" : "owner");
    free(before);
    return s;
}

/* ---------------------------------------------------------------- table */

typedef long (*cell_fn)(gt_house *hh, const tqt_user *u);

static const struct {
    const char *row; /* the README row it checks */
    const char *what;
    cell_fn fn;
    long expect[NACTORS]; /* owner, admin, member, landlord */
} table[] = {
    {"view the group and its members", "GET the group", view,
     {200, 200, 200, 200}},
    {"edit name, timezone, currency", "rename", edit, {200, 200, 403, 403}},
    {"delete the group", "delete", delete_group, {204, 403, 403, 403}},
    {"create an invite", "create invite", invite, {201, 201, 403, 403}},
    {"revoke an invite", "revoke invite", revoke, {204, 204, 403, 403}},
    {"change a role between member and landlord", "member -> landlord",
     member_to_landlord, {200, 200, 403, 403}},
    {"change a role between member and landlord", "landlord -> member",
     landlord_to_member, {200, 200, 403, 403}},
    {"promote to admin, or demote an admin", "member -> admin",
     member_to_admin, {200, 403, 403, 403}},
    {"promote to admin, or demote an admin", "admin -> member",
     admin_to_member, {200, 403, 403, 403}},
    {"change the owner's role", "owner -> admin", owner_to_admin,
     {403, 403, 403, 403}},
    {"remove a member or a landlord", "remove a member", remove_member,
     {204, 204, 403, 403}},
    {"remove a member or a landlord", "remove a landlord", remove_landlord,
     {204, 204, 403, 403}},
    {"remove an admin", "remove an admin", remove_admin,
     {204, 403, 403, 403}},
    {"remove the owner", "remove the owner", remove_owner,
     {409, 403, 403, 403}},
    {"leave the group", "leave", leave, {409, 204, 204, 204}},
    {"transfer ownership", "transfer to a member", transfer,
     {200, 403, 403, 403}},
};

static void role_table_row_by_row(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        for (int a = 0; a < NACTORS; a++) {
            gt_house hh;
            gt_house_init(host, &hh);
            long got = table[i].fn(&hh, actor_of(&hh, a));
            if (got != table[i].expect[a]) {
                fprintf(stderr, "row \"%s\" (%s) as %s: expected %ld, got %ld\n",
                        table[i].row, table[i].what, actor_names[a],
                        table[i].expect[a], got);
                failures++;
            }
            gt_house_free(&hh);
        }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------- rules around the table */

static void owner_role_is_not_settable(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    tqt_resp r = tqt_req(host, "PATCH",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.member.id),
                         hh.owner.token, "{\"role\":\"owner\"}");
    tqt_assert_error(&r, 400, "validation_failed");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "error"), "field")),
                        "role");
    assert_non_null(strstr(r.body, "transfer-ownership"));
    tqt_resp_free(&r);
    expect_role(&hh, &hh.member, "member");

    r = tqt_req(host, "PATCH",
                path_of("/v1/groups/%s/members/%s", hh.gid, hh.member.id),
                hh.owner.token, "{\"role\":\"boss\"}");
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    r = tqt_req(host, "PATCH",
                path_of("/v1/groups/%s/members/%s", hh.gid, hh.member.id),
                hh.owner.token, "{}");
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    gt_house_free(&hh);
}

/* An admin's own role is an admin's role: only the owner changes it. */
static void admin_cannot_demote_self(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    assert_int_equal(act("PATCH",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.admin.id),
                         &hh.admin, "{\"role\":\"member\"}"),
                     403);
    expect_role(&hh, &hh.admin, "admin");
    gt_house_free(&hh);
}

static void role_change_answers_the_member(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    tqt_resp r = tqt_req(host, "PATCH",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.member.id),
                         hh.admin.token, "{\"role\":\"landlord\"}");
    gt_expect(&r, 200, "member -> landlord");
    assert_string_equal(tqt_str(&r, "user_id"), hh.member.id);
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    assert_string_equal(tqt_str(&r, "display_name"), "Mia Member");
    assert_non_null(tqt_str(&r, "joined_at"));
    tqt_resp_free(&r);
    /* Setting the role it already has is fine and changes nothing. */
    r = tqt_req(host, "PATCH",
                path_of("/v1/groups/%s/members/%s", hh.gid, hh.member.id),
                hh.admin.token, "{\"role\":\"landlord\"}");
    gt_expect(&r, 200, "landlord -> landlord");
    tqt_resp_free(&r);
    gt_house_free(&hh);
}

static void unknown_targets_are_404(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    const char *nobody = "00000000-0000-4000-8000-000000000000";
    assert_int_equal(act("PATCH",
                         path_of("/v1/groups/%s/members/%s", hh.gid, nobody),
                         &hh.owner, "{\"role\":\"member\"}"),
                     404);
    assert_int_equal(act("PATCH",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.stranger.id),
                         &hh.owner, "{\"role\":\"member\"}"),
                     404);
    assert_int_equal(act("DELETE",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.stranger.id),
                         &hh.admin, NULL),
                     404);
    assert_int_equal(act("DELETE",
                         path_of("/v1/groups/%s/members/not-a-uuid", hh.gid),
                         &hh.admin, NULL),
                     404);
    gt_house_free(&hh);
}

static void transfer_rules(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    const char *path = path_of("/v1/groups/%s/transfer-ownership", hh.gid);
    char body[96];
    const tqt_user *bad[] = {&hh.owner, &hh.landlord, &hh.stranger};
    for (size_t i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", bad[i]->id);
        tqt_resp r = tqt_req(host, "POST", path, hh.owner.token, "%s", body);
        tqt_assert_error(&r, 400, "validation_failed");
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(r.json, "error"), "field")),
                            "user_id");
        tqt_resp_free(&r);
    }
    tqt_resp r = tqt_req(host, "POST", path, hh.owner.token,
                         "{\"user_id\":\"nope\"}");
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    expect_role(&hh, &hh.owner, "owner");

    /* To an admin: the new owner may now delete, the old one may not. */
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", hh.admin.id);
    r = tqt_req(host, "POST", path, hh.owner.token, "%s", body);
    gt_expect(&r, 200, "transfer to admin");
    assert_string_equal(tqt_str(&r, "role"), "admin");
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 7);
    tqt_resp_free(&r);
    expect_role(&hh, &hh.admin, "owner");
    expect_role(&hh, &hh.owner, "admin");
    char *owners = tqt_sql(host,
                           "SELECT count(*) FROM groups.members"
                           " WHERE group_id='%s' AND role='owner'",
                           hh.gid);
    assert_string_equal(owners, "1");
    free(owners);
    /* The old owner, now an admin, may leave; the new one may not. */
    assert_int_equal(act("DELETE",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.admin.id),
                         &hh.admin, NULL),
                     409);
    assert_int_equal(act("DELETE", path_of("/v1/groups/%s", hh.gid),
                         &hh.owner, NULL),
                     403);
    assert_int_equal(act("DELETE",
                         path_of("/v1/groups/%s/members/%s", hh.gid,
                                 hh.owner.id),
                         &hh.owner, NULL),
                     204);
    assert_int_equal(act("DELETE", path_of("/v1/groups/%s", hh.gid),
                         &hh.admin, NULL),
                     204);
    gt_house_free(&hh);
}

/* Concurrent transfers by the one owner: the group lock serialises them,
 * so exactly one succeeds and the group keeps exactly one owner. */
typedef struct xfer_arg {
    const char *path, *token, *to;
    long status;
} xfer_arg;

static void *xfer_thread(void *p)
{
    xfer_arg *x = p;
    tqt_resp r = tqt_req(host, "POST", x->path, x->token,
                         "{\"user_id\":\"%s\"}", x->to);
    x->status = r.status;
    tqt_resp_free(&r);
    return NULL;
}

static void racing_transfers_keep_one_owner(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        gt_house hh;
        gt_house_init(host, &hh);
        const char *path =
            path_of("/v1/groups/%s/transfer-ownership", hh.gid);
        const tqt_user *to[] = {&hh.member, &hh.member2, &hh.admin,
                                &hh.admin2};
        xfer_arg args[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            args[i] = (xfer_arg){path, hh.owner.token, to[i]->id, 0};
            assert_int_equal(pthread_create(&t[i], NULL, xfer_thread,
                                            &args[i]),
                             0);
        }
        int ok = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            if (args[i].status == 200)
                ok++;
            else if (args[i].status != 403)
                fail_msg("racing transfer answered %ld", args[i].status);
        }
        assert_int_equal(ok, 1);
        char *owners = tqt_sql(host,
                               "SELECT count(*) FROM groups.members"
                               " WHERE group_id='%s' AND role='owner'",
                               hh.gid);
        assert_string_equal(owners, "1");
        free(owners);
        expect_role(&hh, &hh.owner, "admin");
        gt_house_free(&hh);
    }
}

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = GT_PLUGINS_GROUPS};
    host = tqt_start("groups_roles", &o);
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
        cmocka_unit_test(role_table_row_by_row),
        cmocka_unit_test(owner_role_is_not_settable),
        cmocka_unit_test(admin_cannot_demote_self),
        cmocka_unit_test(role_change_answers_the_member),
        cmocka_unit_test(unknown_targets_are_404),
        cmocka_unit_test(transfer_rules),
        cmocka_unit_test(racing_transfers_keep_one_owner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
