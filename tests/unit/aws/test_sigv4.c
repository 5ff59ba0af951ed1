/*
 * test_sigv4.c - the SigV4 signer against AWS's published examples, byte
 * for byte: the signing-key derivation example of the IAM guide, the S3
 * API reference's header-signing examples (GET object with Range, PUT
 * object with an encoded key, GET bucket lifecycle, list objects) and its
 * pre-signed URL example, and vectors of the AWS SigV4 test suite for the
 * generic (non-S3) rules: path normalisation, UTF-8, query ordering,
 * header trimming, session tokens.
 *
 * Generated requests against botocore live in botocore_diff.py.
 */
#include "aws/aws.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char S3_AKID[] = "AKIAIOSFODNN7EXAMPLE";
static const char S3_SECRET[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
static const char SUITE_AKID[] = "AKIDEXAMPLE";
static const char SUITE_SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

static host_aws_creds creds(const char *akid, const char *secret,
                            const char *token)
{
    host_aws_creds c = {0};
    snprintf(c.access_key, sizeof c.access_key, "%s", akid);
    snprintf(c.secret_key, sizeof c.secret_key, "%s", secret);
    snprintf(c.token, sizeof c.token, "%s", token ? token : "");
    return c;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* IAM user guide, "Examples of how to derive a signing key". */
static void test_signing_key(void **state)
{
    (void)state;
    unsigned char k[32];
    char h[65];
    assert_int_equal(host_sigv4_signing_key(SUITE_SECRET, "20120215",
                                            "us-east-1", "iam", k),
                     TQ_OK);
    hex(k, 32, h);
    assert_string_equal(
        h, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

/* S3 API reference, sig-v4-header-based-auth: "Example: GET Object". */
static void test_s3_get_object(void **state)
{
    (void)state;
    host_aws_creds c = creds(S3_AKID, S3_SECRET, NULL);
    host_kv h[] = {{"Range", "bytes=0-9"}};
    host_sigv4_req r = {
        .method = "GET", .host = "examplebucket.s3.amazonaws.com",
        .path = "/test.txt", .headers = h, .nheaders = 1,
        .region = "us-east-1", .service = "s3",
        .amz_date = "20130524T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_string_equal(
        o.canonical_request,
        "GET\n"
        "/test.txt\n"
        "\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "range:bytes=0-9\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n"
        "\n"
        "host;range;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(
        o.string_to_sign,
        "AWS4-HMAC-SHA256\n"
        "20130524T000000Z\n"
        "20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    assert_string_equal(
        o.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
        "us-east-1/s3/aws4_request,SignedHeaders=host;range;"
        "x-amz-content-sha256;x-amz-date,Signature="
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* The headers the caller must add, in order. */
    assert_int_equal(o.nadded, 2);
    assert_string_equal(o.added[0].name, "X-Amz-Date");
    assert_string_equal(o.added[0].value, "20130524T000000Z");
    assert_string_equal(o.added[1].name, "X-Amz-Content-Sha256");
    assert_string_equal(o.added[1].value, HOST_AWS_EMPTY_SHA256);
    assert_string_equal(o.url_path, "/test.txt");
    assert_string_equal(o.url_query, "");
    host_sigv4_out_free(&o);
}

/* "Example: PUT Object": a '$' in the key, a Date header, a body hash. */
static void test_s3_put_object(void **state)
{
    (void)state;
    host_aws_creds c = creds(S3_AKID, S3_SECRET, NULL);
    const char body[] = "Welcome to Amazon S3.";
    char ph[65];
    host_aws_sha256_hex(body, strlen(body), ph);
    assert_string_equal(
        ph, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    host_kv h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    host_sigv4_req r = {
        .method = "PUT", .host = "examplebucket.s3.amazonaws.com",
        .path = "/test$file.text", .headers = h, .nheaders = 2,
        .payload_hash = ph, .region = "us-east-1", .service = "s3",
        .amz_date = "20130524T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_string_equal(
        o.canonical_request,
        "PUT\n"
        "/test%24file.text\n"
        "\n"
        "date:Fri, 24 May 2013 00:00:00 GMT\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
        "x-amz-date:20130524T000000Z\n"
        "x-amz-storage-class:REDUCED_REDUNDANCY\n"
        "\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    assert_string_equal(
        o.string_to_sign,
        "AWS4-HMAC-SHA256\n"
        "20130524T000000Z\n"
        "20130524/us-east-1/s3/aws4_request\n"
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    assert_string_equal(
        o.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
        "us-east-1/s3/aws4_request,SignedHeaders=date;host;"
        "x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature="
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    assert_string_equal(o.url_path, "/test%24file.text");
    host_sigv4_out_free(&o);
}

/* "Example: GET Bucket Lifecycle": a value-less sub-resource. */
static void test_s3_get_lifecycle(void **state)
{
    (void)state;
    host_aws_creds c = creds(S3_AKID, S3_SECRET, NULL);
    host_kv q[] = {{"lifecycle", ""}};
    host_sigv4_req r = {
        .method = "GET", .host = "examplebucket.s3.amazonaws.com",
        .path = "/", .query = q, .nquery = 1, .region = "us-east-1",
        .service = "s3", .amz_date = "20130524T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_string_equal(
        o.canonical_request,
        "GET\n"
        "/\n"
        "lifecycle=\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-amz-date:20130524T000000Z\n"
        "\n"
        "host;x-amz-content-sha256;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(
        o.signature,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    host_sigv4_out_free(&o);
}

/* "Example: Get Bucket (List Objects)": parameters given out of order. */
static void test_s3_list_objects(void **state)
{
    (void)state;
    host_aws_creds c = creds(S3_AKID, S3_SECRET, NULL);
    host_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    host_sigv4_req r = {
        .method = "GET", .host = "examplebucket.s3.amazonaws.com",
        .path = "/", .query = q, .nquery = 2, .region = "us-east-1",
        .service = "s3", .amz_date = "20130524T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_non_null(strstr(o.canonical_request,
                           "\n/\nmax-keys=2&prefix=J\nhost:"));
    assert_string_equal(
        o.signature,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    assert_string_equal(o.url_query, "max-keys=2&prefix=J");
    host_sigv4_out_free(&o);
}

/* sigv4-query-string-auth: the pre-signed URL example, whole. */
static void test_s3_presigned_url(void **state)
{
    (void)state;
    host_aws_creds c = creds(S3_AKID, S3_SECRET, NULL);
    host_sigv4_req r = {
        .method = "GET", .host = "examplebucket.s3.amazonaws.com",
        .path = "/test.txt", .region = "us-east-1", .service = "s3",
        .amz_date = "20130524T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_presign(&r, &c, 86400, &o), TQ_OK);
    assert_string_equal(
        o.canonical_request,
        "GET\n"
        "/test.txt\n"
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
        "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&"
        "X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
        "X-Amz-SignedHeaders=host\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "\n"
        "host\n"
        "UNSIGNED-PAYLOAD");
    assert_string_equal(
        o.string_to_sign,
        "AWS4-HMAC-SHA256\n"
        "20130524T000000Z\n"
        "20130524/us-east-1/s3/aws4_request\n"
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    char url[1024];
    snprintf(url, sizeof url, "https://%s%s?%s", r.host, o.url_path,
             o.url_query);
    assert_string_equal(
        url,
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
        "&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    assert_null(o.authorization);
    host_sigv4_out_free(&o);
}

/* ---------------------------------------- the AWS SigV4 test suite */

typedef struct suite_case {
    const char *name, *method, *path;
    host_kv query[2];
    int nquery;
    host_kv headers[2];
    int nheaders;
    const char *token;
    const char *canonical; /* NULL: not checked */
    const char *signature;
} suite_case;

static const suite_case suite[] = {
    {"get-vanilla", "GET", "/", {{0}}, 0, {{0}}, 0, NULL,
     "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
     "host;x-amz-date\n" HOST_AWS_EMPTY_SHA256,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-utf8", "GET", "/\xe1\x88\xb4", {{0}}, 0, {{0}}, 0, NULL,
     "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
     "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" HOST_AWS_EMPTY_SHA256,
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
    {"get-slash-dot-slash-normalized", "GET", "/./", {{0}}, 0, {{0}}, 0, NULL,
     NULL, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-relative-normalized", "GET", "/example/..", {{0}}, 0, {{0}}, 0,
     NULL, NULL,
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-slashes-normalized", "GET", "//example//", {{0}}, 0, {{0}}, 0, NULL,
     NULL, "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-space-normalized", "GET", "/example space/", {{0}}, 0, {{0}}, 0,
     NULL, NULL,
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
    {"get-unreserved", "GET",
     "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {{0}}, 0, {{0}}, 0, NULL, NULL,
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-vanilla-query-order-key-case", "GET", "/",
     {{"Param2", "value2"}, {"Param1", "value1"}}, 2, {{0}}, 0, NULL, NULL,
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-utf8-query", "GET", "/", {{"\xe1\x88\xb4", "bar"}}, 1,
     {{0}}, 0, NULL, NULL,
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"post-header-key-sort", "POST", "/", {{0}}, 0,
     {{"My-Header1", "value1"}}, 1, NULL, NULL,
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
    {"get-vanilla-with-session-token", "GET", "/", {{0}}, 0, {{0}}, 0,
     "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
     NULL, "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
};

/* The suite's requests carry their paths unencoded on the request line,
 * so they are given as the wire path (path_is_encoded). */
static void test_aws_suite(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof suite / sizeof *suite; i++) {
        const suite_case *t = &suite[i];
        host_aws_creds c = creds(SUITE_AKID, SUITE_SECRET, t->token);
        host_sigv4_req r = {
            .method = t->method, .host = "example.amazonaws.com",
            .path = t->path, .query = t->query, .nquery = t->nquery,
            .headers = t->headers, .nheaders = t->nheaders,
            .region = "us-east-1", .service = "service",
            .amz_date = "20150830T123600Z", .path_is_encoded = true};
        host_sigv4_out o;
        assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
        if (strcmp(o.signature, t->signature) != 0)
            fail_msg("%s: signature %s, want %s\ncanonical request:\n%s",
                     t->name, o.signature, t->signature,
                     o.canonical_request);
        if (t->canonical)
            assert_string_equal(o.canonical_request, t->canonical);
        host_sigv4_out_free(&o);
    }
}

/* ---------------------------------------------------- our own rules */

static void test_uri_encode(void **state)
{
    (void)state;
    static const struct { const char *in; int slash; const char *out; } t[] = {
        {"a b", 1, "a%20b"},
        {"a+b", 1, "a%2Bb"},
        {"~x_y-z.", 0, "~x_y-z."},
        {"a/b", 1, "a/b"},
        {"a/b", 0, "a%2Fb"},
        {"100%", 1, "100%25"},
        {"=&?#", 1, "%3D%26%3F%23"},
        {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", 1, "%D0%BA%D0%BB%D1%8E%D1%87"},
        {"*'()!", 1, "%2A%27%28%29%21"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char *e = host_aws_uri_encode(t[i].in, strlen(t[i].in), t[i].slash);
        assert_non_null(e);
        assert_string_equal(e, t[i].out);
        free(e);
    }
}

/* A non-S3 service encodes the raw path for the URL, then once more for
 * the canonical request; S3 encodes once only. */
static void test_double_encoding(void **state)
{
    (void)state;
    host_aws_creds c = creds(SUITE_AKID, SUITE_SECRET, NULL);
    host_sigv4_req r = {
        .method = "GET", .host = "h.example", .path = "/a b/c+d",
        .region = "eu-west-1", .service = "execute-api",
        .amz_date = "20260101T000000Z"};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_string_equal(o.url_path, "/a%20b/c%2Bd");
    assert_non_null(strstr(o.canonical_request, "\n/a%2520b/c%252Bd\n"));
    host_sigv4_out_free(&o);

    r.s3 = true;
    r.service = "s3";
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_string_equal(o.url_path, "/a%20b/c%2Bd");
    assert_non_null(strstr(o.canonical_request, "\n/a%20b/c%2Bd\n"));
    host_sigv4_out_free(&o);
}

/* Trimall, lowercase names, duplicates joined with ',' in the order given,
 * and the session token signed as a header. */
static void test_headers_and_token(void **state)
{
    (void)state;
    host_aws_creds c = creds(SUITE_AKID, SUITE_SECRET, "TOKEN/+=");
    host_kv h[] = {{"X-B", "  two   words  "},
                   {"x-a", "1"},
                   {"X-A", "2"},
                   {"Content-Type", "image/jpeg"}};
    host_sigv4_req r = {
        .method = "PUT", .host = "h.example", .path = "/k", .headers = h,
        .nheaders = 4, .payload_hash = HOST_AWS_UNSIGNED_PAYLOAD,
        .region = "us-east-1", .service = "s3",
        .amz_date = "20260101T000000Z", .s3 = true};
    host_sigv4_out o;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_OK);
    assert_non_null(strstr(
        o.canonical_request,
        "content-type:image/jpeg\nhost:h.example\nx-a:1,2\nx-amz-content-"
        "sha256:UNSIGNED-PAYLOAD\nx-amz-date:20260101T000000Z\n"
        "x-amz-security-token:TOKEN/+=\nx-b:two words\n\n"
        "content-type;host;x-a;x-amz-content-sha256;x-amz-date;"
        "x-amz-security-token;x-b\nUNSIGNED-PAYLOAD"));
    assert_int_equal(o.nadded, 3);
    assert_string_equal(o.added[2].name, "X-Amz-Security-Token");
    assert_string_equal(o.added[2].value, "TOKEN/+=");
    host_sigv4_out_free(&o);

    /* Presigned: the token travels in the query, encoded. */
    r.nheaders = 0;
    r.payload_hash = NULL;
    r.method = "GET";
    assert_int_equal(host_sigv4_presign(&r, &c, 900, &o), TQ_OK);
    assert_non_null(strstr(o.url_query,
                           "&X-Amz-Security-Token=TOKEN%2F%2B%3D&"));
    assert_non_null(strstr(o.url_query, "X-Amz-Expires=900&"));
    host_sigv4_out_free(&o);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    host_aws_creds c = creds(SUITE_AKID, SUITE_SECRET, NULL);
    host_kv inj[] = {{"X-Meta", "a\r\nX-Evil: 1"}};
    host_kv dup[] = {{"Host", "other"}};
    host_sigv4_req ok = {.method = "GET", .host = "h", .path = "/",
                         .region = "r", .service = "s",
                         .amz_date = "20260101T000000Z"};
    host_sigv4_out o;
    host_sigv4_req r = ok;
    r.headers = inj;
    r.nheaders = 1;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_E_INVALID);
    r = ok;
    r.headers = dup;
    r.nheaders = 1;
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_E_INVALID);
    r = ok;
    r.amz_date = "2026-01-01T00:00:00Z";
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_E_INVALID);
    r = ok;
    r.region = "us/east";
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_E_INVALID);
    r = ok;
    r.method = "get";
    assert_int_equal(host_sigv4_sign(&r, &c, &o), TQ_E_INVALID);
    r = ok;
    assert_int_equal(host_sigv4_presign(&r, &c, 0, &o), TQ_E_INVALID);
    assert_int_equal(host_sigv4_presign(&r, &c, 604801, &o), TQ_E_INVALID);
    host_aws_creds none = {0};
    assert_int_equal(host_sigv4_sign(&ok, &none, &o), TQ_E_INVALID);
    assert_null(o.authorization);
}

static void test_amz_date(void **state)
{
    (void)state;
    char d[17];
    host_aws_amz_date(1440938160, d);
    assert_string_equal(d, "20150830T123600Z");
    host_aws_amz_date(951782400, d);
    assert_string_equal(d, "20000229T000000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signing_key),
        cmocka_unit_test(test_s3_get_object),
        cmocka_unit_test(test_s3_put_object),
        cmocka_unit_test(test_s3_get_lifecycle),
        cmocka_unit_test(test_s3_list_objects),
        cmocka_unit_test(test_s3_presigned_url),
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_double_encoding),
        cmocka_unit_test(test_headers_and_token),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_amz_date),
    };
    return cmocka_run_group_tests_name("aws_sigv4", tests, NULL, NULL);
}
