/*
 * tk.h - helpers shared by the tasks integration tests: a household in a
 * time zone, tasks, requests with an If-Match header, and waiting for
 * what event subscribers and jobs do in the background.  Every helper
 * fails the test (cmocka) when the host answers something other than
 * the set-up step expects, so tests assert only what they test.
 *
 * Memory: strings returned are malloc'd and owned by the caller; a
 * tk_house owns its strings and users (tk_house_free()).
 */
#ifndef TK_H
#define TK_H

#include "harness.h"

/* groups + tasks, no media (so media_ids are refused); the due job every
 * second so tests need not wait a minute. */
#define TK_PLUGINS                                                         \
    "  - name: groups\n    enabled: true\n"                                \
    "  - name: tasks\n    enabled: true\n"                                 \
    "    config:\n      due_interval_s: 1\n"

/* One group: alice owns it, bob and carol are members, dave an admin,
 * lena the landlord; sam belongs to no group. */
typedef struct tk_house {
    char *gid;
    tqt_user alice, bob, carol, dave, lena, sam;
} tk_house;

/* A new household whose group has time zone tz (NULL: UTC). */
void tk_house_init(tqt_host *h, tk_house *hh, const char *tz);
void tk_house_free(tk_house *hh);
/* A new user joined to gid as role ("member" or "landlord"). */
tqt_user tk_join(tqt_host *h, const tqt_user *owner, const char *gid,
                 const char *role, const char *name);

/* "/v1/groups/<gid>/tasks" + suffix, in a static rotating buffer. */
const char *tk_path(const char *gid, const char *suffix);
/* The same for a task: "/v1/groups/<gid>/tasks/<tid>" + suffix. */
const char *tk_tpath(const char *gid, const char *tid, const char *suffix);

/* POST a task with body (JSON text); fails unless 201; returns its id. */
char *tk_task(tqt_host *h, const tqt_user *u, const char *gid,
              const char *body);
/* A request with If-Match: value (NULL: none) and a JSON body (NULL:
 * none). */
tqt_resp tk_req_if(tqt_host *h, const char *method, const char *path,
                   const tqt_user *u, const char *if_match,
                   const char *body);

/* Assert status, printing the body when it differs. */
void tk_expect(const tqt_resp *r, long status, const char *what);
/* Assert a 400 validation_failed naming field. */
void tk_expect_field(const tqt_resp *r, const char *field,
                     const char *what);
/* A string member of an object (borrowed; NULL when absent or null). */
const char *tk_s(json_t *obj, const char *key);
/* An integer member (fails when it is not an integer). */
long long tk_i(json_t *obj, const char *key);

/* RFC 3339 UTC for now + seconds (into out, >= 32 bytes). */
void tk_time_from_now(long seconds, char *out);

/* GET a task as u; returns the response (200 asserted). */
tqt_resp tk_get(tqt_host *h, const tqt_user *u, const char *gid,
                const char *tid);
/* Poll until the task's assignee_id equals want (NULL: unassigned), for
 * up to seconds; fails otherwise. */
void tk_wait_assignee(tqt_host *h, const tqt_user *u, const char *gid,
                      const char *tid, const char *want, int seconds);

#endif
