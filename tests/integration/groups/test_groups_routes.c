/*
 * test_groups_routes.c - every route of the groups plugin over HTTP:
 * shapes, defaults, validation, listing with cursors, deletion, the 404
 * every non-member gets on every group route, and the plugin's config.
 */
#include "gt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static tqt_host *host;

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
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

static const char *error_field(const tqt_resp *r)
{
    return json_string_value(
        json_object_get(json_object_get(r->json, "error"), "field"));
}

static void expect_invalid(tqt_resp *r, const char *field)
{
    tqt_assert_error(r, 400, "validation_failed");
    if (!error_field(r) || strcmp(error_field(r), field) != 0)
        fail_msg("expected field %s: %s", field, r->body);
    tqt_resp_free(r);
}

/* ---------------------------------------------------------------- create */

static void create_defaults_and_shape(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Cleo Create");
    tqt_resp r = tqt_req(host, "POST", "/v1/groups", u.token,
                         "{\"name\":\"Flat 3\"}");
    gt_expect(&r, 201, "create");
    assert_true(strlen(tqt_str(&r, "id")) == 36);
    assert_string_equal(tqt_str(&r, "name"), "Flat 3");
    assert_string_equal(tqt_str(&r, "timezone"), "UTC");
    assert_string_equal(tqt_str(&r, "currency"), "USD");
    assert_string_equal(tqt_str(&r, "role"), "owner");
    long age = -gt_seconds_until(tqt_str(&r, "created_at"));
    assert_true(age >= -5 && age < 60);
    char *role = gt_role_in_db(host, tqt_str(&r, "id"), u.id);
    assert_string_equal(role, "owner");
    free(role);
    tqt_resp_free(&r);

    r = tqt_req(host, "POST", "/v1/groups", u.token,
                "{\"name\":\"Wohnung \\u00e4\",\"timezone\":"
                "\"Europe/Berlin\",\"currency\":\"EUR\"}");
    gt_expect(&r, 201, "create with fields");
    assert_string_equal(tqt_str(&r, "name"), "Wohnung \xc3\xa4");
    assert_string_equal(tqt_str(&r, "timezone"), "Europe/Berlin");
    assert_string_equal(tqt_str(&r, "currency"), "EUR");
    tqt_resp_free(&r);
    tqt_user_free(&u);
}

static void create_validation(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Vic Validate");
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "name"},
        {"{\"name\":null}", "name"},
        {"{\"name\":\"\"}", "name"},
        {"{\"name\":\"   \"}", "name"},
        {"{\"name\":\"two\\nlines\"}", "name"},
        {"{\"name\":42}", "name"},
        {"{\"name\":\"x\",\"timezone\":\"Mars/Olympus_Mons\"}", "timezone"},
        {"{\"name\":\"x\",\"timezone\":\"europe/berlin\"}", "timezone"},
        {"{\"name\":\"x\",\"timezone\":7}", "timezone"},
        {"{\"name\":\"x\",\"currency\":\"usd\"}", "currency"},
        {"{\"name\":\"x\",\"currency\":\"XXX\"}", "currency"},
        {"{\"name\":\"x\",\"currency\":\"EURO\"}", "currency"},
        {"{\"name\":\"x\",\"currency\":978}", "currency"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tqt_resp r = tqt_req(host, "POST", "/v1/groups", u.token, "%s",
                             bad[i].body);
        expect_invalid(&r, bad[i].field);
    }
    char name[120];
    memset(name, 'n', 101);
    name[101] = '\0';
    tqt_resp r = tqt_req(host, "POST", "/v1/groups", u.token,
                         "{\"name\":\"%s\"}", name);
    expect_invalid(&r, "name");
    name[100] = '\0'; /* exactly 100 is fine */
    r = tqt_req(host, "POST", "/v1/groups", u.token, "{\"name\":\"%s\"}",
                name);
    gt_expect(&r, 201, "100-character name");
    tqt_resp_free(&r);
    char *n = tqt_sql(host,
                      "SELECT count(*) FROM groups.groups WHERE created_by='%s'",
                      u.id);
    assert_string_equal(n, "1");
    free(n);
    tqt_user_free(&u);
}

static void auth_is_required(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(host, "POST", "/v1/groups", NULL, "{\"name\":\"x\"}");
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(host, "GET", "/v1/groups", NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/invites/AAAA-BBBB-CCCC-DDDD/accept", NULL,
                NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
}

/* ------------------------------------------------------------------ list */

static void list_pages_newest_first(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Lee List"), other = tqt_register(host, "Ola");
    char *g[4];
    g[0] = gt_create_group(host, &u, "First");
    g[1] = gt_create_group(host, &u, "Second");
    char *og = gt_create_group(host, &other, "Theirs");
    char *code = gt_invite(host, &other, og, NULL);
    gt_accept(host, &u, code);
    g[2] = og;
    g[3] = gt_create_group(host, &u, "Fourth");
    /* Newest membership first: Fourth, Theirs, Second, First. */
    const char *want[] = {g[3], g[2], g[1], g[0]};
    const char *want_role[] = {"owner", "member", "owner", "owner"};

    char *cursor = NULL;
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        tqt_resp r = cursor ? tqt_req(host, "GET",
                                      pathf("/v1/groups?limit=3&cursor=%s",
                                            cursor),
                                      u.token, NULL)
                            : tqt_req(host, "GET", "/v1/groups?limit=3",
                                      u.token, NULL);
        gt_expect(&r, 200, "list");
        json_t *items = json_object_get(r.json, "items");
        json_t *next = json_object_get(r.json, "next_cursor");
        assert_non_null(next);
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *it = json_array_get(items, i);
            assert_true(seen < 4);
            assert_string_equal(json_string_value(json_object_get(it, "id")),
                                want[seen]);
            assert_string_equal(
                json_string_value(json_object_get(it, "role")),
                want_role[seen]);
            assert_non_null(json_object_get(it, "name"));
            assert_non_null(json_object_get(it, "currency"));
            assert_non_null(json_object_get(it, "timezone"));
            assert_null(json_object_get(it, "k"));
        }
        free(cursor);
        cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
        assert_int_equal(json_array_size(items), page == 0 ? 3 : 1);
        tqt_resp_free(&r);
        if (!cursor)
            break;
    }
    assert_int_equal(seen, 4);
    assert_null(cursor);

    /* Default page, and a user with no groups. */
    tqt_resp r = tqt_req(host, "GET", "/v1/groups", u.token, NULL);
    gt_expect(&r, 200, "list default");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 4);
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    tqt_resp_free(&r);
    tqt_user lonely = tqt_register(host, "Lonely");
    r = tqt_req(host, "GET", "/v1/groups", lonely.token, NULL);
    gt_expect(&r, 200, "list empty");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    tqt_resp_free(&r);

    const char *bad[] = {"/v1/groups?limit=0", "/v1/groups?limit=101",
                         "/v1/groups?limit=x", "/v1/groups?cursor=garbage",
                         "/v1/groups?cursor=12.not-a-uuid",
                         "/v1/groups?cursor=1.00000000-0000-4000-8000-000000000000x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = tqt_req(host, "GET", bad[i], u.token, NULL);
        tqt_assert_error(&r, 400, "validation_failed");
        tqt_resp_free(&r);
    }
    for (int i = 0; i < 4; i++)
        free(g[i]);
    free(code);
    tqt_user_free(&u);
    tqt_user_free(&other);
    tqt_user_free(&lonely);
}

/* ------------------------------------------------------------ get, patch */

static void get_has_members(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    tqt_resp r = tqt_req(host, "GET", pathf("/v1/groups/%s", hh.gid),
                         hh.landlord.token, NULL);
    gt_expect(&r, 200, "get");
    assert_string_equal(tqt_str(&r, "id"), hh.gid);
    assert_string_equal(tqt_str(&r, "name"), "Flat 3");
    assert_string_equal(tqt_str(&r, "role"), "landlord");
    assert_non_null(tqt_str(&r, "created_at"));
    json_t *m = json_object_get(r.json, "members");
    assert_int_equal(json_array_size(m), 7);
    json_t *first = json_array_get(m, 0);
    assert_string_equal(json_string_value(json_object_get(first, "user_id")),
                        hh.owner.id);
    assert_string_equal(json_string_value(json_object_get(first, "role")),
                        "owner");
    assert_string_equal(
        json_string_value(json_object_get(first, "display_name")),
        "Olivia Owner");
    assert_non_null(json_string_value(json_object_get(first, "joined_at")));
    int landlords = 0;
    for (size_t i = 0; i < json_array_size(m); i++)
        landlords += strcmp(json_string_value(json_object_get(
                                json_array_get(m, i), "role")),
                            "landlord") == 0;
    assert_int_equal(landlords, 2);
    tqt_resp_free(&r);
    /* Upper-case ids are the same group. */
    char upper[40];
    for (int i = 0; i < 37; i++)
        upper[i] = (char)(hh.gid[i] >= 'a' && hh.gid[i] <= 'f'
                              ? hh.gid[i] - 32
                              : hh.gid[i]);
    assert_int_equal(gt_status(host, "GET", pathf("/v1/groups/%s", upper),
                               &hh.member, NULL),
                     200);
    gt_house_free(&hh);
}

static void patch_edits_and_validates(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    const char *p = pathf("/v1/groups/%s", hh.gid);
    tqt_resp r = tqt_req(host, "PATCH", p, hh.admin.token,
                         "{\"timezone\":\"America/New_York\"}");
    gt_expect(&r, 200, "patch timezone");
    assert_string_equal(tqt_str(&r, "timezone"), "America/New_York");
    assert_string_equal(tqt_str(&r, "name"), "Flat 3");
    assert_string_equal(tqt_str(&r, "role"), "admin");
    assert_int_equal(json_array_size(json_object_get(r.json, "members")), 7);
    tqt_resp_free(&r);

    r = tqt_req(host, "PATCH", p, hh.owner.token,
                "{\"name\":\"Flat 4\",\"currency\":\"GBP\"}");
    gt_expect(&r, 200, "patch name+currency");
    assert_string_equal(tqt_str(&r, "name"), "Flat 4");
    assert_string_equal(tqt_str(&r, "currency"), "GBP");
    assert_string_equal(tqt_str(&r, "timezone"), "America/New_York");
    tqt_resp_free(&r);

    r = tqt_req(host, "PATCH", p, hh.owner.token, "{}");
    gt_expect(&r, 200, "empty patch");
    assert_string_equal(tqt_str(&r, "name"), "Flat 4");
    tqt_resp_free(&r);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"name\":null}", "name"},
        {"{\"name\":\"\"}", "name"},
        {"{\"name\":\" \"}", "name"},
        {"{\"timezone\":null}", "timezone"},
        {"{\"timezone\":\"Nowhere/Town\"}", "timezone"},
        {"{\"currency\":null}", "currency"},
        {"{\"currency\":\"eur\"}", "currency"},
        {"{\"name\":\"ok\",\"currency\":\"EUX\"}", "currency"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = tqt_req(host, "PATCH", p, hh.owner.token, "%s", bad[i].body);
        expect_invalid(&r, bad[i].field);
    }
    char *row = tqt_sql(host,
                        "SELECT name || '|' || timezone || '|' || currency"
                        "  FROM groups.groups WHERE id='%s'",
                        hh.gid);
    assert_string_equal(row, "Flat 4|America/New_York|GBP");
    free(row);
    gt_house_free(&hh);
}

/* ---------------------------------------------------------------- delete */

static void delete_leaves_nothing(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    char *code = gt_invite(host, &hh.owner, hh.gid, "{\"max_uses\":10}");
    assert_int_equal(gt_status(host, "DELETE", pathf("/v1/groups/%s", hh.gid),
                               &hh.owner, NULL),
                     204);
    const tqt_user *all[] = {&hh.owner, &hh.admin, &hh.member, &hh.landlord};
    for (int i = 0; i < 4; i++) {
        tqt_resp r = tqt_req(host, "GET", pathf("/v1/groups/%s", hh.gid),
                             all[i]->token, NULL);
        tqt_assert_error(&r, 404, "not_found");
        tqt_resp_free(&r);
        r = tqt_req(host, "GET", "/v1/groups", all[i]->token, NULL);
        gt_expect(&r, 200, "list after delete");
        assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
        tqt_resp_free(&r);
    }
    assert_int_equal(gt_status(host, "GET", pathf("/v1/invites/%s", code),
                               NULL, NULL),
                     404);
    assert_int_equal(gt_status(host, "POST",
                               pathf("/v1/invites/%s/accept", code),
                               &hh.stranger, NULL),
                     404);
    assert_int_equal(gt_status(host, "DELETE", pathf("/v1/groups/%s", hh.gid),
                               &hh.owner, NULL),
                     404);
    char *n = tqt_sql(host,
                      "SELECT (SELECT count(*) FROM groups.groups WHERE id='%s')"
                      " + (SELECT count(*) FROM groups.members WHERE group_id='%s')"
                      " + (SELECT count(*) FROM groups.invites WHERE group_id='%s')",
                      hh.gid, hh.gid, hh.gid);
    assert_string_equal(n, "0");
    free(n);
    free(code);
    gt_house_free(&hh);
}

/* ------------------------------------------------------- non-members: 404 */

static void check_404(const char *method, const char *path,
                      const tqt_user *who, const char *body)
{
    tqt_resp r = body ? tqt_req(host, method, path, who->token, "%s", body)
                      : tqt_req(host, method, path, who->token, NULL);
    if (r.status != 404)
        fail_msg("%s %s by a non-member: %ld %s", method, path, r.status,
                 r.body);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
}

/* Every route under /v1/groups/{gid}, with bodies that would be valid
 * (and some that would not: the 404 comes first). */
static void expect_404s(const gt_house *hh, const char *gid, const char *code,
                        const tqt_user *who)
{
    char body[96];
    snprintf(body, sizeof body, "{\"user_id\":\"%s\"}", hh->member.id);
    check_404("GET", pathf("/v1/groups/%s", gid), who, NULL);
    check_404("PATCH", pathf("/v1/groups/%s", gid), who,
              "{\"name\":\"Mine now\"}");
    check_404("PATCH", pathf("/v1/groups/%s", gid), who, "{\"name\":5}");
    check_404("DELETE", pathf("/v1/groups/%s", gid), who, NULL);
    check_404("POST", pathf("/v1/groups/%s/transfer-ownership", gid), who,
              body);
    check_404("POST", pathf("/v1/groups/%s/transfer-ownership", gid), who,
              "{}");
    check_404("POST", pathf("/v1/groups/%s/invites", gid), who, "{}");
    check_404("POST", pathf("/v1/groups/%s/invites", gid), who,
              "{\"role\":\"admin\"}");
    check_404("DELETE", pathf("/v1/groups/%s/invites/%s", gid, code), who,
              NULL);
    check_404("PATCH", pathf("/v1/groups/%s/members/%s", gid, hh->member.id),
              who, "{\"role\":\"landlord\"}");
    check_404("DELETE", pathf("/v1/groups/%s/members/%s", gid, hh->member.id),
              who, NULL);
    check_404("DELETE", pathf("/v1/groups/%s/members/%s", gid, who->id), who,
              NULL);
    check_404("PATCH", pathf("/v1/groups/%s/members/%s", gid, who->id), who,
              "{\"role\":\"admin\"}");
}

static void non_members_get_404_everywhere(void **state)
{
    (void)state;
    gt_house hh;
    gt_house_init(host, &hh);
    char *code = gt_invite(host, &hh.owner, hh.gid, "{\"max_uses\":10}");

    /* A stranger, and a member of another group. */
    expect_404s(&hh, hh.gid, code, &hh.stranger);
    tqt_user other = tqt_register(host, "Otto Other");
    char *og = gt_create_group(host, &other, "Elsewhere");
    expect_404s(&hh, hh.gid, code, &other);

    /* Nothing changed. */
    char *row = tqt_sql(host,
                        "SELECT name || '|' || (SELECT count(*) FROM"
                        " groups.members WHERE group_id = g.id)"
                        "  FROM groups.groups g WHERE id='%s'",
                        hh.gid);
    assert_string_equal(row, "Flat 3|7");
    free(row);
    assert_int_equal(gt_status(host, "GET", pathf("/v1/invites/%s", code),
                               NULL, NULL),
                     200);

    /* A member who was removed is a stranger again. */
    assert_int_equal(gt_status(host, "DELETE",
                               pathf("/v1/groups/%s/members/%s", hh.gid,
                                     hh.member2.id),
                               &hh.admin, NULL),
                     204);
    expect_404s(&hh, hh.gid, code, &hh.member2);

    /* A group that does not exist, and ids that are not ids: 404 too,
     * even for a member of other groups. */
    expect_404s(&hh, "00000000-0000-4000-8000-000000000000", code, &hh.owner);
    expect_404s(&hh, "not-a-uuid", code, &hh.owner);
    expect_404s(&hh, "00000000-0000-4000-8000-00000000000g", code, &hh.owner);

    free(og);
    free(code);
    tqt_user_free(&other);
    gt_house_free(&hh);
}

/* ---------------------------------------------------------------- config */

static void config_sets_defaults(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = "  - name: groups\n"
                                  "    enabled: true\n"
                                  "    config:\n"
                                  "      default_currency: EUR\n"
                                  "      invite_ttl_hours: 2\n"
                                  "      invite_max_uses: \"3\"\n"};
    tqt_host *h = tqt_start("groups_config", &o);
    tqt_user u = tqt_register(h, "Conf");
    tqt_resp r = tqt_req(h, "POST", "/v1/groups", u.token,
                         "{\"name\":\"Configured\"}");
    gt_expect(&r, 201, "create");
    assert_string_equal(tqt_str(&r, "currency"), "EUR");
    char *gid = strdup(tqt_str(&r, "id"));
    tqt_resp_free(&r);
    r = tqt_req(h, "POST", pathf("/v1/groups/%s/invites", gid), u.token, "{}");
    gt_expect(&r, 201, "invite");
    long left = gt_seconds_until(tqt_str(&r, "expires_at"));
    assert_true(left > 2 * 3600 - 120 && left <= 2 * 3600 + 5);
    assert_int_equal(json_integer_value(json_object_get(r.json, "max_uses")), 3);
    tqt_resp_free(&r);
    free(gid);
    tqt_user_free(&u);
    assert_int_equal(tqt_stop(h), 0);
}

/* A wrong setting stops start-up with a message naming it. */
static void bad_config_stops_start_up(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *needle;
    } cases[] = {
        {"      colour: blue\n", "config.colour: unknown setting"},
        {"      default_currency: euro\n",
         "config.default_currency: expected an ISO 4217 currency code such "
         "as"},
        {"      default_currency: 978\n",
         "config.default_currency: expected a string of 1 to 16 bytes, got "
         "978"},
        {"      default_currency: XYZ\n",
         "config.default_currency: expected an ISO 4217"},
        {"      invite_ttl_hours: 0\n",
         "config.invite_ttl_hours: expected an integer from 1 to 8760, got 0"},
        {"      invite_max_uses: many\n",
         "config.invite_max_uses: expected an integer from 1 to 1000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml,
                 "  - name: groups\n    enabled: true\n    config:\n%s",
                 cases[i].yaml);
        tqt_opts o = {.plugins_yaml = yaml, .no_wait = 1};
        tqt_host *h = tqt_start("groups_badconf", &o);
        bool found = false;
        for (int t = 0; t < 300 && !found; t++) {
            FILE *f = fopen(tqt_log_path(h), "r");
            char line[1024];
            while (f && fgets(line, sizeof line, f))
                found |= strstr(line, cases[i].needle) != NULL;
            if (f)
                fclose(f);
            if (!found)
                usleep(50000);
        }
        if (!found)
            fail_msg("no message naming %s in %s", cases[i].needle,
                     tqt_log_path(h));
        /* It never becomes ready: nothing answers on its port. */
        tqt_resp r = tqt_req(h, "GET", "/readyz", NULL, NULL);
        assert_true(r.status != 200);
        tqt_resp_free(&r);
        assert_int_not_equal(tqt_stop(h), 0);
    }
}

static int setup(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = GT_PLUGINS_GROUPS};
    host = tqt_start("groups_routes", &o);
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
        cmocka_unit_test(create_defaults_and_shape),
        cmocka_unit_test(create_validation),
        cmocka_unit_test(auth_is_required),
        cmocka_unit_test(list_pages_newest_first),
        cmocka_unit_test(get_has_members),
        cmocka_unit_test(patch_edits_and_validates),
        cmocka_unit_test(delete_leaves_nothing),
        cmocka_unit_test(non_members_get_404_everywhere),
        cmocka_unit_test(config_sets_defaults),
        cmocka_unit_test(bad_config_stops_start_up),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
