/*
 * routes_register.c - POST /v1/auth/register
 *   {email, password, display_name} -> 201 {user, access_token,
 *   refresh_token, token_type, expires_in}; 409 when the email is taken
 *   (in any letter case).
 *
 * The password is hashed before the first tq_sql(), so the request's
 * transaction is never held open across a hundreds-of-milliseconds KDF.
 * A duplicate email is caught before hashing (cheap refusal) and again by
 * the unique index (two registrations racing).
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>

static int taken(tq_req *req)
{
    return tq_error(req, 409, "conflict", "email",
                    "an account with this email already exists");
}

int host_auth_route_register(tq_req *req)
{
    const char *email, *password, *name;
    int st;
    if ((st = host_auth_get_email(req, "email", &email)) ||
        (st = host_auth_get_new_password(req, "password", &password)) ||
        (st = host_auth_get_display_name(req, "display_name", 1, &name)))
        return st;

    /* Every registration costs a memory-hard hash: bound them per client
     * address, or a flood would hold every hashing slot and logins would
     * answer 503.  Counted before the hash, whatever the outcome. */
    const char *key =
        tq_printf(req, "register:addr:%s", host_auth_client_addr(req));
    const int limit = host_auth.register_per_addr;
    const int window = host_auth.register_window_s;
    if ((st = host_auth_rl_check(req, 1, &key, &limit, &window)))
        return st;
    int rc = host_auth_rl_hit(req, key, window);
    if (rc != TQ_OK)
        return tq_fail(req, rc);

    tq_res *res;
    rc = host_auth_sql_now(
        req, &res, "SELECT 1 FROM tasqly.users WHERE lower(email) = lower($1)",
        email);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(res) > 0)
        return taken(req);

    char phc[HOST_PHC_MAX];
    rc = host_auth_password_hash(password, phc);
    if (rc != TQ_OK)
        return host_auth_hash_fail(req, rc);

    rc = tq_sql(req, &res,
                "INSERT INTO tasqly.users (email, display_name, password_hash)"
                " VALUES ($1, $2, $3) RETURNING " HOST_AUTH_USER_COLS,
                email, name, phc);
    OPENSSL_cleanse(phc, sizeof phc);
    if (rc == TQ_E_UNIQUE)
        return taken(req);
    if (rc != TQ_OK)
        return tq_fail(req, rc);

    json_t *session;
    rc = host_auth_issue(req, tq_get(res, 0, tq_col(res, "id")), &session);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    json_object_set_new(session, "user", tq_row_json(res, 0));
    return tq_json(req, 201, session);
}
