/*
 * loader.c - finds, checks and initialises plugins.
 *
 * Checks come in layers, as PostgreSQL's dfmgr does: the file, the entry
 * symbol, the magic, the ABI major, the minor, the layout fingerprint,
 * the name.  Plugins initialise in dependency order; each plugin's
 * registrations are committed to the global registries only after its
 * init() succeeded (a failed init leaves nothing behind), and a route
 * collision refuses the plugin.  Plugins are never unloaded while the
 * process runs (no hot dlclose), as PostgreSQL never unloads a library.
 */
#include "host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

host_router *host_routes;

static void xfree_plugin(tq_plugin *p)
{
    for (size_t i = 0; i < p->routes.n; i++) {
        free((char *)p->routes.v[i].r.method);
        free((char *)p->routes.v[i].r.path);
    }
    free(p->routes.v);
    for (size_t i = 0; i < p->migrations.n; i++) {
        free(p->migrations.v[i].name);
        free(p->migrations.v[i].sql);
    }
    free(p->migrations.v);
    for (size_t i = 0; i < p->subs.n; i++)
        free(p->subs.v[i].type);
    free(p->subs.v);
    for (size_t i = 0; i < p->services.n; i++)
        free(p->services.v[i].name);
    free(p->services.v);
    for (size_t i = 0; i < p->jobs.n; i++) {
        free(p->jobs.v[i]->name);
        free(p->jobs.v[i]);
    }
    free(p->jobs.v);
    free(p->name);
    free(p->version);
    free(p->file);
    free(p);
}

/* Move a successfully initialised plugin's registrations into the global
 * registries.  Route collisions are checked first, so a refused plugin
 * leaves no route behind. */
static int commit_plugin(tq_plugin *p, char *err, size_t errlen)
{
    if (!host_routes)
        host_routes = host_router_new();
    for (size_t i = 0; i < p->routes.n; i++) {
        host_route_rec *r = &p->routes.v[i];
        const host_route_rec *clash = NULL;
        int rc = host_router_add(host_routes, host_method_from_str(r->r.method),
                                 r->r.path, r, &clash);
        if (rc) {
            snprintf(err, errlen,
                     "plugin %s (%s): route %s %s collides with %s %s of "
                     "plugin %s; disable one of the two plugins or change "
                     "the path",
                     p->name, p->file ? p->file : "built in", r->r.method,
                     r->r.path, clash ? clash->r.method : "?",
                     clash ? clash->r.path : "?",
                     clash ? clash->plugin->name : "?");
            /* Undo this plugin's routes added so far. */
            host_router_free(host_routes);
            host_routes = host_router_new();
            for (size_t k = 0; k < host_reg.plugins.n; k++) {
                tq_plugin *q = host_reg.plugins.v[k];
                for (size_t j = 0; j < q->routes.n; j++)
                    host_router_add(host_routes,
                                    host_method_from_str(q->routes.v[j].r.method),
                                    q->routes.v[j].r.path, &q->routes.v[j], NULL);
            }
            return TQ_E_EXISTS;
        }
    }
    for (size_t i = 0; i < p->migrations.n; i++)
        *(host_migration *)host_vec_push(&host_reg.migrations) = p->migrations.v[i];
    for (size_t i = 0; i < p->subs.n; i++)
        *(host_subscription *)host_vec_push(&host_reg.subs) = p->subs.v[i];
    for (size_t i = 0; i < p->services.n; i++)
        *(host_service *)host_vec_push(&host_reg.services) = p->services.v[i];
    for (size_t i = 0; i < p->jobs.n; i++)
        *(host_job **)host_vec_push(&host_reg.jobs) = p->jobs.v[i];
    *(tq_plugin **)host_vec_push(&host_reg.plugins) = p;
    p->loaded = true;
    return TQ_OK;
}

static int init_plugin(tq_plugin *p, char *err, size_t errlen)
{
    p->in_init = true;
    int rc = p->desc->init ? p->desc->init(p) : TQ_OK;
    p->in_init = false;
    if (rc != TQ_OK) {
        snprintf(err, errlen,
                 "plugin %s (%s): init() failed with code %d; see the log "
                 "lines above, or disable the plugin in the manifest",
                 p->name, p->file ? p->file : "built in", rc);
        return TQ_ERR;
    }
    return commit_plugin(p, err, errlen);
}

int host_core_register(const host_config *c, char *err, size_t errlen)
{
    extern int host_core_init(tq_plugin *core); /* core.c */
    (void)c;
    tq_plugin *core = calloc(1, sizeof *core);
    if (!core)
        return TQ_E_NOMEM;
    core->name = strdup("tasqly");
    core->version = strdup(PROJECT_VERSION);
    static const tq_plugin_desc core_desc = {
        TQ_MAGIC, TQ_ABI_MAJOR, TQ_ABI_MINOR, sizeof(tq_plugin_desc),
        TQ_ABI_FINGERPRINT, "tasqly", PROJECT_VERSION, NULL, host_core_init,
        NULL, NULL, NULL};
    core->desc = &core_desc;
    tq__self = core;
    int rc = init_plugin(core, err, errlen);
    if (rc)
        xfree_plugin(core);
    return rc;
}

/* ------------------------------------------------------ finding files */

static char *find_file(const char *dirs, const char *name)
{
    char *list = strdup(dirs);
    char path[4096];
    struct stat st;
    char *save = NULL;
    for (char *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof path, "%s/%s.so", d, name);
        if (stat(path, &st) == 0)
            goto found;
        snprintf(path, sizeof path, "%s/%s/%s.so", d, name, name);
        if (stat(path, &st) == 0)
            goto found;
    }
    free(list);
    return NULL;
found:
    free(list);
    return strdup(path);
}

static int open_plugin(const host_config *c, const host_plugin_conf *pc,
                       tq_plugin **out, char *err, size_t errlen)
{
    const char *where = c->path ? c->path : "(defaults)";
    char *file = find_file(c->plugin_dir, pc->name);
    if (!file) {
        snprintf(err, errlen,
                 "%s:%d: plugin %s: %s.so not found in %s; build it, fix "
                 "paths.plugins, or set enabled: false",
                 where, pc->line, pc->name, pc->name, c->plugin_dir);
        return TQ_E_NOTFOUND;
    }
    void *dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, errlen, "plugin %s: cannot load %s: %s", pc->name, file,
                 dlerror());
        free(file);
        return TQ_ERR;
    }
    const tq_plugin_desc *(*entry)(void);
    *(void **)&entry = dlsym(dl, TQ_PLUGIN_ENTRY);
    const tq_plugin_desc *d = entry ? entry() : NULL;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    int rc = TQ_ERR;
    if (!entry) {
        snprintf(err, errlen,
                 "plugin %s: %s exports no symbol %s; define the plugin with "
                 "TQ_PLUGIN_DEFINE() from <tasqly/tasqly.h>",
                 pc->name, file, TQ_PLUGIN_ENTRY);
    } else if (!d || d->magic != TQ_MAGIC) {
        snprintf(err, errlen,
                 "plugin %s: %s: %s() returned no Tasqly descriptor (magic "
                 "0x%08x, expected 0x%08x)",
                 pc->name, file, TQ_PLUGIN_ENTRY, d ? d->magic : 0, TQ_MAGIC);
    } else if (d->abi_major != TQ_ABI_MAJOR) {
        snprintf(err, errlen,
                 "plugin %s: %s: ABI %u.%u, host speaks %d.%d; rebuild the "
                 "plugin against sdk %d.x",
                 pc->name, base, d->abi_major, d->abi_minor, TQ_ABI_MAJOR,
                 TQ_ABI_MINOR, TQ_ABI_MAJOR);
    } else if (d->abi_minor > TQ_ABI_MINOR) {
        snprintf(err, errlen,
                 "plugin %s: %s: built against sdk %u.%u, newer than the "
                 "host's %d.%d; upgrade tasqlyd",
                 pc->name, base, d->abi_major, d->abi_minor, TQ_ABI_MAJOR,
                 TQ_ABI_MINOR);
    } else if (d->desc_size != sizeof(tq_plugin_desc) ||
               d->fingerprint != TQ_ABI_FINGERPRINT) {
        snprintf(err, errlen,
                 "plugin %s: %s: layout fingerprint 0x%08x (descriptor %u "
                 "bytes), host has 0x%08x (%zu bytes): the plugin was built "
                 "with a modified tasqly.h; rebuild it against the sdk",
                 pc->name, base, d->fingerprint, d->desc_size,
                 TQ_ABI_FINGERPRINT, sizeof(tq_plugin_desc));
    } else if (!d->name || strcmp(d->name, pc->name) != 0) {
        snprintf(err, errlen,
                 "plugin %s: %s calls itself \"%s\"; the manifest name and "
                 "the TQ_PLUGIN_DEFINE name must match",
                 pc->name, base, d->name ? d->name : "(null)");
    } else if (!d->api_slot || !d->self_slot) {
        snprintf(err, errlen, "plugin %s: %s: descriptor has no api slot",
                 pc->name, base);
    } else {
        rc = TQ_OK;
    }
    if (rc) {
        dlclose(dl);
        free(file);
        return rc;
    }
    tq_plugin *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->name = strdup(pc->name);
    p->version = strdup(d->version ? d->version : "0.0.0");
    p->file = file;
    p->dl = dl;
    p->desc = d;
    p->config = pc->config;
    *d->api_slot = &host_api;
    *d->self_slot = p;
    *out = p;
    return TQ_OK;
}

/* ------------------------------------------------- dependency order */

typedef struct node {
    const host_plugin_conf *pc;
    tq_plugin *p;
    int state; /* 0 new, 1 visiting, 2 done */
} node;

static node *find_node(node *nodes, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].pc->name, name) == 0)
            return &nodes[i];
    return NULL;
}

static const host_plugin_conf *find_conf(const host_config *c, const char *name)
{
    for (size_t i = 0; i < c->nplugins; i++)
        if (strcmp(c->plugins[i].name, name) == 0)
            return &c->plugins[i];
    return NULL;
}

static int visit(const host_config *c, node *nodes, size_t n, node *x,
                 char *chain, size_t chainlen, char *err, size_t errlen)
{
    if (x->state == 2)
        return TQ_OK;
    size_t mark = strlen(chain);
    snprintf(chain + mark, chainlen - mark, "%s%s", mark ? " -> " : "",
             x->pc->name);
    if (x->state == 1) {
        snprintf(err, errlen,
                 "plugins: dependency cycle %s; a plugin cannot require one "
                 "that requires it",
                 chain);
        return TQ_ERR;
    }
    x->state = 1;
    const char *const *req = x->p->desc->requires;
    for (; req && *req; req++) {
        node *y = find_node(nodes, n, *req);
        if (!y) {
            const host_plugin_conf *pc = find_conf(c, *req);
            snprintf(err, errlen,
                     "plugin %s requires plugin %s, which is %s; enable %s "
                     "in the manifest or disable %s",
                     x->pc->name, *req,
                     pc ? "disabled" : "not in the manifest", *req,
                     x->pc->name);
            return TQ_ERR;
        }
        int rc = visit(c, nodes, n, y, chain, chainlen, err, errlen);
        if (rc)
            return rc;
    }
    chain[mark] = '\0';
    x->state = 2;
    return init_plugin(x->p, err, errlen);
}

int host_load_plugins(const host_config *c, char *err, size_t errlen)
{
    size_t n = 0;
    node *nodes = calloc(c->nplugins + 1, sizeof *nodes);
    if (!nodes)
        return TQ_E_NOMEM;
    int rc = TQ_OK;
    for (size_t i = 0; i < c->nplugins && rc == TQ_OK; i++) {
        if (!c->plugins[i].enabled)
            continue;
        nodes[n].pc = &c->plugins[i];
        rc = open_plugin(c, &c->plugins[i], &nodes[n].p, err, errlen);
        if (rc == TQ_OK)
            n++;
    }
    char chain[1024];
    for (size_t i = 0; i < n && rc == TQ_OK; i++) {
        chain[0] = '\0';
        rc = visit(c, nodes, n, &nodes[i], chain, sizeof chain, err, errlen);
    }
    if (rc) {
        /* Plugins that never loaded are freed; loaded ones stay until exit
         * (their code may be referenced by registrations). */
        for (size_t i = 0; i < n; i++)
            if (!nodes[i].p->loaded) {
                dlclose(nodes[i].p->dl);
                xfree_plugin(nodes[i].p);
            }
    }
    free(nodes);
    return rc;
}

void host_unload_plugins(void)
{
    for (size_t i = host_reg.plugins.n; i-- > 0;) {
        tq_plugin *p = host_reg.plugins.v[i];
        if (p->desc && p->desc->shutdown)
            p->desc->shutdown(p);
    }
    if (host_routes)
        host_router_free(host_routes);
    host_routes = NULL;
    for (size_t i = host_reg.plugins.n; i-- > 0;) {
        tq_plugin *p = host_reg.plugins.v[i];
        void *dl = p->dl;
        xfree_plugin(p);
        if (dl)
            dlclose(dl);
    }
    free(host_reg.plugins.v);
    free(host_reg.migrations.v);
    free(host_reg.subs.v);
    free(host_reg.services.v);
    free(host_reg.jobs.v);
    memset(&host_reg, 0, sizeof host_reg);
}
