/*
 * routes_refresh.c - POST /v1/auth/refresh
 *   {refresh_token} -> 200 {access_token, refresh_token, token_type,
 *   expires_in}: a new pair; the token sent is spent.  401 for an unknown,
 *   expired, revoked or spent token.  A spent token coming back means two
 *   parties hold it (one of them stole it): the whole family, that is
 *   every token descended from the same sign-in, is revoked, so the thief
 *   and the owner both have to sign in again (RFC 6819 section 5.2.2.3).
 *
 * Spending and storing the successor is one autocommit statement that
 * only matches a live token (session.c), so of two requests racing with
 * one token exactly one wins, and the other, treated as reuse, finds the
 * winner's successor already stored and revokes it with the family.  The
 * revocation is autocommit too: it must outlive the 401.
 */
#include "host.h"
#include "auth.h"

static int refused(tq_req *req, const char *msg)
{
    return tq_error(req, 401, "unauthorized", NULL, "%s", msg);
}

int host_auth_route_refresh(tq_req *req)
{
    const char *token;
    int st = tq_get_str(req, "refresh_token", 1, 1, 256, &token);
    if (st)
        return st;
    char hash[65];
    if (!host_auth_token_hash(token, hash))
        return refused(req, "the refresh token is not valid");

    json_t *session;
    int rc = host_auth_rotate(req, hash, &session);
    if (rc == TQ_OK)
        return tq_json(req, 200, session);
    if (rc != TQ_E_NOTFOUND)
        return tq_fail(req, rc);

    tq_res *res;
    rc = host_auth_sql_now(
        req, &res,
        "UPDATE tasqly.refresh_tokens SET revoked_at = now()"
        " WHERE revoked_at IS NULL AND family_id = ("
        "   SELECT family_id FROM tasqly.refresh_tokens"
        "   WHERE token_hash = decode($1, 'hex') AND used_at IS NOT NULL)"
        " RETURNING user_id",
        hash);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return refused(req, "the refresh token is not valid");
    tq_log(req, TQ_LOG_WARN,
           "auth: a spent refresh token of user %s was presented again; "
           "revoked its family (%d tokens)",
           tq_get(res, 0, 0), tq_rows(res));
    return refused(req, "the refresh token was already used; this sign-in "
                        "is revoked, sign in again");
}
