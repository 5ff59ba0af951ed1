/*
 * store.c - the object store plugins reach through tq_store_*(): one small
 * interface, two back ends chosen by the manifest's storage.kind.
 *
 *   fs  (the embedded default) files under storage.dir (<paths.var>/media),
 *       written to a temporary file, fsync'd, renamed into place, so a
 *       reader never sees half an object and a crash leaves no torn one.
 *   s3  a private bucket through host/aws/s3.c; store_url() pre-signs a
 *       GET valid storage.presign_ttl seconds.
 *
 * It lives in host/aws/ because the host's module folders are fixed; it is
 * the host's, not AWS's.  The store owns nothing per request except what
 * it allocates from the request's arena (data, URLs, error text).  Module
 * state (the chosen back end and its settings) is set once by
 * host_store_init() and read-only afterwards.
 */
#include "aws/aws.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
    enum { STORE_NONE, STORE_FS, STORE_S3 } kind;
    char *dir;            /* fs */
    char *bucket, *region, *endpoint; /* s3 */
    bool path_style;
    int presign_ttl_s;
} st;

/* The last failure on this thread, for tq_store_error(): a worker runs
 * one request at a time, and the request pointer guards against reading
 * another request's message. */
static _Thread_local struct {
    const tq_req *req;
    char msg[320];
} last;

static void set_error(tq_req *req, int rc, const char *public_msg,
                      const char *log_msg)
{
    last.req = req;
    snprintf(last.msg, sizeof last.msg, "%s", public_msg);
    host_log(rc == TQ_E_NOTFOUND ? TQ_LOG_DEBUG : TQ_LOG_ERROR,
             "store: %s%s%s", log_msg,
             req && req->request_id[0] ? " request_id=" : "",
             req && req->request_id[0] ? req->request_id : "");
}

const char *host_store_error(tq_req *req)
{
    return last.req == req ? last.msg : "";
}

const char *host_store_kind(void)
{
    return st.kind == STORE_S3 ? "s3" : st.kind == STORE_FS ? "fs" : "none";
}

/* Keys are relative paths of [A-Za-z0-9._-] segments: no "..", no empty
 * segment, no leading '/', so an fs key can never leave the store's
 * directory and an S3 key never needs a second thought. */
bool host_store_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 512 || key[0] == '/' || key[n - 1] == '/')
        return false;
    const char *seg = key;
    for (size_t i = 0; i <= n; i++) {
        char c = key[i];
        if (c == '/' || c == '\0') {
            size_t l = (size_t)(key + i - seg);
            if (l == 0 || (l == 1 && seg[0] == '.') ||
                (l == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            seg = key + i + 1;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int bad_key(tq_req *req, const char *key)
{
    char m[640];
    snprintf(m, sizeof m,
             "key \"%.512s\" is not a relative path of [A-Za-z0-9._-] "
             "segments",
             key ? key : "(null)");
    set_error(req, TQ_E_INVALID, "invalid object key", m);
    return TQ_E_INVALID;
}

/* ------------------------------------------------------------------ fs */

static int mkdirs(char *path) /* path is modified and restored */
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int fs_path(const char *key, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", st.dir, key);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int fs_put(tq_req *req, const char *key, const void *data, size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32], m[PATH_MAX + 128];
    if (fs_path(key, path, sizeof path) != 0)
        return bad_key(req, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    int r = mkdirs(path);
    *slash = '/';
    if (r != 0) {
        snprintf(m, sizeof m, "cannot create directories for %s: %s", path,
                 strerror(errno));
        set_error(req, TQ_E_IO, "the media store cannot write", m);
        return TQ_E_IO;
    }
    uint32_t rnd = arc4random();
    snprintf(tmp, sizeof tmp, "%s.tmp.%08x", path, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(m, sizeof m, "cannot create %s: %s", tmp, strerror(errno));
        set_error(req, TQ_E_IO, "the media store cannot write", m);
        return TQ_E_IO;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    int saved = errno;
    bool ok = left == 0 && fsync(fd) == 0;
    if (!ok && left == 0)
        saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        snprintf(m, sizeof m, "cannot write %s (%zu bytes): %s", path, len,
                 strerror(saved));
        set_error(req, TQ_E_IO, "the media store cannot write", m);
        return TQ_E_IO;
    }
    /* The rename is durable only once the directory is. */
    *slash = '\0';
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TQ_OK;
}

static int fs_get(tq_req *req, const char *key, size_t max, const void **data,
                  size_t *len)
{
    char path[PATH_MAX], m[PATH_MAX + 128];
    if (fs_path(key, path, sizeof path) != 0)
        return bad_key(req, key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = errno == ENOENT ? TQ_E_NOTFOUND : TQ_E_IO;
        snprintf(m, sizeof m, "cannot open %s: %s", path, strerror(errno));
        set_error(req, rc,
                  rc == TQ_E_NOTFOUND ? "no such object"
                                      : "the media store cannot read",
                  m);
        return rc;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (size_t)sb.st_size > max) {
        snprintf(m, sizeof m, "%s is larger than %zu bytes, or unreadable",
                 path, max);
        set_error(req, TQ_E_INVALID, "the object is too large", m);
        close(fd);
        return TQ_E_INVALID;
    }
    size_t n = (size_t)sb.st_size;
    char *buf = host_arena_alloc(&req->arena, n + 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        snprintf(m, sizeof m, "short read of %s: %zu of %zu bytes", path,
                 got, n);
        set_error(req, TQ_E_IO, "the media store cannot read", m);
        return TQ_E_IO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TQ_OK;
}

static int fs_delete(tq_req *req, const char *key)
{
    char path[PATH_MAX], m[PATH_MAX + 128];
    if (fs_path(key, path, sizeof path) != 0)
        return bad_key(req, key);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(m, sizeof m, "cannot delete %s: %s", path, strerror(errno));
        set_error(req, TQ_E_IO, "the media store cannot delete", m);
        return TQ_E_IO;
    }
    return TQ_OK;
}

/* ------------------------------------------------------------------ s3 */

static host_s3_conf s3_conf(void)
{
    return (host_s3_conf){.bucket = st.bucket, .region = st.region,
                          .endpoint = st.endpoint,
                          .path_style = st.path_style};
}

static void s3_error(tq_req *req, int rc, const host_aws_err *e)
{
    char pub[256];
    if (rc == TQ_E_UNAVAILABLE && e->status == 0)
        snprintf(pub, sizeof pub, "the object store cannot be reached");
    else if (e->status)
        snprintf(pub, sizeof pub, "the object store answered %ld %s",
                 e->status, e->code[0] ? e->code : "(no error code)");
    else
        snprintf(pub, sizeof pub, "the object store failed");
    set_error(req, rc, pub, e->msg);
}

/* ---------------------------------------------------------- the slots */

int host_store_put(tq_req *req, const char *key, const void *data, size_t len,
                   const char *content_type)
{
    if (!host_store_key_ok(key))
        return bad_key(req, key);
    if (st.kind == STORE_FS)
        return fs_put(req, key, data, len);
    if (st.kind != STORE_S3) {
        set_error(req, TQ_E_STATE, "no object store is configured",
                  "put before host_store_init()");
        return TQ_E_STATE;
    }
    host_s3_conf c = s3_conf();
    host_aws_err e;
    int rc = host_s3_put(&c, key, data, len, content_type, &e);
    if (rc != TQ_OK)
        s3_error(req, rc, &e);
    return rc;
}

int host_store_get(tq_req *req, const char *key, size_t max,
                   const void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!host_store_key_ok(key))
        return bad_key(req, key);
    if (st.kind == STORE_FS)
        return fs_get(req, key, max, data, len);
    if (st.kind != STORE_S3) {
        set_error(req, TQ_E_STATE, "no object store is configured",
                  "get before host_store_init()");
        return TQ_E_STATE;
    }
    host_s3_conf c = s3_conf();
    host_aws_err e;
    void *buf = NULL;
    size_t n = 0;
    int rc = host_s3_get(&c, key, max, &buf, &n, &e);
    if (rc != TQ_OK) {
        s3_error(req, rc, &e);
        return rc;
    }
    char *copy = host_arena_alloc(&req->arena, n + 1);
    memcpy(copy, buf, n);
    copy[n] = '\0';
    free(buf);
    *data = copy;
    *len = n;
    return TQ_OK;
}

int host_store_delete(tq_req *req, const char *key)
{
    if (!host_store_key_ok(key))
        return bad_key(req, key);
    if (st.kind == STORE_FS)
        return fs_delete(req, key);
    if (st.kind != STORE_S3) {
        set_error(req, TQ_E_STATE, "no object store is configured",
                  "delete before host_store_init()");
        return TQ_E_STATE;
    }
    host_s3_conf c = s3_conf();
    host_aws_err e;
    int rc = host_s3_delete(&c, key, &e);
    if (rc != TQ_OK)
        s3_error(req, rc, &e);
    return rc;
}

int host_store_url(tq_req *req, const char *key, int ttl_s, const char **url,
                   const char **expires_at)
{
    *url = NULL;
    if (expires_at)
        *expires_at = NULL;
    if (!host_store_key_ok(key))
        return bad_key(req, key);
    if (st.kind != STORE_S3)
        return TQ_OK; /* fs: no direct URL, the plugin serves the bytes */
    if (ttl_s <= 0)
        ttl_s = st.presign_ttl_s;
    if (ttl_s > 604800)
        ttl_s = 604800;
    host_s3_conf c = s3_conf();
    host_aws_err e = {0};
    time_t now = time(NULL);
    char *u = NULL;
    int rc = host_s3_presign_get(&c, key, ttl_s, now, &u, &e);
    if (rc != TQ_OK) {
        s3_error(req, rc, &e);
        return rc;
    }
    *url = host_arena_strdup(&req->arena, u);
    free(u);
    if (expires_at) {
        /* The URL's own X-Amz-Expires may be shorter (credentials that
         * expire sooner); report what it says. */
        const char *x = strstr(*url, "X-Amz-Expires=");
        long secs = x ? strtol(x + 14, NULL, 10) : ttl_s;
        time_t t = now + secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        char *buf = host_arena_alloc(&req->arena, 32);
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
        *expires_at = buf;
    }
    return TQ_OK;
}

/* --------------------------------------------------------------- setup */

void host_store_shutdown(void)
{
    free(st.dir);
    free(st.bucket);
    free(st.region);
    free(st.endpoint);
    memset(&st, 0, sizeof st);
}

int host_store_init(const host_config *c, char *err, size_t errlen)
{
    host_store_shutdown();
    const char *kind = c->storage_kind ? c->storage_kind : "fs";
    st.presign_ttl_s = c->storage_presign_ttl_s > 0
                           ? c->storage_presign_ttl_s
                           : 900;
    if (!strcmp(kind, "fs")) {
        char d[PATH_MAX];
        if (c->storage_dir)
            snprintf(d, sizeof d, "%s", c->storage_dir);
        else
            snprintf(d, sizeof d, "%s/media",
                     c->var_dir ? c->var_dir : "var");
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
            d[--n] = '\0';
        if (mkdirs(d) != 0) {
            snprintf(err, errlen,
                     "storage.dir: cannot create %s: %s (set storage.dir "
                     "to a writable directory)",
                     d, strerror(errno));
            return TQ_E_IO;
        }
        st.dir = strdup(d);
        st.kind = STORE_FS;
        return st.dir ? TQ_OK : TQ_E_NOMEM;
    }
    if (strcmp(kind, "s3") != 0) {
        snprintf(err, errlen, "storage.kind: expected fs or s3, got \"%s\"",
                 kind);
        return TQ_E_INVALID;
    }
    if (!c->storage_bucket || !*c->storage_bucket) {
        snprintf(err, errlen,
                 "storage.bucket: required when storage.kind is s3 (the "
                 "private bucket that holds media)");
        return TQ_E_INVALID;
    }
    if (c->storage_endpoint) {
        char scheme[8], host[256];
        if (host_aws_parse_endpoint(c->storage_endpoint, scheme,
                                    sizeof scheme, host,
                                    sizeof host) != TQ_OK) {
            snprintf(err, errlen,
                     "storage.endpoint: expected a URL like "
                     "http://127.0.0.1:4569 or "
                     "https://s3.eu-west-1.amazonaws.com (no path), got "
                     "\"%s\"",
                     c->storage_endpoint);
            return TQ_E_INVALID;
        }
    }
    st.bucket = strdup(c->storage_bucket);
    st.region = c->storage_region ? strdup(c->storage_region) : NULL;
    st.endpoint = c->storage_endpoint ? strdup(c->storage_endpoint) : NULL;
    st.path_style = c->storage_path_style;
    st.kind = STORE_S3;
    if (!st.bucket || (c->storage_region && !st.region) ||
        (c->storage_endpoint && !st.endpoint)) {
        host_store_shutdown();
        return TQ_E_NOMEM;
    }
    return TQ_OK;
}
