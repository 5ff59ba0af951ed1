/*
 * tk.c - see tk.h.
 */
#include "tk.h"

#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void tk_expect(const tqt_resp *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: expected %ld, got %ld: %s", what, status, r->status,
                 r->body);
}

void tk_expect_field(const tqt_resp *r, const char *field, const char *what)
{
    if (r->status != 400)
        fail_msg("%s: expected 400, got %ld: %s", what, r->status, r->body);
    tqt_assert_error(r, 400, "validation_failed");
    json_t *f = json_object_get(json_object_get(r->json, "error"), "field");
    if (!json_is_string(f) || strcmp(json_string_value(f), field) != 0)
        fail_msg("%s: expected the error to name field %s: %s", what, field,
                 r->body);
}

const char *tk_s(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long long tk_i(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

static char *group(tqt_host *h, const tqt_user *u, const char *tz)
{
    tqt_resp r = tz ? tqt_req(h, "POST", "/v1/groups", u->token,
                              "{\"name\":\"Flat 7\",\"timezone\":\"%s\"}", tz)
                    : tqt_req(h, "POST", "/v1/groups", u->token,
                              "{\"name\":\"Flat 7\"}");
    tk_expect(&r, 201, "create group");
    char *gid = strdup(tqt_str(&r, "id"));
    if (tz && strcmp(tqt_str(&r, "timezone"), tz) != 0)
        fail_msg("group time zone: %s", r.body);
    tqt_resp_free(&r);
    return gid;
}

tqt_user tk_join(tqt_host *h, const tqt_user *owner, const char *gid,
                 const char *role, const char *name)
{
    char path[128];
    tqt_user u = tqt_register(h, name);
    snprintf(path, sizeof path, "/v1/groups/%s/invites", gid);
    tqt_resp r = tqt_req(h, "POST", path, owner->token, "{\"role\":\"%s\"}",
                         role);
    tk_expect(&r, 201, "create invite");
    snprintf(path, sizeof path, "/v1/invites/%s/accept", tqt_str(&r, "code"));
    tqt_resp_free(&r);
    r = tqt_req(h, "POST", path, u.token, NULL);
    tk_expect(&r, 200, "accept invite");
    tqt_resp_free(&r);
    return u;
}

void tk_house_init(tqt_host *h, tk_house *hh, const char *tz)
{
    memset(hh, 0, sizeof *hh);
    hh->alice = tqt_register(h, "Alice");
    hh->gid = group(h, &hh->alice, tz);
    hh->bob = tk_join(h, &hh->alice, hh->gid, "member", "Bob");
    hh->carol = tk_join(h, &hh->alice, hh->gid, "member", "Carol");
    hh->dave = tk_join(h, &hh->alice, hh->gid, "member", "Dave");
    char path[160];
    snprintf(path, sizeof path, "/v1/groups/%s/members/%s", hh->gid,
             hh->dave.id);
    tqt_resp r = tqt_req(h, "PATCH", path, hh->alice.token,
                         "{\"role\":\"admin\"}");
    tk_expect(&r, 200, "promote dave to admin");
    tqt_resp_free(&r);
    hh->lena = tk_join(h, &hh->alice, hh->gid, "landlord", "Lena");
    hh->sam = tqt_register(h, "Sam");
}

void tk_house_free(tk_house *hh)
{
    free(hh->gid);
    tqt_user *all[] = {&hh->alice, &hh->bob,  &hh->carol,
                       &hh->dave,  &hh->lena, &hh->sam};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        tqt_user_free(all[i]);
    memset(hh, 0, sizeof *hh);
}

const char *tk_path(const char *gid, const char *suffix)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "/v1/groups/%s/tasks%s", gid,
             suffix ? suffix : "");
    return b;
}

const char *tk_tpath(const char *gid, const char *tid, const char *suffix)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "/v1/groups/%s/tasks/%s%s", gid, tid,
             suffix ? suffix : "");
    return b;
}

char *tk_task(tqt_host *h, const tqt_user *u, const char *gid,
              const char *body)
{
    tqt_resp r = tqt_req(h, "POST", tk_path(gid, NULL), u->token, "%s", body);
    tk_expect(&r, 201, body);
    char *id = strdup(tqt_str(&r, "id"));
    tqt_resp_free(&r);
    return id;
}

tqt_resp tk_req_if(tqt_host *h, const char *method, const char *path,
                   const tqt_user *u, const char *if_match, const char *body)
{
    char hdr[128];
    const char *extra[] = {hdr, NULL};
    snprintf(hdr, sizeof hdr, "If-Match: %s", if_match ? if_match : "");
    return tqt_req_raw(h, method, path, u->token,
                       body ? "application/json" : NULL, body,
                       body ? strlen(body) : 0, if_match ? extra : NULL);
}

void tk_time_from_now(long seconds, char *out)
{
    time_t t = time(NULL) + seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

tqt_resp tk_get(tqt_host *h, const tqt_user *u, const char *gid,
                const char *tid)
{
    tqt_resp r = tqt_req(h, "GET", tk_tpath(gid, tid, NULL), u->token, NULL);
    tk_expect(&r, 200, "get task");
    return r;
}

void tk_wait_assignee(tqt_host *h, const tqt_user *u, const char *gid,
                      const char *tid, const char *want, int seconds)
{
    char last[64] = "";
    for (int i = 0; i < seconds * 10; i++) {
        tqt_resp r = tk_get(h, u, gid, tid);
        const char *a = tqt_str(&r, "assignee_id");
        bool done = want ? a && strcmp(a, want) == 0 : a == NULL;
        snprintf(last, sizeof last, "%s", a ? a : "null");
        tqt_resp_free(&r);
        if (done)
            return;
        usleep(100 * 1000);
    }
    fail_msg("task %s: assignee is still %s after %d s, want %s", tid, last,
             seconds, want ? want : "null");
}
