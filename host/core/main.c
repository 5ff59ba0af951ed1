/*
 * main.c - tasqlyd: read the manifest, load the plugins, migrate, serve.
 *
 * Migrations run on a thread of their own so the process answers /healthz
 * (and /readyz 503) while PostgreSQL is still coming up; the event
 * dispatcher and jobs start once the schema is in place.  An edited,
 * already-applied migration is fatal: the process drains and exits 1.
 */
#include "host.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void host_core_set_config(const host_config *c);

static host_config cfg;
static atomic_int exit_code;
static atomic_bool stopping;
static pthread_t migrate_tid;
static bool background_started;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tasqlyd [--config FILE] [--check-config] [--list-routes]\n"
            "  --config FILE   manifest to read (default tasqly.yaml; built-in\n"
            "                  defaults when that file does not exist)\n"
            "  --check-config  load the manifest and plugins, then exit\n"
            "  --list-routes   print every route and its plugin, then exit\n"
            "environment: TASQLY_DATABASE_URL TASQLY_LISTEN TASQLY_PLUGIN_DIR\n"
            "             TASQLY_MAIL_SPOOL TASQLY_LOG_LEVEL TASQLY_ADMIN_TOKEN\n");
}

static void *migrate_main(void *arg)
{
    (void)arg;
    char err[1024];
    for (int attempt = 0; !atomic_load(&stopping); attempt++) {
        err[0] = '\0';
        int rc = host_migrate(cfg.database_url, err, sizeof err);
        if (rc == TQ_OK)
            break;
        if (rc != TQ_E_UNAVAILABLE) {
            host_log(TQ_LOG_ERROR, "start-up stopped: %s", err);
            atomic_store(&exit_code, 1);
            host_http_stop();
            return NULL;
        }
        if (attempt % 10 == 0)
            host_log(TQ_LOG_WARN, "database not reachable yet (%s); retrying",
                     err);
        usleep(500 * 1000);
    }
    if (atomic_load(&stopping))
        return NULL;
    if (host_events_start(&cfg) != TQ_OK || host_jobs_start(&cfg) != TQ_OK) {
        host_log(TQ_LOG_ERROR, "start-up stopped: cannot start the event "
                               "dispatcher or the job runner");
        atomic_store(&exit_code, 1);
        host_http_stop();
        return NULL;
    }
    background_started = true;
    return NULL;
}

static void print_route(void *arg, int method, const char *pattern,
                        const host_route_rec *rec)
{
    (void)arg;
    printf("%-7s %-55s %s%s\n", host_method_str(method), pattern,
           rec->plugin->name,
           (rec->r.flags & TQ_ROUTE_PUBLIC) ? " (public)" : "");
}

int main(int argc, char **argv)
{
    /* No fastbins: libpq's 2 KiB result blocks are "large" requests, and
     * each made glibc consolidate every small chunk the previous request
     * freed: 4-6 % of a list request's CPU (docs/benchmarks.md). */
    mallopt(M_MXFAST, 0);
    const char *path = NULL;
    bool check = false, list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        else if (strcmp(argv[i], "--check-config") == 0)
            check = true;
        else if (strcmp(argv[i], "--list-routes") == 0)
            list = true;
        else if (strcmp(argv[i], "--version") == 0) {
            printf("tasqlyd %s (plugin ABI %d.%d)\n", PROJECT_VERSION,
                   TQ_ABI_MAJOR, TQ_ABI_MINOR);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tasqlyd: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        struct stat st;
        path = stat("tasqly.yaml", &st) == 0 ? "tasqly.yaml" : NULL;
    }

    char err[2048] = "";
    host_aws_register_resolvers(); /* ${aws-sm:...} in the manifest */
    if (host_config_load(&cfg, path, err, sizeof err) != TQ_OK) {
        fprintf(stderr, "tasqlyd: %s\n", err);
        return 1;
    }
    host_log_level = cfg.log_level;
    host_core_set_config(&cfg);

    int rc = host_auth_init(&cfg);
    if (rc == TQ_OK)
        rc = host_aws_init(&cfg, err, sizeof err);
    if (rc == TQ_OK)
        rc = host_core_register(&cfg, err, sizeof err);
    if (rc == TQ_OK)
        rc = host_load_plugins(&cfg, err, sizeof err);
    if (rc != TQ_OK) {
        if (err[0])
            fprintf(stderr, "tasqlyd: %s\n", err);
        host_unload_plugins();
        host_aws_fini();
        host_config_free(&cfg);
        return 1;
    }

    if (list) {
        host_router_walk(host_routes, print_route, NULL);
    } else if (check) {
        size_t nroutes = 0;
        for (size_t i = 0; i < host_reg.plugins.n; i++)
            nroutes += host_reg.plugins.v[i]->routes.n;
        printf("%s: ok (%zu plugins, %zu routes, %zu migrations)\n",
               path ? path : "(built-in defaults)", host_reg.plugins.n - 1,
               nroutes, host_reg.migrations.n);
    } else {
        if (!cfg.database_url || !*cfg.database_url) {
            fprintf(stderr, "tasqlyd: database.url is not set; set it in the "
                            "manifest or TASQLY_DATABASE_URL\n");
            atomic_store(&exit_code, 1);
        } else if (pthread_create(&migrate_tid, NULL, migrate_main, NULL)) {
            fprintf(stderr, "tasqlyd: cannot start the migration thread\n");
            atomic_store(&exit_code, 1);
        } else {
            if (host_http_run(&cfg) != TQ_OK)
                atomic_store(&exit_code, 1);
            atomic_store(&stopping, true);
            pthread_join(migrate_tid, NULL);
            if (background_started) {
                host_jobs_stop();
                host_events_stop();
            }
        }
    }
    host_unload_plugins();
    host_aws_fini();
    host_config_free(&cfg);
    return atomic_load(&exit_code);
}
