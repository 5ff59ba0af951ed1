/*
 * test_auth_accounts.c - register, login and /v1/me over HTTP against the
 * real tasqlyd and PostgreSQL: every success and failure status, field
 * validation, case-insensitive emails, what the database keeps (hashes,
 * never secrets), and re-hashing when the scrypt parameters changed.
 */
/* auth.h (tasqly.h) before cmocka.h: cmocka defines a fail() macro. */
#include "auth.h"
#include "at.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *host;

static int setup(void **state)
{
    (void)state;
    host = at_start("auth_accounts");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tqt_stop(host) == 0 ? 0 : -1;
}

static bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
                                                      : !strchr("0123456789abcdef", s[i]))
            return false;
    return true;
}

static void register_returns_a_session(void **state)
{
    (void)state;
    char *email = at_email("Reg");
    tqt_resp r = at_register(host, email, AT_PASSWORD, "Ann");
    at_expect(&r, 201, "register");
    json_t *u = json_object_get(r.json, "user");
    const char *id = json_string_value(json_object_get(u, "id"));
    assert_true(is_uuid(id));
    assert_string_equal(json_string_value(json_object_get(u, "email")), email);
    assert_string_equal(json_string_value(json_object_get(u, "display_name")),
                        "Ann");
    assert_true(json_is_null(json_object_get(u, "avatar_media_id")));
    const char *created = json_string_value(json_object_get(u, "created_at"));
    assert_non_null(created);
    assert_int_equal(strlen(created), 20); /* 2026-12-04T15:00:00Z */
    assert_int_equal(created[19], 'Z');
    assert_null(json_object_get(u, "password_hash"));
    assert_null(json_object_get(u, "password"));

    const char *access = tqt_str(&r, "access_token");
    const char *refresh = tqt_str(&r, "refresh_token");
    assert_non_null(access);
    assert_non_null(refresh);
    assert_int_equal(strlen(refresh), 43);
    assert_string_equal(tqt_str(&r, "token_type"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")),
                     900);

    /* The database keeps a PHC scrypt string and a SHA-256 of the
     * refresh token, never the password or the token. */
    char *phc = tqt_sql(host, "SELECT password_hash FROM tasqly.users"
                              " WHERE id = '%s'", id);
    assert_true(strncmp(phc, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    assert_null(strstr(phc, AT_PASSWORD));
    free(phc);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE user_id ="
                                      " '%s' AND token_hash ="
                                      " sha256(convert_to('%s', 'UTF8'))",
                                id, refresh), 1);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE"
                                      " position(convert_to('%s', 'UTF8') IN"
                                      " token_hash) > 0",
                                refresh), 0);

    /* The access token works at once. */
    char *who = NULL;
    assert_int_equal(at_whoami(host, access, &who), 200);
    assert_string_equal(who, id);
    free(who);
    tqt_resp_free(&r);
    free(email);
}

typedef struct bad_case {
    const char *body, *field;
} bad_case;

static void register_validates_every_field(void **state)
{
    (void)state;
    char long_pw[1100], long_name[100];
    memset(long_pw, 'x', 1025);
    long_pw[1025] = '\0';
    memset(long_name, 'n', 81);
    long_name[81] = '\0';
    char b1[1300], b2[300];
    snprintf(b1, sizeof b1,
             "{\"email\":\"lp@example.com\",\"password\":\"%s\","
             "\"display_name\":\"A\"}", long_pw);
    snprintf(b2, sizeof b2,
             "{\"email\":\"ln@example.com\",\"password\":\"" AT_PASSWORD "\","
             "\"display_name\":\"%s\"}", long_name);
    const bad_case cases[] = {
        {"{\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":null,\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":42,\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"no-at-sign\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"a@b@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"a b@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"ann@localhost\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"ann@example.com.\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"A\"}", "email"},
        {"{\"email\":\"p1@example.com\",\"display_name\":\"A\"}", "password"},
        {"{\"email\":\"p2@example.com\",\"password\":\"123456789\",\"display_name\":\"A\"}", "password"},
        {"{\"email\":\"p3@example.com\",\"password\":true,\"display_name\":\"A\"}", "password"},
        {b1, "password"},
        {"{\"email\":\"d1@example.com\",\"password\":\"" AT_PASSWORD "\"}", "display_name"},
        {"{\"email\":\"d2@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"\"}", "display_name"},
        {"{\"email\":\"d3@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"   \"}", "display_name"},
        {"{\"email\":\"d4@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":\"a\\u0007b\"}", "display_name"},
        {"{\"email\":\"d5@example.com\",\"password\":\"" AT_PASSWORD "\",\"display_name\":[\"A\"]}", "display_name"},
        {b2, "display_name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tqt_resp r = tqt_req(host, "POST", "/v1/auth/register", NULL, "%s",
                             cases[i].body);
        char what[64];
        snprintf(what, sizeof what, "register case %zu", i);
        at_expect_field(&r, cases[i].field, what);
        tqt_resp_free(&r);
    }
    /* Nothing half-made. */
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM tasqly.users"
                                      " WHERE email IN ('lp@example.com',"
                                      " 'ln@example.com', 'p2@example.com',"
                                      " 'd2@example.com')"), 0);

    /* Malformed JSON and a non-object body are 400 bad_request. */
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/register", NULL, "{\"email\":");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/register", NULL, "[]");
    tqt_assert_error(&r, 400, NULL);
    tqt_resp_free(&r);

    /* Auth bodies are small: over 16 KiB is refused before parsing. */
    size_t big = 17 * 1024;
    char *body = malloc(big + 100);
    int n = snprintf(body, 100, "{\"email\":\"big@example.com\","
                                "\"display_name\":\"A\",\"password\":\"");
    memset(body + n, 'x', big);
    strcpy(body + n + big, "\"}");
    r = tqt_req_raw(host, "POST", "/v1/auth/register", NULL,
                    "application/json", body, strlen(body), NULL);
    tqt_assert_error(&r, 413, "payload_too_large");
    tqt_resp_free(&r);
    free(body);
}

static void register_limits_are_inclusive(void **state)
{
    (void)state;
    /* 10 characters, counted as characters: ten 2-byte letters. */
    char *e1 = at_email("edge1"), *e2 = at_email("edge2");
    tqt_resp r = at_register(host, e1, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                       "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                             "X");
    at_expect(&r, 201, "10-character password");
    tqt_resp_free(&r);

    char pw[1025], name[200];
    memset(pw, 'p', 1024);
    pw[1024] = '\0';
    name[0] = '\0';
    for (int i = 0; i < 80; i++)
        strcat(name, "\xc3\xbc"); /* 80 characters, 160 bytes */
    r = at_register(host, e2, pw, name);
    at_expect(&r, 201, "1024-character password, 80-character name");
    json_t *u = json_object_get(r.json, "user");
    assert_string_equal(json_string_value(json_object_get(u, "display_name")),
                        name);
    tqt_resp_free(&r);
    char *refresh = at_login_ok(host, e2, pw, NULL);
    free(refresh);

    /* Leading and trailing spaces of a display name are not kept. */
    char *e3 = at_email("edge3");
    r = at_register(host, e3, AT_PASSWORD, "  Bea  ");
    at_expect(&r, 201, "padded name");
    u = json_object_get(r.json, "user");
    assert_string_equal(json_string_value(json_object_get(u, "display_name")),
                        "Bea");
    tqt_resp_free(&r);
    free(e1);
    free(e2);
    free(e3);
}

static void register_conflict_ignores_case(void **state)
{
    (void)state;
    char email[128], upper[128];
    snprintf(email, sizeof email, "case.%s@example.com", tqt_unique());
    snprintf(upper, sizeof upper, "%s", email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 32);
    tqt_resp r = at_register(host, email, AT_PASSWORD, "First");
    at_expect(&r, 201, "first registration");
    tqt_resp_free(&r);
    r = at_register(host, upper, AT_PASSWORD, "Second");
    tqt_assert_error(&r, 409, "conflict");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r.json, "error"), "field")),
                        "email");
    tqt_resp_free(&r);
    r = at_register(host, email, "another password", "Third");
    tqt_assert_error(&r, 409, "conflict");
    tqt_resp_free(&r);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM tasqly.users"
                                      " WHERE lower(email) = lower('%s')",
                                email), 1);

    /* Login with the email in another case finds the account. */
    char *refresh = at_login_ok(host, upper, AT_PASSWORD, NULL);
    free(refresh);
}

static void login_answers(void **state)
{
    (void)state;
    char *email = at_email("login");
    tqt_resp r = at_register(host, email, AT_PASSWORD, "Cy");
    at_expect(&r, 201, "register");
    char *id = strdup(json_string_value(
        json_object_get(json_object_get(r.json, "user"), "id")));
    tqt_resp_free(&r);

    r = at_login(host, email, AT_PASSWORD);
    at_expect(&r, 200, "login");
    json_t *u = json_object_get(r.json, "user");
    assert_string_equal(json_string_value(json_object_get(u, "id")), id);
    assert_string_equal(json_string_value(json_object_get(u, "email")), email);
    assert_null(json_object_get(u, "password_hash"));
    assert_non_null(tqt_str(&r, "access_token"));
    assert_int_equal(strlen(tqt_str(&r, "refresh_token")), 43);
    char *who = NULL;
    assert_int_equal(at_whoami(host, tqt_str(&r, "access_token"), &who), 200);
    assert_string_equal(who, id);
    free(who);
    tqt_resp_free(&r);

    /* Wrong password and unknown email: the same 401, same message. */
    tqt_resp wrong = at_login(host, email, "not the password");
    tqt_assert_error(&wrong, 401, "unauthorized");
    char *ghost = at_email("ghost");
    tqt_resp unknown = at_login(host, ghost, AT_PASSWORD);
    tqt_assert_error(&unknown, 401, "unauthorized");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(wrong.json, "error"),
                                          "message")),
        json_string_value(json_object_get(json_object_get(unknown.json, "error"),
                                          "message")));
    tqt_resp_free(&wrong);
    tqt_resp_free(&unknown);

    /* Validation. */
    r = tqt_req(host, "POST", "/v1/auth/login", NULL,
                "{\"password\":\"" AT_PASSWORD "\"}");
    at_expect_field(&r, "email", "login without email");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/login", NULL, "{\"email\":\"%s\"}",
                email);
    at_expect_field(&r, "password", "login without password");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/login", NULL,
                "{\"email\":\"%s\",\"password\":\"\"}", email);
    at_expect_field(&r, "password", "login with an empty password");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/login", NULL,
                "{\"email\":\"%s\",\"password\":12345678901}", email);
    at_expect_field(&r, "password", "login with a number");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/login", NULL, "not json");
    tqt_assert_error(&r, 400, "bad_request");
    tqt_resp_free(&r);
    /* Only POST. */
    at_status(host, "GET", "/v1/auth/login", NULL, 405, NULL);

    /* The failures above counted towards the limits; leave none behind
     * for the other tests of this host. */
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
    free(ghost);
    free(email);
    free(id);
}

static void login_rehashes_changed_parameters(void **state)
{
    (void)state;
    char *email = at_email("rehash");
    tqt_resp r = at_register(host, email, AT_PASSWORD, "Di");
    at_expect(&r, 201, "register");
    tqt_resp_free(&r);

    /* As if hashed when the manifest said n=2048, r=4. */
    char old[HOST_PHC_MAX];
    assert_int_equal(host_phc_hash(AT_PASSWORD, strlen(AT_PASSWORD), 2048, 4,
                                   1, old, sizeof old), TQ_OK);
    free(tqt_sql(host, "UPDATE tasqly.users SET password_hash = '%s'"
                       " WHERE email = '%s'", old, email));

    char *refresh = at_login_ok(host, email, AT_PASSWORD, NULL);
    free(refresh);
    char *now = tqt_sql(host, "SELECT password_hash FROM tasqly.users"
                              " WHERE email = '%s'", email);
    assert_true(strncmp(now, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    assert_string_not_equal(now, old);
    /* A wrong password changes nothing. */
    r = at_login(host, email, "wrong password");
    at_expect(&r, 401, "wrong password");
    tqt_resp_free(&r);
    char *again = tqt_sql(host, "SELECT password_hash FROM tasqly.users"
                                " WHERE email = '%s'", email);
    assert_string_equal(again, now);
    refresh = at_login_ok(host, email, AT_PASSWORD, NULL);
    free(refresh);
    free(now);
    free(again);
    free(email);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
}

static void me_get_and_patch(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Eve");
    tqt_resp r = tqt_req(host, "GET", "/v1/me", u.token, NULL);
    at_expect(&r, 200, "GET /v1/me");
    assert_string_equal(tqt_str(&r, "id"), u.id);
    assert_string_equal(tqt_str(&r, "email"), u.email);
    assert_string_equal(tqt_str(&r, "display_name"), "Eve");
    assert_true(json_is_null(json_object_get(r.json, "avatar_media_id")));
    assert_non_null(tqt_str(&r, "created_at"));
    assert_null(json_object_get(r.json, "password_hash"));
    tqt_resp_free(&r);

    r = tqt_req(host, "PATCH", "/v1/me", u.token,
                "{\"display_name\":\"  Eve Two \"}");
    at_expect(&r, 200, "PATCH display_name");
    assert_string_equal(tqt_str(&r, "display_name"), "Eve Two");
    assert_string_equal(tqt_str(&r, "email"), u.email);
    tqt_resp_free(&r);
    r = tqt_req(host, "GET", "/v1/me", u.token, NULL);
    assert_string_equal(tqt_str(&r, "display_name"), "Eve Two");
    tqt_resp_free(&r);

    /* An empty patch changes nothing and answers the user. */
    r = tqt_req(host, "PATCH", "/v1/me", u.token, "{}");
    at_expect(&r, 200, "empty PATCH");
    assert_string_equal(tqt_str(&r, "display_name"), "Eve Two");
    tqt_resp_free(&r);
    /* avatar_media_id null is allowed (removes it). */
    r = tqt_req(host, "PATCH", "/v1/me", u.token, "{\"avatar_media_id\":null}");
    at_expect(&r, 200, "avatar null");
    assert_true(json_is_null(json_object_get(r.json, "avatar_media_id")));
    tqt_resp_free(&r);

    char long_name[128] = "{\"display_name\":\"";
    memset(long_name + strlen(long_name), 'x', 81);
    strcpy(long_name + 17 + 81, "\"}");
    const bad_case bad[] = {
        {long_name, "display_name"},
        {"{\"display_name\":\"\"}", "display_name"},
        {"{\"display_name\":null}", "display_name"},
        {"{\"display_name\":\" \"}", "display_name"},
        {"{\"display_name\":7}", "display_name"},
        {"{\"avatar_media_id\":\"not-a-uuid\"}", "avatar_media_id"},
        {"{\"avatar_media_id\":12}", "avatar_media_id"},
        /* No media plugin on this host: any avatar id is refused. */
        {"{\"avatar_media_id\":\"6f1c2b7e-8d4a-4f7b-9c61-2a5e3d9b0c11\"}",
         "avatar_media_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = tqt_req(host, "PATCH", "/v1/me", u.token, "%s", bad[i].body);
        char what[64];
        snprintf(what, sizeof what, "PATCH case %zu", i);
        at_expect_field(&r, bad[i].field, what);
        tqt_resp_free(&r);
    }
    r = tqt_req(host, "GET", "/v1/me", u.token, NULL);
    assert_string_equal(tqt_str(&r, "display_name"), "Eve Two");
    tqt_resp_free(&r);

    /* Without a token, or with a token for a user that is gone. */
    r = tqt_req(host, "GET", "/v1/me", NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = tqt_req(host, "PATCH", "/v1/me", NULL, "{\"display_name\":\"X\"}");
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    free(tqt_sql(host, "DELETE FROM tasqly.users WHERE id = '%s'", u.id));
    r = tqt_req(host, "GET", "/v1/me", u.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(host, "PATCH", "/v1/me", u.token, "{\"display_name\":\"X\"}");
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    tqt_user_free(&u);
}

/* The read-only view plugins may use: no email, no hash. */
static void user_public_view(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Fay");
    char path[128];
    snprintf(path, sizeof path, "/v1/authfix/users/%s", u.id);
    tqt_resp r = tqt_req(host, "GET", path, u.token, NULL);
    at_expect(&r, 200, "user_public");
    assert_string_equal(tqt_str(&r, "id"), u.id);
    assert_string_equal(tqt_str(&r, "display_name"), "Fay");
    assert_true(json_is_null(json_object_get(r.json, "avatar_media_id")));
    tqt_resp_free(&r);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " information_schema.columns WHERE"
                                      " table_schema = 'tasqly' AND"
                                      " table_name = 'user_public'"), 3);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM tasqly.user_contact"
                                      " WHERE id = '%s' AND email = '%s'",
                                u.id, u.email), 1);
    tqt_user_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_returns_a_session),
        cmocka_unit_test(register_validates_every_field),
        cmocka_unit_test(register_limits_are_inclusive),
        cmocka_unit_test(register_conflict_ignores_case),
        cmocka_unit_test(login_answers),
        cmocka_unit_test(login_rehashes_changed_parameters),
        cmocka_unit_test(me_get_and_patch),
        cmocka_unit_test(user_public_view),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
