/*
 * api.c - the function table plugins call (struct tq_api), registration,
 * request input, responses, body validation and the handler runner.
 *
 * Everything a handler receives is borrowed from the request; everything
 * the response needs is copied into it (arena or malloc, freed by
 * host_req_free()).  Registrations are recorded on the plugin and only
 * moved into the global registries by the loader once init() succeeded.
 */
#include "host.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

host_registry host_reg;
const tq_api *tq__api = &host_api;
tq_plugin *tq__self; /* the core plugin, for the host's own handlers */

/* ------------------------------------------------------- registration */

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        host_log(TQ_LOG_ERROR, "out of memory");
        abort();
    }
    return d;
}

static int not_in_init(tq_plugin *p, const char *what)
{
    if (p && p->in_init)
        return 0;
    host_log(TQ_LOG_ERROR,
             "plugin %s: %s registered outside init(); registrations are "
             "only accepted while the plugin loads",
             p ? p->name : "?", what);
    return 1;
}

static int api_routes(tq_plugin *p, const tq_route *routes, size_t n)
{
    if (not_in_init(p, "route"))
        return TQ_E_STATE;
    for (size_t i = 0; i < n; i++) {
        const tq_route *r = &routes[i];
        if (!r->method || !r->path || !r->handler || r->path[0] != '/' ||
            host_method_from_str(r->method) < 0) {
            host_log(TQ_LOG_ERROR,
                     "plugin %s: route %zu (%s %s) is incomplete: needs a "
                     "method GET/POST/PUT/PATCH/DELETE, a path starting with "
                     "'/' and a handler",
                     p->name, i, r->method ? r->method : "(null)",
                     r->path ? r->path : "(null)");
            return TQ_E_INVALID;
        }
        host_route_rec *rec = host_vec_push(&p->routes);
        rec->r = *r;
        rec->r.method = xstrdup(r->method);
        rec->r.path = xstrdup(r->path);
        rec->plugin = p;
    }
    return TQ_OK;
}

static int api_migration(tq_plugin *p, const char *name, const char *sql)
{
    if (not_in_init(p, "migration"))
        return TQ_E_STATE;
    if (!name || !*name || !sql) {
        host_log(TQ_LOG_ERROR, "plugin %s: migration needs a name and SQL",
                 p->name);
        return TQ_E_INVALID;
    }
    for (size_t i = 0; i < p->migrations.n; i++)
        if (strcmp(p->migrations.v[i].name, name) == 0) {
            host_log(TQ_LOG_ERROR,
                     "plugin %s: migration %s registered twice; give each "
                     "migration its own name",
                     p->name, name);
            return TQ_E_EXISTS;
        }
    host_migration *m = host_vec_push(&p->migrations);
    m->plugin = p;
    m->name = xstrdup(name);
    m->sql = xstrdup(sql);
    m->checksum[0] = '\0'; /* computed by migrate.c */
    return TQ_OK;
}

static int api_subscribe(tq_plugin *p, const char *type, tq_event_fn fn)
{
    if (not_in_init(p, "subscription"))
        return TQ_E_STATE;
    if (!type || !*type || !fn)
        return TQ_E_INVALID;
    for (size_t i = 0; i < p->subs.n; i++)
        if (strcmp(p->subs.v[i].type, type) == 0) {
            host_log(TQ_LOG_ERROR,
                     "plugin %s: subscribed to %s twice; one handler per "
                     "event type and plugin",
                     p->name, type);
            return TQ_E_EXISTS;
        }
    host_subscription *s = host_vec_push(&p->subs);
    s->plugin = p;
    s->type = xstrdup(type);
    s->fn = fn;
    return TQ_OK;
}

static const host_service *find_service(const char *name)
{
    for (size_t i = 0; i < host_reg.services.n; i++)
        if (strcmp(host_reg.services.v[i].name, name) == 0)
            return &host_reg.services.v[i];
    return NULL;
}

static int api_provide(tq_plugin *p, const char *name, uint32_t version,
                       const void *vt)
{
    if (not_in_init(p, "service"))
        return TQ_E_STATE;
    if (!name || !*name || !vt)
        return TQ_E_INVALID;
    const host_service *other = find_service(name);
    if (other) {
        host_log(TQ_LOG_ERROR,
                 "plugin %s: service %s is already provided by plugin %s; "
                 "disable one of them",
                 p->name, name, other->plugin->name);
        return TQ_E_EXISTS;
    }
    host_service *s = host_vec_push(&p->services);
    s->plugin = p;
    s->name = xstrdup(name);
    s->version = version;
    s->vtable = vt;
    return TQ_OK;
}

static int api_job(tq_plugin *p, const char *name, unsigned interval_s,
                   tq_job_fn fn)
{
    if (not_in_init(p, "job"))
        return TQ_E_STATE;
    if (!name || !*name || !fn || interval_s == 0)
        return TQ_E_INVALID;
    host_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    size_t len = strlen(p->name) + strlen(name) + 2;
    j->name = malloc(len);
    if (!j->name)
        abort();
    snprintf(j->name, len, "%s.%s", p->name, name);
    j->plugin = p;
    j->interval_s = interval_s;
    j->fn = fn;
    *(host_job **)host_vec_push(&p->jobs) = j;
    return TQ_OK;
}

static const void *api_service(tq_plugin *p, const char *name,
                               uint32_t min_version)
{
    const host_service *s = find_service(name);
    if (!s)
        return NULL;
    if (s->version < min_version) {
        host_log(TQ_LOG_WARN,
                 "plugin %s asks for service %s >= %u, plugin %s offers %u",
                 p ? p->name : "?", name, min_version, s->plugin->name,
                 s->version);
        return NULL;
    }
    return s->vtable;
}

static json_t *api_config(tq_plugin *p)
{
    static json_t *empty;
    if (p && p->config)
        return p->config;
    if (!empty)
        empty = json_object(); /* set once, during single-threaded load */
    return empty;
}

static void api_vlog(tq_plugin *p, tq_req *req, int level, const char *fmt,
                     va_list ap)
{
    host_logv(level, p ? p->name : NULL,
              req && req->request_id[0] ? req->request_id : NULL, fmt, ap);
}

/* -------------------------------------------------------------- input */

static const char *api_param(tq_req *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

static const char *api_query(tq_req *req, const char *name)
{
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, name) == 0)
            return req->query[i].value;
    return NULL;
}

static const char *api_header(tq_req *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* What the worker does with the body of a JSON route before the handler
 * runs (a function of its own so the fuzz target runs exactly this). */
int host_parse_json_body(tq_req *req)
{
    if (req->body_len == 0)
        return 0;
    json_error_t e;
    req->body_json = json_loadb(req->body_raw, req->body_len,
                                JSON_REJECT_DUPLICATES, &e);
    if (!req->body_json)
        return tq_error(req, 400, "bad_request", NULL,
                        "malformed JSON at line %d column %d: %s", e.line,
                        e.column, e.text);
    if (!json_is_object(req->body_json))
        return tq_error(req, 400, "bad_request", NULL,
                        "the body must be a JSON object");
    return 0;
}

static json_t *api_body(tq_req *req) { return req->body_json; }

static const void *api_body_raw(tq_req *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body_raw;
}

static const char *api_user_id(tq_req *req)
{
    return req->user_id[0] ? req->user_id : NULL;
}

static const char *api_request_id(tq_req *req) { return req->request_id; }

static void *api_alloc(tq_req *req, size_t n)
{
    return host_arena_alloc(&req->arena, n);
}

static char *api_vprintf(tq_req *req, const char *fmt, va_list ap)
{
    return host_arena_vprintf(&req->arena, fmt, ap);
}

static json_t *api_keep(tq_req *req, json_t *j)
{
    if (j)
        *(json_t **)host_vec_push(&req->kept) = j;
    return j;
}

/* ---------------------------------------------------------- responses */

static void set_out(tq_req *req, int status, const char *ct, char *data,
                    size_t len, bool owned)
{
    if (req->out_owned)
        free(req->out);
    req->status = status;
    req->content_type = ct;
    req->out = data;
    req->out_len = len;
    req->out_owned = owned;
}

static const char oom_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";

static int api_json(tq_req *req, int status, json_t *body)
{
    size_t n = 0;
    char *buf = body ? host_json_text(body, &n) : NULL;
    if (!buf) {
        free(buf);
        json_decref(body);
        set_out(req, 500, "application/json; charset=utf-8",
                (char *)oom_body, sizeof oom_body - 1, false);
        return 500;
    }
    json_decref(body);
    set_out(req, status, "application/json; charset=utf-8", buf, n, true);
    return status;
}

static int api_json_text(tq_req *req, int status, const char *text,
                         size_t len)
{
    char *buf = host_arena_strndup(&req->arena, text, len);
    set_out(req, status, "application/json; charset=utf-8", buf, len, false);
    return status;
}

/* Length of the valid UTF-8 sequence at s, or 0: the rules jansson
 * applies (no overlong forms, surrogates or code points past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], cp;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static int api_verror(tq_req *req, int status, const char *code,
                      const char *field, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    /* Messages quote client input (jansson's "near '...'", paths) and may
     * be cut mid-character; jansson refuses a string that is not UTF-8,
     * which would turn the error into a 500. */
    for (unsigned char *p = (unsigned char *)msg; *p;) {
        size_t n = utf8_seq(p);
        if (!n) {
            *p = '?';
            n = 1;
        }
        p += n;
    }
    json_t *err = json_pack("{s:s, s:s}", "code", code ? code : "error",
                            "message", msg);
    if (err && field)
        json_object_set_new(err, "field", json_string(field));
    return api_json(req, status, json_pack("{s:o}", "error", err));
}

static int api_error(tq_req *req, int status, const char *code,
                     const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int api_error(tq_req *req, int status, const char *code,
                     const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int s = api_verror(req, status, code, field, fmt, ap);
    va_end(ap);
    return s;
}

static int api_bytes(tq_req *req, int status, const char *ct,
                     const void *data, size_t len)
{
    char *buf = NULL;
    if (len) {
        buf = malloc(len);
        if (!buf)
            return tq_fail(req, TQ_E_NOMEM);
        memcpy(buf, data, len);
    }
    set_out(req, status,
            ct ? host_arena_strdup(&req->arena, ct)
               : "application/octet-stream",
            buf, len, true);
    return status;
}

static int api_status(tq_req *req, int status)
{
    set_out(req, status, NULL, NULL, 0, false);
    return status;
}

static int api_set_header(tq_req *req, const char *name, const char *value)
{
    if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return TQ_E_INVALID; /* no header injection */
    if (req->nout_headers == req->out_headers_cap) {
        int cap = req->out_headers_cap ? req->out_headers_cap * 2 : 4;
        host_kv *v = host_arena_alloc(&req->arena, sizeof *v * (size_t)cap);
        if (req->nout_headers)
            memcpy(v, req->out_headers,
                   sizeof *v * (size_t)req->nout_headers);
        req->out_headers = v;
        req->out_headers_cap = cap;
    }
    req->out_headers[req->nout_headers].name =
        host_arena_strdup(&req->arena, name);
    req->out_headers[req->nout_headers].value =
        host_arena_strdup(&req->arena, value);
    req->nout_headers++;
    return TQ_OK;
}

static int api_fail(tq_req *req, int rc)
{
    switch (rc) {
    case TQ_E_UNAVAILABLE:
        tq_set_header(req, "Retry-After", "1");
        return api_error(req, 503, "unavailable", NULL,
                         "the database is unavailable; retry shortly");
    case TQ_E_UNIQUE:
        return api_error(req, 409, "conflict", NULL, "already exists");
    case TQ_E_FOREIGN_KEY:
    case TQ_E_CHECK:
        return api_error(req, 400, "validation_failed", NULL,
                         "a referenced object does not exist or a value is "
                         "out of range");
    case TQ_E_INVALID:
        return api_error(req, 400, "validation_failed", NULL,
                         "a value has the wrong format");
    case TQ_E_NOTFOUND:
        return api_error(req, 404, "not_found", NULL, "not found");
    case TQ_E_RETRY:
        return api_error(req, 409, "conflict", NULL,
                         "a concurrent change conflicted; retry");
    case TQ_E_IO:
        return api_error(req, 502, "upstream_failed", NULL,
                         "a remote service failed");
    default:
        return api_error(req, 500, "internal", NULL,
                         "internal error (request %s)", req->request_id);
    }
}

/* --------------------------------------------------------- validation */

static int bad_field(tq_req *req, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_field(tq_req *req, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int s = api_verror(req, 400, "validation_failed", field, fmt, ap);
    va_end(ap);
    return s;
}

/* The field's value, or NULL when absent or null; 400 when required. */
static int field_of(tq_req *req, const char *field, int required,
                    json_t **out)
{
    *out = NULL;
    json_t *v = json_is_object(req->body_json)
                    ? json_object_get(req->body_json, field)
                    : NULL;
    if (v && json_is_null(v))
        v = NULL;
    if (!v && required)
        return bad_field(req, field, "%s is required", field);
    *out = v;
    return 0;
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static int api_get_str(tq_req *req, const char *field, int required,
                       size_t min, size_t max, const char **out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    *out = NULL;
    if (rc || !v)
        return rc;
    if (!json_is_string(v))
        return bad_field(req, field, "%s must be a string", field);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len)
        return bad_field(req, field, "%s must not contain NUL characters",
                         field);
    size_t chars = utf8_chars(s, len);
    if (chars < min || chars > max)
        return bad_field(req, field,
                         "%s must be %zu to %zu characters long, got %zu",
                         field, min, max, chars);
    *out = s;
    return 0;
}

static int api_get_int(tq_req *req, const char *field, int required,
                       long long min, long long max, long long *out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    if (rc || !v)
        return rc;
    if (!json_is_integer(v))
        return bad_field(req, field, "%s must be an integer", field);
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return bad_field(req, field, "%s must be between %lld and %lld",
                         field, min, max);
    *out = x;
    return 0;
}

static int api_get_bool(tq_req *req, const char *field, int required,
                        int *out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    if (rc || !v)
        return rc;
    if (!json_is_boolean(v))
        return bad_field(req, field, "%s must be true or false", field);
    *out = json_is_true(v);
    return 0;
}

bool host_is_uuid(const char *s) { return tq_is_uuid(s); }

static const char *lower_uuid(tq_req *req, const char *s)
{
    char *d = host_arena_strdup(&req->arena, s);
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static int api_get_uuid(tq_req *req, const char *field, int required,
                        const char **out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    *out = NULL;
    if (rc || !v)
        return rc;
    if (!json_is_string(v) || !host_is_uuid(json_string_value(v)))
        return bad_field(req, field, "%s must be a UUID string", field);
    *out = lower_uuid(req, json_string_value(v));
    return 0;
}

/* n ASCII digits at s as a number, or -1 (sscanf's %d would also take
 * spaces and signs: " +12" is no RFC 3339 field). */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 date-time to "YYYY-MM-DDTHH:MM:SSZ" (fractions dropped).  The
 * UTC result must still have a four-digit year (0001-9999). */
static bool parse_rfc3339(const char *s, char out[80])
{
    int Y = digits(s, 4);
    if (Y < 0 || s[4] != '-')
        return false;
    int M = digits(s + 5, 2);
    if (M < 0 || s[7] != '-')
        return false;
    int D = digits(s + 8, 2);
    if (D < 0)
        return false;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    const char *p = s + 11;
    int h = digits(p, 2);
    if (h < 0 || p[2] != ':')
        return false;
    int m = digits(p + 3, 2);
    if (m < 0 || p[5] != ':')
        return false;
    int sec = digits(p + 6, 2);
    if (sec < 0)
        return false;
    p += 8;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = digits(p + 1, 2);
        int om = oh < 0 || p[3] != ':' ? -1 : digits(p + 4, 2);
        if (om < 0 || oh > 23 || om > 59)
            return false;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p || Y < 1 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 ||
        m > 59 || sec > 60)
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
        return false;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
                    .tm_hour = h, .tm_min = m, .tm_sec = sec > 59 ? 59 : sec};
    time_t t = timegm(&tm) - off;
    struct tm u;
    if (!gmtime_r(&t, &u) || u.tm_year + 1900 < 1 || u.tm_year + 1900 > 9999)
        return false;
    snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02dZ", u.tm_year + 1900,
             u.tm_mon + 1, u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec);
    return true;
}

static int api_get_time(tq_req *req, const char *field, int required,
                        const char **out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    *out = NULL;
    if (rc || !v)
        return rc;
    char buf[80];
    if (!json_is_string(v) || !parse_rfc3339(json_string_value(v), buf))
        return bad_field(req, field,
                         "%s must be an RFC 3339 date-time such as "
                         "2026-12-04T15:00:00Z",
                         field);
    *out = host_arena_strdup(&req->arena, buf);
    return 0;
}

static int api_get_enum(tq_req *req, const char *field, int required,
                        const char *const *choices, const char **out)
{
    json_t *v;
    int rc = field_of(req, field, required, &v);
    *out = NULL;
    if (rc || !v)
        return rc;
    if (json_is_string(v))
        for (int i = 0; choices[i]; i++)
            if (strcmp(choices[i], json_string_value(v)) == 0) {
                *out = choices[i];
                return 0;
            }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    return bad_field(req, field, "%s must be one of: %s", field, list);
}

static int api_has(tq_req *req, const char *field)
{
    return json_is_object(req->body_json) &&
           json_object_get(req->body_json, field) != NULL;
}

static int api_param_uuid(tq_req *req, const char *name, const char **out)
{
    const char *v = api_param(req, name);
    *out = NULL;
    if (!host_is_uuid(v))
        return api_error(req, 404, "not_found", NULL, "not found");
    *out = lower_uuid(req, v);
    return 0;
}

static int api_page(tq_req *req, int *limit, const char **cursor)
{
    const char *l = api_query(req, "limit");
    *limit = 20;
    if (l) {
        char *end;
        long x = strtol(l, &end, 10);
        if (!*l || *end || x < 1 || x > 100)
            return bad_field(req, "limit",
                             "limit must be an integer from 1 to 100");
        *limit = (int)x;
    }
    const char *c = api_query(req, "cursor");
    if (c && (!*c || strlen(c) > 256))
        return bad_field(req, "cursor", "cursor is not one this server gave");
    *cursor = c;
    return 0;
}

/* -------------------------------------------------------- the requests */

void host_req_init(tq_req *req, tq_plugin *p, host_db *db)
{
    memset(req, 0, sizeof *req);
    host_arena_init(&req->arena);
    req->plugin = p;
    req->db = db;
    req->method = -1;
}

void host_req_reset_response(tq_req *req)
{
    set_out(req, 0, NULL, NULL, 0, false);
    req->nout_headers = 0;
    req->db_error = 0;
}

void host_req_free(tq_req *req)
{
    host_db_req_cleanup(req);
    for (size_t i = 0; i < req->kept.n; i++)
        json_decref(req->kept.v[i]);
    free(req->kept.v);
    req->kept.v = NULL;
    req->kept.n = 0;
    json_decref(req->body_json);
    req->body_json = NULL;
    if (req->out_owned)
        free(req->out);
    req->out = NULL;
    req->out_owned = false;
    host_arena_free(&req->arena);
}

int host_run_handler(tq_req *req)
{
    for (int attempt = 0;; attempt++) {
        req->db_error = 0;
        int st = req->route->r.handler(req);
        if (req->status == 0)
            st = api_error(req, 500, "internal", NULL,
                           "handler %s %s set no response",
                           req->route->r.method, req->route->r.path);
        else
            st = req->status;
        if (req->in_tx) {
            int rc = st < 400 && !req->db_error ? host_db_commit(req->db)
                                                : host_db_rollback(req->db);
            req->in_tx = false;
            if (rc && st < 400) {
                if (rc == TQ_E_RETRY)
                    req->db_error = TQ_E_RETRY;
                else
                    st = api_fail(req, rc);
            }
        }
        if (req->db_error == TQ_E_RETRY && attempt == 0) {
            host_db_req_cleanup(req);
            host_req_reset_response(req);
            continue;
        }
        if (req->db_error == TQ_E_RETRY && st < 400)
            st = api_fail(req, TQ_E_RETRY);
        return st;
    }
}

/* ------------------------------------------------------------- table */

const tq_api host_api = {
    .size = sizeof(tq_api),
    .abi_major = TQ_ABI_MAJOR,
    .abi_minor = TQ_ABI_MINOR,
    .routes = api_routes,
    .migration = api_migration,
    .subscribe = api_subscribe,
    .provide = api_provide,
    .job = api_job,
    .service = api_service,
    .config = api_config,
    .vlog = api_vlog,
    .param = api_param,
    .query = api_query,
    .header = api_header,
    .body = api_body,
    .body_raw = api_body_raw,
    .user_id = api_user_id,
    .request_id = api_request_id,
    .alloc = api_alloc,
    .vprintf = api_vprintf,
    .keep = api_keep,
    .json = api_json,
    .json_text = api_json_text,
    .verror = api_verror,
    .bytes = api_bytes,
    .status = api_status,
    .set_header = api_set_header,
    .fail = api_fail,
    .get_str = api_get_str,
    .get_int = api_get_int,
    .get_bool = api_get_bool,
    .get_uuid = api_get_uuid,
    .get_time = api_get_time,
    .get_enum = api_get_enum,
    .has = api_has,
    .param_uuid = api_param_uuid,
    .page = api_page,
    .db_exec = host_db_exec_req,
    .res_rows = host_res_rows,
    .res_cols = host_res_cols,
    .res_affected = host_res_affected,
    .res_col = host_res_col,
    .res_get = host_res_get,
    .res_int = host_res_int,
    .res_bool = host_res_bool,
    .res_row_json = host_res_row_json,
    .res_json = host_res_json,
    .emit = host_emit,
    .events_list = host_events_list,
    .store_put = host_store_put,
    .store_get = host_store_get,
    .store_delete = host_store_delete,
    .store_url = host_store_url,
    .store_error = host_store_error,
};
