/*
 * routes_password_reset.c - the two steps of a forgotten password.
 *
 * POST /v1/auth/password-reset {email} -> 202, whether or not the email
 *   has an account (no account enumeration), 429 past the per-email limit
 *   (counted for unknown emails too, so 429 reveals nothing either).  For
 *   an account it stores the SHA-256 of a fresh 256-bit token, valid one
 *   hour, and emits auth.password_reset_requested {user_id, email, token,
 *   expires_at} for the notify plugin to mail.  The token is in the event
 *   payload because the mail needs it; it is never logged.  group_id is
 *   NULL and there is no summary: it appears in no activity feed.
 *
 * POST /v1/auth/password-reset/confirm {token, new_password} -> 204.  The
 *   token is single-use; using one spends every outstanding reset token
 *   of the user, revokes all of the user's refresh tokens (every device
 *   signs in again) and clears the email's failed-login counter.  An
 *   unknown, used or expired token is a 400 on field "token".
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>

#define RESET_TTL "1 hour"

int host_auth_route_reset(tq_req *req)
{
    const char *email;
    int st = host_auth_get_email(req, "email", &email);
    if (st)
        return st;

    const char *key = tq_printf(req, "reset:email:%s", email);
    const int limit = host_auth.reset_per_email;
    const int window = host_auth.reset_window_s;
    if ((st = host_auth_rl_check(req, 1, &key, &limit, &window)))
        return st;
    int rc = host_auth_rl_hit(req, key, window);
    if (rc != TQ_OK)
        return tq_fail(req, rc);

    tq_res *res;
    rc = tq_sql(req, &res,
                "SELECT id, email FROM tasqly.users"
                " WHERE lower(email) = lower($1)",
                email);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return tq_status(req, 202);
    const char *uid = tq_get(res, 0, 0), *stored_email = tq_get(res, 0, 1);

    char token[HOST_TOKEN_LEN + 1], hash[65];
    if (host_auth_new_token(token, hash) != TQ_OK)
        return tq_fail(req, TQ_ERR);
    tq_res *ins;
    rc = tq_sql(req, &ins,
                "INSERT INTO tasqly.password_reset_tokens"
                " (token_hash, user_id, expires_at)"
                " VALUES (decode($1, 'hex'), $2, now() + interval '"
                RESET_TTL "') RETURNING expires_at",
                hash, uid);
    if (rc != TQ_OK) {
        OPENSSL_cleanse(token, sizeof token);
        return tq_fail(req, rc);
    }
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s}", "user_id", uid,
                                "email", stored_email, "token", token,
                                "expires_at", tq_get(ins, 0, 0));
    OPENSSL_cleanse(token, sizeof token);
    if (!payload)
        return tq_fail(req, TQ_E_NOMEM);
    rc = tq_emit(req, "auth.password_reset_requested", NULL, payload);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    return tq_status(req, 202);
}

static int bad_token(tq_req *req)
{
    return tq_error(req, 400, "validation_failed", "token",
                    "the reset token is not valid: it is unknown, already "
                    "used or expired; request a new one");
}

int host_auth_route_reset_confirm(tq_req *req)
{
    const char *token, *password;
    int st;
    if ((st = tq_get_str(req, "token", 1, 1, 256, &token)) ||
        (st = host_auth_get_new_password(req, "new_password", &password)))
        return st;
    char hash[65];
    if (!host_auth_token_hash(token, hash))
        return bad_token(req);

    /* Look before hashing, in autocommit: an invalid token costs no
     * scrypt, and no transaction stays open across the KDF. */
    tq_res *res;
    int rc = host_auth_sql_now(
        req, &res,
        "SELECT 1 FROM tasqly.password_reset_tokens"
        " WHERE token_hash = decode($1, 'hex') AND used_at IS NULL"
        " AND expires_at > now()",
        hash);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(res) == 0)
        return bad_token(req);

    char phc[HOST_PHC_MAX];
    rc = host_auth_password_hash(password, phc);
    if (rc != TQ_OK)
        return host_auth_hash_fail(req, rc);

    /* Spend it for real, in the transaction: the look above may have
     * raced with another confirm of the same token. */
    rc = tq_sql(req, &res,
                "UPDATE tasqly.password_reset_tokens SET used_at = now()"
                " WHERE token_hash = decode($1, 'hex') AND used_at IS NULL"
                " AND expires_at > now() RETURNING user_id",
                hash);
    if (rc == TQ_OK && tq_rows(res) == 0) {
        OPENSSL_cleanse(phc, sizeof phc);
        return bad_token(req);
    }
    const char *uid = rc == TQ_OK ? tq_get(res, 0, 0) : NULL;
    if (rc == TQ_OK)
        rc = tq_sql(req, NULL,
                    "UPDATE tasqly.users SET password_hash = $2,"
                    " updated_at = now() WHERE id = $1",
                    uid, phc);
    OPENSSL_cleanse(phc, sizeof phc);
    if (rc == TQ_OK)
        rc = tq_sql(req, NULL,
                    "UPDATE tasqly.password_reset_tokens SET used_at = now()"
                    " WHERE user_id = $1 AND used_at IS NULL",
                    uid);
    if (rc == TQ_OK)
        rc = tq_sql(req, NULL,
                    "UPDATE tasqly.refresh_tokens SET revoked_at = now()"
                    " WHERE user_id = $1 AND revoked_at IS NULL",
                    uid);
    if (rc == TQ_OK)
        rc = tq_sql(req, NULL,
                    "DELETE FROM tasqly.rate_limits WHERE key = ("
                    " SELECT lower('login:email:' || email)"
                    " FROM tasqly.users WHERE id = $1)",
                    uid);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    tq_log(req, TQ_LOG_INFO, "auth: password reset for user %s", uid);
    return tq_status(req, 204);
}
