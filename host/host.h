/*
 * host.h - what the modules of tasqlyd share with each other (never with
 * plugins: they see sdk/include/tasqly/ only).
 *
 * The host is a set of small modules, one file each: config (manifest),
 * loader (plugins), router, http (I/O threads + worker pool), api (the
 * table plugins call), db (libpq pool), migrate, events (outbox +
 * dispatcher), jobs, auth, metrics, log.  Internal names are host_*.
 *
 * Memory: a tq_req owns an arena; everything hung off a request (params,
 * headers, results, response body) is arena memory or released by
 * host_req_free().  Registries and config live until exit.
 */
#ifndef TASQLY_HOST_H
#define TASQLY_HOST_H

#include <tasqly/tasqly.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- arena */

typedef struct host_arena_chunk host_arena_chunk;
typedef struct host_arena {
    host_arena_chunk *head;
    char *pos, *end;
    char first[2048]; /* most requests never call malloc for the arena */
} host_arena;

void host_arena_init(host_arena *a);
void *host_arena_alloc(host_arena *a, size_t n); /* aborts on OOM */
char *host_arena_strdup(host_arena *a, const char *s);
char *host_arena_strndup(host_arena *a, const char *s, size_t n);
char *host_arena_vprintf(host_arena *a, const char *fmt, va_list ap);
char *host_arena_printf(host_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void host_arena_free(host_arena *a);

/* ------------------------------------------------------------ config */

typedef struct host_plugin_conf {
    char *name;
    bool enabled;
    json_t *config; /* owned; {} when absent */
    int line;       /* where the entry starts in the manifest */
} host_plugin_conf;

typedef struct host_config {
    char *path; /* the manifest file, or NULL for built-in defaults */

    /* server: */
    char *listen;            /* "127.0.0.1:8080" */
    int io_threads;          /* 1 */
    int workers;             /* 8: also the database pool size */
    size_t body_limit;       /* 65536 */
    int request_timeout_s;   /* 30 */
    int log_level;           /* TQ_LOG_INFO */
    bool trust_proxy;        /* honour X-Forwarded-For */
    char *admin_token;       /* NULL: every /v1/admin route answers 404 */

    /* database: */
    char *database_url;
    int db_pool;             /* defaults to workers */
    int statement_timeout_ms; /* 10000 */

    /* auth: */
    char *token_secret;      /* NULL: generated under var_dir */
    char *token_kid;         /* "k1" */
    char *previous_secret;   /* still verifies; NULL when none */
    char *previous_kid;
    int access_ttl_s;        /* 900 */
    int refresh_ttl_s;       /* 30 days */
    uint64_t scrypt_n;       /* 131072 (OWASP minimum) */
    uint32_t scrypt_r;       /* 8 */
    uint32_t scrypt_p;       /* 1 */
    int hash_concurrency;    /* 2 */

    /* events: */
    int event_max_attempts;  /* 8 */
    int event_retention_days; /* 90 */

    /* paths: */
    char *var_dir;           /* "var" */
    char *plugin_dir;        /* "build/plugins" */
    char *mail_spool;        /* "var/mail" */

    host_plugin_conf *plugins;
    size_t nplugins;

    /* auth rate limits (appended; 0 means the default in docs/auth.md): */
    int login_fail_per_email; /* 5 failed logins per email ... */
    int login_fail_per_addr;  /* 20 per client address ... */
    int login_window_s;       /* ... within 900 s */
    int reset_per_email;      /* 3 reset requests per email ... */
    int reset_window_s;       /* ... within 3600 s */
    int register_per_addr;    /* 30 registrations per client address ... */
    int register_window_s;    /* ... within 3600 s (appended) */

    /* aws: (host/aws/, docs/aws.md; appended.  0 / NULL = the default) */
    char *aws_region;            /* NULL: AWS_REGION, AWS_DEFAULT_REGION, us-east-1 */
    char *aws_access_key_id;     /* NULL: environment, then EC2 IMDSv2 */
    char *aws_secret_access_key;
    char *aws_session_token;
    char *aws_imds_endpoint;     /* NULL: http://169.254.169.254 */
    int aws_connect_timeout_ms;  /* 2000 */
    int aws_timeout_ms;          /* 15000 per attempt */
    int aws_max_attempts;        /* 3 */

    /* storage: the object store behind tq_store_*() (host/aws/store.c) */
    char *storage_kind;          /* "fs" (NULL) or "s3" */
    char *storage_dir;           /* fs: NULL means <var_dir>/media */
    char *storage_bucket;        /* s3: required */
    char *storage_region;        /* s3: NULL means aws.region */
    char *storage_endpoint;      /* s3: NULL means https://s3.<region>.amazonaws.com */
    bool storage_path_style;     /* s3: endpoint/bucket/key addressing */
    int storage_presign_ttl_s;   /* s3: pre-signed GET lifetime, 900 */
} host_config;

/*
 * Load path (NULL: built-in defaults, every plugin found enabled is up to
 * the caller), then apply TASQLY_* environment overrides.  On error
 * returns TQ_ERR and writes "file:line:col: what: expected, got" into err.
 */
int host_config_load(host_config *c, const char *path, char *err,
                     size_t errlen);
/* Same, from a string (for tests); name is used in messages. */
int host_config_parse(host_config *c, const char *name, const char *text,
                      size_t len, char *err, size_t errlen);
void host_config_free(host_config *c);

/*
 * A resolver for "${scheme:arg}" references in manifest strings (env and
 * file are built in).  On success it returns TQ_OK with a malloc'd value
 * in *out (the config module frees it); on failure a negative TQ_E_* code
 * and a message in err that names arg but never a secret value.  Register
 * before host_config_load(); fn NULL removes the scheme.
 */
typedef int (*host_config_resolver)(const char *arg, char **out, char *err,
                                    size_t errlen);
void host_config_set_resolver(const char *scheme, host_config_resolver fn);

/* --------------------------------------------------------------- log */

extern int host_log_level;
void host_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One JSON access line per request. */
void host_log_access(const tq_req *req, int status, double ms);
/* host_log() with the plugin name and request id as fields (either may be
 * NULL): the body of the api table's vlog slot. */
void host_logv(int level, const char *plugin, const char *request_id,
               const char *fmt, va_list ap);

/* ----------------------------------------------------------- plugins */

/* Host-only route flags, above the SDK's TQ_ROUTE_* bits. */
enum {
    HOST_ROUTE_INLINE = 1u << 30, /* answered on the I/O thread: no db */
    HOST_ROUTE_NO_DB = 1u << 29,  /* served before migrations finish */
};

typedef struct host_route_rec {
    tq_route r;          /* strings copied */
    tq_plugin *plugin;
    int metrics_slot;    /* set by host_router_add() on its own copy */
} host_route_rec;

typedef struct host_migration {
    tq_plugin *plugin;
    char *name, *sql;
    char checksum[65];   /* sha256 hex of sql */
} host_migration;

typedef struct host_subscription {
    tq_plugin *plugin;
    char *type;
    tq_event_fn fn;
} host_subscription;

typedef struct host_service {
    tq_plugin *plugin;
    char *name;
    uint32_t version;
    const void *vtable;
} host_service;

typedef struct host_job {
    tq_plugin *plugin;
    char *name;          /* "tasks.due" : plugin-qualified by the host */
    unsigned interval_s;
    tq_job_fn fn;
    atomic_llong last_run_unix, runs, failures;
} host_job;

/* A growable array of T; one idiom for every registry. */
#define HOST_VEC(T) struct { T *v; size_t n, cap; }
void *host_vec_push_(void *vec, size_t elem); /* returns the new slot */
#define host_vec_push(vec) host_vec_push_((vec), sizeof(*(vec)->v))

struct tq_plugin {
    char *name, *version, *file; /* file NULL for the built-in core */
    void *dl;
    const tq_plugin_desc *desc;
    json_t *config;              /* borrowed from host_config */
    bool in_init, loaded;
    /* What init() registered; moved to the global registries only when
     * init() succeeds, so a failed init leaves nothing behind. */
    HOST_VEC(host_route_rec) routes;
    HOST_VEC(host_migration) migrations;
    HOST_VEC(host_subscription) subs;
    HOST_VEC(host_service) services;
    HOST_VEC(host_job *) jobs;
};

typedef struct host_registry {
    HOST_VEC(tq_plugin *) plugins; /* load order: core first */
    HOST_VEC(host_migration) migrations;
    HOST_VEC(host_subscription) subs;
    HOST_VEC(host_service) services;
    HOST_VEC(host_job *) jobs;
} host_registry;

extern host_registry host_reg;
extern const tq_api host_api;

/* Load every enabled plugin of c from c->plugin_dir in dependency order,
 * after the built-in core.  Messages name file, plugin, values, the fix. */
int host_load_plugins(const host_config *c, char *err, size_t errlen);
/* Register the built-in core (auth, ops routes) as plugin "tasqly". */
int host_core_register(const host_config *c, char *err, size_t errlen);
void host_unload_plugins(void);

/* ------------------------------------------------------------ router */

enum { HOST_GET, HOST_POST, HOST_PUT, HOST_PATCH, HOST_DELETE, HOST_NMETHODS };
int host_method_from_str(const char *m); /* -1 when unknown */
const char *host_method_str(int m);

typedef struct host_router host_router;
typedef struct host_param { const char *name, *value; } host_param;
#define HOST_MAX_PARAMS 8

host_router *host_router_new(void);
void host_router_free(host_router *r);
/* TQ_E_EXISTS when method+shape already taken; *clash gets the owner.
 * TQ_E_INVALID for a bad method or pattern (host_router_check says why).
 * The router keeps its own copy of rec and pattern (docs/router.md). */
int host_router_add(host_router *r, int method, const char *pattern,
                    const host_route_rec *rec, const host_route_rec **clash);
/* NULL when pattern follows the rules of docs/router.md, else why not. */
const char *host_router_check(const char *pattern);
/*
 * Match path (no query string).  Returns the route, or NULL with
 * *allowed = bitmask of methods the path has (0: 404, else 405).  Param
 * values point into the arena (percent-decoded).
 */
const host_route_rec *host_router_match(const host_router *r, int method,
                                        const char *path, host_arena *a,
                                        host_param *params, int *nparams,
                                        unsigned *allowed);
/* Every route, for --list-routes and the openapi check: calls fn. */
void host_router_walk(const host_router *r,
                      void (*fn)(void *arg, int method, const char *pattern,
                                 const host_route_rec *rec),
                      void *arg);
extern host_router *host_routes;

/* ---------------------------------------------------------- requests */

typedef struct host_kv { const char *name, *value; } host_kv;
typedef struct host_db host_db;

struct tq_req {
    host_arena arena;
    tq_plugin *plugin;         /* whose handler runs */
    const host_route_rec *route;

    /* input (NULL / 0 for event deliveries and jobs) */
    int method;
    const char *path;
    host_param params[HOST_MAX_PARAMS];
    int nparams;
    host_kv *query;  int nquery;
    host_kv *headers; int nheaders;
    const char *body_raw; size_t body_len;
    json_t *body_json;         /* owned */
    char user_id[40];          /* "" when anonymous */
    char request_id[40];
    const char *client_addr;

    /* output */
    int status;
    const char *content_type;
    char *out; size_t out_len; /* arena or malloc (out_owned) */
    bool out_owned;
    host_kv *out_headers; int nout_headers, out_headers_cap;

    /* database */
    host_db *db;               /* the worker's connection */
    bool write;                /* wrap queries in one transaction */
    bool in_tx;
    int db_error;              /* first TQ_E_* seen, 0 when none */

    HOST_VEC(json_t *) kept;
    void *io;                  /* http.c's private state */
};

/* Make a context for an event delivery or job (no HTTP side). */
void host_req_init(tq_req *req, tq_plugin *p, host_db *db);
/* Release arena, kept json, body; safe on a zeroed request. */
void host_req_free(tq_req *req);
/* Reset the response (used before a retry). */
void host_req_reset_response(tq_req *req);

/* Run a route handler with transactions and the retry-once rule. */
int host_run_handler(tq_req *req);
/* Parse body_raw of a JSON route into body_json (owned by req): 0, or the
 * 400 bad_request status with the response set when the body is not
 * JSON, repeats a key, or is not an object.  An empty body is 0. */
int host_parse_json_body(tq_req *req);

/* -------------------------------------------------------------- http */

int host_http_run(const host_config *c); /* returns at SIGTERM, drained */
void host_http_stop(void); /* the same drain, from any thread */

/* ---------------------------------------------------------------- db */

/* One libpq connection plus its prepared-statement cache.  Not shared
 * between threads: each worker owns one.  Reconnects by itself. */
host_db *host_db_new(const char *url, int statement_timeout_ms);
void host_db_free(host_db *db);
bool host_db_ok(host_db *db);           /* connected, or reconnected now */
int host_db_exec_req(tq_req *req, tq_res **out, const char *sql, int n,
                     const char *const *params); /* the api slot */
int host_db_exec(host_db *db, host_arena *a, tq_res **out, const char *sql,
                 int n, const char *const *params);
int host_db_begin(host_db *db);
int host_db_commit(host_db *db);
int host_db_rollback(host_db *db);
const char *host_db_last_error(host_db *db); /* message of the last error */
/* Result access (api slots). */
int host_res_rows(const tq_res *r);
int host_res_cols(const tq_res *r);
int host_res_affected(const tq_res *r);
int host_res_col(const tq_res *r, const char *name);
const char *host_res_get(const tq_res *r, int row, int col);
long long host_res_int(const tq_res *r, int row, int col);
int host_res_bool(const tq_res *r, int row, int col);
json_t *host_res_row_json(const tq_res *r, int row);
json_t *host_res_json(const tq_res *r);
void host_res_free(tq_res *r); /* called by the arena owner; idempotent */
/* PQclear every result the request holds (host_req_free calls it). */
void host_db_req_cleanup(tq_req *req);

/* Pool-wide numbers for /metrics. */
typedef struct host_db_stats {
    atomic_long size, in_use, waits, query_errors, reconnects;
    atomic_long results_held; /* results not yet released: 0 when idle */
} host_db_stats;
extern host_db_stats host_db_stats_g;

/* Apply migrations of every loaded plugin (core first), under an advisory
 * lock, each in its own transaction.  Refuses an edited applied one. */
int host_migrate(const char *url, char *err, size_t errlen);
extern atomic_bool host_migrated;

/* ------------------------------------------------------------ events */

int host_emit(tq_req *req, const char *type, const char *group_id,
              json_t *payload);
int host_events_list(tq_req *req, const char *group_id, int limit,
                     const char *cursor, json_t **out);
/* Register the host's own tables (outbox, deliveries, jobs) as migrations
 * of the core plugin; called by host_core_register() before auth. */
int host_events_register(tq_plugin *core);
/* Dispatcher and job threads; stop() joins them. */
int host_events_start(const host_config *c);
void host_events_stop(void);
int host_jobs_start(const host_config *c);
void host_jobs_stop(void);
/* Pending and dead deliveries, for /metrics and the admin listing. */
typedef struct host_event_stats {
    atomic_long delivered, failed_attempts, dead, pending_gauge, dead_gauge;
    atomic_llong dispatch_us_total, dispatch_count;
} host_event_stats;
extern host_event_stats host_event_stats_g;

/* ----------------------------------------------------------- metrics */

void host_metrics_request(const host_route_rec *route, int method,
                          int status, double seconds);
/* Prometheus text into a malloc'd string (caller frees). */
char *host_metrics_render(size_t *len);

/* -------------------------------------------------------------- auth */

/* Verify "Bearer ..." and fill req->user_id; 0 or 401 (response set). */
int host_auth_request(tq_req *req, const char *authorization);
int host_auth_init(const host_config *c); /* secrets, hash pool */
/* Register auth routes and migrations into the core plugin. */
int host_auth_register(tq_plugin *core);

/* ------------------------------------------------------------ helpers */

/* j as compact JSON text, the same bytes as json_dumps(j, JSON_COMPACT);
 * malloc'd (the caller frees), *len its length; NULL when out of memory. */
char *host_json_text(const json_t *j, size_t *len);

/* Format a PostgreSQL timestamptz text ("2026-12-04 15:00:00.123+00")
 * as RFC 3339 UTC ("2026-12-04T15:00:00Z") into out (>= 32 bytes). */
void host_pg_time_to_rfc3339(const char *pg, char *out, size_t outlen);
bool host_is_uuid(const char *s);

/* ------------------------------------------------- aws and the store */

/* Register the "aws-sm" manifest resolver: before host_config_load(). */
void host_aws_register_resolvers(void);
/* After the manifest is loaded: the AWS client's settings (aws:) and the
 * object store (storage:).  0, or a negative code with err naming the
 * key, the value and the fix.  host_aws_fini() releases both. */
int host_aws_init(const host_config *c, char *err, size_t errlen);
void host_aws_fini(void);

/* The object store (the api table's store slots; see tasqly.h). */
int host_store_init(const host_config *c, char *err, size_t errlen);
void host_store_shutdown(void);
int host_store_put(tq_req *req, const char *key, const void *data, size_t len,
                   const char *content_type);
int host_store_get(tq_req *req, const char *key, size_t max,
                   const void **data, size_t *len);
int host_store_delete(tq_req *req, const char *key);
int host_store_url(tq_req *req, const char *key, int ttl_s, const char **url,
                   const char **expires_at);
const char *host_store_error(tq_req *req);
const char *host_store_kind(void); /* "fs", "s3" or "none"; static */
bool host_store_key_ok(const char *key);

#endif
