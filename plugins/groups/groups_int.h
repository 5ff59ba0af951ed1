/*
 * groups_int.h - what the files of the groups plugin share; not part of
 * the SDK and never included by anything outside plugins/groups/.
 *
 * Files, one idea each:
 *   groups.c        descriptor, config, init (routes, migrations, service)
 *   migrations.c    the schema, as ordered migrations
 *   membership.c    the membership service (tq_groups_service) and the
 *                   lookups the routes share with it
 *   group_routes.c  /v1/groups, /v1/groups/{gid}, transfer-ownership
 *   member_routes.c /v1/groups/{gid}/members/{uid}
 *   invite_routes.c invites: create, revoke, preview, accept
 *   rules.c         the role table of README.md, as data (pure C)
 *   invite_code.c   invite code generation and normalisation (pure C)
 *   currency.c      ISO 4217 codes (pure C)
 *
 * Memory: everything handlers produce is request memory (tq_alloc,
 * tq_printf, results) or jansson references handed to the host; the
 * plugin holds no heap memory of its own between requests.  Internal
 * names start with grp_; -fvisibility=hidden keeps them in the .so.
 */
#ifndef GROUPS_INT_H
#define GROUPS_INT_H

#include <tasqly/groups.h>
#include <tasqly/tasqly.h>

#include <stdbool.h>
#include <stddef.h>

/* ------------------------------------------------------------ config */

typedef struct grp_config {
    char default_currency[4]; /* "USD" */
    int invite_ttl_hours;     /* 168 */
    int invite_max_uses;      /* 1: the max_uses of an invite by default */
} grp_config;

/* Set once in init(), read-only afterwards (so safe across workers). */
extern grp_config grp_conf;

/* -------------------------------------------------------------- roles */

typedef enum grp_role {
    GRP_OWNER,
    GRP_ADMIN,
    GRP_MEMBER,
    GRP_LANDLORD,
    GRP_NROLES,
    GRP_NO_ROLE = -1
} grp_role;

/* "owner" -> GRP_OWNER; GRP_NO_ROLE for anything else (NULL too). */
grp_role grp_role_parse(const char *s);
/* Static name of a role ("owner"); NULL for GRP_NO_ROLE. */
const char *grp_role_name(grp_role r);
/* The TQ_ROLE_* bit of a role (0 for GRP_NO_ROLE). */
unsigned grp_role_bit(grp_role r);

/*
 * The rows of the role table in README.md, in its order.  Each row names
 * an action; rules.c holds, for each role, whether it may do it.
 */
typedef enum grp_action {
    GRP_A_VIEW,          /* see the group, its members */
    GRP_A_EDIT,          /* change name, timezone, currency */
    GRP_A_DELETE,        /* delete the group */
    GRP_A_INVITE,        /* create an invite */
    GRP_A_REVOKE,        /* revoke an invite */
    GRP_A_SET_ROLE,      /* change a role between member and landlord */
    GRP_A_SET_ADMIN,     /* promote to admin, or demote an admin */
    GRP_A_SET_OWNER,     /* change the owner's role */
    GRP_A_REMOVE_MEMBER, /* remove a member or a landlord */
    GRP_A_REMOVE_ADMIN,  /* remove an admin */
    GRP_A_REMOVE_OWNER,  /* remove the owner */
    GRP_A_LEAVE,         /* leave the group yourself */
    GRP_A_TRANSFER,      /* hand ownership to another member */
    GRP_NACTIONS
} grp_action;

/* What the table says: allowed, forbidden (403), or refused because of
 * the group's state (409: the owner must transfer ownership first). */
typedef enum grp_verdict { GRP_ALLOW, GRP_FORBID, GRP_CONFLICT } grp_verdict;

grp_verdict grp_rule(grp_action a, grp_role actor);
/* The README label of an action ("delete the group"). */
const char *grp_action_label(grp_action a);
/* Which action changing a member's role from old to new is (new is never
 * GRP_OWNER: ownership moves only by transfer). */
grp_action grp_role_change_action(grp_role old, grp_role new_role);
/* Which action removing a member of role target is (not yourself). */
grp_action grp_remove_action(grp_role target);

/* ------------------------------------------------------- invite codes */

/* 16 symbols of Crockford base32: 80 random bits. */
#define GRP_CODE_SYMBOLS 16
/* "XXXX-XXXX-XXXX-XXXX" plus NUL. */
#define GRP_CODE_FORMATTED (GRP_CODE_SYMBOLS + GRP_CODE_SYMBOLS / 4)

/* A fresh code, formatted with dashes, into out.  0, or -1 when the
 * kernel's random source failed (errno set). */
int grp_code_new(char out[GRP_CODE_FORMATTED]);
/*
 * The canonical form of what a user typed (what is hashed and stored):
 * dashes and spaces dropped, lower case raised, and the look-alikes O->0,
 * I and L->1 folded.  Returns false when the result is not exactly
 * GRP_CODE_SYMBOLS symbols of the alphabet.
 */
bool grp_code_normalize(const char *in, char out[GRP_CODE_SYMBOLS + 1]);
/* Canonical -> "XXXX-XXXX-XXXX-XXXX". */
void grp_code_format(const char *canon, char out[GRP_CODE_FORMATTED]);

/* ----------------------------------------------------------- currency */

/* True for an ISO 4217 code of a circulating currency ("EUR"). */
bool grp_currency_valid(const char *code);
/* The list, sorted, for tests. */
extern const char *const grp_currencies[];
extern const size_t grp_ncurrencies;

/* --------------------------------------------------------- plugin glue */

int grp_register_migrations(void);

/* 0 when actor may do a (grp_rule), else sets 403 (or 409) naming the
 * role, the action and who may, and returns that status. */
int grp_check(tq_req *req, grp_action a, grp_role actor);

/* The service table handed to tq_provide(). */
extern const tq_groups_service grp_service;

/* True when s is a UUID in canonical text form (any case). */

/*
 * The caller's role in gid for a route that changes membership: first a
 * plain require() (404 to non-members), then the group's row is locked
 * (FOR NO KEY UPDATE) so membership changes of one group run one at a
 * time, then the role is read again, now current.  Returns 0 with *role,
 * or the status of the response it set.
 */
int grp_lock_require(tq_req *req, const char *gid, unsigned roles,
                     grp_role *role);

/* Role of uid in gid (GRP_NO_ROLE when not a member); 0 or a TQ_E_*. */
int grp_role_lookup(tq_req *req, const char *gid, const char *uid,
                    grp_role *role);

/* The display name of uid for event summaries ("someone" when the host
 * has none); request memory.  0 or a TQ_E_*. */
int grp_display_name(tq_req *req, const char *uid, const char **name);

/* {id, name, timezone, currency, created_at, role, members}: the answer
 * of GET /v1/groups/{gid}; new reference in *out.  0 or a TQ_E_*. */
int grp_group_full(tq_req *req, const char *gid, const char *role,
                   json_t **out);

/* An event about gid with payload {subject_id, summary, ...extra}; steals
 * extra (may be NULL).  0 or a TQ_E_*. */
int grp_emit(tq_req *req, const char *type, const char *gid,
             const char *subject_id, const char *summary, json_t *extra);

/* Route handlers. */
int grp_h_create(tq_req *req);
int grp_h_list(tq_req *req);
int grp_h_get(tq_req *req);
int grp_h_patch(tq_req *req);
int grp_h_delete(tq_req *req);
int grp_h_transfer(tq_req *req);
int grp_h_member_patch(tq_req *req);
int grp_h_member_delete(tq_req *req);
int grp_h_invite_create(tq_req *req);
int grp_h_invite_revoke(tq_req *req);
int grp_h_invite_preview(tq_req *req);
int grp_h_invite_accept(tq_req *req);

/* Periodic job: forget invites that ended long ago. */
int grp_job_invite_gc(tq_req *ctx);

#endif
