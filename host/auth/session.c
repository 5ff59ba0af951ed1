/*
 * session.c - what register, login and refresh hand back: a new refresh
 * token (stored hashed, in a family) and an access token.
 *
 * A family is one sign-in: every rotation of a refresh token stays in the
 * family it started in, so that reusing a spent token can revoke every
 * token descended from the same sign-in (the thief's and the owner's)
 * without touching the user's other devices.  A refresh token lives
 * refresh_ttl from its own issue, so an app in use stays signed in.
 *
 * Rotation spends the old token and stores its successor in one
 * statement.  Were they two, a reuse of the old token arriving between
 * them would revoke the family before the successor existed, and the
 * successor would escape the revocation.
 *
 * Memory: *out is a new reference for the caller; the rest is arena.
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <time.h>

/* {access_token, refresh_token, token_type, expires_in} for user_id. */
static int session_json(tq_req *req, const char *user_id,
                        const char *refresh, json_t **out)
{
    char access[HOST_JWT_MAX];
    int64_t now = (int64_t)time(NULL);
    if (host_jwt_sign(&host_auth.current, user_id, now,
                      now + host_auth.access_ttl_s, access,
                      sizeof access) != TQ_OK) {
        tq_log(req, TQ_LOG_ERROR, "auth: cannot sign an access token for %s",
               user_id);
        return TQ_ERR;
    }
    *out = json_pack("{s:s, s:s, s:s, s:i}", "access_token", access,
                     "refresh_token", refresh, "token_type", "Bearer",
                     "expires_in", host_auth.access_ttl_s);
    OPENSSL_cleanse(access, sizeof access);
    return *out ? TQ_OK : TQ_E_NOMEM;
}

int host_auth_issue(tq_req *req, const char *user_id, json_t **out)
{
    char refresh[HOST_TOKEN_LEN + 1], hash[65];
    *out = NULL;
    if (host_auth_new_token(refresh, hash) != TQ_OK)
        return TQ_ERR;
    const char *ttl = tq_printf(req, "%d", host_auth.refresh_ttl_s);
    int rc = tq_sql(req, NULL,
                    "INSERT INTO tasqly.refresh_tokens"
                    " (token_hash, user_id, family_id, expires_at)"
                    " VALUES (decode($1, 'hex'), $2, gen_random_uuid(),"
                    " now() + $3::int * interval '1 second')",
                    hash, user_id, ttl);
    if (rc == TQ_OK)
        rc = session_json(req, user_id, refresh, out);
    OPENSSL_cleanse(refresh, sizeof refresh);
    return rc;
}

int host_auth_rotate(tq_req *req, const char *old_hash, json_t **out)
{
    char refresh[HOST_TOKEN_LEN + 1], hash[65];
    *out = NULL;
    if (host_auth_new_token(refresh, hash) != TQ_OK)
        return TQ_ERR;
    const char *ttl = tq_printf(req, "%d", host_auth.refresh_ttl_s);
    tq_res *res;
    int rc = host_auth_sql_now(
        req, &res,
        "WITH spent AS ("
        "  UPDATE tasqly.refresh_tokens SET used_at = now()"
        "  WHERE token_hash = decode($1, 'hex') AND used_at IS NULL"
        "  AND revoked_at IS NULL AND expires_at > now()"
        "  RETURNING user_id, family_id)"
        " INSERT INTO tasqly.refresh_tokens"
        " (token_hash, user_id, family_id, expires_at)"
        " SELECT decode($2, 'hex'), user_id, family_id,"
        " now() + $3::int * interval '1 second' FROM spent"
        " RETURNING user_id",
        old_hash, hash, ttl);
    if (rc == TQ_OK && tq_rows(res) == 0)
        rc = TQ_E_NOTFOUND;
    if (rc == TQ_OK)
        rc = session_json(req, tq_get(res, 0, 0), refresh, out);
    OPENSSL_cleanse(refresh, sizeof refresh);
    return rc;
}
