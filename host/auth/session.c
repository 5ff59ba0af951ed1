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
 * Memory: *out is a new reference for the caller; the rest is arena.
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <time.h>

int host_auth_issue(tq_req *req, const char *user_id, const char *family,
                    json_t **out)
{
    char refresh[HOST_TOKEN_LEN + 1], hash[65], access[HOST_JWT_MAX];
    *out = NULL;
    if (host_auth_new_token(refresh, hash) != TQ_OK)
        return TQ_ERR;

    const char *ttl = tq_printf(req, "%d", host_auth.refresh_ttl_s);
    int rc = tq_sql(req, NULL,
                    "INSERT INTO tasqly.refresh_tokens"
                    " (token_hash, user_id, family_id, expires_at)"
                    " VALUES (decode($1, 'hex'), $2,"
                    " COALESCE($3::uuid, gen_random_uuid()),"
                    " now() + $4::int * interval '1 second')",
                    hash, user_id, family, ttl);
    if (rc != TQ_OK)
        return rc;

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
    OPENSSL_cleanse(refresh, sizeof refresh);
    OPENSSL_cleanse(access, sizeof access);
    return *out ? TQ_OK : TQ_E_NOMEM;
}
