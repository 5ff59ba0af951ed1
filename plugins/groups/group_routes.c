/*
 * group_routes.c - the group itself: create, list, read, edit, delete,
 * and handing ownership over.
 *
 * Every route under /v1/groups/{gid} first establishes the caller's role
 * (404 for non-members, whatever else is wrong with the request), then
 * checks the role table (rules.c), then validates the body.  Routes that
 * change the group take the group's row lock first (grp_lock_require), so
 * role checks and changes of one group never interleave.
 *
 * Memory: results and strings are request memory; json built here is
 * handed to tq_json() (which steals it) or released on the error path.
 */
#include "groups_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- validation */

/* A JSON null where a value is optional but not nullable. */
static int no_null(tq_req *req, const char *field, const char *v)
{
    if (v || !tq_has(req, field))
        return 0;
    return tq_error(req, 400, "validation_failed", field,
                    "%s must not be null; leave it out to keep the "
                    "current value",
                    field);
}

/* name: 1..100 characters, something visible, no control characters
 * (names go into e-mail subjects and push notifications). */
static int get_name(tq_req *req, int required, const char **out)
{
    int st = tq_get_str(req, "name", required, 1, 100, out);
    if (st || (st = no_null(req, "name", *out)) || !*out)
        return st;
    bool visible = false;
    for (const unsigned char *p = (const unsigned char *)*out; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return tq_error(req, 400, "validation_failed", "name",
                            "name must not contain control characters "
                            "(newlines, tabs)");
        visible |= *p != ' ';
    }
    if (!visible)
        return tq_error(req, 400, "validation_failed", "name",
                        "name must not be blank");
    return 0;
}

/* timezone: an IANA name PostgreSQL knows, since chores recur in the
 * group's local time and PostgreSQL does that arithmetic. */
static int get_timezone(tq_req *req, const char **out)
{
    tq_res *res;
    int st = tq_get_str(req, "timezone", 0, 1, 64, out);
    if (st || (st = no_null(req, "timezone", *out)) || !*out)
        return st;
    int rc = tq_sql(req, &res,
                    "SELECT 1 FROM pg_timezone_names WHERE name = $1", *out);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_error(req, 400, "validation_failed", "timezone",
                        "timezone \"%s\" is not an IANA time zone name; "
                        "use one such as \"Europe/Berlin\" or \"UTC\"",
                        *out);
    return 0;
}

static int get_currency(tq_req *req, const char **out)
{
    int st = tq_get_str(req, "currency", 0, 1, 16, out);
    if (st || (st = no_null(req, "currency", *out)) || !*out)
        return st;
    if (!grp_currency_valid(*out))
        return tq_error(req, 400, "validation_failed", "currency",
                        "currency \"%s\" is not an ISO 4217 code of a "
                        "circulating currency; use one such as \"EUR\" "
                        "(upper case)",
                        *out);
    return 0;
}

/* The role name of the caller, via the same service other plugins use. */
static int require_any(tq_req *req, const char **gid, const char **role)
{
    int st = tq_param_uuid(req, "gid", gid);
    if (st)
        return st;
    return grp_service.require(req, *gid, TQ_ROLE_ANY, role);
}

static int answer_full(tq_req *req, int status, const char *gid,
                       const char *role)
{
    json_t *g;
    int rc = grp_group_full(req, gid, role, &g);
    if (rc < 0)
        return tq_fail(req, rc);
    return tq_json(req, status, g);
}

/* ------------------------------------------------------------- routes */

/* POST /v1/groups */
int grp_h_create(tq_req *req)
{
    const char *name, *tz, *cur, *me = tq_user(req), *who;
    tq_res *res;
    int st;
    if ((st = get_name(req, 1, &name)) || (st = get_timezone(req, &tz)) ||
        (st = get_currency(req, &cur)))
        return st;
    int rc = tq_sql(req, &res,
                    "INSERT INTO groups.groups"
                    " (name, timezone, currency, created_by)"
                    " VALUES ($1, $2, $3, $4)"
                    " RETURNING id, name, timezone, currency, created_at",
                    name, tz ? tz : "UTC",
                    cur ? cur : grp_conf.default_currency, me);
    if (rc < 0)
        return tq_fail(req, rc);
    const char *gid = tq_get(res, 0, 0);
    rc = tq_sql(req, NULL,
                "INSERT INTO groups.members (group_id, user_id, role)"
                " VALUES ($1, $2, 'owner')",
                gid, me);
    if (rc == 0)
        rc = grp_display_name(req, me, &who);
    if (rc == 0)
        rc = grp_emit(req, "group.created", gid, gid,
                      tq_printf(req, "%s created the group %s", who, name),
                      NULL);
    if (rc < 0)
        return tq_fail(req, rc);
    json_t *g = tq_row_json(res, 0);
    json_object_set_new(g, "role", json_string("owner"));
    return tq_json(req, 201, g);
}

/*
 * GET /v1/groups: the caller's groups, the most recently joined first.
 * The cursor is "<joined_at in µs since the epoch>.<group id>", the sort
 * key of the last item given, so pages stay stable while groups come and
 * go.
 */
int grp_h_list(tq_req *req)
{
    int limit, st, n;
    const char *cursor, *ck = NULL, *cg = NULL;
    tq_res *res;
    if ((st = tq_page(req, &limit, &cursor)))
        return st;
    if (cursor) {
        /* strtoll, not sscanf's %lld: a key past 64 bits is ERANGE here,
         * undefined behaviour there. */
        char *end;
        errno = 0;
        long long k = strtoll(cursor, &end, 10);
        if (!(isdigit((unsigned char)cursor[0]) || cursor[0] == '-') ||
            errno == ERANGE || *end != '.' || !tq_is_uuid(end + 1))
            return tq_error(req, 400, "validation_failed", "cursor",
                            "cursor is not one this server gave; start "
                            "again without it");
        ck = tq_printf(req, "%lld", k);
        cg = tq_printf(req, "%s", end + 1);
    }
    int rc = tq_sql(
        req, &res,
        "SELECT g.id, g.name, g.timezone, g.currency, g.created_at,"
        "       m.role, m.joined_at,"
        "       (extract(epoch FROM m.joined_at) * 1000000)::bigint AS k"
        "  FROM groups.members m JOIN groups.groups g ON g.id = m.group_id"
        " WHERE m.user_id = $1"
        "   AND ($2::bigint IS NULL"
        "        OR ((extract(epoch FROM m.joined_at) * 1000000)::bigint,"
        "            m.group_id) < ($2::bigint, $3::uuid))"
        " ORDER BY m.joined_at DESC, m.group_id DESC"
        " LIMIT $4::int",
        tq_user(req), ck, cg, tq_printf(req, "%d", limit + 1));
    if (rc < 0)
        return tq_fail(req, rc);
    n = tq_rows(res);
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        json_t *row = tq_row_json(res, i);
        json_object_del(row, "k");
        json_array_append_new(items, row);
    }
    json_t *next = json_null();
    if (n > limit)
        next = json_string(tq_printf(req, "%s.%s", tq_get(res, limit - 1, 7),
                                     tq_get(res, limit - 1, 0)));
    return tq_json(req, 200,
                   json_pack("{s:o, s:o}", "items", items, "next_cursor",
                             next));
}

/* GET /v1/groups/{gid} */
int grp_h_get(tq_req *req)
{
    const char *gid, *role;
    int st = require_any(req, &gid, &role);
    if (st)
        return st;
    return answer_full(req, 200, gid, role);
}

/* PATCH /v1/groups/{gid} */
int grp_h_patch(tq_req *req)
{
    const char *gid, *name, *tz, *cur, *who;
    grp_role me;
    tq_res *res;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &me)) ||
        (st = grp_check(req, GRP_A_EDIT, me)))
        return st;
    if ((st = get_name(req, 0, &name)) || (st = get_timezone(req, &tz)) ||
        (st = get_currency(req, &cur)))
        return st;
    /* IS DISTINCT FROM: an edit that changes nothing emits nothing. */
    int rc = tq_sql(req, &res,
                    "UPDATE groups.groups SET"
                    "   name = coalesce($2, name),"
                    "   timezone = coalesce($3, timezone),"
                    "   currency = coalesce($4, currency),"
                    "   updated_at = now()"
                    " WHERE id = $1 AND (name, timezone, currency)"
                    "   IS DISTINCT FROM (coalesce($2, name),"
                    "     coalesce($3, timezone), coalesce($4, currency))"
                    " RETURNING name",
                    gid, name, tz, cur);
    if (rc < 0)
        return tq_fail(req, rc);
    if (tq_rows(res) == 1) {
        rc = grp_display_name(req, tq_user(req), &who);
        if (rc == 0)
            rc = grp_emit(
                req, "group.updated", gid, gid,
                name ? tq_printf(req, "%s renamed the group to %s", who,
                                 name)
                     : tq_printf(req, "%s changed the group's settings",
                                 who),
                json_pack("{s:s?, s:s?, s:s?}", "name", name, "timezone",
                          tz, "currency", cur));
        if (rc < 0)
            return tq_fail(req, rc);
    }
    return answer_full(req, 200, gid, grp_role_name(me));
}

/* DELETE /v1/groups/{gid}: the groups plugin's rows go by ON DELETE
 * CASCADE; every other plugin deletes its own on group.deleted. */
int grp_h_delete(tq_req *req)
{
    const char *gid, *who;
    grp_role me;
    tq_res *res;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &me)) ||
        (st = grp_check(req, GRP_A_DELETE, me)))
        return st;
    int rc = grp_display_name(req, tq_user(req), &who);
    if (rc == 0)
        rc = tq_sql(req, &res,
                    "DELETE FROM groups.groups WHERE id = $1 RETURNING name",
                    gid);
    if (rc == 0 && tq_rows(res) != 1)
        return tq_not_found(req);
    if (rc == 0)
        rc = grp_emit(req, "group.deleted", gid, gid,
                      tq_printf(req, "%s deleted the group %s", who,
                                tq_get(res, 0, 0)),
                      json_pack("{s:s}", "group_id", gid));
    if (rc < 0)
        return tq_fail(req, rc);
    return tq_status(req, 204);
}

/* POST /v1/groups/{gid}/transfer-ownership {user_id}: the new owner must
 * be a tenant (admin or member); the old owner becomes an admin. */
int grp_h_transfer(tq_req *req)
{
    const char *gid, *to, *me = tq_user(req), *my_name, *to_name;
    grp_role my_role, to_role;
    tq_res *res;
    int st;
    if ((st = tq_param_uuid(req, "gid", &gid)) ||
        (st = grp_lock_require(req, gid, TQ_ROLE_ANY, &my_role)) ||
        (st = grp_check(req, GRP_A_TRANSFER, my_role)) ||
        (st = tq_get_uuid(req, "user_id", 1, &to)))
        return st;
    if (strcmp(to, me) == 0)
        return tq_error(req, 400, "validation_failed", "user_id",
                        "you already own this group; user_id must be "
                        "another member");
    int rc = grp_role_lookup(req, gid, to, &to_role);
    if (rc < 0)
        return tq_fail(req, rc);
    if (to_role == GRP_NO_ROLE)
        return tq_error(req, 400, "validation_failed", "user_id",
                        "user %s is not a member of this group; invite "
                        "them first",
                        to);
    if (to_role == GRP_LANDLORD)
        return tq_error(req, 400, "validation_failed", "user_id",
                        "a landlord cannot own the group; change their "
                        "role to member first");
    /* Demote before promoting: members_one_owner is checked per row. */
    rc = tq_sql(req, &res,
                "UPDATE groups.members SET role = 'admin'"
                " WHERE group_id = $1 AND user_id = $2 AND role = 'owner'",
                gid, me);
    if (rc == 0 && tq_affected(res) != 1)
        rc = TQ_E_RETRY; /* cannot happen under the group lock */
    if (rc == 0)
        rc = tq_sql(req, NULL,
                    "UPDATE groups.members SET role = 'owner'"
                    " WHERE group_id = $1 AND user_id = $2",
                    gid, to);
    if (rc == 0)
        rc = grp_display_name(req, me, &my_name);
    if (rc == 0)
        rc = grp_display_name(req, to, &to_name);
    if (rc == 0)
        rc = grp_emit(req, "group.member_role_changed", gid, to,
                      tq_printf(req, "%s handed ownership of the group to %s",
                                my_name, to_name),
                      json_pack("{s:s, s:s, s:s}", "user_id", to,
                                "old_role", grp_role_name(to_role), "role",
                                "owner"));
    if (rc == 0)
        rc = grp_emit(req, "group.member_role_changed", gid, me,
                      tq_printf(req, "%s is now an admin", my_name),
                      json_pack("{s:s, s:s, s:s}", "user_id", me,
                                "old_role", "owner", "role", "admin"));
    if (rc < 0)
        return tq_fail(req, rc);
    return answer_full(req, 200, gid, "admin");
}
