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

#include <stdlib.h>
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
    {"DELETE", "/v1/groups/{gid}/invites/{code}", grp_h_invite_revoke, 0,
     BODY_LIMIT},
    {"GET", "/v1/invites/{code}", grp_h_invite_preview, TQ_ROUTE_PUBLIC, 0},
    {"POST", "/v1/invites/{code}/accept", grp_h_invite_accept, 0,
     BODY_LIMIT},
};

/* ------------------------------------------------------------ config */

/*
 * An integer setting: a JSON integer, or a string of digits (what a
 * ${env:...} reference yields).  0, or logs what is wrong and the fix.
 */
static int conf_int(json_t *conf, const char *key, int min, int max,
                    int *out)
{
    json_t *v = json_object_get(conf, key);
    long long x;
    char *end = NULL;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v) && *json_string_value(v)) {
        x = strtoll(json_string_value(v), &end, 10);
        if (*end)
            goto bad;
    } else {
        goto bad;
    }
    if (x < min || x > max)
        goto bad;
    *out = (int)x;
    return 0;
bad:;
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    tq_log(NULL, TQ_LOG_ERROR,
           "tasqly.yaml: plugins[groups].config.%s: expected an integer "
           "from %d to %d, got %s",
           key, min, max, text ? text : "?");
    free(text);
    return TQ_E_INVALID;
}

static int load_config(void)
{
    static const char *const known[] = {"default_currency",
                                        "invite_ttl_hours",
                                        "invite_max_uses", NULL};
    json_t *conf = tq_config();
    const char *key;
    json_t *v;

    json_object_foreach(conf, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            tq_log(NULL, TQ_LOG_ERROR,
                   "tasqly.yaml: plugins[groups].config.%s: unknown "
                   "setting; the groups plugin knows default_currency, "
                   "invite_ttl_hours and invite_max_uses",
                   key);
            return TQ_E_INVALID;
        }
    }

    grp_conf = (grp_config){.default_currency = "USD",
                            .invite_ttl_hours = 168,
                            .invite_max_uses = 1};
    v = json_object_get(conf, "default_currency");
    if (v) {
        if (!json_is_string(v) || !grp_currency_valid(json_string_value(v))) {
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            tq_log(NULL, TQ_LOG_ERROR,
                   "tasqly.yaml: plugins[groups].config.default_currency: "
                   "expected an ISO 4217 code such as \"EUR\", got %s",
                   text ? text : "?");
            free(text);
            return TQ_E_INVALID;
        }
        memcpy(grp_conf.default_currency, json_string_value(v), 4);
    }
    int rc = conf_int(conf, "invite_ttl_hours", 1, 8760,
                      &grp_conf.invite_ttl_hours);
    if (rc == 0)
        rc = conf_int(conf, "invite_max_uses", 1, 1000,
                      &grp_conf.invite_max_uses);
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
