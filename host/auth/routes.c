/*
 * routes.c - host_auth_register(): the auth module's part of the built-in
 * "tasqly" plugin.  This table is the index of the module: each path's
 * handler lives in the routes_*.c file named after it.
 *
 * Auth bodies are small (an email, a name, a password of at most 1024
 * characters), so their limit is 16 KiB rather than the default 64 KiB:
 * the public routes are the ones anyone can send to.
 */
#include "host.h"
#include "auth.h"

#define AUTH_BODY_LIMIT (16 * 1024)
#define CLEANUP_EVERY_S 3600

static const tq_route auth_routes[] = {
    /* routes_register.c */
    {"POST", "/v1/auth/register", host_auth_route_register, TQ_ROUTE_PUBLIC,
     AUTH_BODY_LIMIT},
    /* routes_login.c */
    {"POST", "/v1/auth/login", host_auth_route_login, TQ_ROUTE_PUBLIC,
     AUTH_BODY_LIMIT},
    /* routes_refresh.c */
    {"POST", "/v1/auth/refresh", host_auth_route_refresh, TQ_ROUTE_PUBLIC,
     AUTH_BODY_LIMIT},
    /* routes_logout.c */
    {"POST", "/v1/auth/logout", host_auth_route_logout, TQ_ROUTE_PUBLIC,
     AUTH_BODY_LIMIT},
    /* routes_password_reset.c */
    {"POST", "/v1/auth/password-reset", host_auth_route_reset,
     TQ_ROUTE_PUBLIC, AUTH_BODY_LIMIT},
    {"POST", "/v1/auth/password-reset/confirm", host_auth_route_reset_confirm,
     TQ_ROUTE_PUBLIC, AUTH_BODY_LIMIT},
    /* routes_me.c */
    {"GET", "/v1/me", host_auth_route_me_get, 0, 0},
    {"PATCH", "/v1/me", host_auth_route_me_patch, 0, AUTH_BODY_LIMIT},
};

int host_auth_register(tq_plugin *core)
{
    int rc = host_auth_migrations(core);
    if (rc == TQ_OK)
        rc = tq__api->routes(core, auth_routes,
                             sizeof auth_routes / sizeof auth_routes[0]);
    if (rc == TQ_OK)
        rc = tq__api->job(core, "auth_cleanup", CLEANUP_EVERY_S,
                          host_auth_cleanup);
    return rc;
}
