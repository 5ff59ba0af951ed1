/*
 * routes_logout.c - POST /v1/auth/logout
 *   {refresh_token} -> 204.  Revokes the token's family: the sign-in it
 *   belongs to ends on this device, other devices keep theirs.  An unknown
 *   or already revoked token also answers 204: logging out twice is not an
 *   error, and the answer says nothing about which tokens exist.  The
 *   access token in hand stays valid until it expires (docs/auth.md).
 */
#include "host.h"
#include "auth.h"

int host_auth_route_logout(tq_req *req)
{
    const char *token;
    int st = tq_get_str(req, "refresh_token", 1, 1, 256, &token);
    if (st)
        return st;
    char hash[65];
    if (!host_auth_token_hash(token, hash))
        return tq_status(req, 204);
    int rc = tq_sql(req, NULL,
                    "UPDATE tasqly.refresh_tokens SET revoked_at = now()"
                    " WHERE revoked_at IS NULL AND family_id = ("
                    "   SELECT family_id FROM tasqly.refresh_tokens"
                    "   WHERE token_hash = decode($1, 'hex'))",
                    hash);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    return tq_status(req, 204);
}
