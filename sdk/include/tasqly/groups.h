/*
 * groups.h - the membership service the groups plugin provides.
 *
 * Every group-scoped plugin asks this service who may see and change what;
 * none reads the groups plugin's tables.  Get it once in init():
 *
 *     static const tq_groups_service *groups;
 *     groups = tq_service_required(TQ_GROUPS_SERVICE, 1, "groups");
 *
 * All strings it returns are borrowed from the request (or static), and
 * json_t results are new references owned by the caller.
 */
#ifndef TASQLY_GROUPS_H
#define TASQLY_GROUPS_H

#include <tasqly/tasqly.h>

#define TQ_GROUPS_SERVICE "groups.membership"
#define TQ_GROUPS_SERVICE_VERSION 1

/* Role bits for require(). */
enum {
    TQ_ROLE_OWNER = 1u << 0,
    TQ_ROLE_ADMIN = 1u << 1,
    TQ_ROLE_MEMBER = 1u << 2,
    TQ_ROLE_LANDLORD = 1u << 3,
    TQ_ROLE_ANY = 0xfu,
    TQ_ROLE_TENANT = TQ_ROLE_OWNER | TQ_ROLE_ADMIN | TQ_ROLE_MEMBER,
    TQ_ROLE_MANAGER = TQ_ROLE_OWNER | TQ_ROLE_ADMIN,
};

typedef struct tq_groups_service {
    uint32_t size; /* sizeof as the provider built it */

    /*
     * The caller's (tq_user(req)) membership of gid, for a route handler:
     * returns 0 and sets *role ("owner", "admin", "member", "landlord";
     * static) when the caller is a member with a role in roles; otherwise
     * sets the response and returns its status: 404 when gid is not a
     * group the caller belongs to (never leak existence), 403 when the
     * role is not in roles, 503 when the database is away.  role may be
     * NULL.
     */
    int (*require)(tq_req *req, const char *gid, unsigned roles,
                   const char **role);

    /* Role of uid in gid: TQ_OK with *role (static), TQ_E_NOTFOUND when
     * uid is not a member, or a database error code.  Sets no response. */
    int (*role_of)(tq_req *req, const char *gid, const char *uid,
                   const char **role);

    /* New reference in *out: [{user_id, display_name, role, joined_at}]. */
    int (*members)(tq_req *req, const char *gid, json_t **out);

    /* *shared = 1 when users a and b are members of a common group. */
    int (*share_group)(tq_req *req, const char *a, const char *b,
                       int *shared);

    /* New reference in *out: {id, name, timezone, currency, created_at};
     * TQ_E_NOTFOUND when no such group. */
    int (*group)(tq_req *req, const char *gid, json_t **out);
} tq_groups_service;

#endif
