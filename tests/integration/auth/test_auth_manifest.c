/*
 * test_auth_manifest.c - the auth settings of the manifest, over HTTP
 * against the real tasqlyd: server.trust_proxy (login failures counted per
 * the last X-Forwarded-For entry, the one the proxy appended; a forged
 * header changes nothing without it), signing-key rotation
 * (auth.token_kid with auth.previous_secret / previous_kid), and lowered
 * auth.rate_limits (429 with a Retry-After within the configured window,
 * released when that window, not the default one, ends).
 *
 * The harness always writes its own auth.token_secret, so the "old" host
 * of the rotation test is played by host/auth/jwt.c signing with the old
 * secret and kid: the very code such a host runs to issue its tokens.
 *
 * Every test starts its own hosts (the settings differ) and stops them.
 */
/* auth.h (tasqly.h) before cmocka.h: cmocka defines a fail() macro. */
#include "auth.h"
#include "at.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------- helpers */

/* POST /v1/auth/login, with an X-Forwarded-For header when xff. */
static tqt_resp login_from(tqt_host *h, const char *email, const char *pw,
                           const char *xff)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", pw);
    char *body = json_dumps(b, JSON_COMPACT);
    char hdr[300];
    snprintf(hdr, sizeof hdr, "X-Forwarded-For: %s", xff ? xff : "");
    const char *extra[] = {hdr, NULL};
    tqt_resp r = tqt_req_raw(h, "POST", "/v1/auth/login", NULL,
                             "application/json", body, strlen(body),
                             xff ? extra : NULL);
    free(body);
    json_decref(b);
    return r;
}

static void login_from_expect(tqt_host *h, const char *email, const char *pw,
                              const char *xff, long status)
{
    tqt_resp r = login_from(h, email, pw, xff);
    char what[400];
    snprintf(what, sizeof what, "login %s from %s", email,
             xff ? xff : "the socket's address");
    at_expect(&r, status, what);
    if (status == 429)
        tqt_assert_error(&r, 429, "rate_limited");
    tqt_resp_free(&r);
}

/* The Retry-After of a 429, which must be there. */
static int retry_after(const tqt_resp *r)
{
    tqt_assert_error(r, 429, "rate_limited");
    char *ra = tqt_header(r, "Retry-After");
    if (!ra)
        fail_msg("429 without Retry-After: %s", r->body);
    int s = atoi(ra);
    free(ra);
    return s;
}

static long long hits(tqt_host *h, const char *key)
{
    return at_sql_int(h, "SELECT coalesce(sum(hits), 0) FROM"
                         " tasqly.rate_limits WHERE key = lower('%s')", key);
}

/* Move every rate-limit window seconds into the past, as the clock would. */
static void age_windows(tqt_host *h, int seconds)
{
    free(tqt_sql(h, "UPDATE tasqly.rate_limits SET window_start ="
                    " window_start - %d * interval '1 second'", seconds));
}

/* A login behind a proxy that added its own X-Forwarded-For line after
 * the one the client sent (HAProxy's option forwardfor does). */
static long login_two_lines(tqt_host *h, const char *email, const char *pw,
                            const char *client_line, const char *proxy_line)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", pw);
    char *body = json_dumps(b, JSON_COMPACT);
    char h1[200], h2[200];
    snprintf(h1, sizeof h1, "X-Forwarded-For: %s", client_line);
    snprintf(h2, sizeof h2, "X-Forwarded-For: %s", proxy_line);
    const char *extra[] = {h1, h2, NULL};
    tqt_resp r = tqt_req_raw(h, "POST", "/v1/auth/login", NULL,
                             "application/json", body, strlen(body), extra);
    long st = r.status;
    tqt_resp_free(&r);
    free(body);
    json_decref(b);
    return st;
}

/* ------------------------------------------------------ trust_proxy */

static void trusted_proxy_counts_last_forwarded_hop(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .server_yaml = "  trust_proxy: true\n",
                  .auth_yaml = "  rate_limits:\n"
                               "    login_failures_per_address: 3\n"};
    tqt_host *h = tqt_start("auth_manifest_proxy", &o);
    tqt_user u = tqt_register(h, "Pam");

    /* Three failures from one client behind the proxy, on three emails so
     * that no email's own limit (5) is near. */
    for (int i = 0; i < 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "proxied%d@example.com", i);
        login_from_expect(h, email, "wrong password", "203.0.113.1", 401);
    }
    assert_int_equal(hits(h, "login:addr:203.0.113.1"), 3);
    assert_int_equal(hits(h, "login:addr:127.0.0.1"), 0);

    /* That client is now refused, even with the right password... */
    tqt_resp r = login_from(h, u.email, AT_PASSWORD, "203.0.113.1");
    int ra = retry_after(&r);
    assert_true(ra > 800 && ra <= 900);
    tqt_resp_free(&r);
    /* ...also when it forged hops of its own in front of the one the
     * proxy appended. */
    login_from_expect(h, u.email, AT_PASSWORD, "198.51.100.7, 203.0.113.1",
                      429);
    login_from_expect(h, u.email, AT_PASSWORD, "10.0.0.1,203.0.113.1", 429);

    /* Other clients of the same proxy are not. */
    free(at_login_ok(h, u.email, AT_PASSWORD, NULL));
    login_from_expect(h, u.email, AT_PASSWORD, "203.0.113.2", 200);
    /* A blocked client cannot get out by naming another address first:
     * only the last entry counts, and here it is someone else's. */
    login_from_expect(h, u.email, AT_PASSWORD, "203.0.113.1, 203.0.113.3",
                      200);
    login_from_expect(h, u.email, AT_PASSWORD, "2001:db8::1", 200);

    /* The proxy's own header line is the last one: the client's line
     * before it counts for nothing. */
    assert_int_equal(login_two_lines(h, u.email, AT_PASSWORD, "203.0.113.9",
                                     "203.0.113.1"),
                     429);
    assert_int_equal(login_two_lines(h, u.email, AT_PASSWORD, "203.0.113.1",
                                     "203.0.113.4"),
                     200);

    /* A failure with a forged first hop is the last hop's. */
    login_from_expect(h, u.email, "wrong password",
                      "203.0.113.1, 2001:db8::1", 401);
    assert_int_equal(hits(h, "login:addr:2001:db8::1"), 1);
    assert_int_equal(hits(h, "login:addr:203.0.113.1"), 3);

    tqt_user_free(&u);
    assert_int_equal(tqt_stop(h), 0);
}

static void untrusted_forwarded_for_is_ignored(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .auth_yaml = "  rate_limits:\n"
                               "    login_failures_per_address: 3\n"};
    tqt_host *h = tqt_start("auth_manifest_noproxy", &o);
    tqt_user u = tqt_register(h, "Quin");

    /* Each failure claims another client: they are all the socket's. */
    const char *forged[] = {"203.0.113.1", "203.0.113.2",
                            "198.51.100.7, 203.0.113.3"};
    for (int i = 0; i < 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "direct%d@example.com", i);
        login_from_expect(h, email, "wrong password", forged[i], 401);
    }
    assert_int_equal(hits(h, "login:addr:127.0.0.1"), 3);
    assert_int_equal(at_sql_int(h, "SELECT count(*) FROM tasqly.rate_limits"
                                   " WHERE key LIKE 'login:addr:%%'"
                                   " AND key <> 'login:addr:127.0.0.1'"),
                     0);
    /* And a fresh forged address does not get the client out. */
    login_from_expect(h, u.email, AT_PASSWORD, "192.0.2.99", 429);
    login_from_expect(h, u.email, AT_PASSWORD, NULL, 429);

    tqt_user_free(&u);
    assert_int_equal(tqt_stop(h), 0);
}

/* ---------------------------------------------------- key rotation */

#define OLD_SECRET "the-old-secret-of-k1-0123456789abcdef0123"

/* A token as a host signing with secret/kid issues it. */
static void mint(const char *secret, const char *kid, const char *uid,
                 char tok[HOST_JWT_MAX])
{
    host_jwt_key key;
    assert_int_equal(host_jwt_key_init(&key, kid, secret, strlen(secret)),
                     TQ_OK);
    long long now = (long long)time(NULL);
    assert_int_equal(host_jwt_sign(&key, uid, now, now + 600, tok,
                                   HOST_JWT_MAX),
                     TQ_OK);
    host_jwt_key_free(&key);
}

/* The kid in the header of a token the host issued. */
static void token_kid(const char *tok, char *kid, size_t cap)
{
    const char *dot = strchr(tok, '.');
    assert_non_null(dot);
    char hdr[256];
    ssize_t n = host_b64_decode(hdr, sizeof hdr - 1, tok,
                                (size_t)(dot - tok), true);
    assert_true(n > 0);
    hdr[n] = '\0';
    json_t *j = json_loads(hdr, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "alg")),
                        "HS256");
    const char *k = json_string_value(json_object_get(j, "kid"));
    assert_non_null(k);
    snprintf(kid, cap, "%s", k);
    json_decref(j);
}

static void rotated_secret_still_verifies_old_tokens(void **state)
{
    (void)state;
    /* The rotated host: a new secret (the harness's) under a new kid, the
     * old pair kept for verification. */
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .auth_yaml = "  token_kid: k2\n"
                               "  previous_secret: \"" OLD_SECRET "\"\n"
                               "  previous_kid: k1\n"};
    tqt_host *rotated = tqt_start("auth_manifest_rotated", &o);
    /* The host after the previous_* settings were removed, same database. */
    tqt_opts o2 = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                   .database = tqt_database(rotated),
                   .auth_yaml = "  token_kid: k2\n"};
    tqt_host *only_new = tqt_start("auth_manifest_newonly", &o2);

    tqt_user u = tqt_register(rotated, "Rob");
    char old[HOST_JWT_MAX];
    mint(OLD_SECRET, "k1", u.id, old);

    /* Issued under k1 with the old secret: still good on the rotated
     * host, for exactly that user. */
    char *who = NULL;
    assert_int_equal(at_whoami(rotated, old, &who), 200);
    assert_string_equal(who, u.id);
    free(who);
    /* Refused once the old secret is gone. */
    tqt_resp r = tqt_req(only_new, "GET", "/v1/authfix/whoami", old, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);

    /* The kid picks the secret: the old secret under the new kid, or the
     * new secret under the old kid, are forgeries. */
    char secret[256], kid[80], forged[HOST_JWT_MAX];
    at_secret(rotated, secret, sizeof secret, kid, sizeof kid);
    assert_string_equal(kid, "k2");
    mint(OLD_SECRET, "k2", u.id, forged);
    assert_int_equal(at_whoami(rotated, forged, NULL), 401);
    mint(secret, "k1", u.id, forged);
    assert_int_equal(at_whoami(rotated, forged, NULL), 401);
    /* An unknown secret under the old kid too. */
    mint("yet-another-secret-0123456789abcdef0123", "k1", u.id, forged);
    assert_int_equal(at_whoami(rotated, forged, NULL), 401);

    /* New tokens are signed with the new key only: k2 in the header, and
     * good on the host that no longer knows the old secret. */
    char tkid[80];
    token_kid(u.token, tkid, sizeof tkid);
    assert_string_equal(tkid, "k2");
    assert_int_equal(at_whoami(only_new, u.token, &who), 200);
    assert_string_equal(who, u.id);
    free(who);
    char *access = NULL;
    char *refresh = at_login_ok(rotated, u.email, AT_PASSWORD, &access);
    token_kid(access, tkid, sizeof tkid);
    assert_string_equal(tkid, "k2");
    assert_int_equal(at_whoami(only_new, access, NULL), 200);
    /* Refresh tokens do not depend on the secret at all. */
    r = at_refresh(only_new, refresh);
    at_expect(&r, 200, "refresh on the host without the old secret");
    assert_int_equal(at_whoami(rotated, tqt_str(&r, "access_token"), NULL),
                     200);
    tqt_resp_free(&r);

    free(access);
    free(refresh);
    tqt_user_free(&u);
    assert_int_equal(tqt_stop(only_new), 0);
    assert_int_equal(tqt_stop(rotated), 0);
}

/* ------------------------------------------------ lowered limits */

static void lowered_rate_limits(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .auth_yaml = "  rate_limits:\n"
                               "    login_failures_per_email: 2\n"
                               "    login_failures_per_address: 4\n"
                               "    login_window: 2m\n"
                               "    reset_per_email: 1\n"
                               "    reset_window: 10m\n"};
    tqt_host *h = tqt_start("auth_manifest_limits", &o);
    tqt_user u = tqt_register(h, "Sue");

    /* Two failures per email, not five. */
    for (int i = 0; i < 2; i++)
        login_from_expect(h, u.email, "wrong password", NULL, 401);
    tqt_resp r = at_login(h, u.email, AT_PASSWORD);
    int ra = retry_after(&r);
    assert_true(ra > 100 && ra <= 120); /* a 2-minute window */
    tqt_resp_free(&r);

    /* The window is two minutes, not fifteen: two minutes on, released. */
    age_windows(h, 110);
    login_from_expect(h, u.email, AT_PASSWORD, NULL, 429);
    age_windows(h, 11);
    free(at_login_ok(h, u.email, AT_PASSWORD, NULL));

    /* Four failures per address, not twenty (on four emails, one each). */
    free(tqt_sql(h, "DELETE FROM tasqly.rate_limits"));
    for (int i = 0; i < 4; i++) {
        char email[64];
        snprintf(email, sizeof email, "lim%d@example.com", i);
        login_from_expect(h, email, "wrong password", NULL, 401);
    }
    r = at_login(h, u.email, AT_PASSWORD);
    ra = retry_after(&r);
    assert_true(ra > 100 && ra <= 120);
    tqt_resp_free(&r);
    free(tqt_sql(h, "DELETE FROM tasqly.rate_limits"));

    /* One password-reset request per email within ten minutes. */
    tqt_resp first = tqt_req(h, "POST", "/v1/auth/password-reset", NULL,
                             "{\"email\":\"%s\"}", u.email);
    at_expect(&first, 202, "first reset request");
    tqt_resp_free(&first);
    r = tqt_req(h, "POST", "/v1/auth/password-reset", NULL,
                "{\"email\":\"%s\"}", u.email);
    ra = retry_after(&r);
    assert_true(ra > 500 && ra <= 600);
    tqt_resp_free(&r);
    age_windows(h, 600);
    r = tqt_req(h, "POST", "/v1/auth/password-reset", NULL,
                "{\"email\":\"%s\"}", u.email);
    at_expect(&r, 202, "reset request after the window");
    tqt_resp_free(&r);

    tqt_user_free(&u);
    assert_int_equal(tqt_stop(h), 0);
}

/* The defaults hold when rate_limits is absent (0 in host_config). */
static void default_limits_without_settings(void **state)
{
    (void)state;
    tqt_host *h = at_start("auth_manifest_defaults");
    tqt_user u = tqt_register(h, "Tim");
    for (int i = 0; i < 4; i++)
        login_from_expect(h, u.email, "wrong password", NULL, 401);
    free(at_login_ok(h, u.email, AT_PASSWORD, NULL)); /* 4 < 5 */
    for (int i = 0; i < 5; i++)
        login_from_expect(h, u.email, "wrong password", NULL, 401);
    tqt_resp r = at_login(h, u.email, AT_PASSWORD);
    int ra = retry_after(&r);
    assert_true(ra > 800 && ra <= 900);
    tqt_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        r = tqt_req(h, "POST", "/v1/auth/password-reset", NULL,
                    "{\"email\":\"%s\"}", u.email);
        at_expect(&r, 202, "reset request within the default 3");
        tqt_resp_free(&r);
    }
    r = tqt_req(h, "POST", "/v1/auth/password-reset", NULL,
                "{\"email\":\"%s\"}", u.email);
    ra = retry_after(&r);
    assert_true(ra > 3500 && ra <= 3600);
    tqt_resp_free(&r);
    tqt_user_free(&u);
    assert_int_equal(tqt_stop(h), 0);
}

/* A bad value stops start-up with a message naming the setting. */
static void bad_limit_stops_start_up(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"    login_window: 3d\n", "auth.rate_limits.login_window"},
        {"    login_failures_per_email: 0\n",
         "auth.rate_limits.login_failures_per_email"},
        {"    reset_per_email: many\n", "auth.rate_limits.reset_per_email"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char manifest[512], *out = NULL;
        snprintf(manifest, sizeof manifest,
                 "auth:\n  token_secret: \"" OLD_SECRET "\"\n"
                 "  rate_limits:\n%s", bad[i][0]);
        int rc = tqt_run_manifest("auth_manifest_bad", manifest, &out);
        assert_int_not_equal(rc, 0);
        if (!strstr(out, bad[i][1]))
            fail_msg("start-up failure does not name %s: %s", bad[i][1],
                     out);
        free(out);
    }
}

/* Registrations cost a memory-hard hash each: bounded per client address
 * (default 30 an hour), so a flood cannot hold every hashing slot. */
static void registrations_limited_per_address(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX,
                  .auth_yaml = "  rate_limits:\n"
                               "    register_per_address: 2\n"
                               "    register_window: 5m\n"};
    tqt_host *h = tqt_start("auth_manifest_register", &o);
    tqt_user a = tqt_register(h, "One");
    tqt_user b = tqt_register(h, "Two");
    tqt_resp r = tqt_req(h, "POST", "/v1/auth/register", NULL,
                         "{\"email\":\"third%s@example.com\",\"password\":"
                         "\"correct horse battery\",\"display_name\":\"Three\"}",
                         tqt_unique());
    tqt_assert_error(&r, 429, "rate_limited");
    int ra = retry_after(&r);
    assert_true(ra > 250 && ra <= 300); /* the 5-minute window */
    tqt_resp_free(&r);
    char *n = tqt_sql(h, "SELECT count(*) FROM tasqly.users");
    assert_string_equal(n, "2"); /* nothing was created, nothing hashed */
    free(n);
    /* Logins are not counted against it. */
    free(at_login_ok(h, a.email, AT_PASSWORD, NULL));
    age_windows(h, 300);
    tqt_user c = tqt_register(h, "Three");
    tqt_user_free(&a);
    tqt_user_free(&b);
    tqt_user_free(&c);
    assert_int_equal(tqt_stop(h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trusted_proxy_counts_last_forwarded_hop),
        cmocka_unit_test(untrusted_forwarded_for_is_ignored),
        cmocka_unit_test(rotated_secret_still_verifies_old_tokens),
        cmocka_unit_test(lowered_rate_limits),
        cmocka_unit_test(registrations_limited_per_address),
        cmocka_unit_test(default_limits_without_settings),
        cmocka_unit_test(bad_limit_stops_start_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
