/*
 * tasqly.h - the Tasqly plugin ABI, and the plugin author's manual.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * tq_plugin_entry(), written for you by TQ_PLUGIN_DEFINE().  It links no
 * host symbol: at load the host hands init() a table of function pointers
 * (struct tq_api), and every tq_*() call below goes through that table.
 * Build plugins with -fvisibility=hidden and -Wl,--no-undefined.
 *
 * Memory, in one paragraph: strings the host returns are borrowed and live
 * until the request (or event delivery, or job run) ends.  Results (tq_res)
 * and tq_alloc()/tq_printf() memory belong to the request's arena and are
 * freed with the response; never free() them.  json_t values follow
 * jansson's rules: a function documented "steals" takes over your
 * reference, "new reference" gives you one to json_decref() (or hand to
 * tq_keep()), "borrowed" lends one you must not decref.  Strings you pass
 * to registration functions are copied by the host.
 *
 * ABI rules: a minor version only appends slots to struct tq_api and new
 * flag bits; anything else (a slot removed or reordered, a struct in this
 * file changed) bumps TQ_ABI_MAJOR.  A plugin built against minor N that
 * calls a slot added later must test TQ_API_HAS(slot) first.
 */
#ifndef TASQLY_H
#define TASQLY_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_ABI_MAJOR 1
#define TQ_ABI_MINOR 1 /* 1.1: store_* slots, TQ_ROUTE_SECRET_PATH */
#define TQ_MAGIC 0x54515031u /* "TQP1" */

/* Opaque handles: plugins never see libevent or libpq types. */
typedef struct tq_req tq_req;       /* a request, event delivery or job run */
typedef struct tq_plugin tq_plugin; /* the host's record of one plugin */
typedef struct tq_res tq_res;       /* a query result, owned by the request */

/* Return codes: 0 is success, failures are negative and named. */
enum {
    TQ_OK = 0,
    TQ_ERR = -1,           /* unspecified failure (a message was logged) */
    TQ_E_NOMEM = -2,       /* out of memory */
    TQ_E_UNAVAILABLE = -3, /* database unreachable: answer 503 */
    TQ_E_UNIQUE = -4,      /* unique violation (23505): usually 409 */
    TQ_E_FOREIGN_KEY = -5, /* foreign key violation (23503) */
    TQ_E_CHECK = -6,       /* check / not-null violation (23514, 23502) */
    TQ_E_RETRY = -7,       /* serialization failure or deadlock; the host
                              retries the whole handler once */
    TQ_E_INVALID = -8,     /* bad input syntax (22xxx), e.g. a malformed uuid */
    TQ_E_QUERY = -9,       /* any other SQL error: a bug, answer 500 */
    TQ_E_STATE = -10,      /* misuse, e.g. registering outside init() */
    TQ_E_EXISTS = -11,     /* duplicate registration (route, service, ...) */
    TQ_E_NOTFOUND = -12,   /* no such service, key or object */
    TQ_E_IO = -13,         /* I/O or remote service failure */
};

/* Log levels for tq_log(). */
enum { TQ_LOG_DEBUG = 0, TQ_LOG_INFO = 1, TQ_LOG_WARN = 2, TQ_LOG_ERROR = 3 };

/* ---------------------------------------------------------------- routes */

/*
 * A handler answers one request.  It sets the response with tq_json(),
 * tq_error(), tq_bytes() or tq_status(), each of which returns the status,
 * so handlers end with "return tq_json(req, 200, obj);".  The return value
 * is the HTTP status.  Routes whose method is not GET run in one database
 * transaction, begun at the first query and committed after the handler
 * returns a status below 400 (rolled back otherwise).
 */
typedef int (*tq_handler_fn)(tq_req *req);

enum {
    TQ_ROUTE_PUBLIC = 1u << 0,   /* no bearer token required */
    TQ_ROUTE_RAW_BODY = 1u << 1, /* body is not JSON; read tq_body_raw() */
    TQ_ROUTE_SECRET_PATH = 1u << 2, /* 1.1: the path carries a secret (an
                                       invite code): logs show the route
                                       pattern, never the path */
};

typedef struct tq_route {
    const char *method;    /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;      /* "/v1/groups/{gid}/tasks"; {name} is a param */
    tq_handler_fn handler;
    unsigned flags;        /* TQ_ROUTE_* */
    size_t body_limit;     /* bytes; 0 means the host default (64 KiB) */
} tq_route;

/* ---------------------------------------------------------------- events */

/* One delivery of one event to one subscriber.  All fields borrowed. */
typedef struct tq_event {
    int64_t id;            /* outbox id, increasing */
    const char *type;      /* "task.assigned" */
    const char *group_id;  /* uuid text or NULL */
    const char *actor_id;  /* user who caused it, or NULL */
    const char *created_at; /* RFC 3339 */
    json_t *payload;       /* borrowed */
    int attempt;           /* 1 on the first try */
} tq_event;

/*
 * Event handlers and periodic jobs get a tq_req with no HTTP side: the
 * database, arena and logging work; params, body and responses do not.
 * The handler runs inside a transaction that also marks the delivery done,
 * so its database effects happen exactly once.  Return TQ_OK, or a
 * negative code to have the delivery retried with backoff.
 */
typedef int (*tq_event_fn)(tq_req *ctx, const tq_event *ev);
typedef int (*tq_job_fn)(tq_req *ctx);

/* ------------------------------------------------------------- the table */

struct tq_api {
    uint32_t size; /* sizeof(struct tq_api) as the host built it */
    uint16_t abi_major, abi_minor;

    /* Registration: only inside init(), else TQ_E_STATE.  The host copies
     * every string and table; a failed init() undoes all of them. */
    int (*routes)(tq_plugin *p, const tq_route *routes, size_t n);
    int (*migration)(tq_plugin *p, const char *name, const char *sql);
    int (*subscribe)(tq_plugin *p, const char *event_type, tq_event_fn fn);
    int (*provide)(tq_plugin *p, const char *service, uint32_t version,
                   const void *vtable);
    int (*job)(tq_plugin *p, const char *name, unsigned interval_s,
               tq_job_fn fn);

    /* A service another plugin provides, at least min_version; NULL when
     * absent.  Works in init() (dependencies initialise first) and later. */
    const void *(*service)(tq_plugin *p, const char *service,
                           uint32_t min_version);
    /* This plugin's "config:" mapping from tasqly.yaml; borrowed, never
     * NULL (an empty object when absent).  Valid until shutdown. */
    json_t *(*config)(tq_plugin *p);
    void (*vlog)(tq_plugin *p, tq_req *req, int level, const char *fmt,
                 va_list ap);

    /* Request input; strings borrowed until the request ends, NULL when
     * absent.  param(): path parameter; query(): decoded query argument. */
    const char *(*param)(tq_req *req, const char *name);
    const char *(*query)(tq_req *req, const char *name);
    const char *(*header)(tq_req *req, const char *name);
    json_t *(*body)(tq_req *req); /* borrowed; NULL when there is none */
    const void *(*body_raw)(tq_req *req, size_t *len);
    const char *(*user_id)(tq_req *req); /* authenticated user or NULL */
    const char *(*request_id)(tq_req *req);

    /* Request memory, freed with the response. */
    void *(*alloc)(tq_req *req, size_t n);
    char *(*vprintf)(tq_req *req, const char *fmt, va_list ap);
    json_t *(*keep)(tq_req *req, json_t *j); /* steals; decref'd at the end */

    /* Responses: each returns the status it set.  json() steals body;
     * the others copy what they are given. */
    int (*json)(tq_req *req, int status, json_t *body);
    int (*json_text)(tq_req *req, int status, const char *text, size_t len);
    int (*verror)(tq_req *req, int status, const char *code,
                  const char *field, const char *fmt, va_list ap);
    int (*bytes)(tq_req *req, int status, const char *content_type,
                 const void *data, size_t len);
    int (*status)(tq_req *req, int status); /* empty body, e.g. 204 */
    int (*set_header)(tq_req *req, const char *name, const char *value);
    /* Answer for a TQ_E_* code: 503 unavailable, 409 conflict, 400
     * validation_failed, 404 not_found or 500. */
    int (*fail)(tq_req *req, int rc);

    /* Body fields, validated.  Each returns 0 and sets *out, or sets a 400
     * validation_failed naming the field and returns 400.  An absent or
     * null optional field gives *out = NULL (ints: leaves *out).  Lengths
     * count UTF-8 characters.  get_time normalises to RFC 3339 UTC. */
    int (*get_str)(tq_req *req, const char *field, int required, size_t min,
                   size_t max, const char **out);
    int (*get_int)(tq_req *req, const char *field, int required,
                   long long min, long long max, long long *out);
    int (*get_bool)(tq_req *req, const char *field, int required, int *out);
    int (*get_uuid)(tq_req *req, const char *field, int required,
                    const char **out);
    int (*get_time)(tq_req *req, const char *field, int required,
                    const char **out);
    int (*get_enum)(tq_req *req, const char *field, int required,
                    const char *const *choices, const char **out);
    int (*has)(tq_req *req, const char *field); /* key present, even null */
    /* Path parameter that must be a uuid: 0 and *out, or a 404 set. */
    int (*param_uuid)(tq_req *req, const char *name, const char **out);
    /* ?limit= (default 20, 1..100) and ?cursor=; 0, or a 400 set. */
    int (*page)(tq_req *req, int *limit, const char **cursor);

    /* Database.  The statement is prepared once per connection and reused;
     * params are text (NULL is SQL NULL).  *out, when not NULL, receives a
     * result owned by the request.  Timestamps come back RFC 3339 UTC. */
    int (*db_exec)(tq_req *req, tq_res **out, const char *sql, int nparams,
                   const char *const *params);
    int (*res_rows)(const tq_res *res);
    int (*res_cols)(const tq_res *res);
    int (*res_affected)(const tq_res *res); /* rows changed by DML */
    int (*res_col)(const tq_res *res, const char *name); /* -1 if absent */
    const char *(*res_get)(const tq_res *res, int row, int col); /* NULL */
    long long (*res_int)(const tq_res *res, int row, int col);
    int (*res_bool)(const tq_res *res, int row, int col);
    /* New reference: the row as an object, typed by column type (ints,
     * bools, json/jsonb parsed, timestamps RFC 3339, NULL as null). */
    json_t *(*res_row_json)(const tq_res *res, int row);
    json_t *(*res_json)(const tq_res *res); /* new ref: array of rows */

    /* Events: written to the outbox in the request's transaction, so a
     * rolled-back change emits nothing.  Steals payload.  Optional payload
     * keys "subject_id" and "summary" feed the activity feed. */
    int (*emit)(tq_req *req, const char *type, const char *group_id,
                json_t *payload);
    /* A group's events, newest first: {"items": [{id, type, actor_id,
     * subject_id, at, summary}], "next_cursor"}.  New reference in *out. */
    int (*events_list)(tq_req *req, const char *group_id, int limit,
                       const char *cursor, json_t **out);

    /* Object store (appended): bytes too big for PostgreSQL.  The host
     * owns the store, chosen in the manifest (storage.kind): "fs" files
     * under paths.var, or "s3", a private bucket.  Keys are relative
     * paths of [A-Za-z0-9._-] segments ("media/<group>/<uuid>"), at most
     * 512 bytes, no ".." and no empty segment (else TQ_E_INVALID).
     * Results: TQ_OK; TQ_E_NOTFOUND (no such object); TQ_E_UNAVAILABLE
     * (the store cannot be reached: answer 503); TQ_E_IO (the store
     * answered an error, e.g. a missing bucket or denied access: answer
     * 502); TQ_E_INVALID; TQ_E_NOMEM.  The calls block for the store's
     * round trip (S3 retries with backoff within the host's limits); they
     * are not part of the request's database transaction. */
    int (*store_put)(tq_req *req, const char *key, const void *data,
                     size_t len, const char *content_type);
    /* *data: at most max bytes, in request memory (TQ_E_INVALID beyond). */
    int (*store_get)(tq_req *req, const char *key, size_t max,
                     const void **data, size_t *len);
    /* Deleting an absent object succeeds. */
    int (*store_delete)(tq_req *req, const char *key);
    /* A URL a client may GET the object from without a token, valid
     * ttl_s seconds (<= 0: the configured default, 15 min), and its
     * expiry as RFC 3339 UTC; both request memory.  *url is NULL when the
     * store has no such URLs (fs): serve the bytes with tq_store_get(). */
    int (*store_url)(tq_req *req, const char *key, int ttl_s,
                     const char **url, const char **expires_at);
    /* The last store failure of this request in a sentence fit for a
     * client ("the object store answered 403 AccessDenied"); "" when
     * none.  Borrowed.  The full detail is in the host's log. */
    const char *(*store_error)(tq_req *req);
};
typedef struct tq_api tq_api;

/* ------------------------------------------------------ the descriptor */

typedef struct tq_plugin_desc {
    uint32_t magic;       /* TQ_MAGIC */
    uint16_t abi_major;   /* TQ_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;
    uint32_t desc_size;   /* sizeof(tq_plugin_desc) */
    uint32_t fingerprint; /* TQ_ABI_FINGERPRINT */
    const char *name;     /* "tasks": also its schema and config key */
    const char *version;  /* semantic version of the plugin */
    const char *const *requires; /* NULL-terminated plugin names, or NULL */
    int (*init)(tq_plugin *p);   /* 0 on success; registrations go here */
    void (*shutdown)(tq_plugin *p); /* may be NULL */
    /* Filled by TQ_PLUGIN_DEFINE: where the host stores the api table. */
    const tq_api **api_slot;
    tq_plugin **self_slot;
} tq_plugin_desc;

/* Changes whenever the layout of a structure in this file changes. */
#define TQ_ABI_FINGERPRINT                                                  \
    ((uint32_t)(sizeof(tq_plugin_desc) * 1000003u ^ sizeof(tq_route) * 8191u \
                ^ sizeof(tq_event) * 127u ^ sizeof(void *)))

#define TQ_PLUGIN_ENTRY "tq_plugin_entry"

/*
 * TQ_PLUGIN_DEFINE(name, version, requires, init, shutdown): in exactly one
 * file of the plugin.  requires is a NULL-terminated array or NULL.
 */
#define TQ_PLUGIN_DEFINE(name_, version_, requires_, init_, shutdown_)      \
    const tq_api *tq__api;                                                  \
    tq_plugin *tq__self;                                                    \
    __attribute__((visibility("default"))) const tq_plugin_desc *           \
    tq_plugin_entry(void);                                                  \
    __attribute__((visibility("default"))) const tq_plugin_desc *           \
    tq_plugin_entry(void)                                                   \
    {                                                                       \
        static const tq_plugin_desc d = {                                   \
            TQ_MAGIC, TQ_ABI_MAJOR, TQ_ABI_MINOR,                           \
            (uint32_t)sizeof(tq_plugin_desc), TQ_ABI_FINGERPRINT,           \
            (name_), (version_), (requires_), (init_), (shutdown_),         \
            &tq__api, &tq__self};                                           \
        return &d;                                                          \
    }

/* The table and this plugin's handle, set by the host before init(). */
extern __attribute__((visibility("hidden"))) const tq_api *tq__api;
extern __attribute__((visibility("hidden"))) tq_plugin *tq__self;

/* True when the host's table has the slot (a slot added in a later minor). */
#define TQ_API_HAS(slot)                                                    \
    (tq__api->size >= offsetof(tq_api, slot) + sizeof(tq__api->slot) &&     \
     tq__api->slot != NULL)

/* ------------------------------------------------- calls, as functions */

#define TQ_INL static inline __attribute__((unused))

TQ_INL int tq_routes(const tq_route *r, size_t n)
{ return tq__api->routes(tq__self, r, n); }
TQ_INL int tq_migration(const char *name, const char *sql)
{ return tq__api->migration(tq__self, name, sql); }
TQ_INL int tq_subscribe(const char *type, tq_event_fn fn)
{ return tq__api->subscribe(tq__self, type, fn); }
TQ_INL int tq_provide(const char *service, uint32_t version, const void *vt)
{ return tq__api->provide(tq__self, service, version, vt); }
TQ_INL int tq_job(const char *name, unsigned interval_s, tq_job_fn fn)
{ return tq__api->job(tq__self, name, interval_s, fn); }
TQ_INL const void *tq_service(const char *service, uint32_t min_version)
{ return tq__api->service(tq__self, service, min_version); }
TQ_INL json_t *tq_config(void) { return tq__api->config(tq__self); }


__attribute__((format(printf, 3, 4))) TQ_INL void
tq_log(tq_req *req, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tq__api->vlog(tq__self, req, level, fmt, ap);
    va_end(ap);
}

/* A service this plugin cannot work without: NULL, with an error naming
 * the service, the version and the plugin to enable, when it is absent.
 * For an optional service call tq_service() and carry on without it. */
TQ_INL const void *tq_service_required(const char *service,
                                       uint32_t min_version,
                                       const char *provider)
{
    const void *s = tq__api->service(tq__self, service, min_version);
    if (!s)
        tq_log(NULL, TQ_LOG_ERROR,
               "service %s >= %u not found; enable the %s plugin", service,
               (unsigned)min_version, provider);
    return s;
}

TQ_INL const char *tq_param(tq_req *r, const char *n)
{ return tq__api->param(r, n); }
TQ_INL const char *tq_query(tq_req *r, const char *n)
{ return tq__api->query(r, n); }
TQ_INL const char *tq_header(tq_req *r, const char *n)
{ return tq__api->header(r, n); }
TQ_INL json_t *tq_body(tq_req *r) { return tq__api->body(r); }
TQ_INL const void *tq_body_raw(tq_req *r, size_t *len)
{ return tq__api->body_raw(r, len); }
TQ_INL const char *tq_user(tq_req *r) { return tq__api->user_id(r); }
TQ_INL const char *tq_request_id(tq_req *r)
{ return tq__api->request_id(r); }

TQ_INL void *tq_alloc(tq_req *r, size_t n) { return tq__api->alloc(r, n); }
__attribute__((format(printf, 2, 3))) TQ_INL char *
tq_printf(tq_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = tq__api->vprintf(r, fmt, ap);
    va_end(ap);
    return s;
}
TQ_INL json_t *tq_keep(tq_req *r, json_t *j) { return tq__api->keep(r, j); }

TQ_INL int tq_json(tq_req *r, int status, json_t *body)
{ return tq__api->json(r, status, body); }
TQ_INL int tq_json_text(tq_req *r, int status, const char *t, size_t len)
{ return tq__api->json_text(r, status, t, len); }
__attribute__((format(printf, 5, 6))) TQ_INL int
tq_error(tq_req *r, int status, const char *code, const char *field,
         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int s = tq__api->verror(r, status, code, field, fmt, ap);
    va_end(ap);
    return s;
}
TQ_INL int tq_not_found(tq_req *r)
{ return tq_error(r, 404, "not_found", NULL, "not found"); }
TQ_INL int tq_forbidden(tq_req *r, const char *why)
{ return tq_error(r, 403, "forbidden", NULL, "%s", why); }
TQ_INL int tq_bytes(tq_req *r, int status, const char *ct, const void *d,
                    size_t len)
{ return tq__api->bytes(r, status, ct, d, len); }
TQ_INL int tq_status(tq_req *r, int status)
{ return tq__api->status(r, status); }
TQ_INL int tq_set_header(tq_req *r, const char *n, const char *v)
{ return tq__api->set_header(r, n, v); }
TQ_INL int tq_fail(tq_req *r, int rc) { return tq__api->fail(r, rc); }

TQ_INL int tq_get_str(tq_req *r, const char *f, int req_, size_t min,
                      size_t max, const char **out)
{ return tq__api->get_str(r, f, req_, min, max, out); }
TQ_INL int tq_get_int(tq_req *r, const char *f, int req_, long long min,
                      long long max, long long *out)
{ return tq__api->get_int(r, f, req_, min, max, out); }
TQ_INL int tq_get_bool(tq_req *r, const char *f, int req_, int *out)
{ return tq__api->get_bool(r, f, req_, out); }
TQ_INL int tq_get_uuid(tq_req *r, const char *f, int req_, const char **out)
{ return tq__api->get_uuid(r, f, req_, out); }
TQ_INL int tq_get_time(tq_req *r, const char *f, int req_, const char **out)
{ return tq__api->get_time(r, f, req_, out); }
TQ_INL int tq_get_enum(tq_req *r, const char *f, int req_,
                       const char *const *choices, const char **out)
{ return tq__api->get_enum(r, f, req_, choices, out); }
TQ_INL int tq_has(tq_req *r, const char *f) { return tq__api->has(r, f); }
TQ_INL int tq_param_uuid(tq_req *r, const char *n, const char **out)
{ return tq__api->param_uuid(r, n, out); }
TQ_INL int tq_page(tq_req *r, int *limit, const char **cursor)
{ return tq__api->page(r, limit, cursor); }

/* True for a UUID in its 36-character text form (either case).  Pure:
 * no call into the host, so it costs no ABI slot. */
TQ_INL int tq_is_uuid(const char *s)
{
    if (!s || strnlen(s, 37) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/*
 * tq_sql(req, &res, "SELECT ... $1, $2", a, b): a parameterised query with
 * as many text parameters as follow the SQL.  res may be NULL.
 */
#define tq_sql(req, res, sql, ...)                                          \
    tq__api->db_exec((req), (res), (sql),                                   \
                     (int)(sizeof((const char *const[]){NULL, __VA_ARGS__}) \
                           / sizeof(const char *)) - 1,                     \
                     ((const char *const[]){NULL, __VA_ARGS__}) + 1)

TQ_INL int tq_rows(const tq_res *s) { return tq__api->res_rows(s); }
TQ_INL int tq_cols(const tq_res *s) { return tq__api->res_cols(s); }
TQ_INL int tq_affected(const tq_res *s) { return tq__api->res_affected(s); }
TQ_INL int tq_col(const tq_res *s, const char *n)
{ return tq__api->res_col(s, n); }
TQ_INL const char *tq_get(const tq_res *s, int row, int col)
{ return tq__api->res_get(s, row, col); }
TQ_INL long long tq_get_ll(const tq_res *s, int row, int col)
{ return tq__api->res_int(s, row, col); }
TQ_INL int tq_get_b(const tq_res *s, int row, int col)
{ return tq__api->res_bool(s, row, col); }
TQ_INL json_t *tq_row_json(const tq_res *s, int row)
{ return tq__api->res_row_json(s, row); }
TQ_INL json_t *tq_res_json(const tq_res *s) { return tq__api->res_json(s); }

TQ_INL int tq_emit(tq_req *r, const char *type, const char *gid,
                   json_t *payload)
{ return tq__api->emit(r, type, gid, payload); }
TQ_INL int tq_events_list(tq_req *r, const char *gid, int limit,
                          const char *cursor, json_t **out)
{ return tq__api->events_list(r, gid, limit, cursor, out); }

TQ_INL int tq_store_put(tq_req *r, const char *key, const void *data,
                        size_t len, const char *content_type)
{ return tq__api->store_put(r, key, data, len, content_type); }
TQ_INL int tq_store_get(tq_req *r, const char *key, size_t max,
                        const void **data, size_t *len)
{ return tq__api->store_get(r, key, max, data, len); }
TQ_INL int tq_store_delete(tq_req *r, const char *key)
{ return tq__api->store_delete(r, key); }
TQ_INL int tq_store_url(tq_req *r, const char *key, int ttl_s,
                        const char **url, const char **expires_at)
{ return tq__api->store_url(r, key, ttl_s, url, expires_at); }
TQ_INL const char *tq_store_error(tq_req *r)
{ return tq__api->store_error(r); }

#ifdef __cplusplus
}
#endif
#endif /* TASQLY_H */
