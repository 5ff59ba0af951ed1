/*
 * sql_now.c - statements that must stick even when the handler then
 * answers 4xx.
 *
 * The SDK runs a writing handler in one transaction, committed only below
 * 400.  That is right for everything except the records of a refusal: a
 * failed login must count towards the rate limit although the answer is
 * 401, and reusing a spent refresh token must revoke its family although
 * the answer is 401.  Those few statements run here, in autocommit on the
 * worker's connection, before the handler's first tq_sql() opens the
 * request transaction; each is a single statement, so atomic by itself.
 *
 * Memory: results belong to the connection, like tq_sql()'s, and live
 * until the request ends.
 */
#include "host.h"
#include "auth.h"

int host_auth_exec_now(tq_req *req, tq_res **out, const char *sql, int n,
                       const char *const *params)
{
    if (out)
        *out = NULL;
    if (req->in_tx) {
        /* On the same connection it would join (and share the fate of)
         * the request transaction: a bug in the handler's order. */
        tq_log(req, TQ_LOG_ERROR,
               "auth: autocommit statement after the request transaction "
               "began; sql: %.120s",
               sql);
        return TQ_E_STATE;
    }
    return host_db_exec(req->db, &req->arena, out, sql, n, params);
}
