/*
 * s3.c - the four S3 object calls the host needs (put, get, delete,
 * pre-signed GET), path-style or virtual-hosted, against AWS or any
 * S3-compatible endpoint.
 *
 * Keys are raw; the signer encodes them.  Returned buffers (*data, *url)
 * are malloc'd for the caller.  Errors follow host_aws_send(), except that
 * a missing bucket is a configuration error (TQ_E_IO), not a missing key.
 */
#include "aws/aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct target {
    char endpoint[512];
    char host[320];  /* Host header: bucket.authority when virtual-hosted */
    char path[1200]; /* raw: /bucket/key or /key */
    const char *region;
} target;

static int resolve(const host_s3_conf *s, const char *key, target *t,
                   host_aws_err *e)
{
    *e = (host_aws_err){0};
    t->region = s->region && *s->region ? s->region : host_aws_region();
    if (!s->bucket || !*s->bucket) {
        snprintf(e->msg, sizeof e->msg,
                 "S3: no bucket configured: set storage.bucket in the "
                 "manifest");
        return TQ_E_INVALID;
    }
    if (!key || !*key || strlen(key) > 1024) {
        snprintf(e->msg, sizeof e->msg,
                 "S3: object key \"%s\" is empty or longer than 1024 bytes",
                 key ? key : "");
        return TQ_E_INVALID;
    }
    if (s->endpoint && *s->endpoint)
        snprintf(t->endpoint, sizeof t->endpoint, "%s", s->endpoint);
    else
        snprintf(t->endpoint, sizeof t->endpoint,
                 "https://s3.%s.amazonaws.com", t->region);
    char scheme[8], authority[256];
    if (host_aws_parse_endpoint(t->endpoint, scheme, sizeof scheme,
                                authority, sizeof authority) != TQ_OK) {
        snprintf(e->msg, sizeof e->msg,
                 "S3: storage.endpoint \"%s\" is not a URL like "
                 "http://127.0.0.1:4569 (scheme, host, optional port, no "
                 "path)",
                 t->endpoint);
        return TQ_E_INVALID;
    }
    if (s->path_style) {
        snprintf(t->host, sizeof t->host, "%s", authority);
        snprintf(t->path, sizeof t->path, "/%s/%s", s->bucket, key);
    } else {
        snprintf(t->host, sizeof t->host, "%s.%s", s->bucket, authority);
        snprintf(t->path, sizeof t->path, "/%s", key);
    }
    return TQ_OK;
}

/* A missing bucket is the operator's problem, whatever the call. */
static int bucket_check(int rc, const host_aws_resp *r, const host_s3_conf *s,
                        host_aws_err *e)
{
    e->status = r->status;
    snprintf(e->code, sizeof e->code, "%s", r->error_code ? r->error_code : "");
    if (r->error_code && !strcmp(r->error_code, "NoSuchBucket")) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n,
                 " (bucket \"%s\" does not exist: create it, or fix "
                 "storage.bucket)",
                 s->bucket);
        return TQ_E_IO;
    }
    return rc;
}

int host_s3_put(const host_s3_conf *s, const char *key, const void *data,
                size_t len, const char *content_type, host_aws_err *e)
{
    target t;
    int rc = resolve(s, key, &t, e);
    if (rc != TQ_OK)
        return rc;
    char what[1200];
    snprintf(what, sizeof what, "S3 PutObject %s/%s", s->bucket, key);
    host_kv h[] = {{"Content-Type", content_type}};
    host_aws_call c = {
        .service = "s3", .region = t.region, .method = "PUT",
        .endpoint = t.endpoint, .host = t.host, .path = t.path,
        .headers = h, .nheaders = content_type ? 1 : 0, .body = data,
        .body_len = len, .max_response = 65536, .what = what};
    host_aws_resp r;
    rc = host_aws_send(&c, &r, e->msg, sizeof e->msg);
    if (rc == TQ_E_NOTFOUND)
        rc = TQ_E_IO;
    rc = bucket_check(rc, &r, s, e);
    host_aws_resp_free(&r);
    return rc;
}

int host_s3_get(const host_s3_conf *s, const char *key, size_t max,
                void **data, size_t *len, host_aws_err *e)
{
    *data = NULL;
    *len = 0;
    target t;
    int rc = resolve(s, key, &t, e);
    if (rc != TQ_OK)
        return rc;
    char what[1200];
    snprintf(what, sizeof what, "S3 GetObject %s/%s", s->bucket, key);
    host_aws_call c = {
        .service = "s3", .region = t.region, .method = "GET",
        .endpoint = t.endpoint, .host = t.host, .path = t.path,
        .max_response = max, .what = what};
    host_aws_resp r;
    rc = host_aws_send(&c, &r, e->msg, sizeof e->msg);
    rc = bucket_check(rc, &r, s, e);
    if (rc == TQ_OK) {
        *data = r.body;
        *len = r.len;
        r.body = NULL;
    }
    host_aws_resp_free(&r);
    return rc;
}

int host_s3_delete(const host_s3_conf *s, const char *key, host_aws_err *e)
{
    target t;
    int rc = resolve(s, key, &t, e);
    if (rc != TQ_OK)
        return rc;
    char what[1200];
    snprintf(what, sizeof what, "S3 DeleteObject %s/%s", s->bucket, key);
    host_aws_call c = {
        .service = "s3", .region = t.region, .method = "DELETE",
        .endpoint = t.endpoint, .host = t.host, .path = t.path,
        .max_response = 65536, .what = what};
    host_aws_resp r;
    rc = host_aws_send(&c, &r, e->msg, sizeof e->msg);
    rc = bucket_check(rc, &r, s, e);
    if (rc == TQ_E_NOTFOUND) /* already gone: what delete wanted */
        rc = TQ_OK;
    host_aws_resp_free(&r);
    return rc;
}

int host_s3_presign_get(const host_s3_conf *s, const char *key, int ttl_s,
                        time_t now, char **url, host_aws_err *e)
{
    *url = NULL;
    target t;
    int rc = resolve(s, key, &t, e);
    if (rc != TQ_OK)
        return rc;
    host_aws_creds c;
    if ((rc = host_aws_credentials(&c, e->msg, sizeof e->msg)) != TQ_OK)
        return rc == TQ_E_NOTFOUND ? TQ_E_IO : rc;
    /* A URL must not outlive the credentials that signed it. */
    if (c.expires && now + ttl_s > c.expires)
        ttl_s = (int)(c.expires - now) > 1 ? (int)(c.expires - now) : 1;
    char date[17];
    host_aws_amz_date(now, date);
    host_sigv4_req r = {.method = "GET", .host = t.host, .path = t.path,
                        .region = t.region, .service = "s3",
                        .amz_date = date, .s3 = true};
    host_sigv4_out o;
    rc = host_sigv4_presign(&r, &c, ttl_s, &o);
    host_aws_creds_wipe(&c);
    if (rc != TQ_OK) {
        snprintf(e->msg, sizeof e->msg,
                 "S3: cannot pre-sign GET %s/%s for %d s (region \"%s\")",
                 s->bucket, key, ttl_s, t.region);
        return rc;
    }
    const char *scheme = strncmp(t.endpoint, "https:", 6) ? "http" : "https";
    size_t n = strlen(scheme) + strlen(t.host) + strlen(o.url_path) +
               strlen(o.url_query) + 8;
    *url = malloc(n);
    if (*url)
        snprintf(*url, n, "%s://%s%s?%s", scheme, t.host, o.url_path,
                 o.url_query);
    host_sigv4_out_free(&o);
    return *url ? TQ_OK : TQ_E_NOMEM;
}
