/*
 * test_aws_client.c - the AWS client over the network: S3 calls against
 * s3rver (started here with tests/s3/start-s3rver.sh), and against
 * aws_standin.py the parts no real stand-in exists for: EC2 instance
 * metadata (IMDSv2: token first, caching, refresh, single-flight under
 * concurrency, the hop-limit failure) and Secrets Manager (whose stand-in
 * re-checks our signatures with botocore).  Also retries on 5xx,
 * timeouts, unreachable endpoints, error bodies and endpoint parsing.
 *
 * Both servers are children of this test, stopped at the end; files live
 * in a temporary directory removed at the end.
 */
#include "aws/aws.h"

#include <curl/curl.h>

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char tmp[256];
static char s3[128];      /* http://127.0.0.1:PORT of s3rver */
static pid_t s3_pid;
static char standin[128]; /* http://127.0.0.1:PORT of aws_standin.py */
static pid_t standin_pid;

static const char BUCKET[] = "tasqly-test";

/* The host's logger, for the AWS sources compiled into this test alone:
 * lines go to stderr and the last one is kept for assertions. */
static char last_log[2048];
void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[log %d] %s\n", level, last_log);
}

/* ------------------------------------------------------------ helpers */

typedef struct got {
    long status;
    char *body;
    size_t len;
} got;

static size_t on_data(char *p, size_t s, size_t n, void *arg)
{
    got *g = arg;
    char *b = realloc(g->body, g->len + s * n + 1);
    assert_non_null(b);
    memcpy(b + g->len, p, s * n);
    g->body = b;
    g->len += s * n;
    b[g->len] = '\0';
    return s * n;
}

static got http_get(const char *url)
{
    got g = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.status);
    curl_easy_cleanup(c);
    if (!g.body)
        g.body = strdup("");
    return g;
}

static void standin_control(const char *query)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_control?%s", standin, query);
    got g = http_get(url);
    assert_int_equal(g.status, 200);
    free(g.body);
}

static long standin_stat(const char *name)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_stats", standin);
    got g = http_get(url);
    assert_int_equal(g.status, 200);
    json_t *j = json_loads(g.body, 0, NULL);
    free(g.body);
    assert_non_null(j);
    long v = (long)json_integer_value(json_object_get(j, name));
    json_decref(j);
    return v;
}

static char *standin_str(const char *name)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_stats", standin);
    got g = http_get(url);
    json_t *j = json_loads(g.body, 0, NULL);
    free(g.body);
    char *v = strdup(json_string_value(json_object_get(j, name)));
    json_decref(j);
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void configure(const char *akid, const char *secret)
{
    host_aws_conf c = {.region = "us-east-1", .access_key_id = akid,
                       .secret_access_key = secret,
                       .imds_endpoint = standin, .connect_timeout_ms = 500,
                       .timeout_ms = 1500, .max_attempts = 3};
    assert_int_equal(host_aws_configure(&c), TQ_OK);
}

static host_s3_conf s3conf(const char *bucket)
{
    return (host_s3_conf){.bucket = bucket, .region = "us-east-1",
                          .endpoint = s3, .path_style = true};
}

/* ------------------------------------------------------- pure parts */

static void test_parse_endpoint(void **state)
{
    (void)state;
    char sc[8], h[256];
    assert_int_equal(host_aws_parse_endpoint("https://S3.EU-West-1.amazonaws.com",
                                             sc, sizeof sc, h, sizeof h),
                     TQ_OK);
    assert_string_equal(sc, "https");
    assert_string_equal(h, "s3.eu-west-1.amazonaws.com");
    assert_int_equal(host_aws_parse_endpoint("https://h.example:443/", sc,
                                             sizeof sc, h, sizeof h),
                     TQ_OK);
    assert_string_equal(h, "h.example"); /* default port dropped */
    assert_int_equal(host_aws_parse_endpoint("http://127.0.0.1:4569", sc,
                                             sizeof sc, h, sizeof h),
                     TQ_OK);
    assert_string_equal(h, "127.0.0.1:4569");
    assert_int_equal(host_aws_parse_endpoint("http://[::1]:80", sc,
                                             sizeof sc, h, sizeof h),
                     TQ_OK);
    assert_string_equal(h, "[::1]");
    const char *bad[] = {"s3.amazonaws.com", "ftp://x", "http://",
                         "http://u:p@host", "http://host/base/path", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(host_aws_parse_endpoint(bad[i], sc, sizeof sc, h,
                                                 sizeof h),
                         TQ_E_INVALID);
}

static void test_parse_error(void **state)
{
    (void)state;
    char code[64], msg[128];
    const char xml[] = "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code>"
                       "<Message>The specified key does not exist.</Message>"
                       "<Key>a</Key></Error>";
    host_aws_parse_error(xml, sizeof xml - 1, code, sizeof code, msg,
                         sizeof msg);
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The specified key does not exist.");
    const char js[] = "{\"__type\":\"com.amazonaws.secretsmanager#"
                      "ResourceNotFoundException\",\"Message\":\"nope\"}";
    host_aws_parse_error(js, sizeof js - 1, code, sizeof code, msg,
                         sizeof msg);
    assert_string_equal(code, "ResourceNotFoundException");
    assert_string_equal(msg, "nope");
    host_aws_parse_error("garbage", 7, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "");
    host_aws_parse_error(NULL, 0, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "");
}

/* --------------------------------------------------------------- S3 */

static void test_s3_roundtrip_odd_keys(void **state)
{
    (void)state;
    configure("S3RVER", "S3RVER");
    host_s3_conf c = s3conf(BUCKET);
    const char *keys[] = {"media/plain.jpg", "media/a b+c~d/x.png",
                          "media/\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87/\xf0\x9f\x98\x80.webp",
                          "media/semi;colon,comma=eq&amp.bin"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char data[300];
        for (size_t k = 0; k < sizeof data; k++)
            data[k] = (char)(k * 7 + i);
        host_aws_err e;
        int rc = host_s3_put(&c, keys[i], data, sizeof data, "image/png", &e);
        if (rc != TQ_OK)
            fail_msg("put %s: %d %s", keys[i], rc, e.msg);
        void *back = NULL;
        size_t n = 0;
        assert_int_equal(host_s3_get(&c, keys[i], 1 << 20, &back, &n, &e),
                         TQ_OK);
        assert_int_equal(n, sizeof data);
        assert_memory_equal(back, data, n);
        free(back);

        /* The pre-signed URL gives the same bytes to anyone. */
        char *url = NULL;
        assert_int_equal(host_s3_presign_get(&c, keys[i], 60, time(NULL),
                                             &url, &e),
                         TQ_OK);
        got g = http_get(url);
        assert_int_equal(g.status, 200);
        assert_int_equal(g.len, sizeof data);
        assert_memory_equal(g.body, data, g.len);
        free(g.body);
        free(url);

        assert_int_equal(host_s3_delete(&c, keys[i], &e), TQ_OK);
        assert_int_equal(host_s3_get(&c, keys[i], 1 << 20, &back, &n, &e),
                         TQ_E_NOTFOUND);
        assert_string_equal(e.code, "NoSuchKey");
        /* Deleting what is gone is what delete wanted. */
        assert_int_equal(host_s3_delete(&c, keys[i], &e), TQ_OK);
    }
}

static void test_s3_presign_expires(void **state)
{
    (void)state;
    configure("S3RVER", "S3RVER");
    host_s3_conf c = s3conf(BUCKET);
    host_aws_err e;
    assert_int_equal(host_s3_put(&c, "media/expiring.txt", "x", 1,
                                 "text/plain", &e),
                     TQ_OK);
    char *url = NULL;
    /* Signed as if two seconds ago, valid for one: expired now. */
    assert_int_equal(host_s3_presign_get(&c, "media/expiring.txt", 1,
                                         time(NULL) - 2, &url, &e),
                     TQ_OK);
    got g = http_get(url);
    assert_int_equal(g.status, 403);
    assert_non_null(strstr(g.body, "Request has expired"));
    free(g.body);
    free(url);
    assert_int_equal(host_s3_delete(&c, "media/expiring.txt", &e), TQ_OK);
}

static void test_s3_errors(void **state)
{
    (void)state;
    configure("S3RVER", "S3RVER");
    host_aws_err e;
    host_s3_conf nob = s3conf("no-such-bucket");
    assert_int_equal(host_s3_put(&nob, "k", "x", 1, NULL, &e), TQ_E_IO);
    assert_string_equal(e.code, "NoSuchBucket");
    assert_int_equal(e.status, 404);
    assert_non_null(strstr(e.msg, "no-such-bucket"));
    assert_non_null(strstr(e.msg, "storage.bucket"));

    configure("AKIAWRONG", "S3RVER");
    host_s3_conf c = s3conf(BUCKET);
    assert_int_equal(host_s3_put(&c, "k", "x", 1, NULL, &e), TQ_E_IO);
    assert_int_equal(e.status, 403);
    assert_string_equal(e.code, "InvalidAccessKeyId");
    configure("S3RVER", "S3RVER");

    /* Bigger than the caller allows: refused, never buffered whole. */
    char big[4096] = {0};
    assert_int_equal(host_s3_put(&c, "media/big", big, sizeof big, NULL, &e),
                     TQ_OK);
    void *p = NULL;
    size_t n = 0;
    assert_int_equal(host_s3_get(&c, "media/big", 1000, &p, &n, &e),
                     TQ_E_INVALID);
    assert_null(p);
    assert_int_equal(host_s3_delete(&c, "media/big", &e), TQ_OK);

    host_s3_conf nobucket = {.endpoint = s3, .path_style = true};
    assert_int_equal(host_s3_put(&nobucket, "k", "x", 1, NULL, &e),
                     TQ_E_INVALID);
    host_s3_conf badep = {.bucket = BUCKET, .endpoint = "localhost:4569"};
    assert_int_equal(host_s3_put(&badep, "k", "x", 1, NULL, &e),
                     TQ_E_INVALID);
    assert_non_null(strstr(e.msg, "storage.endpoint"));
}

static void test_unreachable_is_unavailable(void **state)
{
    (void)state;
    configure("S3RVER", "S3RVER");
    /* A port nobody listens on: refused at once, retried, then 503. */
    host_s3_conf c = {.bucket = BUCKET, .region = "us-east-1",
                      .endpoint = "http://127.0.0.1:9", .path_style = true};
    host_aws_err e;
    double t0 = now_s();
    assert_int_equal(host_s3_put(&c, "k", "x", 1, NULL, &e),
                     TQ_E_UNAVAILABLE);
    assert_true(now_s() - t0 < 3.0);
    assert_int_equal(e.status, 0);
    assert_non_null(strstr(e.msg, "3 attempts"));
    assert_non_null(strstr(e.msg, "http://127.0.0.1:9"));
}

static void test_retries_5xx_then_succeeds(void **state)
{
    (void)state;
    configure("S3RVER", "S3RVER");
    standin_control("reset=1&flaky_failures=2");
    host_aws_call call = {.service = "s3", .method = "GET",
                          .endpoint = standin, .path = "/flaky/object",
                          .what = "flaky GET"};
    host_aws_resp r;
    char err[512];
    assert_int_equal(host_aws_send(&call, &r, err, sizeof err), TQ_OK);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(r.body, "ok");
    host_aws_resp_free(&r);
    assert_int_equal(standin_stat("flaky"), 3);

    /* Never recovering: 502-class after max_attempts, with the code. */
    standin_control("reset=1&flaky_failures=100");
    assert_int_equal(host_aws_send(&call, &r, err, sizeof err), TQ_E_IO);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(r.error_code, "InternalError");
    assert_non_null(strstr(err, "500 InternalError"));
    host_aws_resp_free(&r);
}

static void test_timeout_is_bounded(void **state)
{
    (void)state;
    host_aws_conf c = {.region = "us-east-1", .access_key_id = "S3RVER",
                       .secret_access_key = "S3RVER",
                       .connect_timeout_ms = 500, .timeout_ms = 400,
                       .max_attempts = 2};
    assert_int_equal(host_aws_configure(&c), TQ_OK);
    host_aws_call call = {.service = "s3", .method = "GET",
                          .endpoint = standin, .path = "/hang"};
    host_aws_resp r;
    char err[512];
    double t0 = now_s();
    assert_int_equal(host_aws_send(&call, &r, err, sizeof err),
                     TQ_E_UNAVAILABLE);
    double took = now_s() - t0;
    assert_true(took >= 0.8 && took < 4.0);
    assert_non_null(strstr(err, "2 attempts"));
    host_aws_resp_free(&r);
}

/* ------------------------------------------------------------- IMDS */

static void use_imds(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_EC2_METADATA_DISABLED");
    configure(NULL, NULL);
}

static void test_credentials_order(void **state)
{
    (void)state;
    host_aws_creds cr;
    char err[512];
    configure("AKIAMANIFEST", "manifest-secret");
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
    setenv("AWS_SESSION_TOKEN", "env-token", 1);
    assert_int_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_string_equal(cr.access_key, "AKIAMANIFEST");
    assert_string_equal(cr.source, "manifest");
    configure(NULL, NULL);
    assert_int_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_string_equal(cr.access_key, "AKIAENV");
    assert_string_equal(cr.token, "env-token");
    assert_string_equal(cr.source, "environment");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    assert_int_equal(host_aws_credentials(&cr, err, sizeof err),
                     TQ_E_NOTFOUND);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    unsetenv("AWS_EC2_METADATA_DISABLED");
}

static void test_imds_v2_and_cache(void **state)
{
    (void)state;
    standin_control("reset=1&hop=0&expires_in=3600&creds_delay_ms=0");
    use_imds();
    host_aws_creds cr;
    char err[512];
    if (host_aws_credentials(&cr, err, sizeof err) != TQ_OK)
        fail_msg("imds: %s", err);
    assert_string_equal(cr.source, "imds");
    assert_non_null(strstr(cr.access_key, "ASIAIMDS"));
    assert_non_null(strstr(cr.token, "imds-token-"));
    assert_true(cr.expires > time(NULL) + 3000);
    assert_int_equal(standin_stat("token_puts"), 1);
    char *ttl = standin_str("last_ttl_header");
    assert_string_equal(ttl, "21600");
    free(ttl);
    /* Cached: no more requests while far from expiry. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_int_equal(standin_stat("creds_fetches"), 1);
    assert_int_equal(standin_stat("token_puts"), 1);

    /* Credentials within five minutes of expiry are refreshed, reusing
     * the session token. */
    standin_control("reset=1&expires_in=200");
    use_imds();
    assert_int_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    char first[128];
    snprintf(first, sizeof first, "%s", cr.access_key);
    assert_int_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_string_not_equal(cr.access_key, first);
    assert_int_equal(standin_stat("creds_fetches"), 2);
    assert_int_equal(standin_stat("token_puts"), 1);
    standin_control("expires_in=3600");
    /* The signer uses them: a request signed with IMDS credentials
     * carries their session token. */
    host_sigv4_req r = {.method = "GET", .host = "h", .path = "/",
                        .region = "us-east-1", .service = "s3",
                        .amz_date = "20260101T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &cr, &o), TQ_OK);
    assert_non_null(strstr(o.canonical_request, "x-amz-security-token:imds-token-"));
    host_sigv4_out_free(&o);
}

static void *creds_thread(void *arg)
{
    host_aws_creds cr;
    char err[512];
    *(int *)arg = host_aws_credentials(&cr, err, sizeof err);
    return NULL;
}

static void test_imds_single_flight(void **state)
{
    (void)state;
    standin_control("reset=1&hop=0&expires_in=3600&creds_delay_ms=300");
    use_imds();
    pthread_t t[8];
    int rc[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, creds_thread, &rc[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(rc[i], TQ_OK);
    }
    assert_int_equal(standin_stat("creds_fetches"), 1);
    standin_control("creds_delay_ms=0");
}

static void test_imds_hop_limit(void **state)
{
    (void)state;
    standin_control("reset=1&hop=1");
    use_imds();
    host_aws_creds cr;
    char err[1024];
    double t0 = now_s();
    assert_int_not_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_true(now_s() - t0 < 4.0);
    assert_non_null(strstr(err, "hop limit"));
    assert_non_null(strstr(err, "--http-put-response-hop-limit 2"));
    standin_control("hop=0");

    /* No metadata service at all: a short, clear failure. */
    host_aws_conf c = {.imds_endpoint = "http://127.0.0.1:9"};
    assert_int_equal(host_aws_configure(&c), TQ_OK);
    assert_int_not_equal(host_aws_credentials(&cr, err, sizeof err), TQ_OK);
    assert_non_null(strstr(err, "AWS_EC2_METADATA_DISABLED"));
}

/* --------------------------------------------------- Secrets Manager */

static void test_secrets_manager(void **state)
{
    (void)state;
    configure("AKIDSTANDIN", "standin/secret+key");
    setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", standin, 1);
    host_secrets_forget();
    standin_control("reset=1");
    char *v = NULL, err[1024];
    /* ${aws-sm:ID#KEY}: a member of a JSON secret, typed values as text. */
    if (host_aws_sm_resolve("tasqly/app#db_password", &v, err, sizeof err))
        fail_msg("resolve: %s", err);
    assert_string_equal(v, "p@ss w0rd");
    free(v);
    assert_int_equal(host_aws_sm_resolve("tasqly/app#port", &v, err,
                                         sizeof err),
                     TQ_OK);
    assert_string_equal(v, "5432");
    free(v);
    assert_int_equal(host_aws_sm_resolve("tasqly/app#debug", &v, err,
                                         sizeof err),
                     TQ_OK);
    assert_string_equal(v, "true");
    free(v);
    /* One call for the three: the secret is cached. */
    assert_int_equal(standin_stat("secret_calls"), 1);
    assert_int_equal(standin_stat("bad_signatures"), 0);
    assert_int_equal(host_aws_sm_resolve("tasqly/app#nested", &v, err,
                                         sizeof err),
                     TQ_E_INVALID);
    assert_int_equal(host_aws_sm_resolve("tasqly/app#missing", &v, err,
                                         sizeof err),
                     TQ_E_NOTFOUND);
    assert_non_null(strstr(err, "missing"));
    assert_null(strstr(err, "p@ss")); /* never the secret in a message */
    assert_int_equal(host_aws_sm_resolve("plain", &v, err, sizeof err),
                     TQ_OK);
    assert_string_equal(v, "hunter2");
    free(v);
    assert_int_equal(host_aws_sm_resolve("plain#key", &v, err, sizeof err),
                     TQ_E_INVALID);

    /* The region comes from an ARN. */
    assert_int_equal(host_aws_sm_resolve(
                         "arn:aws:secretsmanager:eu-central-1:123456789012:"
                         "secret:plain",
                         &v, err, sizeof err),
                     TQ_OK);
    free(v);
    char *region = standin_str("last_region");
    assert_string_equal(region, "eu-central-1");
    free(region);

    assert_int_equal(host_aws_sm_resolve("nope", &v, err, sizeof err),
                     TQ_E_IO);
    assert_non_null(strstr(err, "ResourceNotFoundException"));
    assert_null(v);

    /* A wrong secret key is caught by the stand-in's botocore check. */
    configure("AKIDSTANDIN", "not-the-secret");
    host_secrets_forget();
    assert_int_equal(host_aws_sm_resolve("plain", &v, err, sizeof err),
                     TQ_E_IO);
    assert_non_null(strstr(err, "InvalidSignatureException"));
    assert_int_equal(standin_stat("bad_signatures"), 1);
    host_secrets_forget();
    unsetenv("AWS_ENDPOINT_URL_SECRETS_MANAGER");
}

/* -------------------------------------------------------------- setup */

static int start_servers(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/tq-aws-test.XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    const char *src = getenv("TASQLY_SOURCE_ROOT");
    if (!src) {
        fprintf(stderr, "TASQLY_SOURCE_ROOT is not set (meson test sets it)\n");
        return -1;
    }
    char cmd[1024], out[1024] = "";
    snprintf(cmd, sizeof cmd, "'%s/tests/s3/start-s3rver.sh' '%s/s3' %s",
             src, tmp, BUCKET);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    if (!p || pclose(p) != 0)
        return -1;
    char *e = strstr(out, "TASQLY_TEST_S3_ENDPOINT="), *pid = strstr(out, "S3RVER_PID=");
    if (!e || !pid)
        return -1;
    snprintf(s3, sizeof s3, "%.*s", (int)strcspn(e + 24, "\n"), e + 24);
    s3_pid = (pid_t)atoi(pid + 11);

    char portfile[300];
    snprintf(portfile, sizeof portfile, "%s/standin.port", tmp);
    standin_pid = fork();
    if (standin_pid == 0) {
        char script[600];
        snprintf(script, sizeof script, "%s/tests/unit/aws/aws_standin.py",
                 src);
        execl("/usr/bin/python3", "python3", script, portfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port) {
            snprintf(standin, sizeof standin, "http://127.0.0.1:%d", port);
            break;
        }
        usleep(50000);
    }
    if (!standin[0])
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int stop_servers(void **state)
{
    (void)state;
    host_aws_shutdown();
    host_secrets_forget();
    if (s3_pid > 0)
        kill(s3_pid, SIGTERM);
    if (standin_pid > 0) {
        kill(standin_pid, SIGTERM);
        waitpid(standin_pid, NULL, 0);
    }
    curl_global_cleanup();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_endpoint),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_s3_roundtrip_odd_keys),
        cmocka_unit_test(test_s3_presign_expires),
        cmocka_unit_test(test_s3_errors),
        cmocka_unit_test(test_unreachable_is_unavailable),
        cmocka_unit_test(test_retries_5xx_then_succeeds),
        cmocka_unit_test(test_timeout_is_bounded),
        cmocka_unit_test(test_credentials_order),
        cmocka_unit_test(test_imds_v2_and_cache),
        cmocka_unit_test(test_imds_single_flight),
        cmocka_unit_test(test_imds_hop_limit),
        cmocka_unit_test(test_secrets_manager),
    };
    return cmocka_run_group_tests_name("aws_client", tests, start_servers,
                                       stop_servers);
}
