/*
 * sigv4_cli.c - the signer as a filter, for botocore_diff.py: one JSON
 * request per stdin line, one JSON answer per stdout line.
 *
 * In:  {"mode": "sign"|"presign", "method", "host", "path",
 *       "path_is_encoded", "query": [[k, v]...], "headers": [[k, v]...],
 *       "payload_hash" | "body_b64", "region", "service", "date", "s3",
 *       "akid", "secret", "token", "expires"}
 * Out: {"ok": true, "canonical_request", "string_to_sign", "signature",
 *       "authorization", "url_path", "url_query", "added": [[k, v]...]}
 *      or {"ok": false, "rc": n}.
 * Everything is freed per line; the program owns all it allocates.
 */
#include "aws/aws.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* [[k, v], ...] into a malloc'd host_kv array borrowing the strings. */
static host_kv *pairs(json_t *a, int *n)
{
    size_t sz = json_array_size(a);
    *n = (int)sz;
    host_kv *kv = calloc(sz ? sz : 1, sizeof *kv);
    if (!kv)
        return NULL;
    for (size_t i = 0; i < sz; i++) {
        json_t *p = json_array_get(a, i);
        kv[i].name = json_string_value(json_array_get(p, 0));
        kv[i].value = json_string_value(json_array_get(p, 1));
    }
    return kv;
}

static unsigned char *unbase64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out)
        return NULL;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    size_t l = (size_t)r;
    if (n >= 1 && s[n - 1] == '=')
        l--;
    if (n >= 2 && s[n - 2] == '=')
        l--;
    *len = l;
    return out;
}

static json_t *handle(json_t *in)
{
    host_aws_creds c = {0};
    snprintf(c.access_key, sizeof c.access_key, "%s", str(in, "akid"));
    snprintf(c.secret_key, sizeof c.secret_key, "%s", str(in, "secret"));
    if (str(in, "token"))
        snprintf(c.token, sizeof c.token, "%s", str(in, "token"));

    int nq = 0, nh = 0;
    host_kv *q = pairs(json_object_get(in, "query"), &nq);
    host_kv *h = pairs(json_object_get(in, "headers"), &nh);
    char ph[65];
    const char *payload = str(in, "payload_hash");
    if (str(in, "body_b64")) {
        size_t len = 0;
        unsigned char *b = unbase64(str(in, "body_b64"), &len);
        if (b)
            host_aws_sha256_hex(b, len, ph);
        free(b);
        payload = ph;
    }
    host_sigv4_req r = {
        .method = str(in, "method"), .host = str(in, "host"),
        .path = str(in, "path"), .query = q, .nquery = nq, .headers = h,
        .nheaders = nh, .payload_hash = payload,
        .region = str(in, "region"), .service = str(in, "service"),
        .amz_date = str(in, "date"),
        .s3 = json_is_true(json_object_get(in, "s3")),
        .path_is_encoded = json_is_true(json_object_get(in, "path_is_encoded"))};
    host_sigv4_out o;
    int rc;
    if (!q || !h)
        rc = TQ_E_NOMEM;
    else if (!strcmp(str(in, "mode"), "presign"))
        rc = host_sigv4_presign(
            &r, &c, (int)json_integer_value(json_object_get(in, "expires")),
            &o);
    else
        rc = host_sigv4_sign(&r, &c, &o);
    free(q);
    free(h);
    if (rc != TQ_OK)
        return json_pack("{sbsi}", "ok", 0, "rc", rc);
    json_t *added = json_array();
    for (int i = 0; i < o.nadded; i++)
        json_array_append_new(added, json_pack("[ss]", o.added[i].name,
                                               o.added[i].value));
    json_t *out = json_pack(
        "{sbssssssss?ssssso}", "ok", 1, "canonical_request",
        o.canonical_request, "string_to_sign", o.string_to_sign, "signature",
        o.signature, "authorization", o.authorization, "url_path",
        o.url_path, "url_query", o.url_query, "added", added);
    host_sigv4_out_free(&o);
    return out;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t e;
        json_t *in = json_loadb(line, (size_t)n, 0, &e);
        json_t *out = in ? handle(in)
                         : json_pack("{sbss}", "ok", 0, "error", e.text);
        char *s = out ? json_dumps(out, JSON_COMPACT) : NULL;
        printf("%s\n", s ? s : "{\"ok\":false,\"error\":\"no memory\"}");
        fflush(stdout);
        free(s);
        json_decref(out);
        json_decref(in);
    }
    free(line);
    return 0;
}
