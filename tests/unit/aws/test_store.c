/*
 * test_store.c - the host's object store (host/aws/store.c) without a
 * running host: key rules, the fs back end (atomic writes, no temporary
 * files left, reads capped, deletes idempotent, results in the request
 * arena), configuration errors, and the s3 back end's pre-signed URLs
 * (pure computation: no server needed).  The request is a zeroed tq_req
 * with an arena, as host_req_init() makes one.
 */
#include "aws/aws.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

/* The host's logger, for the sources compiled into this test alone. */
void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[log %d] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void req_init(tq_req *r)
{
    memset(r, 0, sizeof *r);
    host_arena_init(&r->arena);
    snprintf(r->request_id, sizeof r->request_id, "test-req");
}

static int count_files(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "find '%s' -type f | wc -l", path);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

static void test_key_rules(void **state)
{
    (void)state;
    const char *ok[] = {"media/g/1.jpg", "a", "a.b-c_d/E9", NULL};
    const char *bad[] = {"", "/abs", "a/", "a//b", "a/../b", "..", "./a",
                         "a b", "a\\b", "ключ", "a?b", NULL, NULL};
    for (int i = 0; ok[i]; i++)
        assert_true(host_store_key_ok(ok[i]));
    for (int i = 0; bad[i] || i == 0; i++)
        assert_false(host_store_key_ok(bad[i]));
    assert_false(host_store_key_ok(NULL));
    char longk[600];
    memset(longk, 'a', sizeof longk - 1);
    longk[sizeof longk - 1] = '\0';
    assert_false(host_store_key_ok(longk));
}

static void test_fs_store(void **state)
{
    (void)state;
    host_config c = {.var_dir = dir};
    char err[512];
    assert_int_equal(host_store_init(&c, err, sizeof err), TQ_OK);
    assert_string_equal(host_store_kind(), "fs");
    tq_req r;
    req_init(&r);
    const char data[] = "\xff\xd8\xff pretend jpeg \0 with a NUL";
    assert_int_equal(host_store_put(&r, "media/g1/x.jpg", data, sizeof data,
                                    "image/jpeg"),
                     TQ_OK);
    /* Overwrite atomically, and no temporary file stays behind. */
    assert_int_equal(host_store_put(&r, "media/g1/x.jpg", data, sizeof data,
                                    "image/jpeg"),
                     TQ_OK);
    char media[300];
    snprintf(media, sizeof media, "%s/media", dir);
    assert_int_equal(count_files(media), 1);
    struct stat sb;
    char file[400];
    snprintf(file, sizeof file, "%s/media/g1/x.jpg", media);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    const void *got;
    size_t len;
    assert_int_equal(host_store_get(&r, "media/g1/x.jpg", 1024, &got, &len),
                     TQ_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, len);
    assert_int_equal(host_store_get(&r, "media/g1/x.jpg", 5, &got, &len),
                     TQ_E_INVALID);
    assert_int_equal(host_store_get(&r, "media/g1/none.jpg", 1024, &got,
                                    &len),
                     TQ_E_NOTFOUND);
    assert_string_equal(host_store_error(&r), "no such object");

    const char *url = "x", *exp = "x";
    assert_int_equal(host_store_url(&r, "media/g1/x.jpg", 60, &url, &exp),
                     TQ_OK);
    assert_null(url); /* fs: the plugin serves the bytes itself */
    assert_null(exp);

    assert_int_equal(host_store_put(&r, "../escape", "x", 1, NULL),
                     TQ_E_INVALID);
    assert_string_equal(host_store_error(&r), "invalid object key");
    assert_int_equal(host_store_delete(&r, "media/g1/x.jpg"), TQ_OK);
    assert_int_equal(host_store_delete(&r, "media/g1/x.jpg"), TQ_OK);
    assert_int_equal(count_files(media), 0);
    /* The error of another request is not ours. */
    tq_req other;
    req_init(&other);
    assert_string_equal(host_store_error(&other), "");
    host_arena_free(&other.arena);
    host_arena_free(&r.arena);
    host_store_shutdown();
}

static void test_config_errors(void **state)
{
    (void)state;
    char err[512];
    host_config c = {.var_dir = dir, .storage_kind = "ftp"};
    assert_int_equal(host_store_init(&c, err, sizeof err), TQ_E_INVALID);
    assert_non_null(strstr(err, "storage.kind"));
    c = (host_config){.storage_kind = "s3"};
    assert_int_equal(host_store_init(&c, err, sizeof err), TQ_E_INVALID);
    assert_non_null(strstr(err, "storage.bucket"));
    c = (host_config){.storage_kind = "s3", .storage_bucket = "b",
                      .storage_endpoint = "127.0.0.1:9000"};
    assert_int_equal(host_store_init(&c, err, sizeof err), TQ_E_INVALID);
    assert_non_null(strstr(err, "storage.endpoint"));
    c = (host_config){.storage_kind = "fs",
                      .storage_dir = "/proc/no/such/place"};
    assert_int_not_equal(host_store_init(&c, err, sizeof err), TQ_OK);
    assert_non_null(strstr(err, "/proc/no/such/place"));
    host_store_shutdown();
}

static void test_s3_store_urls(void **state)
{
    (void)state;
    host_aws_conf ac = {.region = "eu-west-1", .access_key_id = "AKIDTEST",
                        .secret_access_key = "secret"};
    assert_int_equal(host_aws_configure(&ac), TQ_OK);
    char err[512];
    host_config c = {.storage_kind = "s3", .storage_bucket = "tasqly-media",
                     .storage_presign_ttl_s = 600};
    assert_int_equal(host_store_init(&c, err, sizeof err), TQ_OK);
    assert_string_equal(host_store_kind(), "s3");
    tq_req r;
    req_init(&r);
    const char *url, *exp;
    assert_int_equal(host_store_url(&r, "media/g/1.jpg", 0, &url, &exp),
                     TQ_OK);
    /* Virtual-hosted on AWS's regional endpoint, the default lifetime. */
    static const char prefix[] =
        "https://tasqly-media.s3.eu-west-1.amazonaws.com/media/g/1.jpg"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F";
    assert_true(strncmp(url, prefix, sizeof prefix - 1) == 0);
    assert_non_null(strstr(url, "%2Feu-west-1%2Fs3%2Faws4_request&"));
    assert_non_null(strstr(url, "X-Amz-Expires=600&"));
    assert_non_null(exp);
    assert_int_equal(strlen(exp), 20); /* 2026-01-01T00:00:00Z */
    assert_int_equal(host_store_url(&r, "media/g/1.jpg", 900, &url, &exp),
                     TQ_OK);
    assert_non_null(strstr(url, "X-Amz-Expires=900&"));
    host_arena_free(&r.arena);
    host_store_shutdown();
    host_aws_shutdown();
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tq-store-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_fs_store),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_s3_store_urls),
    };
    return cmocka_run_group_tests_name("aws_store", tests, setup, teardown);
}
