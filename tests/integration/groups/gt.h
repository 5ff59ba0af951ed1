/*
 * gt.h - helpers shared by the groups integration tests: a group with one
 * user in every role, invites, and short assertions on responses.  All
 * of them fail the test (cmocka) when the host answers something else
 * than the set-up step expects, so tests assert only what they test.
 *
 * Memory: strings returned are malloc'd and owned by the caller (or by a
 * gt_house, freed by gt_house_free()).
 */
#ifndef GT_H
#define GT_H

#include "harness.h"

/* "  - name: groups\n    enabled: true\n" (+ memberprobe when asked). */
#define GT_PLUGINS_GROUPS "  - name: groups\n    enabled: true\n"
#define GT_PLUGINS_PROBE                                                   \
    GT_PLUGINS_GROUPS "  - name: memberprobe\n    enabled: true\n"

/* A household: one group and a user in every role, plus spare users of
 * each role to act upon, and a stranger who belongs to no group. */
typedef struct gt_house {
    char *gid;
    tqt_user owner, admin, member, landlord;
    tqt_user admin2, member2, landlord2;
    tqt_user stranger;
} gt_house;

/* POST /v1/groups as u; returns the new group's id (malloc'd). */
char *gt_create_group(tqt_host *h, const tqt_user *u, const char *name);
/* POST /v1/groups/{gid}/invites as u with body (NULL: "{}"); returns the
 * code (malloc'd); fails unless 201. */
char *gt_invite(tqt_host *h, const tqt_user *u, const char *gid,
                const char *body);
/* Accept code as u; fails unless 200. */
void gt_accept(tqt_host *h, const tqt_user *u, const char *code);
/* A new user in gid with role, brought in by owner (admin: invited as
 * member, then promoted). */
tqt_user gt_join(tqt_host *h, const tqt_user *owner, const char *gid,
                 const char *role, const char *display_name);
void gt_house_init(tqt_host *h, gt_house *hh);
void gt_house_free(gt_house *hh);

/* The status of one request (the response is freed). */
long gt_status(tqt_host *h, const char *method, const char *path,
               const tqt_user *u, const char *body);
/* Assert status; print the body when it differs. */
void gt_expect(const tqt_resp *r, long status, const char *what);
/* Role of uid in gid as the database has it ("" when not a member). */
char *gt_role_in_db(tqt_host *h, const char *gid, const char *uid);
/* Seconds from now to an RFC 3339 UTC time. */
long gt_seconds_until(const char *rfc3339);

#endif
