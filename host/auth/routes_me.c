/*
 * routes_me.c - the caller's own account.
 *
 * GET /v1/me -> 200 {id, email, display_name, avatar_media_id,
 *   created_at, updated_at}.
 * PATCH /v1/me {display_name?, avatar_media_id?} -> 200 the same.  An
 *   absent field is left alone; avatar_media_id null removes the avatar.
 *   A new avatar must be the caller's own upload with purpose "avatar", as
 *   the media plugin's service (media.h) judges; with the media plugin
 *   disabled there is nobody to ask, so any avatar id is a 400.
 *
 * A valid token for a user that no longer exists answers 404.
 */
#include "host.h"
#include "auth.h"

#include <tasqly/media.h>

static int user_or_404(tq_req *req, tq_res *res)
{
    if (tq_rows(res) == 0)
        return tq_not_found(req);
    return tq_json(req, 200, tq_row_json(res, 0));
}

int host_auth_route_me_get(tq_req *req)
{
    tq_res *res;
    int rc = tq_sql(req, &res,
                    "SELECT " HOST_AUTH_USER_COLS
                    " FROM tasqly.users WHERE id = $1",
                    tq_user(req));
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    return user_or_404(req, res);
}

static int check_avatar(tq_req *req, const char *media_id)
{
    const tq_media_service *m =
        tq_service(TQ_MEDIA_SERVICE, TQ_MEDIA_SERVICE_VERSION);
    if (!m || m->size < offsetof(tq_media_service, check_attach) +
                            sizeof m->check_attach || !m->check_attach)
        return tq_error(req, 400, "validation_failed", "avatar_media_id",
                        "avatars need the media plugin, which is not "
                        "enabled on this server");
    json_t *ids = json_pack("[s]", media_id);
    if (!ids)
        return tq_fail(req, TQ_E_NOMEM);
    int st = m->check_attach(req, NULL, "avatar", ids, "avatar_media_id");
    json_decref(ids);
    return st;
}

int host_auth_route_me_patch(tq_req *req)
{
    const char *name, *avatar;
    int st;
    if ((st = host_auth_get_display_name(req, "display_name", 0, &name)) ||
        (st = tq_get_uuid(req, "avatar_media_id", 0, &avatar)))
        return st;
    int set_avatar = tq_has(req, "avatar_media_id");
    if (avatar && (st = check_avatar(req, avatar)))
        return st;

    tq_res *res;
    int rc = tq_sql(req, &res,
                    "UPDATE tasqly.users SET"
                    " display_name = COALESCE($2, display_name),"
                    " avatar_media_id = CASE WHEN $3::boolean THEN $4::uuid"
                    " ELSE avatar_media_id END,"
                    " updated_at = now()"
                    " WHERE id = $1 RETURNING " HOST_AUTH_USER_COLS,
                    tq_user(req), name, set_avatar ? "true" : "false",
                    avatar);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    return user_or_404(req, res);
}
