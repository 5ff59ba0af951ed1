/*
 * test_auth_tokens.c - access and refresh tokens over HTTP against the
 * real tasqlyd and PostgreSQL: a protected fixture route (401 without a
 * token, the right user id with one, every forged token refused), refresh
 * rotation, family revocation on reuse (also when two requests race with
 * one token), logout, and avatars through a media.attach service.
 */
/* auth.h (tasqly.h) before cmocka.h: cmocka defines a fail() macro. */
#include "auth.h"
#include "at.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static tqt_host *host;

static int setup(void **state)
{
    (void)state;
    host = at_start("auth_tokens");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tqt_stop(host) == 0 ? 0 : -1;
}

/* ----------------------------------------------- the protected route */

/* header.payload.signature from literal JSON, signed with secret (NULL:
 * no signature at all). */
static char *forge(const char *header, const char *payload,
                   const char *secret)
{
    char h[300], p[300], s[64] = "";
    host_b64_encode(h, header, strlen(header), true);
    host_b64_encode(p, payload, strlen(payload), true);
    if (secret) {
        char signing[700];
        unsigned char mac[32];
        size_t n = sizeof mac;
        snprintf(signing, sizeof signing, "%s.%s", h, p);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret,
                                  strlen(secret), (unsigned char *)signing,
                                  strlen(signing), mac, sizeof mac, &n));
        host_b64_encode(s, mac, n, true);
    }
    char *out = malloc(1100);
    snprintf(out, 1100, "%s.%s.%s", h, p, s);
    return out;
}

static void protected_route(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Gus");

    /* No token: 401 with the JSON error shape and a Bearer challenge. */
    tqt_resp r = tqt_req(host, "GET", "/v1/authfix/whoami", NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    char *www = tqt_header(&r, "WWW-Authenticate");
    assert_non_null(www);
    assert_true(strncmp(www, "Bearer", 6) == 0);
    free(www);
    tqt_resp_free(&r);

    /* With one: the handler sees exactly this user. */
    char *who = NULL;
    assert_int_equal(at_whoami(host, u.token, &who), 200);
    assert_string_equal(who, u.id);
    free(who);
    tqt_user other = tqt_register(host, "Hal");
    assert_int_equal(at_whoami(host, other.token, &who), 200);
    assert_string_equal(who, other.id);
    free(who);

    /* The scheme is case-insensitive; anything else is refused. */
    char hdr[1200];
    snprintf(hdr, sizeof hdr, "Authorization: bearer %s", u.token);
    const char *lower[] = {hdr, NULL};
    r = tqt_req_raw(host, "GET", "/v1/authfix/whoami", NULL, NULL, NULL, 0,
                    lower);
    at_expect(&r, 200, "lower-case scheme");
    tqt_resp_free(&r);
    snprintf(hdr, sizeof hdr, "Authorization: Basic %s", u.token);
    const char *basic[] = {hdr, NULL};
    r = tqt_req_raw(host, "GET", "/v1/authfix/whoami", NULL, NULL, NULL, 0,
                    basic);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    assert_int_equal(at_whoami(host, "garbage", NULL), 401);
    assert_int_equal(at_whoami(host, "", NULL), 401);

    /* A public route of the same plugin needs none and sees nobody. */
    r = tqt_req(host, "GET", "/v1/authfix/anyone", NULL, NULL);
    at_expect(&r, 200, "public route");
    assert_true(json_is_null(json_object_get(r.json, "user_id")));
    tqt_resp_free(&r);
    tqt_user_free(&u);
    tqt_user_free(&other);
}

/* Tokens minted with the host's own secret (read from its manifest): the
 * host honours a good one for any user id and refuses every forgery. */
static void forged_tokens(void **state)
{
    (void)state;
    char secret[256], kid[80], hdr[200], payload[300];
    at_secret(host, secret, sizeof secret, kid, sizeof kid);
    host_jwt_key key;
    assert_int_equal(host_jwt_key_init(&key, kid, secret, strlen(secret)),
                     TQ_OK);
    const char *uid = "0b5d4c1e-7f3a-4e2b-9d8c-6a1f2e3d4c5b";
    long long now = (long long)time(NULL);
    char tok[HOST_JWT_MAX], *who = NULL;

    /* Ours in every way: the host trusts the signature, not a lookup. */
    assert_int_equal(host_jwt_sign(&key, uid, now, now + 60, tok, sizeof tok),
                     TQ_OK);
    assert_int_equal(at_whoami(host, tok, &who), 200);
    assert_string_equal(who, uid);
    free(who);

    /* Expired a second ago. */
    assert_int_equal(host_jwt_sign(&key, uid, now - 960, now - 1, tok,
                                   sizeof tok), TQ_OK);
    tqt_resp r = tqt_req(host, "GET", "/v1/authfix/whoami", tok, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    assert_non_null(strstr(r.body, "expired"));
    tqt_resp_free(&r);

    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             kid);
    snprintf(payload, sizeof payload,
             "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", uid, now, now + 60);
    char *t;
    /* The honest way round, to show forge() itself is right. */
    t = forge(hdr, payload, secret);
    assert_int_equal(at_whoami(host, t, NULL), 200);
    free(t);
    /* alg none, with and without a signature. */
    t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL);
    assert_int_equal(at_whoami(host, t, NULL), 401);
    free(t);
    t = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, secret);
    assert_int_equal(at_whoami(host, t, NULL), 401);
    free(t);
    /* Another alg, another kid. */
    char other[200];
    snprintf(other, sizeof other,
             "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    t = forge(other, payload, secret);
    assert_int_equal(at_whoami(host, t, NULL), 401);
    free(t);
    t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"elsewhere\"}",
              payload, secret);
    assert_int_equal(at_whoami(host, t, NULL), 401);
    free(t);
    /* The right header, a secret that is not the host's. */
    t = forge(hdr, payload, "somebody else's secret, 32+ bytes long");
    assert_int_equal(at_whoami(host, t, NULL), 401);
    free(t);
    /* A real token with its payload swapped for another user's. */
    assert_int_equal(host_jwt_sign(&key, uid, now, now + 60, tok, sizeof tok),
                     TQ_OK);
    char swapped[1200], p2[300], enc[400];
    snprintf(p2, sizeof p2,
             "{\"sub\":\"11111111-2222-4333-8444-555555555555\",\"iat\":%lld,"
             "\"exp\":%lld}", now, now + 60);
    host_b64_encode(enc, p2, strlen(p2), true);
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    snprintf(swapped, sizeof swapped, "%.*s.%s%s", (int)(d1 - tok), tok, enc,
             d2);
    assert_int_equal(at_whoami(host, swapped, NULL), 401);
    /* A real token with one signature character changed. */
    snprintf(swapped, sizeof swapped, "%s", tok);
    char *c = swapped + strlen(swapped) - 5;
    *c = *c == 'A' ? 'B' : 'A';
    assert_int_equal(at_whoami(host, swapped, NULL), 401);
    host_jwt_key_free(&key);
}

/* ----------------------------------------------------- refresh tokens */

static void refresh_rotates(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Ida");
    tqt_resp r = at_refresh(host, u.refresh);
    at_expect(&r, 200, "first refresh");
    char *r1 = strdup(tqt_str(&r, "refresh_token"));
    char *a1 = strdup(tqt_str(&r, "access_token"));
    assert_string_not_equal(r1, u.refresh);
    assert_int_equal(strlen(r1), 43);
    assert_string_equal(tqt_str(&r, "token_type"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(r.json, "expires_in")),
                     900);
    tqt_resp_free(&r);
    char *who = NULL;
    assert_int_equal(at_whoami(host, a1, &who), 200);
    assert_string_equal(who, u.id);
    free(who);

    /* The chain goes on: r1 -> r2 -> r3, one family, one live token. */
    r = at_refresh(host, r1);
    at_expect(&r, 200, "second refresh");
    char *r2 = strdup(tqt_str(&r, "refresh_token"));
    tqt_resp_free(&r);
    r = at_refresh(host, r2);
    at_expect(&r, 200, "third refresh");
    char *r3 = strdup(tqt_str(&r, "refresh_token"));
    tqt_resp_free(&r);
    assert_int_equal(at_sql_int(host, "SELECT count(DISTINCT family_id) FROM"
                                      " tasqly.refresh_tokens WHERE user_id"
                                      " = '%s'", u.id), 1);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE user_id"
                                      " = '%s' AND used_at IS NULL AND"
                                      " revoked_at IS NULL", u.id), 1);

    /* Reusing a spent token (r1): 401, and the whole family dies, so the
     * live r3 no longer works either. */
    r = at_refresh(host, r1);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE user_id"
                                      " = '%s' AND revoked_at IS NULL",
                                u.id), 0);
    r = at_refresh(host, r3);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = at_refresh(host, u.refresh);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);

    /* The user signs in again and gets a working, new family. */
    char *fresh = at_login_ok(host, u.email, AT_PASSWORD, NULL);
    r = at_refresh(host, fresh);
    at_expect(&r, 200, "refresh after signing in again");
    tqt_resp_free(&r);
    free(fresh);
    free(r1);
    free(r2);
    free(r3);
    free(a1);
    tqt_user_free(&u);
}

static void reuse_revokes_only_that_family(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Jo");
    char *phone = at_login_ok(host, u.email, AT_PASSWORD, NULL);
    char *laptop = at_login_ok(host, u.email, AT_PASSWORD, NULL);

    tqt_resp r = at_refresh(host, phone);
    at_expect(&r, 200, "phone refresh");
    char *phone2 = strdup(tqt_str(&r, "refresh_token"));
    tqt_resp_free(&r);
    r = at_refresh(host, phone); /* stolen copy used */
    at_expect(&r, 401, "phone token reused");
    tqt_resp_free(&r);
    r = at_refresh(host, phone2);
    at_expect(&r, 401, "phone family revoked");
    tqt_resp_free(&r);

    /* The laptop's sign-in and the registration's are untouched. */
    r = at_refresh(host, laptop);
    at_expect(&r, 200, "laptop refresh");
    tqt_resp_free(&r);
    r = at_refresh(host, u.refresh);
    at_expect(&r, 200, "registration session refresh");
    tqt_resp_free(&r);
    free(phone);
    free(phone2);
    free(laptop);
    tqt_user_free(&u);
}

static void refresh_failures(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Kit");
    tqt_resp r = tqt_req(host, "POST", "/v1/auth/refresh", NULL, "{}");
    at_expect_field(&r, "refresh_token", "no token");
    tqt_resp_free(&r);
    r = tqt_req(host, "POST", "/v1/auth/refresh", NULL,
                "{\"refresh_token\":5}");
    at_expect_field(&r, "refresh_token", "number");
    tqt_resp_free(&r);
    r = at_refresh(host, "not-a-token");
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    /* Well-formed, never issued. */
    r = at_refresh(host, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    /* An access token is not a refresh token. */
    r = at_refresh(host, u.token);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);

    /* Expired: refused, and nothing else revoked (it was never spent). */
    char *second = at_login_ok(host, u.email, AT_PASSWORD, NULL);
    free(tqt_sql(host, "UPDATE tasqly.refresh_tokens SET expires_at = now()"
                       " - interval '1 second' WHERE token_hash ="
                       " sha256(convert_to('%s', 'UTF8'))", u.refresh));
    r = at_refresh(host, u.refresh);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    r = at_refresh(host, second);
    at_expect(&r, 200, "other session after an expired one");
    tqt_resp_free(&r);
    free(second);
    tqt_user_free(&u);
}

typedef struct race {
    tqt_host *h;
    const char *token;
    long status;
} race;

static void *race_one(void *arg)
{
    race *x = arg;
    tqt_resp r = at_refresh(x->h, x->token);
    x->status = r.status;
    tqt_resp_free(&r);
    return NULL;
}

/* Two requests with one token at once: exactly one wins; the other is a
 * reuse, which revokes the family, the winner's new token included. */
static void concurrent_refresh(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        tqt_user u = tqt_register(host, "Lee");
        race a = {host, u.refresh, 0}, b = {host, u.refresh, 0};
        pthread_t ta, tb;
        assert_int_equal(pthread_create(&ta, NULL, race_one, &a), 0);
        assert_int_equal(pthread_create(&tb, NULL, race_one, &b), 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        assert_true((a.status == 200 && b.status == 401) ||
                    (a.status == 401 && b.status == 200));
        assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                          " tasqly.refresh_tokens WHERE"
                                          " user_id = '%s' AND revoked_at IS"
                                          " NULL", u.id), 0);
        tqt_user_free(&u);
    }
}

static void logout(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Max");
    char *other = at_login_ok(host, u.email, AT_PASSWORD, NULL);
    tqt_resp r = at_refresh(host, u.refresh);
    at_expect(&r, 200, "refresh before logout");
    char *r1 = strdup(tqt_str(&r, "refresh_token"));
    tqt_resp_free(&r);

    r = tqt_req(host, "POST", "/v1/auth/logout", NULL,
                "{\"refresh_token\":\"%s\"}", r1);
    at_expect(&r, 204, "logout");
    assert_int_equal(r.len, 0);
    tqt_resp_free(&r);
    r = at_refresh(host, r1);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    /* Logging out revoked the sign-in, not the other device. */
    r = at_refresh(host, other);
    at_expect(&r, 200, "other device");
    tqt_resp_free(&r);
    /* Twice, unknown, or malformed: still 204; missing: 400. */
    at_status(host, "POST", "/v1/auth/logout", NULL, 204,
              "{\"refresh_token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    at_status(host, "POST", "/v1/auth/logout", NULL, 204,
              "{\"refresh_token\":\"whatever\"}");
    char body[200];
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", r1);
    at_status(host, "POST", "/v1/auth/logout", NULL, 204, body);
    r = tqt_req(host, "POST", "/v1/auth/logout", NULL, "{}");
    at_expect_field(&r, "refresh_token", "logout without a token");
    tqt_resp_free(&r);
    /* The access token in hand lives on until it expires (docs/auth.md). */
    assert_int_equal(at_whoami(host, u.token, NULL), 200);
    free(other);
    free(r1);
    tqt_user_free(&u);
}

/* ------------------------------------------ avatars via media.attach */

static void avatar_through_media_service(void **state)
{
    (void)state;
    const char *ok_id = "6f1c2b7e-8d4a-4f7b-9c61-2a5e3d9b0c11";
    tqt_opts o = {.plugins_yaml =
                      AT_PLUGINS_AUTHFIX
                      "  - name: authmedia\n"
                      "    enabled: true\n"
                      "    config:\n"
                      "      ok_ids: [\"6f1c2b7e-8d4a-4f7b-9c61-2a5e3d9b0c11\"]\n"};
    tqt_host *h = tqt_start("auth_avatar", &o);
    tqt_user u = tqt_register(h, "Ned");

    tqt_resp r = tqt_req(h, "PATCH", "/v1/me", u.token,
                         "{\"avatar_media_id\":\"%s\"}", ok_id);
    at_expect(&r, 200, "accepted avatar");
    assert_string_equal(tqt_str(&r, "avatar_media_id"), ok_id);
    tqt_resp_free(&r);
    /* Upper case in, the canonical form stored. */
    r = tqt_req(h, "PATCH", "/v1/me", u.token,
                "{\"avatar_media_id\":\"6F1C2B7E-8D4A-4F7B-9C61-2A5E3D9B0C11\","
                "\"display_name\":\"Ned B\"}");
    at_expect(&r, 200, "upper-case avatar id");
    assert_string_equal(tqt_str(&r, "avatar_media_id"), ok_id);
    assert_string_equal(tqt_str(&r, "display_name"), "Ned B");
    tqt_resp_free(&r);

    /* The service refuses this one: 400 on the field, nothing changed. */
    r = tqt_req(h, "PATCH", "/v1/me", u.token,
                "{\"avatar_media_id\":\"00000000-0000-4000-8000-000000000000\","
                "\"display_name\":\"Changed\"}");
    at_expect_field(&r, "avatar_media_id", "refused avatar");
    assert_non_null(strstr(r.body, "authmedia"));
    tqt_resp_free(&r);
    r = tqt_req(h, "GET", "/v1/me", u.token, NULL);
    assert_string_equal(tqt_str(&r, "avatar_media_id"), ok_id);
    assert_string_equal(tqt_str(&r, "display_name"), "Ned B");
    tqt_resp_free(&r);

    /* Others see it through the public view. */
    char path[128];
    snprintf(path, sizeof path, "/v1/authfix/users/%s", u.id);
    tqt_user v = tqt_register(h, "Oz");
    r = tqt_req(h, "GET", path, v.token, NULL);
    at_expect(&r, 200, "user_public");
    assert_string_equal(tqt_str(&r, "avatar_media_id"), ok_id);
    tqt_resp_free(&r);

    r = tqt_req(h, "PATCH", "/v1/me", u.token, "{\"avatar_media_id\":null}");
    at_expect(&r, 200, "avatar removed");
    assert_true(json_is_null(json_object_get(r.json, "avatar_media_id")));
    tqt_resp_free(&r);
    tqt_user_free(&u);
    tqt_user_free(&v);
    assert_int_equal(tqt_stop(h), 0);
}

/* The hourly clean-up forgets tokens and windows a day past their end,
 * and keeps everything younger (spent tokens must still be recognised). */
static void cleanup_job(void **state)
{
    (void)state;
    tqt_user u = tqt_register(host, "Pat");
    free(tqt_sql(host,
                 "INSERT INTO tasqly.refresh_tokens (token_hash, user_id,"
                 " family_id, expires_at, used_at) VALUES"
                 " (sha256('stale'), '%s', gen_random_uuid(),"
                 "  now() - interval '25 hours', now() - interval '26 hours'),"
                 " (sha256('spent'), '%s', gen_random_uuid(),"
                 "  now() - interval '1 hour', now() - interval '2 hours')",
                 u.id, u.id));
    free(tqt_sql(host,
                 "INSERT INTO tasqly.password_reset_tokens (token_hash,"
                 " user_id, expires_at) VALUES"
                 " (sha256('stale'), '%s', now() - interval '25 hours'),"
                 " (sha256('recent'), '%s', now() - interval '1 hour')",
                 u.id, u.id));
    free(tqt_sql(host,
                 "INSERT INTO tasqly.rate_limits (key, window_start, hits)"
                 " VALUES ('test:stale', now() - interval '25 hours', 3),"
                 " ('test:recent', now() - interval '2 hours', 3)"));
    /* Due again: the job runner looks every few seconds. */
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM tasqly.jobs"
                                      " WHERE name = 'tasqly.auth_cleanup'"),
                     1);
    free(tqt_sql(host, "UPDATE tasqly.jobs SET last_run = now() - interval"
                       " '2 hours' WHERE name = 'tasqly.auth_cleanup'"));
    free(at_sql_wait(host, "SELECT 'gone' WHERE NOT EXISTS (SELECT 1 FROM"
                           " tasqly.rate_limits WHERE key = 'test:stale')"));
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE"
                                      " token_hash = sha256('stale')"), 0);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.refresh_tokens WHERE"
                                      " token_hash = sha256('spent')"), 1);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.password_reset_tokens WHERE"
                                      " user_id = '%s'", u.id), 1);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM"
                                      " tasqly.rate_limits WHERE key ="
                                      " 'test:recent'"), 1);
    assert_int_equal(at_sql_int(host, "SELECT count(*) FROM tasqly.jobs"
                                      " WHERE name = 'tasqly.auth_cleanup'"
                                      " AND last_error IS NULL AND runs >= 2"),
                     1);
    /* The user's real session is untouched. */
    tqt_resp r = at_refresh(host, u.refresh);
    at_expect(&r, 200, "refresh after the clean-up");
    tqt_resp_free(&r);
    free(tqt_sql(host, "DELETE FROM tasqly.rate_limits WHERE key LIKE"
                       " 'test:%%'"));
    tqt_user_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protected_route),
        cmocka_unit_test(forged_tokens),
        cmocka_unit_test(refresh_rotates),
        cmocka_unit_test(reuse_revokes_only_that_family),
        cmocka_unit_test(refresh_failures),
        cmocka_unit_test(concurrent_refresh),
        cmocka_unit_test(logout),
        cmocka_unit_test(avatar_through_media_service),
        cmocka_unit_test(cleanup_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
