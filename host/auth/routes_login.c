/*
 * routes_login.c - POST /v1/auth/login
 *   {email, password} -> 200 {user, access_token, refresh_token,
 *   token_type, expires_in}; 401 for a wrong email or password (one
 *   message for both); 429 with Retry-After once an email or a client
 *   address has failed too often within the window.
 *
 * Order matters here:
 *  - everything up to the verdict runs in autocommit (sql_now.c), so the
 *    failure counters survive the 401 that rolls the request back;
 *  - an unknown email still runs one scrypt, against a dummy hash with
 *    the configured parameters: the 401 costs the same either way;
 *  - a hash made with other parameters than the configured ones is
 *    replaced now that the password is known (parameters only ever move
 *    up in practice), guarded so a concurrent password reset wins.
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>

int host_auth_route_login(tq_req *req)
{
    const char *email, *password;
    int st;
    if ((st = host_auth_get_email(req, "email", &email)) ||
        (st = tq_get_str(req, "password", 1, 1, 1024, &password)))
        return st;

    const char *addr = host_auth_client_addr(req);
    const char *keys[2] = {
        tq_printf(req, "login:email:%s", email),
        tq_printf(req, "login:addr:%.64s", addr),
    };
    const int limits[2] = {host_auth.login_fail_per_email,
                           host_auth.login_fail_per_addr};
    const int windows[2] = {host_auth.login_window_s,
                            host_auth.login_window_s};
    if ((st = host_auth_rl_check(req, 2, keys, limits, windows)))
        return st;

    tq_res *res;
    int rc = host_auth_sql_now(req, &res,
                               "SELECT " HOST_AUTH_USER_COLS ", password_hash"
                               " FROM tasqly.users"
                               " WHERE lower(email) = lower($1)",
                               email);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    bool found = tq_rows(res) == 1;
    const char *stored = found ? tq_get(res, 0, tq_col(res, "password_hash"))
                               : NULL;
    bool rehash = false;
    int ok = host_auth_password_check(password, stored, &rehash);
    if (ok < 0)
        return host_auth_hash_fail(req, ok);

    if (!ok || !found) {
        for (int i = 0; i < 2; i++)
            if ((rc = host_auth_rl_hit(req, keys[i], windows[i])) != TQ_OK)
                return tq_fail(req, rc);
        tq_log(req, TQ_LOG_INFO, "auth: failed login from %s", addr);
        return tq_error(req, 401, "unauthorized", NULL,
                        "wrong email or password");
    }
    if ((rc = host_auth_rl_clear(req, keys[0])) != TQ_OK)
        return tq_fail(req, rc);

    const char *id = tq_get(res, 0, tq_col(res, "id"));
    if (rehash) {
        char phc[HOST_PHC_MAX];
        rc = host_auth_password_hash(password, phc);
        if (rc != TQ_OK)
            return host_auth_hash_fail(req, rc);
        rc = tq_sql(req, NULL,
                    "UPDATE tasqly.users SET password_hash = $2"
                    " WHERE id = $1 AND password_hash = $3",
                    id, phc, stored);
        OPENSSL_cleanse(phc, sizeof phc);
        if (rc != TQ_OK)
            return tq_fail(req, rc);
    }

    json_t *session;
    if ((rc = host_auth_issue(req, id, &session)) != TQ_OK)
        return tq_fail(req, rc);
    json_t *user = tq_row_json(res, 0);
    json_object_del(user, "password_hash");
    json_object_set_new(session, "user", user);
    return tq_json(req, 200, session);
}
