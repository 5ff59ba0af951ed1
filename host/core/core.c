/*
 * core.c - the built-in plugin "tasqly": the host's own tables (events,
 * auth) and the operations routes /healthz, /readyz, /metrics and
 * /v1/admin/plugins.  It registers through the same SDK table as every
 * plugin, so the host eats its own cooking.
 */
#include "host.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

int host_core_init(tq_plugin *core);

static const host_config *core_cfg;

void host_core_set_config(const host_config *c);
void host_core_set_config(const host_config *c) { core_cfg = c; }

static int healthz(tq_req *req)
{
    return tq_json_text(req, 200, "{\"status\":\"ok\"}", 15);
}

static int readyz(tq_req *req)
{
    if (!atomic_load(&host_migrated))
        return tq_error(req, 503, "unavailable", NULL,
                        "migrations are not applied yet");
    if (!host_db_ok(req->db) || tq_sql(req, NULL, "SELECT 1") != TQ_OK)
        return tq_error(req, 503, "unavailable", NULL,
                        "the database does not answer");
    return tq_json_text(req, 200, "{\"status\":\"ready\"}", 18);
}

static int metrics(tq_req *req)
{
    size_t len = 0;
    char *text = host_metrics_render(&len);
    if (!text)
        return tq_fail(req, TQ_E_NOMEM);
    int st = tq_bytes(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                      text, len);
    free(text);
    return st;
}

/* The admin token is compared in constant time; without one configured
 * the admin routes do not exist. */
static int admin_ok(tq_req *req)
{
    const char *tok = core_cfg ? core_cfg->admin_token : NULL;
    const char *h = tq_header(req, "Authorization");
    if (!tok || !*tok)
        return tq_not_found(req);
    if (!h || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != strlen(tok) ||
        CRYPTO_memcmp(h + 7, tok, strlen(tok)) != 0)
        return tq_error(req, 401, "unauthorized", NULL,
                        "an admin token is required");
    return 0;
}

static int admin_plugins(tq_req *req)
{
    int rc = admin_ok(req);
    if (rc)
        return rc;
    tq_res *applied = NULL;
    if (atomic_load(&host_migrated))
        tq_sql(req, &applied,
               "SELECT plugin, count(*)::int FROM tasqly.schema_migrations "
               "GROUP BY plugin");
    tq_res *dead = NULL;
    if (atomic_load(&host_migrated))
        tq_sql(req, &dead,
               "SELECT subscriber, count(*)::int FROM tasqly.deliveries "
               "WHERE state = 'dead' GROUP BY subscriber");
    json_t *items = json_array();
    for (size_t i = 0; i < host_reg.plugins.n; i++) {
        tq_plugin *p = host_reg.plugins.v[i];
        json_t *routes = json_array();
        for (size_t j = 0; j < p->routes.n; j++)
            json_array_append_new(routes,
                                  json_sprintf("%s %s", p->routes.v[j].r.method,
                                               p->routes.v[j].r.path));
        long long napplied = 0, ndead = 0;
        for (int r = 0; applied && r < tq_rows(applied); r++)
            if (strcmp(tq_get(applied, r, 0), p->name) == 0)
                napplied = tq_get_ll(applied, r, 1);
        for (int r = 0; dead && r < tq_rows(dead); r++)
            if (strcmp(tq_get(dead, r, 0), p->name) == 0)
                ndead = tq_get_ll(dead, r, 1);
        json_array_append_new(
            items,
            json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:b, s:s?}", "name",
                      p->name, "version", p->version, "abi_version",
                      json_sprintf("%u.%u", (unsigned)p->desc->abi_major,
                                   (unsigned)p->desc->abi_minor),
                      "routes", routes, "migrations", (json_int_t)p->migrations.n,
                      "migrations_applied", (json_int_t)napplied,
                      "dead_deliveries", (json_int_t)ndead, "enabled", 1,
                      "file", p->file));
    }
    return tq_json(req, 200, json_pack("{s:o}", "items", items));
}

int host_core_init(tq_plugin *core)
{
    static const tq_route routes[] = {
        {"GET", "/healthz", healthz,
         TQ_ROUTE_PUBLIC | HOST_ROUTE_INLINE | HOST_ROUTE_NO_DB, 0},
        {"GET", "/metrics", metrics,
         TQ_ROUTE_PUBLIC | HOST_ROUTE_INLINE | HOST_ROUTE_NO_DB, 0},
        {"GET", "/readyz", readyz, TQ_ROUTE_PUBLIC | HOST_ROUTE_NO_DB, 0},
        {"GET", "/v1/admin/plugins", admin_plugins,
         TQ_ROUTE_PUBLIC | HOST_ROUTE_NO_DB, 0},
    };
    int rc = host_events_register(core);
    if (rc == TQ_OK)
        rc = host_auth_register(core);
    if (rc == TQ_OK)
        rc = tq_routes(routes, sizeof routes / sizeof routes[0]);
    return rc;
}
