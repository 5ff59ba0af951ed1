/*
 * test_media.c - the media plugin over HTTP: the real tasqlyd with the
 * groups, tasks and media plugins, real PostgreSQL, and a real object
 * store: the filesystem ("fs", argv[1]) or s3rver, an S3-compatible server
 * from the npm registry ("s3"; TASQLY_TEST_S3_ENDPOINT from `./tq test`,
 * or one this test starts with tests/s3/start-s3rver.sh).
 *
 * Both stores: upload (EXIF/GPS stripped, hash of the stored bytes),
 * metadata, /content to the same bytes, delete (the object leaves the
 * store through the outbox), who may read (uploader, group members,
 * housemates for avatars; everyone else 404), a deleted group's photos
 * removed with it, 415 on a type mismatch,
 * 413 over the configured size, attaching to task comments and avatars
 * (PATCH /v1/me).  S3 only: a missing bucket and a rejected access key
 * answered as clear 502s; the server stopped mid-test (503, no row for
 * the failed upload, the pending delete retried once it is back) and
 * afterwards every stored object has its row and every row its object.
 *
 * Images are made by ImageMagick with GPS written by exiftool, in a
 * temporary directory removed at the end.
 */
#include "harness.h"

#include <curl/curl.h>
#include <openssl/sha.h>

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool S3;
static tqt_host *H;
static char H_bucket[64]; /* s3: each host its own bucket, so listings
                             compare with that host's rows only */
static char tmp[256];
static char s3_endpoint[256], s3_dir[512];
static pid_t s3_pid; /* the s3rver this test started, 0 when given one */

#define PLUGINS_WITH(media_config)                                         \
    "  - name: groups\n    enabled: true\n"                                \
    "  - name: tasks\n    enabled: true\n"                                 \
    "  - name: media\n    enabled: true\n"                                 \
    "    config:\n" media_config

/* ------------------------------------------------------------ helpers */

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    SHA256(p, n, md);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void expect(const tqt_resp *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: status %ld, want %ld: %s", what, r->status, status,
                 r->body ? r->body : "");
}

static const char *js(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A photo with a GPS position (and the other things phones write). */
static char *gps_jpeg(size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/gps.jpg", tmp);
    if (access(path, R_OK) != 0) {
        run("convert -size 120x90 plasma:fractal -seed 3 '%s'", path);
        run("exiftool -q -overwrite_original -GPSLatitude=48.8584 "
            "-GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E "
            "-Make=TestPhone '%s'",
            path);
    }
    return slurp(path, len);
}

static char *plain_png(size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/plain.png", tmp);
    if (access(path, R_OK) != 0)
        run("convert -size 20x20 xc:teal '%s'", path);
    return slurp(path, len);
}

typedef struct house {
    char *gid;
    tqt_user alice, bob, carol; /* alice owns, bob member, carol outsider */
} house;

static house make_house(tqt_host *h)
{
    house hh;
    hh.alice = tqt_register(h, "Alice");
    hh.bob = tqt_register(h, "Bob");
    hh.carol = tqt_register(h, "Carol");
    tqt_resp r = tqt_req(h, "POST", "/v1/groups", hh.alice.token,
                         "{\"name\":\"Flat %s\"}", tqt_unique());
    expect(&r, 201, "create group");
    hh.gid = strdup(js(r.json, "id"));
    tqt_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/groups/%s/invites", hh.gid);
    r = tqt_req(h, "POST", path, hh.alice.token, "{}");
    expect(&r, 201, "invite");
    snprintf(path, sizeof path, "/v1/invites/%s/accept", js(r.json, "code"));
    tqt_resp_free(&r);
    r = tqt_req(h, "POST", path, hh.bob.token, "{}");
    expect(&r, 200, "accept invite");
    tqt_resp_free(&r);
    return hh;
}

static void house_free(house *hh)
{
    free(hh->gid);
    tqt_user_free(&hh->alice);
    tqt_user_free(&hh->bob);
    tqt_user_free(&hh->carol);
}

static tqt_resp upload(tqt_host *h, const tqt_user *u, const char *purpose,
                       const char *gid, const char *type, const void *data,
                       size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/media?purpose=%s%s%s", purpose,
             gid ? "&group_id=" : "", gid ? gid : "");
    return tqt_req_raw(h, "POST", path, u->token, type, data, len, NULL);
}

/* Upload and return the new id (malloc'd), asserting 201. */
static char *upload_ok(tqt_host *h, const tqt_user *u, const char *purpose,
                       const char *gid)
{
    size_t len;
    char *img = gps_jpeg(&len);
    tqt_resp r = upload(h, u, purpose, gid, "image/jpeg", img, len);
    free(img);
    expect(&r, 201, "upload");
    char *id = strdup(js(r.json, "id"));
    tqt_resp_free(&r);
    return id;
}

static const char *mpath(const char *id, const char *suffix)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "/v1/media/%s%s", id, suffix ? suffix : "");
    return buf[k];
}

/* ------------------------------------------------ plain HTTP (no auth) */

typedef struct fetched {
    long status;
    char *body;
    size_t len;
} fetched;

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
    fetched *f = arg;
    char *b = realloc(f->body, f->len + s * n + 1);
    assert_non_null(b);
    memcpy(b + f->len, p, s * n);
    f->body = b;
    f->len += s * n;
    f->body[f->len] = '\0';
    return s * n;
}

static fetched fetch(const char *url)
{
    fetched f = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f.status);
    curl_easy_cleanup(c);
    return f;
}

/* The bytes /content leads to: the body (fs) or the pre-signed URL's
 * (s3, fetched without our token). */
static fetched content(tqt_host *h, const tqt_user *u, const char *id)
{
    tqt_resp r = tqt_req(h, "GET", mpath(id, "/content"), u->token, NULL);
    fetched f = {0};
    if (S3) {
        expect(&r, 302, "content redirect");
        char *loc = tqt_header(&r, "Location");
        assert_non_null(loc);
        assert_true(strncmp(loc, s3_endpoint, strlen(s3_endpoint)) == 0);
        assert_non_null(strstr(loc, "X-Amz-Signature="));
        assert_non_null(strstr(loc, "X-Amz-Expires=900"));
        f = fetch(loc);
        free(loc);
    } else {
        expect(&r, 200, "content");
        char *ct = tqt_header(&r, "Content-Type");
        assert_non_null(ct);
        assert_string_equal(ct, "image/jpeg");
        free(ct);
        char *nosniff = tqt_header(&r, "X-Content-Type-Options");
        assert_non_null(nosniff);
        free(nosniff);
        f.status = r.status;
        f.len = r.len;
        f.body = malloc(r.len + 1);
        memcpy(f.body, r.body, r.len + 1);
    }
    tqt_resp_free(&r);
    return f;
}

/* Keys in the store: files under var/media (fs) or the bucket's listing
 * (s3), sorted, joined by '\n' (malloc'd). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *store_keys(tqt_host *h, const char *bucket)
{
    char *keys[512];
    int n = 0;
    if (S3) {
        char url[512];
        snprintf(url, sizeof url, "%s/%s?list-type=2&max-keys=1000",
                 s3_endpoint, bucket);
        fetched f = fetch(url);
        if (f.status != 200)
            fail_msg("listing %s: %ld %s", url, f.status,
                     f.body ? f.body : "");
        for (char *p = f.body; (p = strstr(p, "<Key>")) && n < 512;) {
            p += 5;
            char *e = strstr(p, "</Key>");
            assert_non_null(e);
            keys[n++] = strndup(p, (size_t)(e - p));
            p = e;
        }
        free(f.body);
    } else {
        /* paths.var is the manifest's folder; the fs store is var/media. */
        char var[600], cmd[700];
        snprintf(var, sizeof var, "%s", tqt_manifest_path(h));
        *strrchr(var, '/') = '\0';
        snprintf(cmd, sizeof cmd,
                 "cd '%s/media' 2>/dev/null && find . -type f | "
                 "sed 's|^\\./||'",
                 var);
        FILE *p = popen(cmd, "r");
        char line[600];
        while (p && fgets(line, sizeof line, p) && n < 512) {
            line[strcspn(line, "\n")] = '\0';
            keys[n++] = strdup(line);
        }
        if (p)
            pclose(p);
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_str);
    size_t cap = 16;
    for (int i = 0; i < n; i++)
        cap += strlen(keys[i]) + 1;
    char *out = calloc(1, cap);
    for (int i = 0; i < n; i++) {
        strcat(out, keys[i]);
        strcat(out, "\n");
        free(keys[i]);
    }
    return out;
}

/* The rows' keys, the same way. */
static char *row_keys(tqt_host *h)
{
    char *s = tqt_sql(h, "SELECT coalesce(string_agg(store_key || E'\\n', ''"
                         " ORDER BY store_key COLLATE \"C\"), '')"
                         " FROM media.objects");
    return s;
}

static void assert_nothing_dangling(tqt_host *h, const char *bucket)
{
    /* Pending deletions are the outbox's to finish: give them time. */
    char *a = NULL, *b = NULL;
    for (int i = 0; i < 150; i++) {
        free(a);
        free(b);
        a = store_keys(h, bucket);
        b = row_keys(h);
        if (!strcmp(a, b))
            break;
        usleep(200000);
    }
    if (strcmp(a, b) != 0)
        fail_msg("store and rows differ.\nstore:\n%s\nrows:\n%s", a, b);
    free(a);
    free(b);
}

/* ------------------------------------------------------------ manifest */

static char *storage_yaml(const char *bucket, const char *akid)
{
    char *y = malloc(1024);
    if (S3)
        snprintf(y, 1024,
                 "aws:\n"
                 "  region: us-east-1\n"
                 "  access_key_id: %s\n"
                 "  secret_access_key: S3RVER\n"
                 "  connect_timeout_ms: 500\n"
                 "  timeout_ms: 3000\n"
                 "  max_attempts: 2\n"
                 "storage:\n"
                 "  kind: s3\n"
                 "  bucket: %s\n"
                 "  endpoint: %s\n"
                 "  path_style: true\n",
                 akid, bucket, s3_endpoint);
    else
        snprintf(y, 1024, "storage:\n  kind: fs\n");
    return y;
}

/* A new, empty bucket (s3rver takes an unsigned CreateBucket). */
static void new_bucket(char *out, size_t n)
{
    static int k;
    snprintf(out, n, "media-%d-%d", (int)getpid(), ++k);
    if (!S3)
        return;
    char url[512];
    snprintf(url, sizeof url, "%s/%s", s3_endpoint, out);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (status != 200)
        fail_msg("creating bucket %s: status %ld", url, status);
}

static tqt_host *start(const char *name, const char *plugins,
                       const char *bucket, const char *akid)
{
    char *y = storage_yaml(bucket, akid);
    tqt_opts o = {.plugins_yaml = plugins, .extra_yaml = y};
    tqt_host *h = tqt_start(name, &o);
    free(y);
    return h;
}

/* -------------------------------------------------------------- tests */

static void upload_read_content_delete(void **state)
{
    (void)state;
    house hh = make_house(H);
    size_t len;
    char *img = gps_jpeg(&len);
    tqt_resp r = upload(H, &hh.alice, "comment", hh.gid, "image/jpeg", img,
                        len);
    expect(&r, 201, "upload");
    json_t *m = r.json;
    char *id = strdup(js(m, "id"));
    assert_string_equal(js(m, "content_type"), "image/jpeg");
    assert_string_equal(js(m, "purpose"), "comment");
    assert_string_equal(js(m, "group_id"), hh.gid);
    assert_string_equal(js(m, "owner_id"), hh.alice.id);
    json_int_t size = json_integer_value(json_object_get(m, "size"));
    /* Stripped: smaller than what was sent. */
    assert_true(size > 0 && (size_t)size < len);
    char sha[65];
    snprintf(sha, sizeof sha, "%s", js(m, "sha256"));
    assert_int_equal(strlen(sha), 64);
    assert_non_null(js(m, "url"));
    if (S3)
        assert_non_null(js(m, "url_expires_at"));
    else
        assert_true(json_is_null(json_object_get(m, "url_expires_at")));
    tqt_resp_free(&r);

    /* A member reads the metadata and the bytes: the stored bytes are
     * the stripped ones, hashed as stored, with no GPS left. */
    r = tqt_req(H, "GET", mpath(id, NULL), hh.bob.token, NULL);
    expect(&r, 200, "metadata by a member");
    assert_string_equal(js(r.json, "sha256"), sha);
    tqt_resp_free(&r);
    fetched f = content(H, &hh.bob, id);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.len, (size_t)size);
    char got[65];
    sha_hex(f.body, f.len, got);
    assert_string_equal(got, sha);
    char path[512];
    snprintf(path, sizeof path, "%s/downloaded.jpg", tmp);
    spit(path, f.body, f.len);
    free(f.body);
    run("identify -regard-warnings '%s' >/dev/null", path);
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "exiftool -q -s -GPS:all -Make '%s' | grep -q .", path);
    assert_int_not_equal(system(cmd), 0); /* nothing found */

    /* Only the uploader deletes; then it is gone for everyone. */
    r = tqt_req(H, "DELETE", mpath(id, NULL), hh.bob.token, NULL);
    tqt_assert_error(&r, 403, "forbidden");
    tqt_resp_free(&r);
    r = tqt_req(H, "DELETE", mpath(id, NULL), hh.alice.token, NULL);
    expect(&r, 204, "delete");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", mpath(id, NULL), hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", mpath(id, "/content"), hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    assert_nothing_dangling(H, H_bucket);
    free(id);
    free(img);
    house_free(&hh);
}

static void outsiders_get_404(void **state)
{
    (void)state;
    house hh = make_house(H);
    char *id = upload_ok(H, &hh.alice, "maintenance", hh.gid);
    const char *paths[] = {mpath(id, NULL), mpath(id, "/content")};
    for (int i = 0; i < 2; i++) {
        tqt_resp r = tqt_req(H, "GET", paths[i], hh.carol.token, NULL);
        tqt_assert_error(&r, 404, "not_found");
        tqt_resp_free(&r);
    }
    tqt_resp r = tqt_req(H, "DELETE", mpath(id, NULL), hh.carol.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    /* An id that never existed answers the same. */
    r = tqt_req(H, "GET", mpath("00000000-0000-4000-8000-000000000000", NULL),
                hh.carol.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    /* Uploading for a group one is not in: 404 as well. */
    size_t len;
    char *img = plain_png(&len);
    r = upload(H, &hh.carol, "comment", hh.gid, "image/png", img, len);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    /* No token at all. */
    r = tqt_req(H, "GET", mpath(id, NULL), NULL, NULL);
    tqt_assert_error(&r, 401, "unauthorized");
    tqt_resp_free(&r);
    free(img);
    free(id);
    house_free(&hh);
}

static void wrong_types_415_and_bad_requests_400(void **state)
{
    (void)state;
    house hh = make_house(H);
    size_t jl, pl;
    char *jpg = gps_jpeg(&jl), *png = plain_png(&pl);
    struct {
        const char *type;
        const void *data;
        size_t len;
    } bad[] = {
        {"image/png", jpg, jl},           /* JPEG bytes, PNG label */
        {"image/jpeg", png, pl},          /* the other way round */
        {"image/webp", png, pl},
        {"image/gif", png, pl},           /* a type we do not take */
        {"text/plain", "hello", 5},
        {NULL, jpg, jl},                  /* no Content-Type */
        {"image/jpeg", "\xFF\xD8\xFF\xE0garbage", 11}, /* malformed */
        {"image/jpeg", jpg, jl / 2},      /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tqt_resp r = upload(H, &hh.alice, "comment", hh.gid, bad[i].type,
                            bad[i].data, bad[i].len);
        if (r.status != 415)
            fail_msg("case %zu (%s): %ld %s", i,
                     bad[i].type ? bad[i].type : "none", r.status, r.body);
        tqt_assert_error(&r, 415, "unsupported_media_type");
        tqt_resp_free(&r);
    }
    struct {
        const char *purpose, *gid, *field;
    } inval[] = {
        {"selfie", hh.gid, "purpose"},
        {"avatar", hh.gid, "group_id"},
        {"comment", NULL, "group_id"},
        {"comment", "not-a-uuid", "group_id"},
    };
    for (size_t i = 0; i < sizeof inval / sizeof *inval; i++) {
        tqt_resp r = upload(H, &hh.alice, inval[i].purpose, inval[i].gid,
                            "image/png", png, pl);
        tqt_assert_error(&r, 400, "validation_failed");
        json_t *e = json_object_get(r.json, "error");
        assert_string_equal(js(e, "field"), inval[i].field);
        tqt_resp_free(&r);
    }
    tqt_resp r = tqt_req_raw(H, "POST", "/v1/media", hh.alice.token,
                             "image/png", png, pl, NULL);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    r = upload(H, &hh.alice, "comment", hh.gid, "image/png", "", 0);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    /* Nothing of the above was stored. */
    char *n = tqt_sql(H, "SELECT count(*) FROM media.objects WHERE owner_id"
                         " = '%s'", hh.alice.id);
    assert_string_equal(n, "0");
    free(n);
    free(jpg);
    free(png);
    house_free(&hh);
}

static void oversized_413(void **state)
{
    (void)state;
    /* A host whose media limit is 64 KiB. */
    char name[64];
    snprintf(name, sizeof name, "media_limit_%s", S3 ? "s3" : "fs");
    char bucket[64];
    new_bucket(bucket, sizeof bucket);
    tqt_host *h = start(name, PLUGINS_WITH("      max_bytes: 65536\n"),
                        bucket, "S3RVER");
    house hh = make_house(h);
    char path[512];
    snprintf(path, sizeof path, "%s/big.png", tmp);
    run("convert -size 300x300 xc: +noise Random '%s'", path);
    size_t len;
    char *png = slurp(path, &len);
    assert_true(len > 65536);
    tqt_resp r = upload(h, &hh.alice, "comment", hh.gid, "image/png", png,
                        len);
    expect(&r, 413, "oversized upload");
    tqt_resp_free(&r);
    /* Just under the limit is fine. */
    size_t sl;
    char *small = plain_png(&sl);
    r = upload(h, &hh.alice, "comment", hh.gid, "image/png", small, sl);
    expect(&r, 201, "small upload");
    tqt_resp_free(&r);
    char *n = tqt_sql(h, "SELECT count(*) FROM media.objects WHERE owner_id"
                         " = '%s'", hh.alice.id);
    assert_string_equal(n, "1");
    free(n);
    free(small);
    free(png);
    house_free(&hh);
    assert_int_equal(tqt_stop(h), 0);
}

static void avatars_and_attachments(void **state)
{
    (void)state;
    house hh = make_house(H);
    char *avatar = upload_ok(H, &hh.alice, "avatar", NULL);
    /* Housemates see each other's avatars; strangers do not. */
    tqt_resp r = tqt_req(H, "GET", mpath(avatar, NULL), hh.bob.token, NULL);
    expect(&r, 200, "housemate reads avatar");
    assert_true(json_is_null(json_object_get(r.json, "group_id")));
    tqt_resp_free(&r);
    r = tqt_req(H, "GET", mpath(avatar, NULL), hh.carol.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);

    /* PATCH /v1/me takes only the caller's own avatar uploads. */
    char *bob_avatar = upload_ok(H, &hh.bob, "avatar", NULL);
    char *photo = upload_ok(H, &hh.alice, "comment", hh.gid);
    r = tqt_req(H, "PATCH", "/v1/me", hh.alice.token,
                "{\"avatar_media_id\":\"%s\"}", avatar);
    expect(&r, 200, "set own avatar");
    assert_string_equal(js(r.json, "avatar_media_id"), avatar);
    tqt_resp_free(&r);
    const char *refused[] = {bob_avatar, photo,
                             "00000000-0000-4000-8000-000000000000"};
    for (int i = 0; i < 3; i++) {
        r = tqt_req(H, "PATCH", "/v1/me", hh.alice.token,
                    "{\"avatar_media_id\":\"%s\"}", refused[i]);
        tqt_assert_error(&r, 400, "validation_failed");
        assert_string_equal(js(json_object_get(r.json, "error"), "field"),
                            "avatar_media_id");
        tqt_resp_free(&r);
    }

    /* Task comments attach the author's own photos of that group. */
    char path[256];
    snprintf(path, sizeof path, "/v1/groups/%s/tasks", hh.gid);
    r = tqt_req(H, "POST", path, hh.alice.token, "{\"title\":\"Fix tap\"}");
    expect(&r, 201, "task");
    snprintf(path, sizeof path, "/v1/groups/%s/tasks/%s/comments", hh.gid,
             js(r.json, "id"));
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", path, hh.alice.token,
                "{\"body\":\"see photo\",\"media_ids\":[\"%s\"]}", photo);
    expect(&r, 201, "comment with own photo");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", path, hh.bob.token,
                "{\"body\":\"mine now\",\"media_ids\":[\"%s\"]}", photo);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", path, hh.alice.token,
                "{\"body\":\"avatar?\",\"media_ids\":[\"%s\"]}", avatar);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    r = tqt_req(H, "POST", path, hh.alice.token,
                "{\"body\":\"twice\",\"media_ids\":[\"%s\",\"%s\"]}", photo,
                photo);
    tqt_assert_error(&r, 400, "validation_failed");
    tqt_resp_free(&r);
    free(avatar);
    free(bob_avatar);
    free(photo);
    house_free(&hh);
}

static void group_deletion_removes_its_photos(void **state)
{
    (void)state;
    house hh = make_house(H);
    char *p1 = upload_ok(H, &hh.alice, "comment", hh.gid);
    char *p2 = upload_ok(H, &hh.bob, "maintenance", hh.gid);
    char *avatar = upload_ok(H, &hh.alice, "avatar", NULL);
    char path[256];
    snprintf(path, sizeof path, "/v1/groups/%s", hh.gid);
    tqt_resp r = tqt_req(H, "DELETE", path, hh.alice.token, NULL);
    expect(&r, 204, "delete group");
    tqt_resp_free(&r);
    /* The rows go from the outbox; then the objects, from theirs. */
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        char *n = tqt_sql(H, "SELECT count(*) FROM media.objects WHERE"
                             " group_id = '%s'", hh.gid);
        gone = !strcmp(n, "0");
        free(n);
        if (!gone)
            usleep(100000);
    }
    assert_true(gone);
    r = tqt_req(H, "GET", mpath(p1, NULL), hh.alice.token, NULL);
    tqt_assert_error(&r, 404, "not_found");
    tqt_resp_free(&r);
    /* The avatar belongs to no group and stays. */
    r = tqt_req(H, "GET", mpath(avatar, NULL), hh.alice.token, NULL);
    expect(&r, 200, "avatar survives the group");
    tqt_resp_free(&r);
    assert_nothing_dangling(H, H_bucket);
    free(p1);
    free(p2);
    free(avatar);
    house_free(&hh);
}

/* ------------------------------------------------------------ S3 only */

static void s3_errors_are_clear_502s(void **state)
{
    (void)state;
    size_t len;
    char *img = plain_png(&len);
    struct {
        const char *name, *bucket, *akid, *code;
    } cases[] = {
        {"media_s3_nobucket", "no-such-bucket", "S3RVER", "NoSuchBucket"},
        {"media_s3_denied", NULL, "AKIAWRONGKEY", "InvalidAccessKeyId"},
    };
    for (size_t i = 0; i < 2; i++) {
        char bucket[64];
        if (cases[i].bucket)
            snprintf(bucket, sizeof bucket, "%s", cases[i].bucket);
        else
            new_bucket(bucket, sizeof bucket);
        tqt_host *h = start(cases[i].name, PLUGINS_WITH("      url_ttl: 900\n"),
                            bucket, cases[i].akid);
        house hh = make_house(h);
        tqt_resp r = upload(h, &hh.alice, "comment", hh.gid, "image/png", img,
                            len);
        tqt_assert_error(&r, 502, "upstream_failed");
        const char *msg = js(json_object_get(r.json, "error"), "message");
        if (!msg || !strstr(msg, cases[i].code))
            fail_msg("%s: message does not name %s: %s", cases[i].name,
                     cases[i].code, r.body);
        tqt_resp_free(&r);
        /* The log names bucket and endpoint for the operator. */
        size_t ll;
        char *log = slurp(tqt_log_path(h), &ll);
        assert_non_null(strstr(log, cases[i].code));
        assert_non_null(strstr(log, bucket));
        free(log);
        char *n = tqt_sql(h, "SELECT count(*) FROM media.objects");
        assert_string_equal(n, "0");
        free(n);
        house_free(&hh);
        assert_int_equal(tqt_stop(h), 0);
    }
    free(img);
}

static void start_s3rver(const char *port)
{
    const char *src = getenv("TASQLY_SOURCE_ROOT");
    assert_non_null(src);
    char cmd[1400], out[1024] = "";
    snprintf(cmd, sizeof cmd, "%sS3RVER_PORT=%s '%s/tests/s3/start-s3rver.sh' '%s'",
             "", port ? port : "0", src, s3_dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    char *e = strstr(out, "TASQLY_TEST_S3_ENDPOINT=");
    char *pid = strstr(out, "S3RVER_PID=");
    assert_non_null(e);
    assert_non_null(pid);
    snprintf(s3_endpoint, sizeof s3_endpoint, "%.*s",
             (int)strcspn(e + 24, "\n"), e + 24);
    s3_pid = (pid_t)atoi(pid + 11);
}

static void stop_s3rver(void)
{
    if (s3_pid > 0) {
        kill(s3_pid, SIGTERM);
        for (int i = 0; i < 100 && kill(s3_pid, 0) == 0; i++)
            usleep(50000);
        s3_pid = 0;
    }
}

static void s3_server_stopped_mid_test(void **state)
{
    (void)state;
    /* A server of our own: stopping the shared one would fail others. */
    char saved[256];
    snprintf(saved, sizeof saved, "%s", s3_endpoint);
    pid_t shared = s3_pid;
    s3_pid = 0;
    snprintf(s3_dir, sizeof s3_dir, "%s/s3-own", tmp);
    start_s3rver(NULL);
    const char *port = strrchr(s3_endpoint, ':') + 1;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%s", port);

    char bucket[64];
    new_bucket(bucket, sizeof bucket);
    tqt_host *h = start("media_s3_stop", PLUGINS_WITH("      url_ttl: 900\n"),
                        bucket, "S3RVER");
    house hh = make_house(h);
    char *keep = upload_ok(h, &hh.alice, "comment", hh.gid);
    char *doomed = upload_ok(h, &hh.alice, "comment", hh.gid);

    stop_s3rver();
    /* Upload: the store cannot be reached -> 503, and no row. */
    size_t len;
    char *img = plain_png(&len);
    tqt_resp r = upload(h, &hh.alice, "comment", hh.gid, "image/png", img,
                        len);
    tqt_assert_error(&r, 503, "unavailable");
    tqt_resp_free(&r);
    char *n = tqt_sql(h, "SELECT count(*) FROM media.objects");
    assert_string_equal(n, "2");
    free(n);
    /* Delete: the row goes now, the object when the store is back. */
    r = tqt_req(h, "DELETE", mpath(doomed, NULL), hh.alice.token, NULL);
    expect(&r, 204, "delete while the store is down");
    tqt_resp_free(&r);
    /* Metadata with s3 down still signs URLs (no network needed). */
    r = tqt_req(h, "GET", mpath(keep, NULL), hh.bob.token, NULL);
    expect(&r, 200, "metadata while the store is down");
    tqt_resp_free(&r);
    /* The outbox has tried and failed at least once. */
    for (int i = 0; i < 100; i++) {
        char *f = tqt_sql(h, "SELECT count(*) FROM tasqly.deliveries d"
                             " JOIN tasqly.events e ON e.id = d.event_id"
                             " WHERE e.type = 'media.deleted'"
                             " AND d.attempts > 0 AND d.state = 'pending'");
        bool tried = strcmp(f, "0") != 0;
        free(f);
        if (tried)
            break;
        usleep(100000);
    }

    start_s3rver(port_s);
    assert_nothing_dangling(h, bucket);
    char *keys = store_keys(h, bucket);
    char *row = tqt_sql(h, "SELECT store_key FROM media.objects WHERE id ="
                           " '%s'", keep);
    assert_non_null(strstr(keys, row));
    free(row);
    free(keys);
    fetched f = content(h, &hh.bob, keep);
    assert_int_equal(f.status, 200);
    free(f.body);
    free(img);
    free(keep);
    free(doomed);
    house_free(&hh);
    assert_int_equal(tqt_stop(h), 0);
    stop_s3rver();
    snprintf(s3_endpoint, sizeof s3_endpoint, "%s", saved);
    s3_pid = shared;
}

/* -------------------------------------------------------------- main */

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/tq-media-test.XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (S3) {
        const char *e = getenv("TASQLY_TEST_S3_ENDPOINT");
        if (e && *e) {
            snprintf(s3_endpoint, sizeof s3_endpoint, "%s", e);
        } else {
            snprintf(s3_dir, sizeof s3_dir, "%s/s3", tmp);
            start_s3rver(NULL);
        }
    }
    new_bucket(H_bucket, sizeof H_bucket);
    H = start(S3 ? "media_s3" : "media_fs",
              PLUGINS_WITH("      url_ttl: 900\n"), H_bucket, "S3RVER");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = H ? tqt_stop(H) : 0;
    stop_s3rver();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        rc = -1;
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    S3 = argc > 1 && !strcmp(argv[1], "s3");
    const struct CMUnitTest common[] = {
        cmocka_unit_test(upload_read_content_delete),
        cmocka_unit_test(outsiders_get_404),
        cmocka_unit_test(wrong_types_415_and_bad_requests_400),
        cmocka_unit_test(oversized_413),
        cmocka_unit_test(avatars_and_attachments),
        cmocka_unit_test(group_deletion_removes_its_photos),
    };
    const struct CMUnitTest s3_only[] = {
        cmocka_unit_test(upload_read_content_delete),
        cmocka_unit_test(outsiders_get_404),
        cmocka_unit_test(wrong_types_415_and_bad_requests_400),
        cmocka_unit_test(oversized_413),
        cmocka_unit_test(avatars_and_attachments),
        cmocka_unit_test(group_deletion_removes_its_photos),
        cmocka_unit_test(s3_errors_are_clear_502s),
        cmocka_unit_test(s3_server_stopped_mid_test),
    };
    if (S3)
        return cmocka_run_group_tests_name("media_s3", s3_only, setup,
                                           teardown);
    return cmocka_run_group_tests_name("media_fs", common, setup, teardown);
}
