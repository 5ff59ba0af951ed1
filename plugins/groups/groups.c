/*
 * groups.c - the groups plugin: households, their members and roles,
 * invites, and the membership service every group-scoped plugin asks.
 * This file is the descriptor, the plugin's configuration and init(),
 * which registers everything in one place: read it as the plugin's
 * table of contents.  README.md beside it is the operator's and the
 * other plugins' manual (roles, events, config).
 *
 * Memory: grp_conf is written once during init() (single-threaded load)
 * and only read afterwards; the route table is static and copied by the
 * host.
 */
#include "groups_int.h"

#include <tasqly/config.h>

#include <string.h>

grp_config grp_conf;

enum { BODY_LIMIT = 4096 }; /* every body here is a handful of fields */

static const tq_route routes[] = {
    {"POST", "/v1/groups", grp_h_create, 0, BODY_LIMIT},
    {"GET", "/v1/groups", grp_h_list, 0, 0},
    {"GET", "/v1/groups/{gid}", grp_h_get, 0, 0},
    {"PATCH", "/v1/groups/{gid}", grp_h_patch, 0, BODY_LIMIT},
    {"DELETE", "/v1/groups/{gid}", grp_h_delete, 0, BODY_LIMIT},
    {"POST", "/v1/groups/{gid}/transfer-ownership", grp_h_transfer, 0,
     BODY_LIMIT},
    {"PATCH", "/v1/groups/{gid}/members/{uid}", grp_h_member_patch, 0,
     BODY_LIMIT},
    {"DELETE", "/v1/groups/{gid}/members/{uid}", grp_h_member_delete, 0,
     BODY_LIMIT},
    {"POST", "/v1/groups/{gid}/invites", grp_h_invite_create, 0, BODY_LIMIT},
    /* Invite codes are bearer secrets: keep them out of the access log. */
    {"DELETE", "/v1/groups/{gid}/invites/{code}", grp_h_invite_revoke,
     TQ_ROUTE_SECRET_PATH, BODY_LIMIT},
    {"GET", "/v1/invites/{code}", grp_h_invite_preview,
     TQ_ROUTE_PUBLIC | TQ_ROUTE_SECRET_PATH, 0},
    {"POST", "/v1/invites/{code}/accept", grp_h_invite_accept,
     TQ_ROUTE_SECRET_PATH, BODY_LIMIT},
};

/* ------------------------------------------------------------ config */

static int load_config(void)
{
    static const char *const keys[] = {"default_currency", "invite_ttl_hours",
                                       "invite_max_uses", NULL};
    const char *currency = "USD";
    grp_conf = (grp_config){.invite_ttl_hours = 168, .invite_max_uses = 1};
    int rc = tq_conf_known(keys);
    if (rc == TQ_OK)
        rc = tq_conf_str("default_currency", 1, 16, &currency);
    if (rc == TQ_OK && !grp_currency_valid(currency))
        rc = tq_conf_reject("default_currency",
                            "an ISO 4217 currency code such as \"EUR\"");
    if (rc == TQ_OK)
        rc = tq_conf_int("invite_ttl_hours", 1, 8760,
                         &grp_conf.invite_ttl_hours);
    if (rc == TQ_OK)
        rc = tq_conf_int("invite_max_uses", 1, 1000,
                         &grp_conf.invite_max_uses);
    if (rc == TQ_OK)
        memcpy(grp_conf.default_currency, currency, 4);
    return rc;
}

/* -------------------------------------------------------------- init */

static int groups_init(tq_plugin *p)
{
    (void)p; /* the SDK wrappers already carry this plugin's handle */
    int rc = load_config();
    if (rc == 0)
        rc = grp_register_migrations();
    if (rc == 0)
        rc = tq_routes(routes, sizeof routes / sizeof *routes);
    if (rc == 0)
        rc = tq_provide(TQ_GROUPS_SERVICE, TQ_GROUPS_SERVICE_VERSION,
                        &grp_service);
    if (rc == 0)
        rc = tq_job("invite_gc", 3600, grp_job_invite_gc);
    return rc;
}

TQ_PLUGIN_DEFINE("groups", "1.0.0", NULL, groups_init, NULL)
