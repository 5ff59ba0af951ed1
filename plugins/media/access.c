/*
 * access.c - who may read a media object.
 *
 *   the uploader, always;
 *   members of the group it was uploaded for (comment and maintenance
 *   photos), whatever their role;
 *   for avatars (no group), anyone who shares a group with the owner, so
 *   housemates see each other's faces and strangers do not.
 *
 * Everyone else gets the same 404 as for an id that does not exist, so
 * ids leak nothing across groups.  The groups plugin answers membership;
 * this plugin never reads its tables.
 */
#include "media_int.h"

#include <string.h>

#define ROW_COLS                                                           \
    "id, owner_id, group_id, purpose, content_type, size, sha256, "       \
    "store_key, created_at"

static void fill(const tq_res *r, med_row *row)
{
    row->id = tq_get(r, 0, 0);
    row->owner_id = tq_get(r, 0, 1);
    row->group_id = tq_get(r, 0, 2);
    row->purpose = tq_get(r, 0, 3);
    row->content_type = tq_get(r, 0, 4);
    row->size = tq_get_ll(r, 0, 5);
    row->sha256 = tq_get(r, 0, 6);
    row->store_key = tq_get(r, 0, 7);
    row->created_at = tq_get(r, 0, 8);
}

int med_load_readable(tq_req *req, const char *id, med_row *row)
{
    memset(row, 0, sizeof *row);
    tq_res *r;
    int rc = tq_sql(req, &r,
                    "SELECT " ROW_COLS " FROM media.objects WHERE id = $1",
                    id);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(r) == 0)
        return tq_not_found(req);
    fill(r, row);

    const char *me = tq_user(req);
    if (!strcmp(row->owner_id, me))
        return 0;
    if (row->group_id) {
        const char *role;
        rc = med_groups->role_of(req, row->group_id, me, &role);
        if (rc == TQ_OK)
            return 0;
        return rc == TQ_E_NOTFOUND ? tq_not_found(req) : tq_fail(req, rc);
    }
    if (!strcmp(row->purpose, "avatar")) {
        int shared = 0;
        rc = med_groups->share_group(req, row->owner_id, me, &shared);
        if (rc != TQ_OK)
            return tq_fail(req, rc);
        if (shared)
            return 0;
    }
    return tq_not_found(req);
}
