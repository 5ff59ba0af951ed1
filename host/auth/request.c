/*
 * request.c - host_auth_request(): the bearer-token check every non-public
 * route passes before its handler runs.
 *
 * It is on every request's path, so it touches no database and allocates
 * nothing on success: the token is verified in place (jwt.c) and the
 * subject copied into req->user_id.  Access tokens therefore stay valid
 * until they expire (15 minutes by default) even after logout or a
 * password reset; what those revoke is the refresh token, so no new access
 * token follows.  That is the trade documented in docs/auth.md.
 *
 * Memory: the 401 body and header go to the request (arena/response).
 */
#include "host.h"
#include "auth.h"

#include <string.h>
#include <strings.h>
#include <time.h>

static int deny(tq_req *req, bool had_token, const char *msg)
{
    /* RFC 6750 section 3: say the scheme, and why when a token came. */
    tq_set_header(req, "WWW-Authenticate",
                  had_token ? "Bearer error=\"invalid_token\"" : "Bearer");
    return tq_error(req, 401, "unauthorized", NULL, "%s", msg);
}

int host_auth_request(tq_req *req, const char *authorization)
{
    req->user_id[0] = '\0';
    if (!authorization || !*authorization)
        return deny(req, false,
                    "this route needs an Authorization: Bearer <access "
                    "token> header");
    /* The scheme is case-insensitive (RFC 7235 section 2.1). */
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return deny(req, false,
                    "the Authorization header must be \"Bearer <access "
                    "token>\"");
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t len = strlen(t);
    while (len && t[len - 1] == ' ')
        len--;

    char sub[37];
    int rc = host_jwt_verify(host_auth.verify_keys, host_auth.nverify, t, len,
                             (int64_t)time(NULL), sub);
    if (rc != HOST_JWT_OK) {
        tq_log(req, TQ_LOG_DEBUG, "auth: access token refused: %s",
               host_jwt_reason(rc));
        if (rc == HOST_JWT_INTERNAL)
            return tq_fail(req, TQ_ERR);
        return deny(req, true,
                    rc == HOST_JWT_EXPIRED
                        ? "the access token has expired; refresh it"
                        : "the access token is not valid");
    }
    memcpy(req->user_id, sub, sizeof sub);
    return 0;
}
