/*
 * config.c - tasqly.yaml into a host_config.
 *
 * libyaml's event stream is first built into a small tree (so every value
 * keeps its line and column, and whether it was quoted), then decoded by
 * tables of known keys into the typed struct; a plugin's "config:" mapping
 * becomes a jansson object.  Strings may hold ${scheme:arg} references,
 * resolved here (env, file) or by resolvers other modules register (aws-sm).
 * Then the TASQLY_* environment overrides apply, then range checks.
 * docs/config.md is the reference for the manifest.
 *
 * Errors read "file:line:col: key.path: expected X, got Y".  Resolved
 * reference values never appear in a message: where a value came from a
 * reference, the message shows the reference, not what it resolved to.
 *
 * Memory: every string and json_t in a host_config is owned by it and
 * released by host_config_free().  The tree and the resolver outputs are
 * freed before returning.  On error the config is left empty (all zero),
 * so host_config_free() is always safe.
 */
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH 64          /* nesting of mappings and sequences */
#define MAX_NODES 100000      /* a manifest is small; a bigger one is a bug */
#define MAX_MANIFEST (4u << 20)
#define MAX_REF_FILE (1u << 20)
#define MAX_RESOLVERS 8

/* ---------------------------------------------------------- resolvers */

static struct {
    char scheme[32];
    host_config_resolver fn;
} resolvers[MAX_RESOLVERS];

void host_config_set_resolver(const char *scheme, host_config_resolver fn)
{
    if (!scheme || strlen(scheme) >= sizeof(resolvers[0].scheme)
        || strcmp(scheme, "env") == 0 || strcmp(scheme, "file") == 0) {
        fprintf(stderr, "tasqlyd: host_config_set_resolver: scheme \"%s\" "
                        "is built in, empty or too long; ignored\n",
                scheme ? scheme : "(null)");
        return;
    }
    int free_slot = -1;
    for (int i = 0; i < MAX_RESOLVERS; i++) {
        if (resolvers[i].fn && strcmp(resolvers[i].scheme, scheme) == 0) {
            resolvers[i].fn = fn;
            return;
        }
        if (!resolvers[i].fn && free_slot < 0)
            free_slot = i;
    }
    if (!fn)
        return;
    if (free_slot < 0) {
        fprintf(stderr, "tasqlyd: host_config_set_resolver: more than %d "
                        "schemes; \"%s\" ignored\n", MAX_RESOLVERS, scheme);
        return;
    }
    snprintf(resolvers[free_slot].scheme, sizeof(resolvers[0].scheme), "%s",
             scheme);
    resolvers[free_slot].fn = fn;
}

static host_config_resolver resolver_find(const char *scheme, size_t len)
{
    for (int i = 0; i < MAX_RESOLVERS; i++)
        if (resolvers[i].fn && strlen(resolvers[i].scheme) == len
            && memcmp(resolvers[i].scheme, scheme, len) == 0)
            return resolvers[i].fn;
    return NULL;
}

/* --------------------------------------------------------------- tree */

typedef enum { Y_SCALAR, Y_MAP, Y_SEQ } ykind;

typedef struct ynode ynode;
struct ynode {
    ykind kind;
    int line, col;  /* 1-based */
    char *text;     /* scalars: the value, NUL-terminated (may hold NULs) */
    size_t len;
    bool plain;     /* a plain scalar without !!str: typed by its text */
    ynode **kids;   /* sequences: items; mappings: key, value, key, ... */
    size_t n, cap;
};

typedef struct ctx {
    const char *name;  /* the manifest's name in messages */
    char *dir;         /* folder for ${file:} paths */
    char *err;
    size_t errlen;
    bool failed;
    size_t nodes;
    yaml_parser_t parser;
} ctx;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "tasqlyd: out of memory reading the manifest; "
                        "aborting\n");
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

static void node_free(ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

static void node_push(ynode *parent, ynode *kid)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        ynode **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k) {
            fprintf(stderr, "tasqlyd: out of memory reading the manifest; "
                            "aborting\n");
            abort();
        }
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->n++] = kid;
}

/* Append to x->err, never past its end. */
static void err_append(ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void err_append(ctx *x, const char *fmt, ...)
{
    if (!x->err || x->errlen == 0)
        return;
    size_t used = strnlen(x->err, x->errlen);
    if (used + 1 >= x->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + used, x->errlen - used, fmt, ap);
    va_end(ap);
}

/* The first error wins; later ones are consequences. */
static int fail_at(ctx *x, int line, int col, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail_at(ctx *x, int line, int col, const char *path,
                   const char *fmt, ...)
{
    if (x->failed)
        return TQ_ERR;
    x->failed = true;
    if (!x->err || x->errlen == 0)
        return TQ_ERR;
    x->err[0] = '\0';
    if (line > 0)
        err_append(x, "%s:%d:%d: ", x->name, line, col);
    else
        err_append(x, "%s: ", x->name);
    if (path && *path)
        err_append(x, "%s: ", path);
    size_t used = strnlen(x->err, x->errlen);
    if (used + 1 < x->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err + used, x->errlen - used, fmt, ap);
        va_end(ap);
    }
    return TQ_ERR;
}

#define FAIL(x, node, path, ...)                                           \
    fail_at((x), (node) ? (node)->line : 0, (node) ? (node)->col : 0,      \
            (path), __VA_ARGS__)

static bool next_event(ctx *x, yaml_event_t *ev)
{
    if (yaml_parser_parse(&x->parser, ev))
        return true;
    const yaml_parser_t *p = &x->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        fail_at(x, 0, 0, NULL, "YAML error at byte %zu: %s",
                p->problem_offset, problem);
    } else if (p->context) {
        fail_at(x, (int)p->problem_mark.line + 1,
                (int)p->problem_mark.column + 1, NULL,
                "YAML syntax error: %s %s (line %d)", problem, p->context,
                (int)p->context_mark.line + 1);
    } else {
        fail_at(x, (int)p->problem_mark.line + 1,
                (int)p->problem_mark.column + 1, NULL,
                "YAML syntax error: %s", problem);
    }
    return false;
}

static bool tag_is(const yaml_char_t *tag, const char *want)
{
    return tag && strcmp((const char *)tag, want) == 0;
}

/* Build the node that starts with ev (consumed); NULL on error. */
static ynode *load_node(ctx *x, yaml_event_t *ev, int depth)
{
    int line = (int)ev->start_mark.line + 1;
    int col = (int)ev->start_mark.column + 1;
    if (++x->nodes > MAX_NODES) {
        fail_at(x, line, col, NULL, "more than %d values; is this really "
                "the manifest?", MAX_NODES);
        yaml_event_delete(ev);
        return NULL;
    }

    if (ev->type == YAML_ALIAS_EVENT) {
        fail_at(x, line, col, NULL, "aliases (*%s) are not supported; "
                "write the value out", (const char *)ev->data.alias.anchor);
        yaml_event_delete(ev);
        return NULL;
    }

    ynode *n = calloc(1, sizeof(*n));
    if (!n) {
        fprintf(stderr, "tasqlyd: out of memory reading the manifest; "
                        "aborting\n");
        abort();
    }
    n->line = line;
    n->col = col;

    if (ev->type == YAML_SCALAR_EVENT) {
        const yaml_char_t *tag = ev->data.scalar.tag;
        bool force_str = tag_is(tag, YAML_STR_TAG) || tag_is(tag, "!");
        if (tag && !force_str) {
            fail_at(x, line, col, NULL, "unsupported tag %s; only !!str is "
                    "understood", (const char *)tag);
            yaml_event_delete(ev);
            node_free(n);
            return NULL;
        }
        n->kind = Y_SCALAR;
        n->len = ev->data.scalar.length;
        n->text = xstrndup((const char *)ev->data.scalar.value, n->len);
        n->plain = !force_str
                   && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        yaml_event_delete(ev);
        return n;
    }

    bool map = ev->type == YAML_MAPPING_START_EVENT;
    if (!map && ev->type != YAML_SEQUENCE_START_EVENT) {
        fail_at(x, line, col, NULL, "unexpected YAML event %d", ev->type);
        yaml_event_delete(ev);
        node_free(n);
        return NULL;
    }
    const yaml_char_t *tag = map ? ev->data.mapping_start.tag
                                 : ev->data.sequence_start.tag;
    if (tag && !tag_is(tag, map ? YAML_MAP_TAG : YAML_SEQ_TAG)) {
        fail_at(x, line, col, NULL, "unsupported tag %s",
                (const char *)tag);
        yaml_event_delete(ev);
        node_free(n);
        return NULL;
    }
    yaml_event_delete(ev);
    if (depth >= MAX_DEPTH) {
        fail_at(x, line, col, NULL, "nested deeper than %d levels",
                MAX_DEPTH);
        node_free(n);
        return NULL;
    }
    n->kind = map ? Y_MAP : Y_SEQ;
    for (;;) {
        yaml_event_t kid;
        if (!next_event(x, &kid)) {
            node_free(n);
            return NULL;
        }
        if (kid.type == (map ? YAML_MAPPING_END_EVENT
                             : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&kid);
            return n;
        }
        ynode *k = load_node(x, &kid, depth + 1);
        if (!k) {
            node_free(n);
            return NULL;
        }
        node_push(n, k);
    }
}

/* The document's root (NULL for an empty manifest); false on error. */
static bool load_tree(ctx *x, const char *text, size_t len, ynode **root)
{
    *root = NULL;
    if (!yaml_parser_initialize(&x->parser)) {
        fail_at(x, 0, 0, NULL, "cannot initialise libyaml (out of memory)");
        return false;
    }
    yaml_parser_set_input_string(&x->parser, (const unsigned char *)text,
                                 len);
    bool ok = false;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!next_event(x, &ev))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            ok = true;
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                fail_at(x, (int)ev.start_mark.line + 1,
                        (int)ev.start_mark.column + 1, NULL,
                        "a second YAML document; the manifest is one "
                        "document (remove the extra ---)");
                yaml_event_delete(&ev);
                break;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        ynode *n = load_node(x, &ev, 0);
        if (!n)
            break;
        *root = n;
    }
    yaml_parser_delete(&x->parser);
    if (!ok) {
        node_free(*root);
        *root = NULL;
    }
    return ok;
}

/* ---------------------------------------------------------- describing */

static bool is_null_text(const char *s)
{
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0
           || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static bool is_null(const ynode *v)
{
    return !v || (v->kind == Y_SCALAR && v->plain && is_null_text(v->text));
}

static bool has_ref(const ynode *v)
{
    return v->kind == Y_SCALAR && memmem(v->text, v->len, "${", 2) != NULL;
}

/* "got ..." for messages: what the manifest says, never a resolved
 * reference (it may be a secret). */
static const char *describe(const ynode *v, char *buf, size_t n)
{
    if (!v || is_null(v))
        return "null";
    if (v->kind == Y_MAP)
        return "a mapping";
    if (v->kind == Y_SEQ)
        return "a sequence";
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < v->len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)v->text[i];
        if (i == 48) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    if (has_ref(v) && o + 32 < n)
        snprintf(buf + o, n - o, " (resolved value not shown)");
    else if (!v->plain && o + 32 < n)
        snprintf(buf + o, n - o, " (a quoted string)");
    return buf;
}

/* ---------------------------------------------------------- references */

static bool env_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'
                  || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static char *read_small_file(const char *path, size_t max, size_t *len,
                             int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = errno;
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = EISDIR;
        close(fd);
        return NULL;
    }
    if ((size_t)st.st_size > max) {
        *err = EFBIG;
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) {
                *err = EFBIG;
                free(buf);
                close(fd);
                return NULL;
            }
            cap *= 2;
            char *b = realloc(buf, cap);
            if (!b) {
                *err = ENOMEM;
                free(buf);
                close(fd);
                return NULL;
            }
            buf = b;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *err = errno;
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Growable string for building resolved values. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "tasqlyd: out of memory reading the manifest; "
                            "aborting\n");
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Resolve one reference ${scheme:arg}; appends the value to out. */
static int resolve_one(ctx *x, const ynode *where, const char *path,
                       const char *scheme, size_t slen, const char *arg,
                       sbuf *out)
{
    if (slen == 3 && memcmp(scheme, "env", 3) == 0) {
        const char *dflt = strstr(arg, ":-");
        size_t nlen = dflt ? (size_t)(dflt - arg) : strlen(arg);
        if (!env_name_ok(arg, nlen))
            return FAIL(x, where, path, "${env:%s}: \"%.*s\" is not a valid "
                        "environment variable name", arg, (int)nlen, arg);
        char name[256];
        if (nlen >= sizeof(name))
            return FAIL(x, where, path, "${env:...}: variable name longer "
                        "than %zu characters", sizeof(name) - 1);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        const char *v = getenv(name);
        if (dflt && (!v || !*v)) {
            sb_add(out, dflt + 2, strlen(dflt + 2));
            return TQ_OK;
        }
        if (!v)
            return FAIL(x, where, path, "environment variable %s is not set "
                        "(set it, or give a default: ${env:%s:-value})",
                        name, name);
        sb_add(out, v, strlen(v));
        return TQ_OK;
    }

    if (slen == 4 && memcmp(scheme, "file", 4) == 0) {
        if (!*arg)
            return FAIL(x, where, path, "${file:}: the path is empty");
        char *full;
        if (arg[0] == '/') {
            full = xstrdup(arg);
        } else {
            size_t n = strlen(x->dir) + 1 + strlen(arg) + 1;
            full = xmalloc(n);
            snprintf(full, n, "%s/%s", x->dir, arg);
        }
        size_t len = 0;
        int e = 0;
        char *data = read_small_file(full, MAX_REF_FILE, &len, &e);
        if (!data) {
            int rc = FAIL(x, where, path, "${file:%s}: cannot read %s: %s%s",
                          arg, full, e == EFBIG ? "larger than 1 MiB"
                                                : strerror(e),
                          arg[0] == '/' ? ""
                                        : " (relative paths start at the "
                                          "manifest's folder)");
            free(full);
            return rc;
        }
        free(full);
        if (memchr(data, '\0', len)) {
            free(data);
            return FAIL(x, where, path, "${file:%s}: the file holds a NUL "
                        "byte; only text can be referenced", arg);
        }
        if (len && data[len - 1] == '\n') {
            len--;
            if (len && data[len - 1] == '\r')
                len--;
        }
        sb_add(out, data, len);
        free(data);
        return TQ_OK;
    }

    host_config_resolver fn = resolver_find(scheme, slen);
    if (!fn) {
        char known[MAX_RESOLVERS * 40 + 16] = "env, file";
        for (int i = 0; i < MAX_RESOLVERS; i++)
            if (resolvers[i].fn) {
                size_t k = strlen(known);
                snprintf(known + k, sizeof(known) - k, ", %s",
                         resolvers[i].scheme);
            }
        return FAIL(x, where, path, "unknown reference scheme \"%.*s\" in "
                    "${%.*s:%s} (known: %s)", (int)slen, scheme, (int)slen,
                    scheme, arg, known);
    }
    char rerr[512] = "";
    char *val = NULL;
    int rc = fn(arg, &val, rerr, sizeof(rerr));
    if (rc != TQ_OK || !val) {
        free(val);
        return FAIL(x, where, path, "${%.*s:%s}: %s", (int)slen, scheme, arg,
                    rerr[0] ? rerr : "the resolver failed");
    }
    sb_add(out, val, strlen(val));
    /* The value may be a secret: wipe our copy. */
    explicit_bzero(val, strlen(val));
    free(val);
    return TQ_OK;
}

/*
 * The scalar's text with every ${scheme:arg} resolved, malloc'd; "$${"
 * stands for a literal "${".  NULL on error (message set).  *len gets the
 * length (a YAML escape can put a NUL inside).
 */
static char *resolve(ctx *x, const ynode *where, const char *path,
                     const ynode *v, size_t *len)
{
    const char *s = v->text;
    size_t n = v->len;
    if (!memchr(s, '$', n)) {
        *len = n;
        return xstrndup(s, n);
    }
    sbuf out = {0};
    sb_add(&out, "", 0);
    size_t i = 0;
    while (i < n) {
        if (s[i] != '$') {
            size_t j = i;
            while (j < n && s[j] != '$')
                j++;
            sb_add(&out, s + i, j - i);
            i = j;
            continue;
        }
        if (i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            sb_add(&out, "${", 2);
            i += 3;
            continue;
        }
        if (i + 1 >= n || s[i + 1] != '{') {
            sb_add(&out, "$", 1);
            i++;
            continue;
        }
        const char *close = memchr(s + i, '}', n - i);
        const char *scheme = s + i + 2;
        size_t slen = 0;
        while (scheme + slen < s + n
               && ((scheme[slen] >= 'a' && scheme[slen] <= 'z')
                   || (scheme[slen] >= '0' && scheme[slen] <= '9')
                   || scheme[slen] == '-'))
            slen++;
        if (!close || slen == 0 || scheme[slen] != ':'
            || scheme + slen > close) {
            FAIL(x, where, path, "malformed reference at \"%.20s\": write "
                 "${scheme:argument}, or $${ for a literal ${", s + i);
            free(out.p);
            return NULL;
        }
        char *arg = xstrndup(scheme + slen + 1,
                             (size_t)(close - (scheme + slen + 1)));
        int rc = resolve_one(x, where, path, scheme, slen, arg, &out);
        free(arg);
        if (rc != TQ_OK) {
            free(out.p);
            return NULL;
        }
        i = (size_t)(close - s) + 1;
    }
    *len = out.len;
    return out.p;
}

/* --------------------------------------------------------------- typed */

typedef enum {
    F_STR,       /* char *, non-empty */
    F_STR_NULL,  /* char *, may be null */
    F_INT,       /* int */
    F_BYTES,     /* size_t, with KiB/MiB/GiB */
    F_SECS,      /* int seconds, with s/m/h/d */
    F_MS,        /* int milliseconds, with ms/s */
    F_U64,       /* uint64_t */
    F_U32,       /* uint32_t */
    F_BOOL,      /* bool */
    F_LEVEL,     /* int, debug|info|warn|error */
    F_SECTION,   /* a nested mapping: sub */
} ftype;

typedef struct field {
    const char *key;
    ftype type;
    size_t off;
    long long lo, hi;
    const struct field *sub;
} field;

#define OFF(m) offsetof(host_config, m)

static const field scrypt_fields[] = {
    {"n", F_U64, OFF(scrypt_n), 16, 1 << 20, NULL},
    {"r", F_U32, OFF(scrypt_r), 1, 32, NULL},
    {"p", F_U32, OFF(scrypt_p), 1, 16, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field server_fields[] = {
    {"listen", F_STR, OFF(listen), 0, 0, NULL},
    {"io_threads", F_INT, OFF(io_threads), 1, 64, NULL},
    {"workers", F_INT, OFF(workers), 1, 256, NULL},
    {"body_limit", F_BYTES, OFF(body_limit), 1024, 1LL << 30, NULL},
    {"request_timeout", F_SECS, OFF(request_timeout_s), 1, 3600, NULL},
    {"log_level", F_LEVEL, OFF(log_level), 0, 0, NULL},
    {"trust_proxy", F_BOOL, OFF(trust_proxy), 0, 0, NULL},
    {"admin_token", F_STR_NULL, OFF(admin_token), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field database_fields[] = {
    {"url", F_STR_NULL, OFF(database_url), 0, 0, NULL},
    {"pool", F_INT, OFF(db_pool), 1, 256, NULL},
    {"statement_timeout_ms", F_MS, OFF(statement_timeout_ms), 0, 3600000,
     NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field rate_limit_fields[] = {
    {"login_failures_per_email", F_INT, OFF(login_fail_per_email), 1, 100000,
     NULL},
    {"login_failures_per_address", F_INT, OFF(login_fail_per_addr), 1,
     100000, NULL},
    {"login_window", F_SECS, OFF(login_window_s), 1, 86400, NULL},
    {"reset_per_email", F_INT, OFF(reset_per_email), 1, 100000, NULL},
    {"reset_window", F_SECS, OFF(reset_window_s), 1, 86400, NULL},
    {"register_per_address", F_INT, OFF(register_per_addr), 1, 1000000,
     NULL},
    {"register_window", F_SECS, OFF(register_window_s), 1, 86400, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field auth_fields[] = {
    {"token_secret", F_STR_NULL, OFF(token_secret), 0, 0, NULL},
    {"token_kid", F_STR, OFF(token_kid), 0, 0, NULL},
    {"previous_secret", F_STR_NULL, OFF(previous_secret), 0, 0, NULL},
    {"previous_kid", F_STR_NULL, OFF(previous_kid), 0, 0, NULL},
    {"access_ttl", F_SECS, OFF(access_ttl_s), 1, 86400, NULL},
    {"refresh_ttl", F_SECS, OFF(refresh_ttl_s), 1, 366 * 86400, NULL},
    {"scrypt", F_SECTION, 0, 0, 0, scrypt_fields},
    {"hash_concurrency", F_INT, OFF(hash_concurrency), 1, 64, NULL},
    {"rate_limits", F_SECTION, 0, 0, 0, rate_limit_fields},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field events_fields[] = {
    {"max_attempts", F_INT, OFF(event_max_attempts), 1, 100, NULL},
    {"retention_days", F_INT, OFF(event_retention_days), 1, 3650, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field paths_fields[] = {
    {"var", F_STR, OFF(var_dir), 0, 0, NULL},
    {"plugins", F_STR, OFF(plugin_dir), 0, 0, NULL},
    {"mail_spool", F_STR, OFF(mail_spool), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
/* "plugins" at the top is decoded by decode_plugins(). */
static const field aws_fields[] = {
    {"region", F_STR_NULL, OFF(aws_region), 0, 0, NULL},
    {"access_key_id", F_STR_NULL, OFF(aws_access_key_id), 0, 0, NULL},
    {"secret_access_key", F_STR_NULL, OFF(aws_secret_access_key), 0, 0,
     NULL},
    {"session_token", F_STR_NULL, OFF(aws_session_token), 0, 0, NULL},
    {"imds_endpoint", F_STR_NULL, OFF(aws_imds_endpoint), 0, 0, NULL},
    {"connect_timeout_ms", F_MS, OFF(aws_connect_timeout_ms), 1, 60000, NULL},
    {"timeout_ms", F_MS, OFF(aws_timeout_ms), 1, 600000, NULL},
    {"max_attempts", F_INT, OFF(aws_max_attempts), 1, 10, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field storage_fields[] = {
    {"kind", F_STR, OFF(storage_kind), 0, 0, NULL},
    {"dir", F_STR_NULL, OFF(storage_dir), 0, 0, NULL},
    {"bucket", F_STR_NULL, OFF(storage_bucket), 0, 0, NULL},
    {"region", F_STR_NULL, OFF(storage_region), 0, 0, NULL},
    {"endpoint", F_STR_NULL, OFF(storage_endpoint), 0, 0, NULL},
    {"path_style", F_BOOL, OFF(storage_path_style), 0, 0, NULL},
    {"presign_ttl", F_SECS, OFF(storage_presign_ttl_s), 1, 604800, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
static const field top_fields[] = {
    {"server", F_SECTION, 0, 0, 0, server_fields},
    {"database", F_SECTION, 0, 0, 0, database_fields},
    {"auth", F_SECTION, 0, 0, 0, auth_fields},
    {"events", F_SECTION, 0, 0, 0, events_fields},
    {"paths", F_SECTION, 0, 0, 0, paths_fields},
    {"aws", F_SECTION, 0, 0, 0, aws_fields},
    {"storage", F_SECTION, 0, 0, 0, storage_fields},
    {NULL, 0, 0, 0, 0, NULL},
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static int level_from_str(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static void join_path(char *out, size_t n, const char *parent,
                      const char *key)
{
    snprintf(out, n, "%s%s%s", parent, *parent ? "." : "", key);
}

/* A scalar as a C string with references resolved; NULL on error. */
static char *scalar_str(ctx *x, const ynode *where, const char *path,
                        const ynode *v, const char *expected)
{
    char got[128];
    if (v->kind != Y_SCALAR) {
        FAIL(x, where, path, "expected %s, got %s", expected,
             describe(v, got, sizeof(got)));
        return NULL;
    }
    size_t len;
    char *s = resolve(x, where, path, v, &len);
    if (s && strlen(s) != len) {
        FAIL(x, where, path, "the value holds a NUL character");
        free(s);
        return NULL;
    }
    return s;
}

static bool parse_dec(const char *s, long long *out, const char **end)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return false;
    unsigned long long v = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p++ - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg ? v > (unsigned long long)LLONG_MAX + 1
            : v > (unsigned long long)LLONG_MAX)
        return false;
    *out = neg ? (long long)(0 - v) : (long long)v;
    *end = p;
    return true;
}

/* A number with an optional unit from units[] (multipliers in mult[]). */
static bool parse_units(const char *s, const char *const *units,
                        const long long *mult, long long *out)
{
    long long v;
    const char *end;
    if (!parse_dec(s, &v, &end))
        return false;
    if (*end == ' ')
        end++;
    long long m = 1;
    if (*end) {
        int i = 0;
        for (; units[i]; i++)
            if (strcmp(end, units[i]) == 0)
                break;
        if (!units[i])
            return false;
        m = mult[i];
    } else if (end > s && end[-1] == ' ') {
        return false;
    }
    if (v != 0 && (v > LLONG_MAX / m || v < LLONG_MIN / m))
        return false;
    *out = v * m;
    return true;
}

/* true/false (and the True/TRUE spellings of YAML 1.2); nothing else. */
static int decode_bool(ctx *x, const ynode *where, const ynode *v,
                       const char *path, bool *dst)
{
    char got[128];
    if (v->kind == Y_SCALAR && v->plain) {
        size_t len;
        char *s = resolve(x, where, path, v, &len);
        if (!s)
            return TQ_ERR;
        int b = -1;
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            b = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "False")
                 || !strcmp(s, "FALSE"))
            b = 0;
        free(s);
        if (b >= 0) {
            *dst = b;
            return TQ_OK;
        }
    }
    return FAIL(x, where, path, "expected true or false, got %s",
                describe(v, got, sizeof(got)));
}

static int decode_field(ctx *x, const field *f, const ynode *where,
                        const ynode *v, const char *path, host_config *c,
                        bool *pool_set);

static int decode_section(ctx *x, const field *fields, const ynode *where,
                          const ynode *map, const char *path, host_config *c,
                          bool *pool_set)
{
    char got[128];
    if (is_null(map))
        return TQ_OK; /* "server:" with nothing under it: defaults */
    if (map->kind != Y_MAP)
        return FAIL(x, where, path, "expected a mapping, got %s",
                    describe(map, got, sizeof(got)));
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->kids[i], *v = map->kids[i + 1];
        if (k->kind != Y_SCALAR)
            return FAIL(x, k, path, "keys must be plain words, got %s",
                        describe(k, got, sizeof(got)));
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(map->kids[j]->text, k->text) == 0) {
                char p[512];
                join_path(p, sizeof(p), path, k->text);
                return FAIL(x, k, p, "duplicate key (first at line %d); "
                            "keep one", map->kids[j]->line);
            }
        const field *f = fields;
        while (f->key && strcmp(f->key, k->text) != 0)
            f++;
        if (!f->key) {
            if (fields == top_fields && strcmp(k->text, "plugins") == 0)
                continue; /* decoded after the rest */
            char known[512] = "";
            for (const field *g = fields; g->key; g++) {
                size_t o = strlen(known);
                snprintf(known + o, sizeof(known) - o, "%s%s",
                         o ? ", " : "", g->key);
            }
            if (fields == top_fields) {
                size_t o = strlen(known);
                snprintf(known + o, sizeof(known) - o, ", plugins");
            }
            char p[512];
            join_path(p, sizeof(p), path, k->text);
            return FAIL(x, k, p, "unknown key (known here: %s)", known);
        }
        char p[512];
        join_path(p, sizeof(p), path, k->text);
        if (decode_field(x, f, k, v, p, c, pool_set) != TQ_OK)
            return TQ_ERR;
    }
    return TQ_OK;
}

static int decode_field(ctx *x, const field *f, const ynode *where,
                        const ynode *v, const char *path, host_config *c,
                        bool *pool_set)
{
    char got[128];
    char *base = (char *)c;
    if (f->type == F_SECTION)
        return decode_section(x, f->sub, where, v, path, c, pool_set);

    if (f->type == F_STR || f->type == F_STR_NULL) {
        char **dst = (char **)(void *)(base + f->off);
        if (is_null(v)) {
            if (f->type == F_STR)
                return FAIL(x, where, path, "expected a string, got null");
            free(*dst);
            *dst = NULL;
            return TQ_OK;
        }
        char *s = scalar_str(x, where, path, v, "a string");
        if (!s)
            return TQ_ERR;
        if (!*s) {
            free(s);
            if (f->type == F_STR_NULL) {
                /* "${env:X:-}" resolving to nothing means "not set". */
                free(*dst);
                *dst = NULL;
                return TQ_OK;
            }
            return FAIL(x, where, path, "expected a non-empty string, got "
                        "\"\"%s", has_ref(v) ? " (from a reference)" : "");
        }
        free(*dst);
        *dst = s;
        return TQ_OK;
    }

    if (f->type == F_BOOL)
        return decode_bool(x, where, v, path, (bool *)(void *)(base + f->off));

    if (f->type == F_LEVEL) {
        int *dst = (int *)(void *)(base + f->off);
        if (v->kind == Y_SCALAR) {
            size_t len;
            char *s = resolve(x, where, path, v, &len);
            if (!s)
                return TQ_ERR;
            int l = level_from_str(s);
            free(s);
            if (l >= 0) {
                *dst = l;
                return TQ_OK;
            }
        }
        return FAIL(x, where, path, "expected debug, info, warn or error, "
                    "got %s", describe(v, got, sizeof(got)));
    }

    /* Numbers. */
    static const char *const byte_units[] = {"B", "KiB", "MiB", "GiB", NULL};
    static const long long byte_mult[] = {1, 1024, 1024 * 1024,
                                          1024 * 1024 * 1024};
    static const char *const sec_units[] = {"s", "m", "h", "d", NULL};
    static const long long sec_mult[] = {1, 60, 3600, 86400};
    static const char *const ms_units[] = {"ms", "s", NULL};
    static const long long ms_mult[] = {1, 1000};
    static const char *const no_units[] = {NULL};
    const char *const *units = no_units;
    const long long *mult = NULL;
    const char *what = "an integer";
    switch (f->type) {
    case F_BYTES:
        units = byte_units; mult = byte_mult;
        what = "a size in bytes (units B, KiB, MiB, GiB allowed)";
        break;
    case F_SECS:
        units = sec_units; mult = sec_mult;
        what = "a duration in seconds (units s, m, h, d allowed)";
        break;
    case F_MS:
        units = ms_units; mult = ms_mult;
        what = "a duration in milliseconds (units ms, s allowed)";
        break;
    default:
        break;
    }
    long long n = 0;
    bool ok = false;
    if (v->kind == Y_SCALAR && v->plain) {
        size_t len;
        char *s = resolve(x, where, path, v, &len);
        if (!s)
            return TQ_ERR;
        ok = strlen(s) == len && parse_units(s, units, mult, &n);
        free(s);
    }
    if (!ok)
        return FAIL(x, where, path, "expected %s from %lld to %lld, got %s",
                    what, f->lo, f->hi, describe(v, got, sizeof(got)));
    if (n < f->lo || n > f->hi) {
        if (has_ref(v))
            return FAIL(x, where, path, "expected %s from %lld to %lld, got "
                        "%s", what, f->lo, f->hi,
                        describe(v, got, sizeof(got)));
        return FAIL(x, where, path, "expected %s from %lld to %lld, got %lld",
                    what, f->lo, f->hi, n);
    }
    if (f->type == F_U64 && (n & (n - 1)) != 0)
        return FAIL(x, where, path, "expected a power of two (e.g. 131072), "
                    "got %lld", n);
    switch (f->type) {
    case F_BYTES: *(size_t *)(void *)(base + f->off) = (size_t)n; break;
    case F_U64: *(uint64_t *)(void *)(base + f->off) = (uint64_t)n; break;
    case F_U32: *(uint32_t *)(void *)(base + f->off) = (uint32_t)n; break;
    default: *(int *)(void *)(base + f->off) = (int)n; break;
    }
    if (f->off == OFF(db_pool) && f->type == F_INT)
        *pool_set = true;
    return TQ_OK;
}

/* ------------------------------------------------- plugin config → json */

static int parse_int_core(const char *s, long long *out)
{
    /* YAML 1.2 core schema: decimal, 0o octal, 0x hex. */
    const char *end;
    if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) && s[2]) {
        int base = s[1] == 'x' ? 16 : 8;
        unsigned long long v = 0;
        for (const char *p = s + 2; *p; p++) {
            int d;
            if (*p >= '0' && *p <= '9') d = *p - '0';
            else if (base == 16 && *p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
            else if (base == 16 && *p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
            else return 0;
            if (d >= base)
                return 0;
            if (v > ((unsigned long long)LLONG_MAX - (unsigned)d) / (unsigned)base)
                return -1;
            v = v * (unsigned)base + (unsigned)d;
        }
        *out = (long long)v;
        return 1;
    }
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!*p)
        return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    if (!parse_dec(s, out, &end) || *end)
        return -1; /* all digits, so it overflowed */
    return 1;
}

static bool is_float_core(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static bool is_special_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    return !strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")
           || !strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN");
}

static json_t *to_json(ctx *x, const ynode *where, const ynode *v,
                       const char *path);

static json_t *scalar_json(ctx *x, const ynode *where, const ynode *v,
                           const char *path)
{
    if (v->plain && is_null_text(v->text))
        return json_null();
    size_t len;
    char *s = resolve(x, where, path, v, &len);
    if (!s)
        return NULL;
    json_t *j = NULL;
    if (v->plain && strlen(s) == len) {
        long long n;
        int r;
        if (is_null_text(s)) {
            j = json_null();
        } else if (!strcmp(s, "true") || !strcmp(s, "True")
                   || !strcmp(s, "TRUE")) {
            j = json_true();
        } else if (!strcmp(s, "false") || !strcmp(s, "False")
                   || !strcmp(s, "FALSE")) {
            j = json_false();
        } else if ((r = parse_int_core(s, &n)) != 0) {
            if (r < 0) {
                char got[128];
                FAIL(x, where, path, "integer %s does not fit in 64 bits; "
                     "quote it to keep it as a string",
                     describe(v, got, sizeof(got)));
                free(s);
                return NULL;
            }
            j = json_integer(n);
        } else if (is_float_core(s)) {
            j = json_real(strtod(s, NULL));
        } else if (is_special_float(s)) {
            FAIL(x, where, path, "%s is not representable in JSON; quote it "
                 "to keep it as a string", v->text);
            free(s);
            return NULL;
        }
    }
    if (!j) {
        j = json_stringn(s, len);
        if (!j) {
            FAIL(x, where, path, "the value is not valid UTF-8%s",
                 has_ref(v) ? " (after resolving references)" : "");
            free(s);
            return NULL;
        }
    }
    free(s);
    return j;
}

static json_t *to_json(ctx *x, const ynode *where, const ynode *v,
                       const char *path)
{
    char p[512];
    if (v->kind == Y_SCALAR)
        return scalar_json(x, where, v, path);
    if (v->kind == Y_SEQ) {
        json_t *a = json_array();
        if (!a) {
            FAIL(x, where, path, "out of memory");
            return NULL;
        }
        for (size_t i = 0; i < v->n; i++) {
            snprintf(p, sizeof(p), "%s[%zu]", path, i);
            json_t *item = to_json(x, v->kids[i], v->kids[i], p);
            if (!item || json_array_append_new(a, item) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    json_t *o = json_object();
    if (!o) {
        FAIL(x, where, path, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const ynode *k = v->kids[i], *val = v->kids[i + 1];
        char got[128];
        if (k->kind != Y_SCALAR || strlen(k->text) != k->len) {
            FAIL(x, k, path, "keys must be strings, got %s",
                 describe(k, got, sizeof(got)));
            json_decref(o);
            return NULL;
        }
        join_path(p, sizeof(p), path, k->text);
        if (json_object_get(o, k->text)) {
            int first = 0;
            for (size_t j = 0; j < i; j += 2)
                if (!strcmp(v->kids[j]->text, k->text))
                    first = v->kids[j]->line;
            FAIL(x, k, p, "duplicate key (first at line %d); keep one", first);
            json_decref(o);
            return NULL;
        }
        json_t *jv = to_json(x, k, val, p);
        if (!jv) {
            json_decref(o);
            return NULL;
        }
        if (json_object_set_new(o, k->text, jv) != 0) {
            FAIL(x, k, p, "the key is not valid UTF-8");
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ------------------------------------------------------------- plugins */

static bool plugin_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_'))
            return false;
    return true;
}

static int decode_plugin(ctx *x, const ynode *item, const char *path,
                         host_plugin_conf *pc)
{
    char got[128], p[512];
    pc->line = item->line;
    pc->enabled = true;
    if (item->kind != Y_MAP)
        return FAIL(x, item, path, "expected a mapping {name, enabled, "
                    "config}, got %s", describe(item, got, sizeof(got)));
    const ynode *name = NULL, *name_key = NULL;
    for (size_t i = 0; i + 1 < item->n; i += 2) {
        const ynode *k = item->kids[i], *v = item->kids[i + 1];
        if (k->kind != Y_SCALAR)
            return FAIL(x, k, path, "keys must be plain words, got %s",
                        describe(k, got, sizeof(got)));
        join_path(p, sizeof(p), path, k->text);
        for (size_t j = 0; j < i; j += 2)
            if (!strcmp(item->kids[j]->text, k->text))
                return FAIL(x, k, p, "duplicate key (first at line %d); "
                            "keep one", item->kids[j]->line);
        if (!strcmp(k->text, "name")) {
            name = v;
            name_key = k;
        } else if (!strcmp(k->text, "enabled")) {
            if (decode_bool(x, k, v, p, &pc->enabled) != TQ_OK)
                return TQ_ERR;
        } else if (!strcmp(k->text, "config")) {
            if (is_null(v))
                continue;
            if (v->kind != Y_MAP)
                return FAIL(x, k, p, "expected a mapping, got %s",
                            describe(v, got, sizeof(got)));
            json_t *j = to_json(x, k, v, p);
            if (!j)
                return TQ_ERR;
            json_decref(pc->config);
            pc->config = j;
        } else {
            return FAIL(x, k, p, "unknown key (known here: name, enabled, "
                        "config)");
        }
    }
    join_path(p, sizeof(p), path, "name");
    if (!name)
        return FAIL(x, item, p, "missing; every plugin entry needs a name");
    char *s = scalar_str(x, name_key, p, name, "a plugin name");
    if (!s)
        return TQ_ERR;
    if (!plugin_name_ok(s)) {
        free(s);
        return FAIL(x, name_key, p, "expected a plugin name (a-z, 0-9, _; "
                    "starting with a letter; at most 63), got %s",
                    describe(name, got, sizeof(got)));
    }
    pc->name = s;
    return TQ_OK;
}

static int decode_plugins(ctx *x, const ynode *where, const ynode *seq,
                          host_config *c)
{
    char got[128], p[64];
    if (is_null(seq))
        return TQ_OK;
    if (seq->kind != Y_SEQ)
        return FAIL(x, where, "plugins", "expected a sequence of "
                    "{name, enabled, config}, got %s",
                    describe(seq, got, sizeof(got)));
    c->plugins = calloc(seq->n ? seq->n : 1, sizeof(host_plugin_conf));
    if (!c->plugins)
        return FAIL(x, where, "plugins", "out of memory");
    for (size_t i = 0; i < seq->n; i++) {
        host_plugin_conf *pc = &c->plugins[i];
        c->nplugins = i + 1; /* so host_config_free() sees a half entry */
        snprintf(p, sizeof(p), "plugins[%zu]", i);
        if (decode_plugin(x, seq->kids[i], p, pc) != TQ_OK)
            return TQ_ERR;
        if (!pc->config)
            pc->config = json_object();
        if (!pc->config)
            return FAIL(x, seq->kids[i], p, "out of memory");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->plugins[j].name, pc->name))
                return FAIL(x, seq->kids[i], p, "plugin \"%s\" is listed "
                            "twice (first at line %d); keep one entry",
                            pc->name, c->plugins[j].line);
    }
    return TQ_OK;
}

/* --------------------------------------------- defaults, env, checks */

static void set_defaults(host_config *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = xstrdup("127.0.0.1:8080");
    c->io_threads = 1;
    c->workers = 8;
    c->body_limit = 65536;
    c->request_timeout_s = 30;
    c->log_level = TQ_LOG_INFO;
    c->statement_timeout_ms = 10000;
    c->token_kid = xstrdup("k1");
    c->access_ttl_s = 900;
    c->refresh_ttl_s = 30 * 86400;
    c->scrypt_n = 131072;
    c->scrypt_r = 8;
    c->scrypt_p = 1;
    c->hash_concurrency = 2;
    c->event_max_attempts = 8;
    c->event_retention_days = 90;
    c->var_dir = xstrdup("var");
    c->plugin_dir = xstrdup("build/plugins");
    c->mail_spool = xstrdup("var/mail");
}

static bool listen_ok(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1])
        return false;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb + 1 != colon)
            return false;
    } else if (memchr(s, ':', (size_t)(colon - s))) {
        return false; /* a bare IPv6 address needs brackets */
    }
    long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (*p - '0');
        if (port > 65535)
            return false;
    }
    return true;
}

static bool kid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'
              || ch == '-'))
            return false;
    }
    return true;
}

static int apply_env(ctx *x, host_config *c)
{
    static const struct {
        const char *var;
        size_t off;
    } strs[] = {
        {"TASQLY_DATABASE_URL", OFF(database_url)},
        {"TASQLY_LISTEN", OFF(listen)},
        {"TASQLY_PLUGIN_DIR", OFF(plugin_dir)},
        {"TASQLY_MAIL_SPOOL", OFF(mail_spool)},
        {"TASQLY_ADMIN_TOKEN", OFF(admin_token)},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *v = getenv(strs[i].var);
        if (!v || !*v)
            continue; /* empty means unset */
        char **dst = (char **)(void *)((char *)c + strs[i].off);
        free(*dst);
        *dst = xstrdup(v);
        if (strs[i].off == OFF(listen) && !listen_ok(v))
            return fail_at(x, 0, 0, "TASQLY_LISTEN",
                           "expected \"host:port\" (e.g. 127.0.0.1:8080 or "
                           "[::1]:8080), got \"%.64s\"", v);
    }
    const char *lvl = getenv("TASQLY_LOG_LEVEL");
    if (lvl && *lvl) {
        int l = level_from_str(lvl);
        if (l < 0)
            return fail_at(x, 0, 0, "TASQLY_LOG_LEVEL", "expected debug, "
                           "info, warn or error, got \"%.32s\"", lvl);
        c->log_level = l;
    }
    return TQ_OK;
}

static int check(ctx *x, host_config *c, bool pool_set)
{
    if (!listen_ok(c->listen))
        return fail_at(x, 0, 0, "server.listen", "expected \"host:port\" "
                       "(e.g. 127.0.0.1:8080 or [::1]:8080), got \"%.64s\"",
                       c->listen);
    if (!pool_set)
        c->db_pool = c->workers;
    /* Each worker owns exactly one connection (no lock on the hot path),
     * so a pool of another size would be silently ignored: refuse it. */
    if (c->db_pool != c->workers)
        return fail_at(x, 0, 0, "database.pool", "expected the same as "
                       "server.workers (%d): every worker owns one "
                       "connection; got %d (set server.workers instead)",
                       c->workers, c->db_pool);
    if (c->token_secret && strlen(c->token_secret) < 32)
        return fail_at(x, 0, 0, "auth.token_secret", "expected at least 32 "
                       "characters, got %zu (make one with: openssl rand "
                       "-base64 48)", strlen(c->token_secret));
    if (!kid_ok(c->token_kid))
        return fail_at(x, 0, 0, "auth.token_kid", "expected 1 to 64 of "
                       "A-Z a-z 0-9 . _ -, got \"%.64s\"", c->token_kid);
    if (!c->previous_secret != !c->previous_kid)
        return fail_at(x, 0, 0, "auth", "previous_secret and previous_kid "
                       "go together: set both (while rotating) or neither");
    if (c->previous_secret) {
        if (strlen(c->previous_secret) < 32)
            return fail_at(x, 0, 0, "auth.previous_secret", "expected at "
                           "least 32 characters, got %zu",
                           strlen(c->previous_secret));
        if (!kid_ok(c->previous_kid))
            return fail_at(x, 0, 0, "auth.previous_kid", "expected 1 to 64 "
                           "of A-Z a-z 0-9 . _ -, got \"%.64s\"",
                           c->previous_kid);
        if (!strcmp(c->previous_kid, c->token_kid))
            return fail_at(x, 0, 0, "auth.previous_kid", "equals "
                           "auth.token_kid (\"%s\"); give the new secret a "
                           "new kid", c->token_kid);
        if (c->token_secret && !strcmp(c->previous_secret, c->token_secret))
            return fail_at(x, 0, 0, "auth.previous_secret", "equals "
                           "auth.token_secret; rotation needs a new secret");
    }
    if (c->scrypt_n * c->scrypt_r * 128 > (1ull << 30))
        return fail_at(x, 0, 0, "auth.scrypt", "n * r * 128 bytes = %llu "
                       "bytes of memory per hash; keep it at most 1 GiB",
                       (unsigned long long)(c->scrypt_n * c->scrypt_r * 128));
    if (c->access_ttl_s > c->refresh_ttl_s)
        return fail_at(x, 0, 0, "auth.access_ttl", "%d s is longer than "
                       "auth.refresh_ttl (%d s)", c->access_ttl_s,
                       c->refresh_ttl_s);
    return TQ_OK;
}

/* --------------------------------------------------------------- public */

void host_config_free(host_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->listen);
    free(c->admin_token);
    free(c->database_url);
    if (c->token_secret)
        explicit_bzero(c->token_secret, strlen(c->token_secret));
    free(c->token_secret);
    free(c->token_kid);
    if (c->previous_secret)
        explicit_bzero(c->previous_secret, strlen(c->previous_secret));
    free(c->previous_secret);
    free(c->previous_kid);
    free(c->var_dir);
    free(c->plugin_dir);
    free(c->mail_spool);
    char *secrets[] = {c->aws_access_key_id, c->aws_secret_access_key,
                       c->aws_session_token};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (secrets[i])
            explicit_bzero(secrets[i], strlen(secrets[i]));
        free(secrets[i]);
    }
    free(c->aws_region);
    free(c->aws_imds_endpoint);
    free(c->storage_kind);
    free(c->storage_dir);
    free(c->storage_bucket);
    free(c->storage_region);
    free(c->storage_endpoint);
    for (size_t i = 0; i < c->nplugins; i++) {
        free(c->plugins[i].name);
        json_decref(c->plugins[i].config);
    }
    free(c->plugins);
    memset(c, 0, sizeof(*c));
}

static int finish(ctx *x, host_config *c, int rc)
{
    free(x->dir);
    if (rc != TQ_OK)
        host_config_free(c);
    return rc;
}

int host_config_parse(host_config *c, const char *name, const char *text,
                      size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    ctx x = {.name = name ? name : "(manifest)", .err = err,
             .errlen = errlen};
    set_defaults(c);
    if (name)
        c->path = xstrdup(name);
    const char *slash = name ? strrchr(name, '/') : NULL;
    x.dir = slash ? xstrndup(name, (size_t)(slash - name) + (slash == name))
                  : xstrdup(".");

    ynode *root;
    if (!load_tree(&x, text, len, &root))
        return finish(&x, c, TQ_ERR);
    bool pool_set = false;
    int rc = TQ_OK;
    if (root) {
        char got[128];
        if (root->kind != Y_MAP && !is_null(root)) {
            rc = FAIL(&x, root, NULL, "the manifest must be a mapping of "
                      "server, database, auth, events, paths, plugins; got %s",
                      describe(root, got, sizeof(got)));
        } else {
            rc = decode_section(&x, top_fields, root, root, "", c, &pool_set);
            for (size_t i = 0; rc == TQ_OK && i + 1 < root->n; i += 2)
                if (root->kids[i]->kind == Y_SCALAR
                    && !strcmp(root->kids[i]->text, "plugins"))
                    rc = decode_plugins(&x, root->kids[i], root->kids[i + 1],
                                        c);
        }
        node_free(root);
    }
    if (rc == TQ_OK)
        rc = apply_env(&x, c);
    if (rc == TQ_OK)
        rc = check(&x, c, pool_set);
    return finish(&x, c, rc);
}

int host_config_load(host_config *c, const char *path, char *err,
                     size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        ctx x = {.name = "(built-in defaults)", .err = err, .errlen = errlen};
        set_defaults(c);
        int rc = apply_env(&x, c);
        if (rc == TQ_OK)
            rc = check(&x, c, false);
        return finish(&x, c, rc);
    }
    size_t len = 0;
    int e = 0;
    char *text = read_small_file(path, MAX_MANIFEST, &len, &e);
    if (!text) {
        memset(c, 0, sizeof(*c));
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read the manifest: %s%s", path,
                     e == EFBIG ? "larger than 4 MiB" : strerror(e),
                     e == ENOENT ? " (give the right path with --config, or "
                                   "run without one for the defaults)" : "");
        return TQ_ERR;
    }
    int rc = host_config_parse(c, path, text, len, err, errlen);
    free(text);
    return rc;
}
