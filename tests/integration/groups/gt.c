/*
 * gt.c - see gt.h.
 */
#include "gt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void gt_expect(const tqt_resp *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: expected %ld, got %ld: %s", what, status, r->status,
                 r->body);
}

char *gt_create_group(tqt_host *h, const tqt_user *u, const char *name)
{
    tqt_resp r = tqt_req(h, "POST", "/v1/groups", u->token,
                         "{\"name\":\"%s\"}", name);
    gt_expect(&r, 201, "create group");
    const char *id = tqt_str(&r, "id");
    assert_non_null(id);
    char *gid = strdup(id);
    tqt_resp_free(&r);
    return gid;
}

char *gt_invite(tqt_host *h, const tqt_user *u, const char *gid,
                const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/groups/%s/invites", gid);
    tqt_resp r = tqt_req(h, "POST", path, u->token, "%s", body ? body : "{}");
    gt_expect(&r, 201, "create invite");
    const char *code = tqt_str(&r, "code");
    assert_non_null(code);
    char *c = strdup(code);
    tqt_resp_free(&r);
    return c;
}

void gt_accept(tqt_host *h, const tqt_user *u, const char *code)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/invites/%s/accept", code);
    tqt_resp r = tqt_req(h, "POST", path, u->token, NULL);
    gt_expect(&r, 200, "accept invite");
    tqt_resp_free(&r);
}

tqt_user gt_join(tqt_host *h, const tqt_user *owner, const char *gid,
                 const char *role, const char *display_name)
{
    tqt_user u = tqt_register(h, display_name);
    char body[64];
    snprintf(body, sizeof body, "{\"role\":\"%s\"}",
             strcmp(role, "landlord") == 0 ? "landlord" : "member");
    char *code = gt_invite(h, owner, gid, body);
    gt_accept(h, &u, code);
    free(code);
    if (strcmp(role, "admin") == 0) {
        char path[160];
        snprintf(path, sizeof path, "/v1/groups/%s/members/%s", gid, u.id);
        tqt_resp r = tqt_req(h, "PATCH", path, owner->token,
                             "{\"role\":\"admin\"}");
        gt_expect(&r, 200, "promote to admin");
        tqt_resp_free(&r);
    }
    return u;
}

void gt_house_init(tqt_host *h, gt_house *hh)
{
    hh->owner = tqt_register(h, "Olivia Owner");
    hh->gid = gt_create_group(h, &hh->owner, "Flat 3");
    hh->admin = gt_join(h, &hh->owner, hh->gid, "admin", "Adam Admin");
    hh->member = gt_join(h, &hh->owner, hh->gid, "member", "Mia Member");
    hh->landlord = gt_join(h, &hh->owner, hh->gid, "landlord", "Lars Landlord");
    hh->admin2 = gt_join(h, &hh->owner, hh->gid, "admin", "Ada Admin");
    hh->member2 = gt_join(h, &hh->owner, hh->gid, "member", "Max Member");
    hh->landlord2 = gt_join(h, &hh->owner, hh->gid, "landlord", "Lea Landlord");
    hh->stranger = tqt_register(h, "Sam Stranger");
}

void gt_house_free(gt_house *hh)
{
    free(hh->gid);
    tqt_user *all[] = {&hh->owner,  &hh->admin,  &hh->member,
                       &hh->landlord, &hh->admin2, &hh->member2,
                       &hh->landlord2, &hh->stranger};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        tqt_user_free(all[i]);
    memset(hh, 0, sizeof *hh);
}

long gt_status(tqt_host *h, const char *method, const char *path,
               const tqt_user *u, const char *body)
{
    tqt_resp r = body ? tqt_req(h, method, path, u ? u->token : NULL, "%s",
                                body)
                      : tqt_req(h, method, path, u ? u->token : NULL, NULL);
    long s = r.status;
    tqt_resp_free(&r);
    return s;
}

char *gt_role_in_db(tqt_host *h, const char *gid, const char *uid)
{
    return tqt_sql(h,
                   "SELECT role FROM groups.members"
                   " WHERE group_id = '%s' AND user_id = '%s'",
                   gid, uid);
}

long gt_seconds_until(const char *t)
{
    struct tm tm = {0};
    assert_non_null(t);
    const char *end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(end);
    if (*end == '.')
        while (*++end >= '0' && *end <= '9')
            ;
    assert_string_equal(end, "Z");
    return (long)(timegm(&tm) - time(NULL));
}
