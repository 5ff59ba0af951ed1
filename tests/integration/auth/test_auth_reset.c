/*
 * test_auth_reset.c - the password-reset flow end to end over HTTP: the
 * request answers 202 whether or not the account exists, the token is
 * taken from the emitted auth.password_reset_requested event (as the
 * authfix fixture plugin received it), never appears in the log, is
 * stored only hashed, works once, expires, and its use revokes every
 * refresh token of the user.  Also the per-email request limit.
 */
#include "at.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static tqt_host *host;

static int setup(void **state)
{
    (void)state;
    host = at_start("auth_reset");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tqt_stop(host) == 0 ? 0 : -1;
}

static void request_reset(const char *email, long status)
{
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/password-reset", NULL,
                         "{\"email\":\"%s\"}", email);
    at_expect(&r, status, "password-reset request");
    if (status == 202)
        assert_int_equal(r.len, 0);
    tqt_resp_free(&r);
}

/* The newest token the fixture plugin was delivered for user uid. */
static char *mailed_token(const char *uid, int nth)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT token FROM authfix.reset_mail WHERE user_id = '%s'"
             " ORDER BY event_id OFFSET %d LIMIT 1",
             uid, nth);
    return at_sql_wait(host, sql);
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void reset_end_to_end(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Pia");
    char *other = at_login_ok(host, u.email, AT_PASSWORD, NULL);

    /* The email in another case still finds the account. */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", u.email);
    upper[0] = (char)(upper[0] - 32);
    request_reset(upper, 202);
    char *token = mailed_token(u.id, 0);
    assert_int_equal(strlen(token), 43);

    /* What the event carried. */
    char *email = tqt_sql(host, "SELECT email FROM authfix.reset_mail"
                                " WHERE token = '%s'", token);
    assert_string_equal(email, u.email);
    free(email);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM authfix.reset_mail"
                                      " WHERE token = '%s' AND group_id IS"
                                      " NULL", token), 1);
    long long left = at_sql_int(host, "SELECT extract(epoch FROM"
                                      " expires_at::timestamptz - now())::int"
                                      " FROM authfix.reset_mail WHERE token"
                                      " = '%s'", token);
    assert_true(left > 3500 && left <= 3600);
    /* Stored only as its SHA-256; never written to the log. */
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.password_reset_tokens WHERE"
                                      " token_hash = sha256(convert_to('%s',"
                                      " 'UTF8'))", token), 1);
    assert_false(file_contains(tqt_log_path(host), token));

    /* Confirm: 204, the new password works, the old one does not, and
     * every refresh token of the user is revoked. */
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                         "{\"token\":\"%s\",\"new_password\":\"a new"
                         " password\"}", token);
    at_expect(&r, 204, "confirm");
    assert_int_equal(r.len, 0);
    tqt_resp_free(&r);
    r = at_login(host, u.email, AT_PASSWORD);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    char *fresh = at_login_ok(host, u.email, "a new password", NULL);
    r = at_refresh(host, u.refresh);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = at_refresh(host, other);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = at_refresh(host, fresh);
    at_expect(&r, 200, "session after the reset");
    tqt_resp_free(&r);

    /* Single use. */
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"%s\",\"new_password\":\"third password\"}",
                token);
    at_expect_field(&r, "token", "second use");
    tqt_resp_free(&r);
    char *again = at_login_ok(host, u.email, "a new password", NULL);
    free(again);
    assert_false(file_contains(tqt_log_path(host), token));
    free(token);
    free(fresh);
    free(other);
    tqt_user_free(&u);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
}

/* Using one token spends the user's other outstanding tokens too. */
static void one_use_spends_all(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Quinn");
    request_reset(u.email, 202);
    char *t1 = mailed_token(u.id, 0);
    request_reset(u.email, 202);
    char *t2 = mailed_token(u.id, 1);
    assert_string_not_equal(t1, t2);
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                         "{\"token\":\"%s\",\"new_password\":\"password two\"}",
                         t2);
    at_expect(&r, 204, "confirm with the second token");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"%s\",\"new_password\":\"password one\"}", t1);
    at_expect_field(&r, "token", "first token after the second was used");
    tqt_resp_free(&r);
    free(t1);
    free(t2);
    tqt_user_free(&u);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
}

static void unknown_email_is_202_and_silent(void **state)
{
    (void)state;
    char *ghost = at_email("nobody");
    long long before = at_sql_int(host, "SELECT count(*) FROM"
                                        " tasqly.password_reset_tokens");
    request_reset(ghost, 202);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.password_reset_tokens"),
                     before);
    /* A real reset afterwards is delivered; the ghost's never was. */
    tqt_user u = tqt_register(host, "Rae");
    request_reset(u.email, 202);
    free(mailed_token(u.id, 0));
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM authfix.reset_mail"
                                      " WHERE lower(email) = lower('%s')",
                                ghost), 0);
    free(ghost);
    tqt_user_free(&u);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
}

static void validation_and_expiry(void **state)
{
    (void)state;
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/password-reset", NULL, "{}");
    at_expect_field(&r, "email", "no email");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset", NULL,
                "{\"email\":\"not an email\"}");
    at_expect_field(&r, "email", "bad email");
    tqt_resp_free(&r);

    tqt_user u = tqt_register(host, "Sol");
    request_reset(u.email, 202);
    char *token = mailed_token(u.id, 0);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"new_password\":\"long enough\"}");
    at_expect_field(&r, "token", "no token");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"%s\"}", token);
    at_expect_field(&r, "new_password", "no password");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"%s\",\"new_password\":\"short\"}", token);
    at_expect_field(&r, "new_password", "short password");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"bogus\",\"new_password\":\"long enough\"}");
    at_expect_field(&r, "token", "malformed token");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                "\"new_password\":\"long enough\"}");
    at_expect_field(&r, "token", "unknown token");
    tqt_resp_free(&r);

    /* An hour later the token is worthless, and nothing changed. */
    free(tqt_sql(host, "UPDATE tasqly.password_reset_tokens SET expires_at ="
                       " now() - interval '1 second' WHERE token_hash ="
                       " sha256(convert_to('%s', 'UTF8'))", token));
    r = tqt_req(host, "POST", "/v1/auth/password-reset/confirm", NULL,
                "{\"token\":\"%s\",\"new_password\":\"long enough\"}", token);
    at_expect_field(&r, "token", "expired token");
    tqt_resp_free(&r);
    char *still = at_login_ok(host, u.email, AT_PASSWORD, NULL);
    free(still);
    r = at_refresh(host, u.refresh);
    at_expect(&r, 200, "sessions untouched by a failed confirm");
    tqt_resp_free(&r);
    free(token);
    tqt_user_free(&u);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits"));
}

/* 3 requests per email per hour, counted for unknown emails too (a 429
 * must not tell them apart); released when the window ends. */
static void request_limit(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Tam");
    char *ghost = at_email("ghost");
    for (int i = 0; i < 3; i++) {
        request_reset(u.email, 202);
        request_reset(ghost, 202);
    }
    const char *who[] = {u.email, ghost};
    for (int i = 0; i < 2; i++) {
        tqt_resp r = tqt_req(host, "POST", "/v1/auth/password-reset", NULL,
                             "{\"email\":\"%s\"}", who[i]);
        tqt_assert_error(&r, 429, "rate_limited");
        char *ra = tqt_header(&r, "Retry-After");
        assert_non_null(ra);
        assert_true(atoi(ra) > 3500 && atoi(ra) <= 3600);
        free(ra);
        tqt_resp_free(&r);
    }
    /* Another email is not affected. */
    tqt_user v = tqt_register(host, "Uma");
    request_reset(v.email, 202);
    /* Exactly three tokens were made for u. */
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.password_reset_tokens WHERE"
                                      " user_id = '%s'", u.id), 3);

    /* The hour passes (for the limiter): requests work again. */
    free(tqt_sql(host, "UPDATE tasqly.rate_limits SET window_start ="
                       " window_start - interval '1 hour'"));
    request_reset(u.email, 202);
    request_reset(ghost, 202);
    free(ghost);
    tqt_user_free(&u);
    tqt_user_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reset_end_to_end),
        cmocka_unit_test(one_use_spends_all),
        cmocka_unit_test(unknown_email_is_202_and_silent),
        cmocka_unit_test(validation_and_expiry),
        cmocka_unit_test(request_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
