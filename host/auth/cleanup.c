/*
 * cleanup.c - the hourly job that forgets what can no longer matter:
 * refresh and reset tokens a day after they expired (a spent refresh
 * token is kept until then so that its reuse is still recognised), and
 * rate-limit windows that ended a day ago.
 */
#include "host.h"
#include "auth.h"

int host_auth_cleanup(tq_req *ctx)
{
    static const char *const sql[] = {
        "DELETE FROM tasqly.refresh_tokens"
        " WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM tasqly.password_reset_tokens"
        " WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM tasqly.rate_limits"
        " WHERE window_start < now() - interval '1 day'",
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        int rc = tq_sql(ctx, NULL, sql[i]);
        if (rc != TQ_OK)
            return rc;
    }
    return TQ_OK;
}
