/*
 * at.c - see at.h.
 */
#include "at.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

tqt_host *at_start(const char *name)
{
    tqt_opts o = {.plugins_yaml = AT_PLUGINS_AUTHFIX};
    return tqt_start(name, &o);
}

char *at_email(const char *name)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s.%s@example.com", name, tqt_unique());
    return strdup(buf);
}

tqt_resp at_register(tqt_host *h, const char *email, const char *password,
                     const char *display_name)
{
    json_t *b = json_pack("{s:s, s:s, s:s}", "email", email, "password",
                          password, "display_name", display_name);
    char *s = json_dumps(b, JSON_COMPACT);
    tqt_resp r = tqt_req_raw(h, "POST", "/v1/auth/register", NULL,
                             "application/json", s, strlen(s), NULL);
    free(s);
    json_decref(b);
    return r;
}

tqt_resp at_login(tqt_host *h, const char *email, const char *password)
{
    json_t *b = json_pack("{s:s, s:s}", "email", email, "password", password);
    char *s = json_dumps(b, JSON_COMPACT);
    tqt_resp r = tqt_req_raw(h, "POST", "/v1/auth/login", NULL,
                             "application/json", s, strlen(s), NULL);
    free(s);
    json_decref(b);
    return r;
}

char *at_login_ok(tqt_host *h, const char *email, const char *password,
                  char **access)
{
    tqt_resp r = at_login(h, email, password);
    at_expect(&r, 200, "login");
    char *refresh = strdup(tqt_str(&r, "refresh_token"));
    if (access)
        *access = strdup(tqt_str(&r, "access_token"));
    tqt_resp_free(&r);
    return refresh;
}

tqt_resp at_refresh(tqt_host *h, const char *refresh)
{
    return tqt_req(h, "POST", "/v1/auth/refresh", NULL,
                   "{\"refresh_token\":\"%s\"}", refresh);
}

void at_expect(const tqt_resp *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: expected %ld, got %ld: %s", what, status, r->status,
                 r->body);
}

void at_expect_field(const tqt_resp *r, const char *field, const char *what)
{
    at_expect(r, 400, what);
    json_t *e = json_object_get(r->json, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *f = json_string_value(json_object_get(e, "field"));
    if (!code || strcmp(code, "validation_failed") != 0 || !f ||
        strcmp(f, field) != 0)
        fail_msg("%s: expected validation_failed on %s: %s", what, field,
                 r->body);
}

void at_status(tqt_host *h, const char *method, const char *path,
               const char *token, long status, const char *body)
{
    tqt_resp r = body ? tqt_req(h, method, path, token, "%s", body)
                      : tqt_req(h, method, path, token, NULL);
    char what[300];
    snprintf(what, sizeof what, "%s %s", method, path);
    at_expect(&r, status, what);
    tqt_resp_free(&r);
}

/* A "  key: value" line of the manifest's auth section. */
static void manifest_value(const char *text, const char *key, char *out,
                           size_t cap)
{
    const char *auth = strstr(text, "\nauth:");
    char pat[64];
    snprintf(pat, sizeof pat, "\n  %s:", key);
    const char *p = auth ? strstr(auth, pat) : NULL;
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(pat);
    while (*p == ' ' || *p == '"')
        p++;
    size_t n = strcspn(p, "\"\n");
    if (n >= cap)
        fail_msg("manifest value of %s too long", key);
    memcpy(out, p, n);
    out[n] = '\0';
}

void at_secret(tqt_host *h, char *secret, size_t cap, char *kid,
               size_t kidcap)
{
    FILE *f = fopen(tqt_manifest_path(h), "r");
    if (!f)
        fail_msg("cannot read %s", tqt_manifest_path(h));
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    manifest_value(text, "token_secret", secret, cap);
    if (!secret[0])
        fail_msg("no auth.token_secret in %s", tqt_manifest_path(h));
    manifest_value(text, "token_kid", kid, kidcap);
    if (!kid[0])
        snprintf(kid, kidcap, "k1"); /* the documented default */
}

long at_whoami(tqt_host *h, const char *token, char **uid)
{
    tqt_resp r = tqt_req(h, "GET", "/v1/authfix/whoami", token, NULL);
    long st = r.status;
    if (uid) {
        const char *u = st == 200 ? tqt_str(&r, "user_id") : NULL;
        *uid = u ? strdup(u) : NULL;
    }
    tqt_resp_free(&r);
    return st;
}

long long at_sql_int(tqt_host *h, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = tqt_sql(h, "%s", sql);
    long long x = atoll(v);
    free(v);
    return x;
}

char *at_sql_wait(tqt_host *h, const char *sql)
{
    for (int i = 0; i < 300; i++) {
        char *v = tqt_sql(h, "%s", sql);
        if (v[0])
            return v;
        free(v);
        usleep(50000);
    }
    fail_msg("nothing after 15 s: %s", sql);
    return NULL;
}
