/*
 * test_groups_service.c - the membership service as another plugin sees
 * it, through the fixture plugin memberprobe (tests/fixtures/groups/):
 * require() with each role set, role_of(), members(), share_group(),
 * group(); the group.* events with their payloads as a subscriber gets
 * them; and a group's deletion reaching the other plugin's data.
 */
#include "gt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tqt_host *host;

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
    static char buf[4][320];
    static int i;
    va_list ap;
    va_start(ap, fmt);
    char *b = buf[i++ % 4];
    vsnprintf(b, sizeof buf[0], fmt, ap);
    va_end(ap);
    return b;
}

static const char *s_of(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void probe_reports_membership(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    tqt_resp r = tqt_req(host, "GET",
                         pathf("/v1/probe/groups/%s?other=%s", hh.gid,
                               hh.landlord.id),
                         hh.member.token, NULL);
    gt_expect(&r, 200, "probe");
    assert_string_equal(tqt_str(&r, "role"), "member");
    assert_string_equal(tqt_str(&r, "role_of_me"), "member");
    assert_string_equal(tqt_str(&r, "role_of_me_rc"), "ok");
    assert_string_equal(tqt_str(&r, "role_of_other"), "landlord");
    assert_int_equal(json_integer_value(json_object_get(r.json, "shared")), 1);
    assert_string_equal(tqt_str(&r, "shared_rc"), "ok");
    assert_string_equal(tqt_str(&r, "members_rc"), "ok");
    assert_string_equal(tqt_str(&r, "group_rc"), "ok");
    assert_true(json_integer_value(json_object_get(r.json, "service_size")) >=
                (json_int_t)(6 * sizeof(void *)));

    json_t *m = json_object_get(r.json, "members");
    assert_int_equal(json_array_size(m), 7);
    assert_string_equal(s_of(json_array_get(m, 0), "role"), "owner");
    assert_string_equal(s_of(json_array_get(m, 0), "display_name"),
                        "Olivia Owner");
    assert_string_equal(s_of(json_array_get(m, 0), "user_id"), hh.owner.id);
    for (size_t i = 0; i < json_array_size(m); i++) {
        json_t *x = json_array_get(m, i);
        assert_non_null(s_of(x, "user_id"));
        assert_non_null(s_of(x, "display_name"));
        assert_non_null(s_of(x, "role"));
        assert_non_null(s_of(x, "joined_at"));
    }
    json_t *g = json_object_get(r.json, "group");
    assert_string_equal(s_of(g, "id"), hh.gid);
    assert_string_equal(s_of(g, "name"), "Flat 3");
    assert_string_equal(s_of(g, "timezone"), "UTC");
    assert_string_equal(s_of(g, "currency"), "USD");
    assert_non_null(s_of(g, "created_at"));
    tqt_resp_free(&r);

    /* Someone in no common group, and ids that are not ids. */
    r = tqt_req(host, "GET",
                pathf("/v1/probe/groups/%s?other=%s", hh.gid, hh.stranger.id),
                hh.owner.token, NULL);
    gt_expect(&r, 200, "probe stranger");
    assert_true(json_is_null(json_object_get(r.json, "role_of_other")));
    assert_string_equal(tqt_str(&r, "role_of_other_rc"), "not_found");
    assert_int_equal(json_integer_value(json_object_get(r.json, "shared")), 0);
    tqt_resp_free(&r);
    r = tqt_req(host, "GET",
                pathf("/v1/probe/groups/%s?other=nonsense", hh.gid),
                hh.owner.token, NULL);
    gt_expect(&r, 200, "probe nonsense other");
    assert_string_equal(tqt_str(&r, "role_of_other_rc"), "not_found");
    assert_int_equal(json_integer_value(json_object_get(r.json, "shared")), 0);
    assert_string_equal(tqt_str(&r, "shared_rc"), "ok");
    tqt_resp_free(&r);

    /* share_group() across groups: the stranger joins another group of
     * the landlord's, and now shares one with them (not with the member). */
    char *g2 = gt_create_group(host, &hh.stranger, "Second Home");
    char *code = gt_invite(host, &hh.stranger, g2, "{\"role\":\"landlord\"}");
    gt_accept(host, &hh.landlord, code);
    r = tqt_req(host, "GET",
                pathf("/v1/probe/groups/%s?other=%s", g2, hh.landlord.id),
                hh.stranger.token, NULL);
    gt_expect(&r, 200, "probe second group");
    assert_int_equal(json_integer_value(json_object_get(r.json, "shared")), 1);
    tqt_resp_free(&r);
    r = tqt_req(host, "GET",
                pathf("/v1/probe/groups/%s?other=%s", g2, hh.member.id),
                hh.stranger.token, NULL);
    gt_expect(&r, 200, "probe second group, member");
    assert_int_equal(json_integer_value(json_object_get(r.json, "shared")), 0);
    tqt_resp_free(&r);
    free(code);
    free(g2);
    gt_house_free(&hh);
}

static void require_checks_roles(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    static const struct {
        const char *roles;
        long expect[4]; /* owner, admin, member, landlord */
    } cases[] = {
        {"any", {200, 200, 200, 200}},
        {"tenant", {200, 200, 200, 403}},
        {"manager", {200, 200, 403, 403}},
        {"owner", {200, 403, 403, 403}},
        {"landlord", {403, 403, 403, 200}},
        {"none", {403, 403, 403, 403}},
    };
    const tqt_user *who[] = {&hh.owner, &hh.admin, &hh.member, &hh.landlord};
    const char *names[] = {"owner", "admin", "member", "landlord"};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int w = 0; w < 4; w++) {
            tqt_resp r = tqt_req(host, "GET",
                                 pathf("/v1/probe/groups/%s?roles=%s", hh.gid,
                                       cases[c].roles),
                                 who[w]->token, NULL);
            if (r.status != cases[c].expect[w])
                fail_msg("require(%s) as %s: expected %ld, got %ld: %s",
                         cases[c].roles, names[w],
                         cases[c].expect[w], r.status, r.body);
            if (r.status == 403)
                tqt_assert_error(&r, 403, "forbidden");
            tqt_resp_free(&r);
        }
    /* Non-members, unknown and malformed ids: 404, never 403 or 500. */
    const char *gids[] = {hh.gid, "00000000-0000-4000-8000-000000000000",
                          "not-a-uuid", "'; DROP TABLE groups.groups; --"};
    for (size_t i = 0; i < 4; i++) {
        tqt_resp r = tqt_req(host, "GET",
                             pathf("/v1/probe/groups/%s?roles=owner",
                                   i == 3 ? "x%27%3B%20DROP" : gids[i]),
                             i == 0 ? hh.stranger.token : hh.owner.token, NULL);
        tqt_assert_error(&r, 404, "not_found");
        tqt_resp_free(&r);
    }
    gt_house_free(&hh);
}

/* Polls the probe's record of group.* events until n have arrived. */
static json_t *events_of(const tqt_user *u, const char *gid, size_t n)
{
    for (int t = 0; t < 200; t++) {
        tqt_resp r = tqt_req(host, "GET",
                             pathf("/v1/probe/events?group_id=%s", gid),
                             u->token, NULL);
        gt_expect(&r, 200, "probe events");
        json_t *items = json_incref(json_object_get(r.json, "items"));
        tqt_resp_free(&r);
        if (json_array_size(items) >= n)
            return items;
        json_decref(items);
        usleep(50000);
    }
    fail_msg("fewer than %zu group events arrived for %s", n, gid);
    return NULL;
}

static void expect_event(json_t *ev, const char *type, const char *actor,
                         const char *subject, const char *summary_part)
{
    json_t *p = json_object_get(ev, "payload");
    if (strcmp(s_of(ev, "type"), type) != 0)
        fail_msg("expected event %s, got %s", type, s_of(ev, "type"));
    if (actor)
        assert_string_equal(s_of(ev, "actor_id"), actor);
    assert_string_equal(s_of(p, "subject_id"), subject);
    const char *summary = s_of(p, "summary");
    assert_non_null(summary);
    if (!strstr(summary, summary_part))
        fail_msg("%s summary \"%s\" lacks \"%s\"", type, summary,
                 summary_part);
    assert_null(strchr(summary, '\n'));
}

static void events_reach_subscribers(void **state)
{
    (void)state;
    tqt_user o = tqt_register(host, "Alice"), b = tqt_register(host, "Bob");
    char *gid = gt_create_group(host, &o, "Event House");
    char *code = gt_invite(host, &o, gid, "{\"role\":\"member\"}");
    gt_accept(host, &b, code);
    assert_int_equal(gt_status(host, "PATCH",
                               pathf("/v1/groups/%s/members/%s", gid, b.id),
                               &o, "{\"role\":\"admin\"}"),
                     200);
    assert_int_equal(gt_status(host, "PATCH", pathf("/v1/groups/%s", gid), &b,
                               "{\"name\":\"Event Home\"}"),
                     200);
    /* A no-op edit emits nothing. */
    assert_int_equal(gt_status(host, "PATCH", pathf("/v1/groups/%s", gid), &b,
                               "{\"name\":\"Event Home\"}"),
                     200);
    char body[96];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", b.id);
    assert_int_equal(gt_status(host, "POST",
                               pathf("/v1/groups/%s/transfer-ownership", gid),
                               &o, body),
                     200);
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/members/%s", gid, o.id),
                               &o, NULL),
                     204);
    /* A rolled-back change emits nothing: a refused removal. */
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/members/%s", gid, b.id),
                               &b, NULL),
                     409);

    json_t *ev = events_of(&b, gid, 7);
    assert_int_equal(json_array_size(ev), 7);
    expect_event(json_array_get(ev, 0), "group.created", o.id, gid,
                 "Alice created the group Event House");
    expect_event(json_array_get(ev, 1), "group.member_joined", b.id, b.id,
                 "Bob joined the group");
    json_t *p = json_object_get(json_array_get(ev, 1), "payload");
    assert_string_equal(s_of(p, "user_id"), b.id);
    assert_string_equal(s_of(p, "role"), "member");
    expect_event(json_array_get(ev, 2), "group.member_role_changed", o.id,
                 b.id, "Alice made Bob an admin");
    p = json_object_get(json_array_get(ev, 2), "payload");
    assert_string_equal(s_of(p, "old_role"), "member");
    assert_string_equal(s_of(p, "role"), "admin");
    expect_event(json_array_get(ev, 3), "group.updated", b.id, gid,
                 "Bob renamed the group to Event Home");
    expect_event(json_array_get(ev, 4), "group.member_role_changed", o.id,
                 b.id, "Alice handed ownership of the group to Bob");
    p = json_object_get(json_array_get(ev, 4), "payload");
    assert_string_equal(s_of(p, "role"), "owner");
    expect_event(json_array_get(ev, 5), "group.member_role_changed", o.id,
                 o.id, "Alice is now an admin");
    expect_event(json_array_get(ev, 6), "group.member_left", o.id, o.id,
                 "Alice left the group");
    p = json_object_get(json_array_get(ev, 6), "payload");
    assert_true(json_is_null(json_object_get(p, "removed_by")));
    assert_string_equal(s_of(p, "role"), "admin");
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(s_of(json_array_get(ev, i), "group_id"), gid);
    json_decref(ev);

    /* group.deleted carries the group id; nothing else arrives between. */
    assert_int_equal(gt_status(host, "DELETE", pathf("/v1/groups/%s", gid), &b,
                               NULL),
                     204);
    ev = events_of(&b, gid, 8);
    assert_int_equal(json_array_size(ev), 8);
    expect_event(json_array_get(ev, 7), "group.deleted", b.id, gid,
                 "Bob deleted the group Event Home");
    p = json_object_get(json_array_get(ev, 7), "payload");
    assert_string_equal(s_of(p, "group_id"), gid);
    json_decref(ev);
    free(code);
    free(gid);
    tqt_user_free(&o);
    tqt_user_free(&b);
}

static void removal_event_names_the_remover(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/members/%s", hh.gid,
                                     hh.landlord2.id),
                               &hh.admin, NULL),
                     204);
    /* 1 created + 6 joined + 2 promoted + 1 left */
    json_t *ev = events_of(&hh.owner, hh.gid, 10);
    json_t *last = json_array_get(ev, json_array_size(ev) - 1);
    expect_event(last, "group.member_left", hh.admin.id, hh.landlord2.id,
                 "Adam Admin removed Lea Landlord from the group");
    json_t *p = json_object_get(last, "payload");
    assert_string_equal(s_of(p, "removed_by"), hh.admin.id);
    assert_string_equal(s_of(p, "role"), "landlord");
    json_decref(ev);
    gt_house_free(&hh);
}

/* A group's deletion reaches the other plugin: its rows for the group go
 * (by its group.deleted subscriber), and none of it is readable. */
static void deletion_cleans_other_plugins(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    char *keep = gt_create_group(host, &hh.owner, "Kept House");
    tqt_resp r = tqt_req(host, "POST", pathf("/v1/probe/groups/%s/notes", hh.gid),
                         hh.member.token, "{\"body\":\"buy milk\"}");
    gt_expect(&r, 201, "note");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", pathf("/v1/probe/groups/%s/notes", keep),
                hh.owner.token, "{\"body\":\"keep me\"}");
    gt_expect(&r, 201, "note in kept group");
    tqt_resp_free(&r);
    /* require(TENANT) keeps the landlord out of the probe's notes. */
    r = tqt_req(host, "POST", pathf("/v1/probe/groups/%s/notes", hh.gid),
                hh.landlord.token, "{\"body\":\"nope\"}");
    tqt_assert_error(&r, 403, "forbidden");
    tqt_resp_free(&r);

    assert_int_equal(gt_status(host, "DELETE", pathf("/v1/groups/%s", hh.gid),
                               &hh.owner, NULL),
                     204);
    /* Unreadable at once, through every plugin. */
    assert_int_equal(gt_status(host, "GET",
                               pathf("/v1/probe/groups/%s/notes", hh.gid),
                               &hh.member, NULL),
                     404);
    assert_int_equal(gt_status(host, "GET", pathf("/v1/probe/groups/%s", hh.gid),
                               &hh.owner, NULL),
                     404);
    /* And gone from the other plugin's schema once group.deleted is
     * delivered. */
    char *n = NULL;
    for (int t = 0; t < 200; t++) {
        free(n);
        n = tqt_sql(host,
                    "SELECT count(*) FROM memberprobe.notes WHERE group_id='%s'",
                    hh.gid);
        if (strcmp(n, "0") == 0)
            break;
        usleep(50000);
    }
    assert_string_equal(n, "0");
    free(n);
    n = tqt_sql(host,
                "SELECT count(*) FROM memberprobe.notes WHERE group_id='%s'",
                keep);
    assert_string_equal(n, "1");
    free(n);
    free(keep);
    gt_house_free(&hh);
}

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = GT_PLUGINS_PROBE};
    host = tqt_start("groups_service", &o);
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
        cmocka_unit_test(probe_reports_membership),
        cmocka_unit_test(require_checks_roles),
        cmocka_unit_test(events_reach_subscribers),
        cmocka_unit_test(removal_event_names_the_remover),
        cmocka_unit_test(deletion_cleans_other_plugins),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
