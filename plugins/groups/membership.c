/*
 * membership.c - the membership service other plugins call
 * (tq_groups_service, sdk/include/tasqly/groups.h), and the look-ups the
 * groups routes share with it.  This file and the routes are the only
 * readers of groups.members; every other plugin asks through here.
 *
 * Memory: strings handed out are static (role names) or request memory;
 * json_t results are new references owned by the caller.
 */
#include "groups_int.h"

#include <string.h>


int grp_role_lookup(tq_req *req, const char *gid, const char *uid,
                    grp_role *role)
{
    tq_res *res;
    *role = GRP_NO_ROLE;
    /* Checked here, not left to PostgreSQL: a malformed uuid would abort
     * the caller's transaction. */
    if (!tq_is_uuid(gid) || !tq_is_uuid(uid))
        return TQ_OK;
    int rc = tq_sql(req, &res,
                    "SELECT role FROM groups.members"
                    " WHERE group_id = $1 AND user_id = $2",
                    gid, uid);
    if (rc < 0)
        return rc;
    if (tq_rows(res) == 1) {
        *role = grp_role_parse(tq_get(res, 0, 0));
        if (*role == GRP_NO_ROLE)
            return TQ_E_QUERY; /* the CHECK constraint makes this a bug */
    }
    return TQ_OK;
}

/* "owner or admin" from role bits, for messages; NULL for none. */
static const char *who_may(tq_req *req, unsigned bits)
{
    const char *out = NULL;
    for (int r = 0; r < GRP_NROLES; r++) {
        if (!(bits & grp_role_bit((grp_role)r)))
            continue;
        out = out ? tq_printf(req, "%s or %s", out, grp_role_name(r))
                  : grp_role_name(r);
    }
    return out;
}

/* 403 naming the action, who may do it, and the caller's role. */
static int deny(tq_req *req, grp_role actor, const char *what,
                unsigned allowed)
{
    const char *who = who_may(req, allowed);
    return tq_forbidden(req,
                        tq_printf(req, "%s%s may %s; your role in this "
                                       "group is %s",
                                  who ? "only " : "", who ? who : "nobody",
                                  what, grp_role_name(actor)));
}

int grp_check(tq_req *req, grp_action a, grp_role actor)
{
    switch (grp_rule(a, actor)) {
    case GRP_ALLOW:
        return 0;
    case GRP_CONFLICT:
        return tq_error(req, 409, "conflict", NULL,
                        "the owner cannot leave the group: hand ownership "
                        "to another member first (POST "
                        "/v1/groups/{gid}/transfer-ownership) or delete "
                        "the group");
    case GRP_FORBID:
        break;
    }
    unsigned allowed = 0;
    for (int r = 0; r < GRP_NROLES; r++)
        if (grp_rule(a, (grp_role)r) == GRP_ALLOW)
            allowed |= grp_role_bit((grp_role)r);
    return deny(req, actor, grp_action_label(a), allowed);
}

/* ------------------------------------------------------------ service */

static int svc_role_of(tq_req *req, const char *gid, const char *uid,
                       const char **role)
{
    grp_role r;
    int rc = grp_role_lookup(req, gid, uid, &r);
    if (rc < 0)
        return rc;
    if (r == GRP_NO_ROLE)
        return TQ_E_NOTFOUND;
    if (role)
        *role = grp_role_name(r);
    return TQ_OK;
}

static int svc_require(tq_req *req, const char *gid, unsigned roles,
                       const char **role)
{
    grp_role r;
    int rc = grp_role_lookup(req, gid, tq_user(req), &r);
    if (rc < 0)
        return tq_fail(req, rc);
    if (r == GRP_NO_ROLE)
        return tq_not_found(req);
    if (!(grp_role_bit(r) & roles))
        return deny(req, r, "do this", roles);
    if (role)
        *role = grp_role_name(r);
    return 0;
}

static int svc_members(tq_req *req, const char *gid, json_t **out)
{
    tq_res *res;
    *out = NULL;
    if (!tq_is_uuid(gid))
        return TQ_E_NOTFOUND;
    /* Owner first, then by seniority: the order a members screen wants. */
    int rc = tq_sql(req, &res,
                    "SELECT m.user_id, u.display_name, m.role, m.joined_at"
                    "  FROM groups.members m"
                    "  LEFT JOIN tasqly.user_public u ON u.id = m.user_id"
                    " WHERE m.group_id = $1"
                    " ORDER BY m.role = 'owner' DESC, m.joined_at, m.user_id",
                    gid);
    if (rc < 0)
        return rc;
    *out = tq_res_json(res);
    return *out ? TQ_OK : TQ_E_NOMEM;
}

static int svc_share_group(tq_req *req, const char *a, const char *b,
                           int *shared)
{
    tq_res *res;
    *shared = 0;
    if (!tq_is_uuid(a) || !tq_is_uuid(b))
        return TQ_OK;
    int rc = tq_sql(req, &res,
                    "SELECT EXISTS (SELECT 1 FROM groups.members x"
                    "  JOIN groups.members y ON y.group_id = x.group_id"
                    " WHERE x.user_id = $1 AND y.user_id = $2)",
                    a, b);
    if (rc < 0)
        return rc;
    *shared = tq_get_b(res, 0, 0);
    return TQ_OK;
}

static int svc_group(tq_req *req, const char *gid, json_t **out)
{
    tq_res *res;
    *out = NULL;
    if (!tq_is_uuid(gid))
        return TQ_E_NOTFOUND;
    int rc = tq_sql(req, &res,
                    "SELECT id, name, timezone, currency, created_at"
                    "  FROM groups.groups WHERE id = $1",
                    gid);
    if (rc < 0)
        return rc;
    if (tq_rows(res) == 0)
        return TQ_E_NOTFOUND;
    *out = tq_row_json(res, 0);
    return *out ? TQ_OK : TQ_E_NOMEM;
}

const tq_groups_service grp_service = {
    .size = sizeof(tq_groups_service),
    .require = svc_require,
    .role_of = svc_role_of,
    .members = svc_members,
    .share_group = svc_share_group,
    .group = svc_group,
};

/* ------------------------------------------------- shared with routes */

int grp_lock_require(tq_req *req, const char *gid, unsigned roles,
                     grp_role *role)
{
    /* Non-members get their 404 before they can take any lock. */
    int st = svc_require(req, gid, TQ_ROLE_ANY, NULL);
    if (st)
        return st;
    /* A separate statement from the role read below: in READ COMMITTED
     * only a new statement sees what the previous lock holder committed. */
    int rc = tq_sql(req, NULL,
                    "SELECT 1 FROM groups.groups WHERE id = $1"
                    " FOR NO KEY UPDATE",
                    gid);
    if (rc < 0)
        return tq_fail(req, rc);
    grp_role r;
    rc = grp_role_lookup(req, gid, tq_user(req), &r);
    if (rc < 0)
        return tq_fail(req, rc);
    if (r == GRP_NO_ROLE) /* removed, or the group deleted, meanwhile */
        return tq_not_found(req);
    if (!(grp_role_bit(r) & roles))
        return deny(req, r, "do this", roles);
    *role = r;
    return 0;
}

int grp_display_name(tq_req *req, const char *uid, const char **name)
{
    tq_res *res;
    *name = "someone";
    if (!tq_is_uuid(uid))
        return TQ_OK;
    int rc = tq_sql(req, &res,
                    "SELECT display_name FROM tasqly.user_public"
                    " WHERE id = $1",
                    uid);
    if (rc < 0)
        return rc;
    if (tq_rows(res) == 1 && tq_get(res, 0, 0))
        *name = tq_get(res, 0, 0);
    return TQ_OK;
}

int grp_group_full(tq_req *req, const char *gid, const char *role,
                   json_t **out)
{
    json_t *g, *members;
    *out = NULL;
    int rc = svc_group(req, gid, &g);
    if (rc < 0)
        return rc;
    rc = svc_members(req, gid, &members);
    if (rc < 0) {
        json_decref(g);
        return rc;
    }
    json_object_set_new(g, "role", json_string(role));
    json_object_set_new(g, "members", members);
    *out = g;
    return TQ_OK;
}

int grp_emit(tq_req *req, const char *type, const char *gid,
             const char *subject_id, const char *summary, json_t *extra)
{
    json_t *p = extra ? extra : json_object();
    if (!p)
        return TQ_E_NOMEM;
    if (subject_id)
        json_object_set_new(p, "subject_id", json_string(subject_id));
    if (summary)
        json_object_set_new(p, "summary", json_string(summary));
    return tq_emit(req, type, gid, p);
}
