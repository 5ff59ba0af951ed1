/*
 * member_routes.c - one member of a group: change their role, remove
 * them, or leave.  Who may do which is decided by rules.c alone (the
 * README table); this file works out which row of the table a request
 * is and carries it out under the group's row lock.
 *
 * Memory: request memory and jansson references handed to the host.
 */
#include "groups_int.h"

#include <string.h>

/* "an admin", for summaries. */
static const char *with_article(grp_role r)
{
    switch (r) {
    case GRP_OWNER:
        return "the owner";
    case GRP_ADMIN:
        return "an admin";
    case GRP_MEMBER:
        return "a member";
    default:
        return "a landlord";
    }
}

/* {user_id, display_name, role, joined_at} of one member. */
static int member_json(tq_req *req, const char *gid, const char *uid,
                       json_t **out)
{
    tq_res *res;
    *out = NULL;
    int rc = tq_sql(req, &res,
                    "SELECT m.user_id, u.display_name, m.role, m.joined_at"
                    "  FROM groups.members m"
                    "  LEFT JOIN tasqly.user_public u ON u.id = m.user_id"
                    " WHERE m.group_id = $1 AND m.user_id = $2",
                    gid, uid);
    if (rc < 0)
        return rc;
    if (tq_rows(res) != 1)
        return TQ_E_NOTFOUND;
    *out = tq_row_json(res, 0);
    return *out ? TQ_OK : TQ_E_NOMEM;
}

/* PATCH /v1/groups/{gid}/members/{uid} {role} */
int grp_h_member_patch(tq_req *req)
{
    static const char *const roles[] = {"admin", "member", "landlord",
                                        NULL};
    const char *gid, *uid, *role_s, *me = tq_user(req), *my_name, *name;
    grp_role my_role, old;
    json_t *m;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &my_role)))
        return st;
    /* Roles that may change no role at all hear so before anything
     * about the request's details. */
    if (grp_rule(GRP_A_SET_ROLE, my_role) != GRP_ALLOW &&
        grp_rule(GRP_A_SET_ADMIN, my_role) != GRP_ALLOW)
        return grp_check(req, GRP_A_SET_ROLE, my_role);
    if ((st = tq_param_uuid(req, "uid", &uid)))
        return st;
    json_t *given = json_object_get(tq_body(req), "role");
    if (json_is_string(given) && strcmp(json_string_value(given), "owner") == 0)
        return tq_error(req, 400, "validation_failed", "role",
                        "ownership is not a role to set: the owner hands "
                        "it over with POST "
                        "/v1/groups/{gid}/transfer-ownership");
    if ((st = tq_get_enum(req, "role", 1, roles, &role_s)))
        return st;
    grp_role new_role = grp_role_parse(role_s);
    int rc = grp_role_lookup(req, gid, uid, &old);
    if (rc < 0)
        return tq_fail(req, rc);
    if (old == GRP_NO_ROLE)
        return tq_not_found(req);
    if ((st = grp_check(req, grp_role_change_action(old, new_role),
                        my_role)))
        return st;
    if (old != new_role) {
        rc = tq_sql(req, NULL,
                    "UPDATE groups.members SET role = $3"
                    " WHERE group_id = $1 AND user_id = $2",
                    gid, uid, role_s);
        if (rc == 0)
            rc = grp_display_name(req, me, &my_name);
        if (rc == 0)
            rc = grp_display_name(req, uid, &name);
        if (rc == 0)
            rc = grp_emit(req, "group.member_role_changed", gid, uid,
                          tq_printf(req, "%s made %s %s", my_name, name,
                                    with_article(new_role)),
                          json_pack("{s:s, s:s, s:s}", "user_id", uid,
                                    "old_role", grp_role_name(old), "role",
                                    role_s));
        if (rc < 0)
            return tq_fail(req, rc);
    }
    rc = member_json(req, gid, uid, &m);
    if (rc < 0)
        return tq_fail(req, rc);
    return tq_json(req, 200, m);
}

/* DELETE /v1/groups/{gid}/members/{uid}: remove someone, or leave. */
int grp_h_member_delete(tq_req *req)
{
    const char *gid, *uid, *me = tq_user(req), *my_name, *name, *summary;
    grp_role my_role, target;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &my_role)) ||
        (st = tq_param_uuid(req, "uid", &uid)))
        return st;
    int rc;
    bool leaving = strcmp(uid, me) == 0;
    if (leaving) {
        if ((st = grp_check(req, GRP_A_LEAVE, my_role)))
            return st;
        target = my_role;
        rc = grp_display_name(req, me, &my_name);
        summary = tq_printf(req, "%s left the group", my_name);
    } else {
        if (grp_rule(GRP_A_REMOVE_MEMBER, my_role) != GRP_ALLOW &&
            grp_rule(GRP_A_REMOVE_ADMIN, my_role) != GRP_ALLOW)
            return grp_check(req, GRP_A_REMOVE_MEMBER, my_role);
        rc = grp_role_lookup(req, gid, uid, &target);
        if (rc < 0)
            return tq_fail(req, rc);
        if (target == GRP_NO_ROLE)
            return tq_not_found(req);
        if ((st = grp_check(req, grp_remove_action(target), my_role)))
            return st;
        rc = grp_display_name(req, me, &my_name);
        if (rc == 0)
            rc = grp_display_name(req, uid, &name);
        summary = rc ? NULL
                     : tq_printf(req, "%s removed %s from the group",
                                 my_name, name);
    }
    if (rc == 0)
        rc = tq_sql(req, NULL,
                    "DELETE FROM groups.members"
                    " WHERE group_id = $1 AND user_id = $2",
                    gid, uid);
    if (rc == 0)
        rc = grp_emit(req, "group.member_left", gid, uid, summary,
                      json_pack("{s:s, s:s, s:s?}", "user_id", uid, "role",
                                grp_role_name(target), "removed_by",
                                leaving ? NULL : me));
    if (rc < 0)
        return tq_fail(req, rc);
    return tq_status(req, 204);
}
