/*
 * sigv4.c - AWS Signature Version 4: header signing and pre-signed query
 * strings, with the canonical URI/query encoding exactly as AWS specifies
 * (checked byte for byte against AWS's published examples and, in
 * tests/unit/aws/botocore_diff.py, against botocore on generated requests).
 *
 * Pure computation: no I/O, no clock, no globals, so it is safe from any
 * thread.  Everything in host_sigv4_out is malloc'd here and released by
 * host_sigv4_out_free(); on failure out is left empty (nothing to free,
 * though freeing it is harmless).
 */
#include "aws/aws.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------- a growable string */

typedef struct sb {
    char *p;
    size_t n, cap;
    bool oom;
} sb;

static void sb_grow(sb *b, size_t more)
{
    if (b->oom)
        return;
    if (b->n + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void sb_putn(sb *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sb *b, char c) { sb_putn(b, &c, 1); }

/* Hand the string over to the caller (or NULL when out of memory). */
static char *sb_take(sb *b)
{
    if (b->oom) {
        free(b->p);
        *b = (sb){0};
        return NULL;
    }
    if (!b->p)
        sb_grow(b, 0);
    if (b->oom)
        return NULL;
    b->p[b->n] = '\0';
    char *p = b->p;
    *b = (sb){0};
    return p;
}

static void sb_enc(sb *b, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            sb_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_putn(b, e, 3);
        }
    }
}

char *host_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
    sb b = {0};
    sb_enc(&b, s, len, keep_slash);
    return sb_take(&b);
}

/* ------------------------------------------------------------- hashing */

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void host_aws_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", len, md);
    to_hex(md, sizeof md, out);
}

static int hmac(const void *key, size_t keylen, const char *msg, size_t len,
                unsigned char out[32])
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
              len, out, &outlen) ||
        outlen != 32)
        return TQ_ERR;
    return TQ_OK;
}

int host_sigv4_signing_key(const char *secret, const char *date8,
                           const char *region, const char *service,
                           unsigned char out[32])
{
    size_t sl = strlen(secret);
    char *k = malloc(sl + 5);
    if (!k)
        return TQ_E_NOMEM;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, sl + 1);
    unsigned char a[32], b[32];
    int rc = hmac(k, sl + 4, date8, strlen(date8), a);
    if (rc == TQ_OK)
        rc = hmac(a, 32, region, strlen(region), b);
    if (rc == TQ_OK)
        rc = hmac(b, 32, service, strlen(service), a);
    if (rc == TQ_OK)
        rc = hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k, sl + 4);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    free(k);
    return rc;
}

void host_aws_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* -------------------------------------------------- canonical pieces */

/* The path as it goes into the URL: AWS-encoded once (unless the caller
 * encoded it), '/' kept, always starting with '/'. */
static void url_path(sb *b, const char *path, bool encoded)
{
    if (!path || !*path) {
        sb_putc(b, '/');
        return;
    }
    if (path[0] != '/')
        sb_putc(b, '/');
    if (encoded)
        sb_puts(b, path);
    else
        sb_enc(b, path, strlen(path), true);
}

/*
 * RFC 3986 remove_dot_segments, and empty segments dropped too (AWS
 * services other than S3 want "//" collapsed): what every AWS SDK does
 * before encoding the path a second time.
 */
static char *normalise_path(const char *p)
{
    size_t n = strlen(p);
    const char **seg = malloc((n + 1) * sizeof *seg);
    size_t *len = malloc((n + 1) * sizeof *len);
    char *out = malloc(n + 2);
    if (!seg || !len || !out) {
        free(seg);
        free(len);
        free(out);
        return NULL;
    }
    size_t ns = 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == 0 || (l == 1 && s[0] == '.')) {
            /* nothing */
        } else if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (ns)
                ns--;
        } else {
            seg[ns] = s;
            len[ns] = l;
            ns++;
        }
        if (!e)
            break;
        s = e + 1;
    }
    size_t o = 0;
    if (p[0] == '/')
        out[o++] = '/';
    for (size_t i = 0; i < ns; i++) {
        if (i)
            out[o++] = '/';
        memcpy(out + o, seg[i], len[i]);
        o += len[i];
    }
    if (n && p[n - 1] == '/' && ns)
        out[o++] = '/';
    out[o] = '\0';
    free(seg);
    free(len);
    return out;
}

typedef struct pair {
    char *k, *v; /* encoded (query) or lowercased/trimmed (headers) */
    size_t order;
} pair;

static int pair_cmp_kv(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    if (c)
        return c;
    return strcmp(x->v, y->v);
}

/* Headers sort by name only, keeping the order in which duplicates came
 * (their values are joined with ',' in that order). */
static int pair_cmp_k_stable(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void pairs_free(pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].k);
        free(p[i].v);
    }
    free(p);
}

/* name=value pairs, encoded, sorted by name then value, joined by '&'. */
static char *canonical_query(pair *q, size_t n)
{
    if (n > 1)
        qsort(q, n, sizeof *q, pair_cmp_kv);
    sb b = {0};
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(&b, '&');
        sb_puts(&b, q[i].k);
        sb_putc(&b, '=');
        sb_puts(&b, q[i].v);
    }
    return sb_take(&b);
}

static bool is_token_char(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Lowercased name and the value with surrounding blanks removed and runs
 * of blanks turned into one space ("Trimall").  Control characters are
 * refused: a CR or LF in a value would be header injection. */
static int header_pair(const char *name, const char *value, pair *out)
{
    size_t nl = strlen(name);
    if (nl == 0)
        return TQ_E_INVALID;
    for (size_t i = 0; i < nl; i++)
        if (!is_token_char((unsigned char)name[i]))
            return TQ_E_INVALID;
    for (const unsigned char *v = (const unsigned char *)value; *v; v++)
        if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
            return TQ_E_INVALID;
    out->k = malloc(nl + 1);
    out->v = malloc(strlen(value) + 1);
    if (!out->k || !out->v)
        return TQ_E_NOMEM;
    for (size_t i = 0; i <= nl; i++)
        out->k[i] = (char)tolower((unsigned char)name[i]);
    size_t o = 0;
    bool blank = false;
    for (const char *v = value; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = o > 0;
            continue;
        }
        if (blank)
            out->v[o++] = ' ';
        blank = false;
        out->v[o++] = *v;
    }
    out->v[o] = '\0';
    return TQ_OK;
}

static bool reserved_header(const char *lname)
{
    return !strcmp(lname, "host") || !strcmp(lname, "x-amz-date") ||
           !strcmp(lname, "x-amz-content-sha256") ||
           !strcmp(lname, "x-amz-security-token") ||
           !strcmp(lname, "authorization");
}

static bool valid_date(const char *d)
{
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return false;
    return true;
}

static bool valid_scope_part(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

static bool valid_method(const char *m)
{
    if (!m || !*m)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

static bool valid_host(const char *h)
{
    if (!h || !*h)
        return false;
    for (; *h; h++)
        if ((unsigned char)*h <= ' ' || *h == 0x7f || *h == '/')
            return false;
    return true;
}

/* ------------------------------------------------------------ signing */

typedef struct work {
    pair *q; size_t nq, capq;
    pair *h; size_t nh, caph;
} work;

static int push(pair **v, size_t *n, size_t *cap, pair p)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        pair *nv = realloc(*v, c * sizeof *nv);
        if (!nv) {
            free(p.k);
            free(p.v);
            return TQ_E_NOMEM;
        }
        *v = nv;
        *cap = c;
    }
    p.order = *n;
    (*v)[(*n)++] = p;
    return TQ_OK;
}

static int push_query(work *w, const char *k, const char *v)
{
    pair p = {host_aws_uri_encode(k, strlen(k), false),
              host_aws_uri_encode(v ? v : "", v ? strlen(v) : 0, false), 0};
    if (!p.k || !p.v) {
        free(p.k);
        free(p.v);
        return TQ_E_NOMEM;
    }
    return push(&w->q, &w->nq, &w->capq, p);
}

static int push_header(work *w, const char *k, const char *v)
{
    pair p = {0};
    int rc = header_pair(k, v, &p);
    if (rc != TQ_OK) {
        free(p.k);
        free(p.v);
        return rc;
    }
    return push(&w->h, &w->nh, &w->caph, p);
}

static void work_free(work *w)
{
    pairs_free(w->q, w->nq);
    pairs_free(w->h, w->nh);
}

/* Canonical headers block and the SignedHeaders list, from w->h. */
static int canonical_headers(work *w, char **block, char **names)
{
    if (w->nh > 1)
        qsort(w->h, w->nh, sizeof *w->h, pair_cmp_k_stable);
    sb b = {0}, s = {0};
    for (size_t i = 0; i < w->nh; i++) {
        if (i > 0 && !strcmp(w->h[i].k, w->h[i - 1].k)) {
            sb_putc(&b, ',');
            sb_puts(&b, w->h[i].v);
            continue;
        }
        if (i > 0) {
            sb_putc(&b, '\n');
            sb_putc(&s, ';');
        }
        sb_puts(&b, w->h[i].k);
        sb_putc(&b, ':');
        sb_puts(&b, w->h[i].v);
        sb_puts(&s, w->h[i].k);
    }
    sb_putc(&b, '\n');
    *block = sb_take(&b);
    *names = sb_take(&s);
    if (!*block || !*names) {
        free(*block);
        free(*names);
        *block = *names = NULL;
        return TQ_E_NOMEM;
    }
    return TQ_OK;
}

static int check_req(const host_sigv4_req *r, const host_aws_creds *c)
{
    if (!r || !c || !valid_method(r->method) || !valid_host(r->host) ||
        !valid_scope_part(r->region) || !valid_scope_part(r->service) ||
        !valid_date(r->amz_date) || !valid_scope_part(c->access_key) ||
        !c->secret_key[0] || r->nquery < 0 || r->nheaders < 0 ||
        (r->nquery && !r->query) || (r->nheaders && !r->headers))
        return TQ_E_INVALID;
    for (int i = 0; i < r->nquery; i++)
        if (!r->query[i].name)
            return TQ_E_INVALID;
    for (int i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        if (!n || !r->headers[i].value)
            return TQ_E_INVALID;
        char l[32];
        size_t k = 0;
        for (; n[k] && k < sizeof l - 1; k++)
            l[k] = (char)tolower((unsigned char)n[k]);
        l[k] = '\0';
        if (!n[k] && reserved_header(l))
            return TQ_E_INVALID;
    }
    return TQ_OK;
}

/*
 * The common core: canonical request, string to sign, signature.  For
 * presigning, the X-Amz-* parameters are in w->q already and no date or
 * token headers are added.
 */
static int sign_core(const host_sigv4_req *r, const host_aws_creds *c,
                     work *w, const char *payload, host_sigv4_out *out,
                     char **signed_names, char **cquery)
{
    int rc = TQ_E_NOMEM;
    char *block = NULL, *names = NULL, *cpath = NULL, *norm = NULL;
    sb u = {0};
    url_path(&u, r->path, r->path_is_encoded);
    out->url_path = sb_take(&u);
    if (!out->url_path)
        goto done;
    if (r->s3) {
        cpath = strdup(out->url_path);
    } else {
        norm = normalise_path(out->url_path);
        cpath = norm ? host_aws_uri_encode(norm, strlen(norm), true) : NULL;
    }
    if (!cpath)
        goto done;
    *cquery = canonical_query(w->q, w->nq);
    if (!*cquery)
        goto done;
    if ((rc = canonical_headers(w, &block, &names)) != TQ_OK)
        goto done;

    sb cr = {0};
    sb_puts(&cr, r->method);
    sb_putc(&cr, '\n');
    sb_puts(&cr, cpath);
    sb_putc(&cr, '\n');
    sb_puts(&cr, *cquery);
    sb_putc(&cr, '\n');
    sb_puts(&cr, block);
    sb_putc(&cr, '\n');
    sb_puts(&cr, names);
    sb_putc(&cr, '\n');
    sb_puts(&cr, payload);
    rc = TQ_E_NOMEM;
    out->canonical_request = sb_take(&cr);
    if (!out->canonical_request)
        goto done;

    char crhash[65], date8[9];
    host_aws_sha256_hex(out->canonical_request,
                        strlen(out->canonical_request), crhash);
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    sb sts = {0};
    sb_puts(&sts, "AWS4-HMAC-SHA256\n");
    sb_puts(&sts, r->amz_date);
    sb_putc(&sts, '\n');
    sb_puts(&sts, date8);
    sb_putc(&sts, '/');
    sb_puts(&sts, r->region);
    sb_putc(&sts, '/');
    sb_puts(&sts, r->service);
    sb_puts(&sts, "/aws4_request\n");
    sb_puts(&sts, crhash);
    out->string_to_sign = sb_take(&sts);
    if (!out->string_to_sign)
        goto done;

    unsigned char key[32], sig[32];
    rc = host_sigv4_signing_key(c->secret_key, date8, r->region, r->service,
                                key);
    if (rc == TQ_OK)
        rc = hmac(key, 32, out->string_to_sign, strlen(out->string_to_sign),
                  sig);
    OPENSSL_cleanse(key, sizeof key);
    if (rc != TQ_OK)
        goto done;
    to_hex(sig, 32, out->signature);
    memcpy(out->amz_date, r->amz_date, 17);
    *signed_names = names;
    names = NULL;

done:
    free(block);
    free(names);
    free(cpath);
    free(norm);
    return rc;
}

int host_sigv4_sign(const host_sigv4_req *r, const host_aws_creds *c,
                    host_sigv4_out *out)
{
    *out = (host_sigv4_out){0};
    int rc = check_req(r, c);
    if (rc != TQ_OK)
        return rc;
    const char *payload = r->payload_hash ? r->payload_hash
                                          : HOST_AWS_EMPTY_SHA256;
    work w = {0};
    char *names = NULL, *cquery = NULL;
    for (int i = 0; rc == TQ_OK && i < r->nquery; i++)
        rc = push_query(&w, r->query[i].name, r->query[i].value);
    for (int i = 0; rc == TQ_OK && i < r->nheaders; i++)
        rc = push_header(&w, r->headers[i].name, r->headers[i].value);
    if (rc == TQ_OK)
        rc = push_header(&w, "host", r->host);
    if (rc == TQ_OK)
        rc = push_header(&w, "x-amz-date", r->amz_date);
    if (rc == TQ_OK && r->s3)
        rc = push_header(&w, "x-amz-content-sha256", payload);
    if (rc == TQ_OK && c->token[0])
        rc = push_header(&w, "x-amz-security-token", c->token);
    if (rc == TQ_OK)
        rc = sign_core(r, c, &w, payload, out, &names, &cquery);
    if (rc == TQ_OK) {
        char date8[9];
        memcpy(date8, r->amz_date, 8);
        date8[8] = '\0';
        sb a = {0};
        sb_puts(&a, "AWS4-HMAC-SHA256 Credential=");
        sb_puts(&a, c->access_key);
        sb_putc(&a, '/');
        sb_puts(&a, date8);
        sb_putc(&a, '/');
        sb_puts(&a, r->region);
        sb_putc(&a, '/');
        sb_puts(&a, r->service);
        sb_puts(&a, "/aws4_request,SignedHeaders=");
        sb_puts(&a, names);
        sb_puts(&a, ",Signature=");
        sb_puts(&a, out->signature);
        out->authorization = sb_take(&a);

        /* name\0value\0 for each added header, in one allocation. */
        sb s = {0};
        const char *nv[6];
        int k = 0;
        nv[k++] = "X-Amz-Date";
        nv[k++] = r->amz_date;
        if (r->s3) {
            nv[k++] = "X-Amz-Content-Sha256";
            nv[k++] = payload;
        }
        if (c->token[0]) {
            nv[k++] = "X-Amz-Security-Token";
            nv[k++] = c->token;
        }
        size_t offs[6];
        for (int i = 0; i < k; i++) {
            offs[i] = s.n;
            sb_putn(&s, nv[i], strlen(nv[i]) + 1);
        }
        out->added_store = sb_take(&s);
        if (!out->authorization || !out->added_store) {
            rc = TQ_E_NOMEM;
        } else {
            for (int i = 0; i < k; i += 2) {
                out->added[i / 2].name = out->added_store + offs[i];
                out->added[i / 2].value = out->added_store + offs[i + 1];
            }
            out->nadded = k / 2;
            out->url_query = cquery;
            cquery = NULL;
        }
    }
    free(names);
    free(cquery);
    work_free(&w);
    if (rc != TQ_OK)
        host_sigv4_out_free(out);
    return rc;
}

int host_sigv4_presign(const host_sigv4_req *r, const host_aws_creds *c,
                       int expires_s, host_sigv4_out *out)
{
    *out = (host_sigv4_out){0};
    int rc = check_req(r, c);
    if (rc != TQ_OK)
        return rc;
    if (expires_s < 1 || expires_s > 604800)
        return TQ_E_INVALID;
    const char *payload = r->payload_hash
                              ? r->payload_hash
                              : (r->s3 ? HOST_AWS_UNSIGNED_PAYLOAD
                                       : HOST_AWS_EMPTY_SHA256);
    work w = {0};
    char *names = NULL, *cquery = NULL;

    /* SignedHeaders must be known before the query is canonicalised, so
     * build the header list first and render its names here. */
    for (int i = 0; rc == TQ_OK && i < r->nheaders; i++)
        rc = push_header(&w, r->headers[i].name, r->headers[i].value);
    if (rc == TQ_OK)
        rc = push_header(&w, "host", r->host);
    char *block = NULL;
    if (rc == TQ_OK)
        rc = canonical_headers(&w, &block, &names);
    free(block);

    char date8[9], expires[16], *cred = NULL;
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    snprintf(expires, sizeof expires, "%d", expires_s);
    if (rc == TQ_OK) {
        sb cs = {0};
        sb_puts(&cs, c->access_key);
        sb_putc(&cs, '/');
        sb_puts(&cs, date8);
        sb_putc(&cs, '/');
        sb_puts(&cs, r->region);
        sb_putc(&cs, '/');
        sb_puts(&cs, r->service);
        sb_puts(&cs, "/aws4_request");
        cred = sb_take(&cs);
        if (!cred)
            rc = TQ_E_NOMEM;
    }
    for (int i = 0; rc == TQ_OK && i < r->nquery; i++)
        rc = push_query(&w, r->query[i].name, r->query[i].value);
    if (rc == TQ_OK)
        rc = push_query(&w, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    if (rc == TQ_OK)
        rc = push_query(&w, "X-Amz-Credential", cred);
    if (rc == TQ_OK)
        rc = push_query(&w, "X-Amz-Date", r->amz_date);
    if (rc == TQ_OK)
        rc = push_query(&w, "X-Amz-Expires", expires);
    if (rc == TQ_OK)
        rc = push_query(&w, "X-Amz-SignedHeaders", names);
    if (rc == TQ_OK && c->token[0])
        rc = push_query(&w, "X-Amz-Security-Token", c->token);
    free(cred);
    free(names);
    names = NULL;
    if (rc == TQ_OK)
        rc = sign_core(r, c, &w, payload, out, &names, &cquery);
    if (rc == TQ_OK) {
        sb q = {0};
        sb_puts(&q, cquery);
        sb_puts(&q, "&X-Amz-Signature=");
        sb_puts(&q, out->signature);
        out->url_query = sb_take(&q);
        if (!out->url_query)
            rc = TQ_E_NOMEM;
    }
    free(names);
    free(cquery);
    work_free(&w);
    if (rc != TQ_OK)
        host_sigv4_out_free(out);
    return rc;
}

void host_sigv4_out_free(host_sigv4_out *out)
{
    if (!out)
        return;
    free(out->canonical_request);
    free(out->string_to_sign);
    free(out->authorization);
    free(out->url_path);
    free(out->url_query);
    free(out->added_store);
    *out = (host_sigv4_out){0};
}
