/*
 * router.c - method + path to route record, through a segment trie.
 *
 * Each trie node is one path segment.  A node has literal children (kept
 * sorted, found by binary search), at most one parameter child (every
 * "{name}" at that depth shares it, whatever the name), and one route per
 * method.  Literal children are tried before the parameter child; when a
 * literal subtree holds no route for the rest of the path the match backs
 * off and tries the parameter.  Every trie node is visited at most once
 * per match (a node fixes its depth), so matching is linear in the trie.
 * The rules are written up in docs/router.md.
 *
 * Memory: the router owns its nodes, a copy of each pattern, the param
 * names, and a copy of each host_route_rec (whose r.path and r.method are
 * pointed at the router's own strings; handler and plugin stay the
 * caller's).  Matching allocates only from the caller's arena, and a
 * router is read-only while it serves, so matching needs no lock.
 */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 64   /* deeper paths answer 404 */
#define MAX_NAME 32   /* longest {param} name */

typedef struct route_ent {
    host_route_rec rec;
    char *pattern;
    int nparams;
    char *names[HOST_MAX_PARAMS];
} route_ent;

typedef struct node node;
struct node {
    char *lit;           /* literal segment; NULL on root and param nodes */
    size_t litlen;
    node **kids;         /* literal children, sorted by segment */
    size_t nkids, capkids;
    node *param;
    route_ent *routes[HOST_NMETHODS];
    unsigned mask;       /* bit m set when routes[m] */
};

struct host_router {
    node root;
};

/* host_routes itself is defined by loader.c, which fills it. */

/* Slots for the metrics module: unique across routers, never reused. */
static atomic_int next_metrics_slot;

static const char *const method_names[HOST_NMETHODS] = {
    [HOST_GET] = "GET", [HOST_POST] = "POST", [HOST_PUT] = "PUT",
    [HOST_PATCH] = "PATCH", [HOST_DELETE] = "DELETE",
};

int host_method_from_str(const char *m)
{
    if (!m)
        return -1;
    for (int i = 0; i < HOST_NMETHODS; i++)
        if (strcmp(m, method_names[i]) == 0)
            return i;
    return -1;
}

const char *host_method_str(int m)
{
    return m >= 0 && m < HOST_NMETHODS ? method_names[m] : "OTHER";
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "tasqlyd: out of memory in the router; aborting\n");
        abort();
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xcalloc(1, n + 1);
    memcpy(d, s, n);
    return d;
}

host_router *host_router_new(void)
{
    return xcalloc(1, sizeof(host_router));
}

static void ent_free(route_ent *e)
{
    if (!e)
        return;
    free(e->pattern);
    for (int i = 0; i < e->nparams; i++)
        free(e->names[i]);
    free(e);
}

static void node_free_children(node *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free_children(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    if (n->param) {
        node_free_children(n->param);
        free(n->param);
    }
    for (int m = 0; m < HOST_NMETHODS; m++)
        ent_free(n->routes[m]);
    free(n->lit);
}

void host_router_free(host_router *r)
{
    if (!r)
        return;
    node_free_children(&r->root);
    free(r);
}

static int segcmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of the literal child equal to s, or -(insertion point) - 1. */
static long kid_find(const node *n, const char *s, size_t len)
{
    size_t lo = 0, hi = n->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = segcmp(n->kids[mid]->lit, n->kids[mid]->litlen, s, len);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

static node *kid_get_or_add(node *n, const char *s, size_t len)
{
    long i = kid_find(n, s, len);
    if (i >= 0)
        return n->kids[i];
    size_t at = (size_t)(-i - 1);
    if (n->nkids == n->capkids) {
        size_t cap = n->capkids ? n->capkids * 2 : 4;
        node **k = realloc(n->kids, cap * sizeof(*k));
        if (!k) {
            fprintf(stderr, "tasqlyd: out of memory in the router; "
                            "aborting\n");
            abort();
        }
        n->kids = k;
        n->capkids = cap;
    }
    memmove(n->kids + at + 1, n->kids + at, (n->nkids - at) * sizeof(node *));
    node *k = xcalloc(1, sizeof(node));
    k->lit = xstrndup(s, len);
    k->litlen = len;
    n->kids[at] = k;
    n->nkids++;
    return k;
}

static bool literal_char_ok(unsigned char c)
{
    /* RFC 3986 pchar without '%': patterns are written decoded. */
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return strchr("-._~!$&'()*+,;=:@", c) != NULL && c != '\0';
}

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/*
 * Check a pattern and split it into segments.  Fills seg/len/is_param;
 * returns the segment count, or -1 with *why set when the pattern breaks
 * a rule of docs/router.md.
 */
static int pattern_split(const char *pat, const char **seg, size_t *len,
                         bool *is_param, int *nparams, const char **why)
{
    *nparams = 0;
    if (!pat || pat[0] != '/') {
        *why = "a pattern starts with /";
        return -1;
    }
    if (pat[1] == '\0')
        return 0; /* "/" */
    int n = 0;
    const char *p = pat + 1;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0) {
            *why = "empty segment (// or a trailing /)";
            return -1;
        }
        if (n == MAX_SEGS) {
            *why = "more than 64 segments";
            return -1;
        }
        if (p[0] == '{') {
            if (l < 3 || p[l - 1] != '}' || !name_ok(p + 1, l - 2)) {
                *why = "a parameter is a whole segment {name}, name of "
                       "letters, digits and _ (at most 32), not starting "
                       "with a digit";
                return -1;
            }
            for (int i = 0; i < n; i++)
                if (is_param[i] && len[i] == l
                    && memcmp(seg[i], p, l) == 0) {
                    *why = "the same parameter name twice";
                    return -1;
                }
            if (++*nparams > HOST_MAX_PARAMS) {
                *why = "more than 8 parameters";
                return -1;
            }
            is_param[n] = true;
        } else {
            for (size_t i = 0; i < l; i++)
                if (!literal_char_ok((unsigned char)p[i])) {
                    *why = "a literal segment holds only letters, digits "
                           "and -._~!$&'()*+,;=:@ (no %, ?, #, {, }, "
                           "spaces)";
                    return -1;
                }
            is_param[n] = false;
        }
        seg[n] = p;
        len[n] = l;
        n++;
        if (!e)
            return n;
        p = e + 1;
    }
}

const char *host_router_check(const char *pattern)
{
    const char *seg[MAX_SEGS];
    size_t len[MAX_SEGS];
    bool is_param[MAX_SEGS];
    int np;
    const char *why = NULL;
    return pattern_split(pattern, seg, len, is_param, &np, &why) < 0 ? why
                                                                    : NULL;
}

int host_router_add(host_router *r, int method, const char *pattern,
                    const host_route_rec *rec, const host_route_rec **clash)
{
    if (clash)
        *clash = NULL;
    if (!r || !rec || method < 0 || method >= HOST_NMETHODS)
        return TQ_E_INVALID;
    const char *seg[MAX_SEGS];
    size_t len[MAX_SEGS];
    bool is_param[MAX_SEGS];
    int np;
    const char *why;
    int n = pattern_split(pattern, seg, len, is_param, &np, &why);
    if (n < 0)
        return TQ_E_INVALID;

    /* Find the clash before growing the trie, so a refused route leaves
     * no empty nodes behind. */
    const node *at = &r->root;
    for (int i = 0; i < n && at; i++) {
        if (is_param[i]) {
            at = at->param;
        } else {
            long k = kid_find(at, seg[i], len[i]);
            at = k >= 0 ? at->kids[k] : NULL;
        }
    }
    if (at && at->routes[method]) {
        if (clash)
            *clash = &at->routes[method]->rec;
        return TQ_E_EXISTS;
    }

    node *cur = &r->root;
    for (int i = 0; i < n; i++) {
        if (is_param[i]) {
            if (!cur->param)
                cur->param = xcalloc(1, sizeof(node));
            cur = cur->param;
        } else {
            cur = kid_get_or_add(cur, seg[i], len[i]);
        }
    }

    route_ent *e = xcalloc(1, sizeof(*e));
    e->pattern = xstrndup(pattern, strlen(pattern));
    for (int i = 0; i < n; i++)
        if (is_param[i])
            e->names[e->nparams++] = xstrndup(seg[i] + 1, len[i] - 2);
    e->rec = *rec;
    e->rec.r.path = e->pattern;
    e->rec.r.method = method_names[method];
    e->rec.metrics_slot = atomic_fetch_add(&next_metrics_slot, 1) + 1;
    cur->routes[method] = e;
    cur->mask |= 1u << method;
    return TQ_OK;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %XX escapes into the arena; NULL on a bad escape or %00. */
static char *pct_decode(host_arena *a, const char *s, size_t len,
                        size_t *outlen)
{
    char *d = host_arena_alloc(a, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            d[o++] = s[i];
            continue;
        }
        if (i + 2 >= len)
            return NULL;
        int hi = hexval((unsigned char)s[i + 1]);
        int lo = hexval((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return NULL;
        d[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[o] = '\0';
    *outlen = o;
    return d;
}

typedef struct seg_t {
    const char *p;
    size_t len;
    bool decoded; /* p is an arena copy, NUL-terminated */
} seg_t;

typedef struct found {
    int pos[HOST_MAX_PARAMS]; /* segment index of each param */
} found;

static const node *find(const node *n, const seg_t *s, int i, int nseg,
                        found *f, int np)
{
    if (i == nseg)
        return n->mask ? n : NULL;
    if (n->nkids) {
        long k = kid_find(n, s[i].p, s[i].len);
        if (k >= 0) {
            const node *hit = find(n->kids[k], s, i + 1, nseg, f, np);
            if (hit)
                return hit;
        }
    }
    /* A param never matches an empty segment ("//" or a trailing "/"). */
    if (n->param && s[i].len > 0 && np < HOST_MAX_PARAMS) {
        f->pos[np] = i;
        return find(n->param, s, i + 1, nseg, f, np + 1);
    }
    return NULL;
}

const host_route_rec *host_router_match(const host_router *r, int method,
                                        const char *path, host_arena *a,
                                        host_param *params, int *nparams,
                                        unsigned *allowed)
{
    unsigned dummy_allowed;
    int dummy_n;
    if (!allowed)
        allowed = &dummy_allowed;
    if (!nparams)
        nparams = &dummy_n;
    *allowed = 0;
    *nparams = 0;
    if (!r || !path || path[0] != '/')
        return NULL;

    seg_t s[MAX_SEGS];
    int nseg = 0;
    if (path[1] != '\0') {
        const char *p = path + 1;
        for (;;) {
            if (nseg == MAX_SEGS)
                return NULL;
            const char *e = strchr(p, '/');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            s[nseg].p = p;
            s[nseg].len = l;
            s[nseg].decoded = false;
            if (memchr(p, '%', l)) {
                s[nseg].p = pct_decode(a, p, l, &s[nseg].len);
                if (!s[nseg].p)
                    return NULL;
                s[nseg].decoded = true;
            }
            nseg++;
            if (!e)
                break;
            p = e + 1;
        }
    }

    found f;
    const node *n = find(&r->root, s, 0, nseg, &f, 0);
    if (!n)
        return NULL;
    if (method < 0 || method >= HOST_NMETHODS || !n->routes[method]) {
        *allowed = n->mask;
        return NULL;
    }
    const route_ent *e = n->routes[method];
    for (int i = 0; i < e->nparams; i++) {
        const seg_t *sg = &s[f.pos[i]];
        params[i].name = e->names[i];
        params[i].value = sg->decoded ? sg->p
                                      : host_arena_strndup(a, sg->p, sg->len);
    }
    *nparams = e->nparams;
    return &e->rec;
}

static void walk(const node *n,
                 void (*fn)(void *arg, int method, const char *pattern,
                            const host_route_rec *rec),
                 void *arg)
{
    for (int m = 0; m < HOST_NMETHODS; m++)
        if (n->routes[m])
            fn(arg, m, n->routes[m]->pattern, &n->routes[m]->rec);
    for (size_t i = 0; i < n->nkids; i++)
        walk(n->kids[i], fn, arg);
    if (n->param)
        walk(n->param, fn, arg);
}

void host_router_walk(const host_router *r,
                      void (*fn)(void *arg, int method, const char *pattern,
                                 const host_route_rec *rec),
                      void *arg)
{
    if (r)
        walk(&r->root, fn, arg);
}
