/*
 * ratelimit.c - fixed-window counters in PostgreSQL (tasqly.rate_limits),
 * so that a limit holds across every replica behind the load balancer.
 *
 * A key is "<what>:<who>" ("login:email:ann@example.com", "login:addr:
 * 203.0.113.9", "reset:email:..."), lower-cased by SQL's lower() so that
 * it folds case exactly as the unique email index does.  A window starts
 * at a key's first hit and lasts window_s; a hit after it starts a new
 * one.  Hits are counted in autocommit (sql_now.c): a failed login's
 * counter must survive the 401.  The check and the hit are separate
 * statements, so a burst of concurrent attempts can overshoot a limit by
 * up to the number of workers; that bounds guessing just as well.
 *
 * Memory: keys and results are the request's.
 */
#include "host.h"
#include "auth.h"

#include <stdio.h>

const char *host_auth_client_addr(tq_req *req)
{
    /* http.c already took the last X-Forwarded-For hop when the manifest
     * trusts the proxy (server.trust_proxy), else the socket's peer. */
    return req->client_addr && *req->client_addr ? req->client_addr
                                                 : "unknown";
}

int host_auth_rl_check(tq_req *req, int n, const char *const *keys,
                       const int *limits, const int *windows_s)
{
    long long retry = 0;
    for (int i = 0; i < n; i++) {
        tq_res *res;
        const char *win = tq_printf(req, "%d", windows_s[i]);
        const char *lim = tq_printf(req, "%d", limits[i]);
        int rc = host_auth_sql_now(
            req, &res,
            "SELECT ceil(extract(epoch FROM window_start"
            " + $2::int * interval '1 second' - now()))::bigint"
            " FROM tasqly.rate_limits"
            " WHERE key = lower($1) AND hits >= $3::int"
            " AND window_start + $2::int * interval '1 second' > now()",
            keys[i], win, lim);
        if (rc != TQ_OK)
            return tq_fail(req, rc);
        if (tq_rows(res) == 1) {
            long long left = tq_get_ll(res, 0, 0);
            if (left > retry)
                retry = left;
        }
    }
    if (retry == 0)
        return 0;
    char ra[24];
    snprintf(ra, sizeof ra, "%lld", retry < 1 ? 1 : retry);
    tq_set_header(req, "Retry-After", ra);
    return tq_error(req, 429, "rate_limited", NULL,
                    "too many attempts; retry in %lld seconds", retry);
}

int host_auth_rl_hit(tq_req *req, const char *key, int window_s)
{
    const char *win = tq_printf(req, "%d", window_s);
    /* Both SET expressions see the old row, so they agree on whether the
     * window has ended. */
    return host_auth_sql_now(
        req, NULL,
        "INSERT INTO tasqly.rate_limits AS r (key, window_start, hits)"
        " VALUES (lower($1), now(), 1)"
        " ON CONFLICT (key) DO UPDATE SET"
        " hits = CASE WHEN r.window_start + $2::int * interval '1 second'"
        " <= now() THEN 1 ELSE r.hits + 1 END,"
        " window_start = CASE WHEN r.window_start"
        " + $2::int * interval '1 second' <= now()"
        " THEN now() ELSE r.window_start END",
        key, win);
}

int host_auth_rl_clear(tq_req *req, const char *key)
{
    return host_auth_sql_now(
        req, NULL, "DELETE FROM tasqly.rate_limits WHERE key = lower($1)",
        key);
}
