/*
 * at.h - helpers shared by the auth integration tests: a host with the
 * authfix fixture plugin, account calls, short assertions, and the token
 * secret the harness configured (read from the host's manifest) so a test
 * can mint or forge access tokens with host/auth/jwt.c.
 *
 * Every helper fails the test (cmocka) when a set-up step gets another
 * answer than it needs, so the tests assert only what they test.
 *
 * Memory: returned strings are malloc'd and owned by the caller.
 */
#ifndef AT_H
#define AT_H

#include "harness.h"

#define AT_PLUGINS_AUTHFIX "  - name: authfix\n    enabled: true\n"
#define AT_PASSWORD "correct horse battery"

/* A host with the authfix plugin (and nothing else) on a fresh database. */
tqt_host *at_start(const char *name);

/* A unique email, e.g. "name.12345@example.com" (malloc'd). */
char *at_email(const char *name);
/* POST /v1/auth/register and /login with the given fields. */
tqt_resp at_register(tqt_host *h, const char *email, const char *password,
                     const char *display_name);
tqt_resp at_login(tqt_host *h, const char *email, const char *password);
/* Login that must succeed; returns the refresh token (malloc'd) and the
 * access token in *access (malloc'd) when access is not NULL. */
char *at_login_ok(tqt_host *h, const char *email, const char *password,
                  char **access);
/* POST /v1/auth/refresh {refresh_token}. */
tqt_resp at_refresh(tqt_host *h, const char *refresh);

/* Assert the status, printing the body when it differs. */
void at_expect(const tqt_resp *r, long status, const char *what);
/* Assert a 400 validation_failed naming field. */
void at_expect_field(const tqt_resp *r, const char *field, const char *what);
/* One request, checked for status, then freed. */
void at_status(tqt_host *h, const char *method, const char *path,
               const char *token, long status, const char *body);

/* The HMAC secret and kid the host signs with, from its manifest. */
void at_secret(tqt_host *h, char *secret, size_t cap, char *kid,
               size_t kidcap);
/* GET /v1/authfix/whoami with token; returns the status, and the user id
 * it echoed (malloc'd) in *uid when 200 and uid is not NULL. */
long at_whoami(tqt_host *h, const char *token, char **uid);

/* An integer from SQL (the first column of the first row). */
long long at_sql_int(tqt_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Poll SQL until it returns a non-empty first value (or 15 s pass). */
char *at_sql_wait(tqt_host *h, const char *sql);

#endif
