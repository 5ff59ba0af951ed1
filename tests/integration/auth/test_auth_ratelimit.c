/*
 * test_auth_ratelimit.c - login limits over HTTP: 5 failures per email and
 * 20 per client address within 15 minutes, then 429 with Retry-After,
 * released when the window ends (moved into the past in the database, as
 * the clock would), counted in PostgreSQL so that two hosts on one
 * database (two replicas) share them, and X-Forwarded-For ignored unless
 * the manifest trusts the proxy.
 */
#include "at.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tqt_host *host;

static int setup(void **state)
{
    (void)state;
    host = at_start("auth_ratelimit");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tqt_stop(host) == 0 ? 0 : -1;
}

static void forget_limits(tqt_host *h)
{
    free(tqt_sql(h, "DELETE FROM tasqly.rate_limits"));
}

static void login_expect(tqt_host *h, const char *email, const char *pw,
                         long status)
{
    tqt_resp r = at_login(h, email, pw);
    at_expect(&r, status, email);
    tqt_resp_free(&r);
}

static int retry_after(const tqt_resp *r)
{
    char *ra = tqt_header(r, "Retry-After");
    if (!ra)
        fail_msg("429 without Retry-After: %s", r->body);
    int s = atoi(ra);
    free(ra);
    return s;
}

static void per_email_reached_and_released(void **state)
{
    (void)state;
    forget_limits(host);
    tqt_user u = tqt_register(host, "Vic");
    for (int i = 0; i < 5; i++)
        login_expect(host, u.email, "wrong password", 401);

    /* Now even the right password is refused, with a Retry-After. */
    tqt_resp r = at_login(host, u.email, AT_PASSWORD);
    tqt_assert_error(&r, 429, "rate_limited");
    int ra = retry_after(&r);
    assert_true(ra > 800 && ra <= 900);
    tqt_resp_free(&r);
    /* The email in another case is the same email. */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", u.email);
    upper[0] = (char)(upper[0] - 32);
    login_expect(host, upper, AT_PASSWORD, 429);

    /* Other accounts from the same address still sign in (5 < 20). */
    tqt_user w = tqt_register(host, "Wes");
    free(at_login_ok(host, w.email, AT_PASSWORD, NULL));

    /* Fifteen minutes later (for the limiter), it is released. */
    free(tqt_sql(host, "UPDATE tasqly.rate_limits SET window_start ="
                       " window_start - interval '15 minutes'"));
    free(at_login_ok(host, u.email, AT_PASSWORD, NULL));
    /* A success forgets the email's failures: 4 more are allowed. */
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.rate_limits WHERE key ="
                                      " lower('login:email:%s')", u.email),
                     0);
    for (int i = 0; i < 4; i++)
        login_expect(host, u.email, "wrong password", 401);
    free(at_login_ok(host, u.email, AT_PASSWORD, NULL));
    tqt_user_free(&u);
    tqt_user_free(&w);
}

/* Unknown emails count too: the limit must not reveal which exist. */
static void unknown_email_is_limited_alike(void **state)
{
    (void)state;
    forget_limits(host);
    char *ghost = at_email("ghost");
    for (int i = 0; i < 5; i++)
        login_expect(host, ghost, AT_PASSWORD, 401);
    login_expect(host, ghost, AT_PASSWORD, 429);
    free(ghost);
}

static void per_address_reached_and_released(void **state)
{
    (void)state;
    forget_limits(host);
    tqt_user u = tqt_register(host, "Xan");
    /* 20 failures spread over 10 emails: no email reaches 5. */
    for (int i = 0; i < 20; i++) {
        char email[64];
        snprintf(email, sizeof email, "spread%d@example.com", i % 10);
        login_expect(host, email, "wrong password", 401);
    }
    /* The address is blocked, for every account. */
    tqt_resp r = at_login(host, u.email, AT_PASSWORD);
    tqt_assert_error(&r, 429, "rate_limited");
    assert_true(retry_after(&r) > 800);
    tqt_resp_free(&r);

    /* Without server.trust_proxy a forged X-Forwarded-For changes nothing. */
    json_t *b = json_pack("{s:s, s:s}", "email", u.email, "password",
                          AT_PASSWORD);
    char *body = json_dumps(b, JSON_COMPACT);
    const char *xff[] = {"X-Forwarded-For: 198.51.100.7", NULL};
    r = tqt_req_raw(host, "POST", "/v1/auth/login", NULL, "application/json",
                    body, strlen(body), xff);
    tqt_assert_error(&r, 429, "rate_limited");
    tqt_resp_free(&r);
    free(body);
    json_decref(b);

    free(tqt_sql(host, "UPDATE tasqly.rate_limits SET window_start ="
                       " window_start - interval '15 minutes'"));
    free(at_login_ok(host, u.email, AT_PASSWORD, NULL));
    tqt_user_free(&u);
}

/* Two hosts on one database are two replicas: failures on either count
 * towards one limit. */
static void shared_between_replicas(void **state)
{
    (void)state;
    forget_limits(host);
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .database = tqt_database(host)};
    tqt_host *second = tqt_start("auth_ratelimit_b", &o);
    tqt_user u = tqt_register(host, "Yul");
    for (int i = 0; i < 3; i++)
        login_expect(host, u.email, "wrong password", 401);
    for (int i = 0; i < 2; i++)
        login_expect(second, u.email, "wrong password", 401);
    login_expect(host, u.email, AT_PASSWORD, 429);
    login_expect(second, u.email, AT_PASSWORD, 429);
    /* A token minted by one replica is good on the other (same secret). */
    assert_int_equal(at_whoami(second, u.token, NULL), 200);
    assert_int_equal(tqt_stop(second), 0);
    tqt_user_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_email_reached_and_released),
        cmocka_unit_test(unknown_email_is_limited_alike),
        cmocka_unit_test(per_address_reached_and_released),
        cmocka_unit_test(shared_between_replicas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
