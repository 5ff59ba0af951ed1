/*
 * test_jwt.c - HS256 access tokens: a vector minted by an independent
 * implementation (Python's hmac module), sign/verify, and every way a
 * token must be refused: tampered payload, tampered signature, expired,
 * alg none and other algs, unknown kid, key rotation.
 */
#include "auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const char secret1[] = "0123456789abcdef0123456789abcdef";
static const char secret2[] = "fedcba9876543210fedcba9876543210-second";
static const char uid[] = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

/* python3: hmac.new(secret1, b64url(header) + "." + b64url(payload),
 * sha256) with header {"alg":"HS256","typ":"JWT","kid":"k1"} and payload
 * {"sub":uid,"iat":1764864000,"exp":1764864900}. */
static const char python_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0."
    "eyJzdWIiOiIzZjI1MDRlMC00Zjg5LTQxZDMtOWEwYy0wMzA1ZTgyYzMzMDEiLCJpYXQiOjE3"
    "NjQ4NjQwMDAsImV4cCI6MTc2NDg2NDkwMH0."
    "oE6caSASjj_ExvwrHv8v0OKCuOCuqWfO8yX568fhCCI";

#define BUF 1024 /* room for forged tokens longer than ours */
#define T0 1764864000
#define TTL 900

typedef struct keys {
    host_jwt_key k1, k2;
} keys;

static int setup(void **state)
{
    static keys ks;
    if (host_jwt_key_init(&ks.k1, "k1", secret1, strlen(secret1)) != TQ_OK ||
        host_jwt_key_init(&ks.k2, "k2", secret2, strlen(secret2)) != TQ_OK)
        return -1;
    *state = &ks;
    return 0;
}

static int teardown(void **state)
{
    keys *ks = *state;
    host_jwt_key_free(&ks->k1);
    host_jwt_key_free(&ks->k2);
    return 0;
}

static int verify1(keys *ks, const char *tok, int64_t now, char sub[37])
{
    const host_jwt_key *const only[] = {&ks->k1};
    return host_jwt_verify(only, 1, tok, strlen(tok), now, sub);
}

static void matches_independent_implementation(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37];
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    assert_string_equal(tok, python_token);
    assert_int_equal(verify1(ks, python_token, T0 + 1, sub), HOST_JWT_OK);
    assert_string_equal(sub, uid);
}

static void sign_verify(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37];
    assert_int_equal(host_jwt_sign(&ks->k2, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    const host_jwt_key *const both[] = {&ks->k2, &ks->k1};
    /* Repeated verification reuses the thread's MAC context. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(host_jwt_verify(both, 2, tok, strlen(tok),
                                         T0 + TTL - 1, sub), HOST_JWT_OK);
        assert_string_equal(sub, uid);
    }
    /* Refusals leave no subject behind. */
    assert_int_equal(host_jwt_verify(both, 2, tok, strlen(tok), T0 + TTL,
                                     sub), HOST_JWT_EXPIRED);
    assert_string_equal(sub, "");
    /* A token longer than its length argument is not read past it. */
    assert_int_equal(host_jwt_verify(both, 2, tok, strlen(tok) - 1, T0, sub),
                     HOST_JWT_SIGNATURE);
}

static void sign_refuses_bad_subject(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX];
    assert_int_equal(host_jwt_sign(&ks->k1, "not-a-uuid", T0, T0 + 1, tok,
                                   sizeof tok), TQ_ERR);
    assert_int_equal(host_jwt_sign(&ks->k1, "3f2504e0-4f89-41d3-9a0c-0305e82c33\"}",
                                   T0, T0 + 1, tok, sizeof tok), TQ_ERR);
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + 1, tok, 100),
                     TQ_ERR);
}

static void key_refuses_short_secret_and_bad_kid(void **state)
{
    (void)state;
    host_jwt_key k;
    assert_int_equal(host_jwt_key_init(&k, "k1", secret1, 31), TQ_ERR);
    assert_int_equal(host_jwt_key_init(&k, "", secret1, 32), TQ_ERR);
    assert_int_equal(host_jwt_key_init(&k, "k\"1", secret1, 32), TQ_ERR);
    assert_int_equal(host_jwt_key_init(&k, "0123456789012345678901234567890123"
                                       "4567890123456789012345678901234",
                                       secret1, 32), TQ_ERR);
    /* The longest kid fits, and its tokens verify. */
    char tok[HOST_JWT_MAX], sub[37];
    assert_int_equal(host_jwt_key_init(&k, "0123456789012345678901234567890123"
                                       "456789012345678901234567890123",
                                       secret1, 32), TQ_OK);
    assert_int_equal(host_jwt_sign(&k, uid, T0, T0 + TTL, tok, sizeof tok),
                     TQ_OK);
    const host_jwt_key *const one[] = {&k};
    assert_int_equal(host_jwt_verify(one, 1, tok, strlen(tok), T0, sub),
                     HOST_JWT_OK);
    host_jwt_key_free(&k); /* harmless on a key that never got ready */
}

static void tampered_payload(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37], forged[BUF], enc[200];
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    /* Same header and signature, someone else's subject. */
    const char *p = "{\"sub\":\"00000000-0000-0000-0000-000000000001\","
                    "\"iat\":1764864000,\"exp\":1764864900}";
    host_b64_encode(enc, p, strlen(p), true);
    const char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok, enc,
             dot2);
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);

    /* One flipped bit in the payload. */
    snprintf(forged, sizeof forged, "%s", tok);
    char *c = forged + (dot1 - tok) + 5;
    *c = *c == 'A' ? 'B' : 'A';
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);

    /* A longer lifetime, re-encoded: still ours only with our key. */
    p = "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\","
        "\"iat\":1764864000,\"exp\":1999999999}";
    host_b64_encode(enc, p, strlen(p), true);
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(dot1 - tok), tok, enc,
             dot2);
    assert_int_equal(verify1(ks, forged, T0 + TTL + 10, sub),
                     HOST_JWT_SIGNATURE);
}

static void tampered_signature(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37], forged[BUF];
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    size_t n = strlen(tok);
    char *sig = strrchr(tok, '.') + 1;

    /* Every character of the signature changed, one at a time. */
    for (char *c = sig; *c; c++) {
        snprintf(forged, sizeof forged, "%s", tok);
        char *f = forged + (c - tok);
        *f = *f == 'A' ? 'B' : 'A';
        if (verify1(ks, forged, T0, sub) != HOST_JWT_SIGNATURE)
            fail_msg("signature tampered at %td still verifies", c - sig);
    }
    /* The last character carries 2 unused bits: setting them is a second
     * spelling of the same MAC and must not verify either. */
    snprintf(forged, sizeof forged, "%s", tok);
    char *last = forged + n - 1;
    const char *alpha =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alpha, *last) - alpha);
    *last = alpha[v ^ 1];
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);

    /* Truncated, extended, empty, signed by another secret. */
    snprintf(forged, sizeof forged, "%.*s", (int)n - 1, tok);
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);
    snprintf(forged, sizeof forged, "%sA", tok);
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);
    snprintf(forged, sizeof forged, "%.*s", (int)(sig - tok), tok);
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);

    host_jwt_key evil;
    assert_int_equal(host_jwt_key_init(&evil, "k1", secret2, strlen(secret2)),
                     TQ_OK);
    assert_int_equal(host_jwt_sign(&evil, uid, T0, T0 + TTL, forged,
                                   sizeof forged), TQ_OK);
    assert_int_equal(verify1(ks, forged, T0, sub), HOST_JWT_SIGNATURE);
    host_jwt_key_free(&evil);
}

static void expired(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37];
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    assert_int_equal(verify1(ks, tok, T0 + TTL - 1, sub), HOST_JWT_OK);
    assert_int_equal(verify1(ks, tok, T0 + TTL, sub), HOST_JWT_EXPIRED);
    assert_int_equal(verify1(ks, tok, T0 + 86400, sub), HOST_JWT_EXPIRED);
    /* Minted by a replica whose clock runs far ahead. */
    assert_int_equal(verify1(ks, tok, T0 - 3600, sub), HOST_JWT_FUTURE);
    assert_int_equal(verify1(ks, tok, T0 - 30, sub), HOST_JWT_OK);
}

/* header.payload.signature with the header JSON given literally. */
static void forge(char *out, size_t outlen, const char *header,
                  const char *payload, const char *sig)
{
    char h[200], p[200];
    host_b64_encode(h, header, strlen(header), true);
    host_b64_encode(p, payload, strlen(payload), true);
    snprintf(out, outlen, "%s.%s.%s", h, p, sig);
}

static void alg_none_and_others(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37], good[HOST_JWT_MAX];
    const char *payload = "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\","
                          "\"iat\":1764864000,\"exp\":1764864900}";
    assert_int_equal(host_jwt_sign(&ks->k1, uid, T0, T0 + TTL, good,
                                   sizeof good), TQ_OK);
    const char *goodsig = strrchr(good, '.') + 1;

    forge(tok, sizeof tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "");
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    forge(tok, sizeof tok, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
          payload, "");
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    forge(tok, sizeof tok, "{\"alg\":\"None\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
          payload, goodsig);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    forge(tok, sizeof tok, "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
          payload, goodsig);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    forge(tok, sizeof tok, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
          payload, goodsig);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    /* HS256 but spelled differently (no kid, other order): not ours. */
    forge(tok, sizeof tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload,
          goodsig);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    forge(tok, sizeof tok, "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"k1\"}",
          payload, goodsig);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
}

static void wrong_kid_and_rotation(void **state)
{
    keys *ks = *state;
    char tok[HOST_JWT_MAX], sub[37];
    /* Signed with k2; a verifier that only knows k1 refuses it. */
    assert_int_equal(host_jwt_sign(&ks->k2, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);
    /* A kid we never issued. */
    forge(tok, sizeof tok, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k9\"}",
          "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"iat\":1,"
          "\"exp\":2}",
          "oE6caSASjj_ExvwrHv8v0OKCuOCuqWfO8yX568fhCCI");
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_HEADER);

    /* Rotation: k2 is current, k1 previous; both verify. */
    const host_jwt_key *const rolled[] = {&ks->k2, &ks->k1};
    assert_int_equal(host_jwt_verify(rolled, 2, python_token,
                                     strlen(python_token), T0, sub),
                     HOST_JWT_OK);
    /* A token claiming kid k2 but signed with k1's secret. */
    host_jwt_key mixed;
    assert_int_equal(host_jwt_key_init(&mixed, "k2", secret1,
                                       strlen(secret1)), TQ_OK);
    assert_int_equal(host_jwt_sign(&mixed, uid, T0, T0 + TTL, tok,
                                   sizeof tok), TQ_OK);
    assert_int_equal(host_jwt_verify(rolled, 2, tok, strlen(tok), T0, sub),
                     HOST_JWT_SIGNATURE);
    host_jwt_key_free(&mixed);
}

static void malformed(void **state)
{
    keys *ks = *state;
    char sub[37], big[HOST_JWT_MAX + 10];
    assert_int_equal(verify1(ks, "", T0, sub), HOST_JWT_MALFORMED);
    assert_int_equal(verify1(ks, "abc", T0, sub), HOST_JWT_MALFORMED);
    assert_int_equal(verify1(ks, "abc.def", T0, sub), HOST_JWT_MALFORMED);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[10] = big[20] = '.';
    assert_int_equal(verify1(ks, big, T0, sub), HOST_JWT_MALFORMED);
}

/* Payloads that carry a valid MAC (signed with our key through a forged
 * route) but are not the claims we mint. */
static void claims_checked(void **state)
{
    keys *ks = *state;
    char sub[37];
    char tok[BUF];
    static const char *const bad[] = {
        "{}",
        "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"iat\":1}",
        "{\"sub\":\"3F2504E0-4F89-41D3-9A0C-0305E82C3301\",\"iat\":1,\"exp\":1999999999}",
        "{\"sub\":\"x\",\"iat\":1,\"exp\":1999999999}",
        "{\"sub\":3,\"iat\":1,\"exp\":1999999999}",
        "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"iat\":1,\"exp\":\"1999999999\"}",
        "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"iat\":1,\"exp\":99999999999999999999}",
        "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3302\",\"iat\":1,\"exp\":1999999999}",
        "{\"sub\":\"3f2504e0-4f89-41d3-9a0c-0305e82c3301\",\"iat\":1,\"exp\":1999999999}x",
        "[\"sub\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* A correct MAC over the bad payload with our key, computed
         * with OpenSSL's one-shot HMAC rather than the code under test. */
        char h[200], p[300];
        host_b64_encode(p, bad[i], strlen(bad[i]), true);
        snprintf(h, sizeof h, "%s", ks->k1.header);
        unsigned char mac[32];
        size_t maclen = sizeof mac;
        char signing[600];
        snprintf(signing, sizeof signing, "%s.%s", h, p);
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret1,
                       strlen(secret1), (unsigned char *)signing,
                       strlen(signing), mac, sizeof mac, &maclen))
            fail_msg("EVP_Q_mac failed");
        char s[64];
        host_b64_encode(s, mac, maclen, true);
        snprintf(tok, sizeof tok, "%s.%s", signing, s);
        int rc = verify1(ks, tok, T0, sub);
        if (rc != HOST_JWT_CLAIMS)
            fail_msg("payload %zu (%s) gave %s", i, bad[i],
                     host_jwt_reason(rc));
    }
    /* Extra claims and whitespace are fine when the three are there. */
    const char *ok = "{ \"sub\" : \"3f2504e0-4f89-41d3-9a0c-0305e82c3301\", "
                     "\"iat\":1764864000,\"exp\":1764864900,\"x\":\"y\"}";
    char p[300], signing[600], s[64];
    unsigned char mac[32];
    size_t maclen = sizeof mac;
    host_b64_encode(p, ok, strlen(ok), true);
    snprintf(signing, sizeof signing, "%s.%s", ks->k1.header, p);
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret1,
                              strlen(secret1), (unsigned char *)signing,
                              strlen(signing), mac, sizeof mac, &maclen));
    host_b64_encode(s, mac, maclen, true);
    snprintf(tok, sizeof tok, "%s.%s", signing, s);
    assert_int_equal(verify1(ks, tok, T0, sub), HOST_JWT_OK);
    assert_string_equal(sub, uid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_independent_implementation),
        cmocka_unit_test(sign_verify),
        cmocka_unit_test(sign_refuses_bad_subject),
        cmocka_unit_test(key_refuses_short_secret_and_bad_kid),
        cmocka_unit_test(tampered_payload),
        cmocka_unit_test(tampered_signature),
        cmocka_unit_test(expired),
        cmocka_unit_test(alg_none_and_others),
        cmocka_unit_test(wrong_kid_and_rotation),
        cmocka_unit_test(malformed),
        cmocka_unit_test(claims_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
