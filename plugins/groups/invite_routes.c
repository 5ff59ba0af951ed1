/*
 * invite_routes.c - invites: an owner or admin creates a code, anyone
 * with the code may preview it without logging in, a logged-in user
 * accepts it, and an owner or admin may revoke it.
 *
 * Codes are stored as SHA-256 of their canonical form (invite_code.c), so
 * every statement here hashes the code it is given in SQL.  Accepting is
 * atomic: the use is taken by one conditional UPDATE, in the same
 * transaction as the membership INSERT, so two users racing for the last
 * use cannot both win (the loser's UPDATE, re-checked by PostgreSQL after
 * the winner commits, matches no row).
 *
 * Memory: request memory and jansson references handed to the host.
 */
#include "groups_int.h"

#include <errno.h>
#include <string.h>

#define CODE_HASH "sha256(convert_to($1, 'UTF8'))"

/* The canonical code of the {code} path parameter, or NULL (then the
 * caller answers 404: a mistyped code is just a code that doesn't exist). */
static const char *code_param(tq_req *req)
{
    char *canon = tq_alloc(req, GRP_CODE_SYMBOLS + 1);
    return grp_code_normalize(tq_param(req, "code"), canon) ? canon : NULL;
}

/* POST /v1/groups/{gid}/invites {role?, max_uses?, expires_in_hours?} */
int grp_h_invite_create(tq_req *req)
{
    static const char *const roles[] = {"member", "landlord", NULL};
    const char *gid, *role;
    long long max_uses = grp_conf.invite_max_uses;
    long long hours = grp_conf.invite_ttl_hours;
    grp_role me;
    tq_res *res = NULL;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &me)) ||
        (st = grp_check(req, GRP_A_INVITE, me)) ||
        (st = tq_get_enum(req, "role", 0, roles, &role)) ||
        (st = tq_get_int(req, "max_uses", 0, 1, 1000, &max_uses)) ||
        (st = tq_get_int(req, "expires_in_hours", 0, 1, 8760, &hours)))
        return st;
    if (!role)
        role = "member";

    char code[GRP_CODE_FORMATTED], canon[GRP_CODE_SYMBOLS + 1];
    /* A collision of 80-bit codes will not happen; if it ever does, the
     * next code will not collide, and ON CONFLICT keeps the transaction
     * alive to try it. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (grp_code_new(code) != 0) {
            tq_log(req, TQ_LOG_ERROR,
                   "getrandom() failed: %s; invites need the kernel's "
                   "random source",
                   strerror(errno));
            return tq_fail(req, TQ_ERR);
        }
        grp_code_normalize(code, canon);
        int rc = tq_sql(req, &res,
                        "INSERT INTO groups.invites (code_hash, group_id,"
                        "   role, created_by, expires_at, max_uses)"
                        " VALUES (" CODE_HASH ", $2, $3, $4,"
                        "   now() + make_interval(hours => $5::int), $6::int)"
                        " ON CONFLICT (code_hash) DO NOTHING"
                        " RETURNING expires_at",
                        canon, gid, role, tq_user(req),
                        tq_printf(req, "%lld", hours),
                        tq_printf(req, "%lld", max_uses));
        if (rc < 0)
            return tq_fail(req, rc);
        if (tq_rows(res) == 1)
            return tq_json(req, 201,
                           json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}",
                                     "code", code, "group_id", gid, "role",
                                     role, "expires_at", tq_get(res, 0, 0),
                                     "max_uses", (json_int_t)max_uses,
                                     "uses", 0));
    }
    return tq_fail(req, TQ_E_UNIQUE);
}

/* DELETE /v1/groups/{gid}/invites/{code}: revoking twice is fine. */
int grp_h_invite_revoke(tq_req *req)
{
    const char *gid, *canon;
    grp_role me;
    tq_res *res;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &me)) ||
        (st = grp_check(req, GRP_A_REVOKE, me)))
        return st;
    if (!(canon = code_param(req)))
        return tq_not_found(req);
    int rc = tq_sql(req, &res,
                    "UPDATE groups.invites"
                    "   SET revoked_at = coalesce(revoked_at, now())"
                    " WHERE code_hash = " CODE_HASH " AND group_id = $2",
                    canon, gid);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_affected(res) != 1)
        return tq_not_found(req);
    return tq_status(req, 204);
}

/* GET /v1/invites/{code}, without auth: what the app shows before the
 * user decides (and possibly registers).  Only a usable code answers. */
int grp_h_invite_preview(tq_req *req)
{
    const char *canon = code_param(req);
    tq_res *res;
    if (!canon)
        return tq_not_found(req);
    int rc = tq_sql(req, &res,
                    "SELECT g.name AS group_name, i.role, i.expires_at"
                    "  FROM groups.invites i"
                    "  JOIN groups.groups g ON g.id = i.group_id"
                    " WHERE i.code_hash = " CODE_HASH
                    "   AND i.revoked_at IS NULL AND i.expires_at > now()"
                    "   AND i.uses < i.max_uses",
                    canon);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_rows(res) != 1)
        return tq_not_found(req);
    return tq_json(req, 200, tq_row_json(res, 0));
}

/* POST /v1/invites/{code}/accept */
int grp_h_invite_accept(tq_req *req)
{
    const char *canon = code_param(req), *me = tq_user(req), *gid, *role,
               *name;
    tq_res *res;
    if (!canon)
        return tq_not_found(req);
    /* Already a member is answered before a use is taken. */
    int rc = tq_sql(req, &res,
                    "SELECT EXISTS (SELECT 1 FROM groups.members m"
                    "                WHERE m.group_id = i.group_id"
                    "                  AND m.user_id = $2)"
                    "  FROM groups.invites i"
                    " WHERE i.code_hash = " CODE_HASH
                    "   AND i.revoked_at IS NULL AND i.expires_at > now()"
                    "   AND i.uses < i.max_uses",
                    canon, me);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_rows(res) != 1)
        return tq_not_found(req);
    if (tq_get_b(res, 0, 0))
        return tq_error(req, 409, "conflict", NULL,
                        "you are already a member of this group");
    rc = tq_sql(req, &res,
                "UPDATE groups.invites SET uses = uses + 1"
                " WHERE code_hash = " CODE_HASH
                "   AND revoked_at IS NULL AND expires_at > now()"
                "   AND uses < max_uses"
                " RETURNING group_id, role",
                canon);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_rows(res) != 1) /* someone else took the last use meanwhile */
        return tq_not_found(req);
    gid = tq_get(res, 0, 0);
    role = tq_get(res, 0, 1);
    rc = tq_sql(req, NULL,
                "INSERT INTO groups.members (group_id, user_id, role)"
                " VALUES ($1, $2, $3)",
                gid, me, role);
    if (rc == TQ_E_UNIQUE) /* the same user, accepting twice at once */
        return tq_error(req, 409, "conflict", NULL,
                        "you are already a member of this group");
    if (rc == TQ_E_FOREIGN_KEY) /* the group was deleted meanwhile */
        return tq_not_found(req);
    if (rc == 0)
        rc = grp_display_name(req, me, &name);
    if (rc == 0)
        rc = grp_emit(req, "group.member_joined", gid, me,
                      strcmp(role, "member") == 0
                          ? tq_printf(req, "%s joined the group", name)
                          : tq_printf(req, "%s joined the group as %s", name,
                                      role),
                      json_pack("{s:s, s:s}", "user_id", me, "role", role));
    if (rc < 0)
        return tq_fail(req, rc);
    return tq_json(req, 200,
                   json_pack("{s:s, s:s}", "group_id", gid, "role", role));
}

/* Job: expired or revoked invites answer 404 either way, so after a
 * grace month (for support questions) they are simply forgotten. */
int grp_job_invite_gc(tq_req *ctx)
{
    int rc = tq_sql(ctx, NULL,
                    "DELETE FROM groups.invites"
                    " WHERE expires_at < now() - interval '30 days'"
                    "    OR revoked_at < now() - interval '30 days'");
    return rc < 0 ? rc : TQ_OK;
}
