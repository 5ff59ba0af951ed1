/*
 * jwt.c - access tokens: JSON Web Tokens (RFC 7519) signed with HS256
 * (RFC 7515 HMAC-SHA256), claims sub, iat, exp.
 *
 * We are both the only issuer and the only verifier, so the accepted
 * header is not parsed but compared byte for byte with the one we mint for
 * each known key: {"alg":"HS256","typ":"JWT","kid":"<kid>"}.  That single
 * comparison refuses alg "none", every other alg, and unknown kids, and
 * leaves no header parser facing the network.  The kid picks the secret,
 * so a new secret can be rolled in while tokens signed with the previous
 * one still verify until they expire.
 *
 * Verification is on every request's path: it allocates nothing after the
 * first call on a thread (each thread keeps its own keyed HMAC context,
 * freed when the thread exits), decodes into stack buffers, and compares
 * the MAC in constant time.  The payload is only read after the signature
 * matched, with a small scanner for the flat object we mint.
 *
 * Memory: host_jwt_key owns its OpenSSL MAC template; callers own every
 * buffer they pass.
 */
#include "auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32
#define SIG_B64_LEN HOST_B64_LEN(MAC_LEN) /* 43 */
#define PAYLOAD_MAX 256                   /* decoded bytes we accept */
#define IAT_SKEW_S 60                     /* replicas' clocks may differ */

static bool kid_ok(const char *kid)
{
    size_t n = strlen(kid);
    if (n == 0 || n > HOST_JWT_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void tls_free(void *p) { EVP_MAC_CTX_free(p); }

int host_jwt_key_init(host_jwt_key *k, const char *kid, const void *secret,
                      size_t secret_len)
{
    memset(k, 0, sizeof *k);
    if (!kid || !kid_ok(kid) || secret_len < HOST_JWT_MIN_SECRET)
        return TQ_ERR;
    snprintf(k->kid, sizeof k->kid, "%s", kid);

    char hdr[128];
    int n = snprintf(hdr, sizeof hdr,
                     "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    if (n < 0 || (size_t)n >= sizeof hdr ||
        HOST_B64_LEN((size_t)n) >= sizeof k->header)
        return TQ_ERR;
    k->header_len = host_b64_encode(k->header, hdr, (size_t)n, true);

    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac)
        return TQ_ERR;
    k->mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!k->mac || EVP_MAC_init(k->mac, secret, secret_len, params) != 1) {
        EVP_MAC_CTX_free(k->mac);
        k->mac = NULL;
        return TQ_ERR;
    }
    if (pthread_key_create(&k->tls, tls_free) != 0) {
        EVP_MAC_CTX_free(k->mac);
        k->mac = NULL;
        return TQ_ERR;
    }
    k->ready = true;
    return TQ_OK;
}

void host_jwt_key_free(host_jwt_key *k)
{
    if (!k->ready)
        return;
    /* Other threads' copies go with their threads; this one's now. */
    EVP_MAC_CTX_free(pthread_getspecific(k->tls));
    pthread_key_delete(k->tls);
    EVP_MAC_CTX_free(k->mac);
    memset(k, 0, sizeof *k);
}

/* HMAC-SHA256 over the two parts joined by '.', with this thread's
 * context (made once from the key's template). */
static int mac(const host_jwt_key *k, const char *a, size_t alen,
               const char *b, size_t blen, unsigned char out[MAC_LEN])
{
    EVP_MAC_CTX *ctx = pthread_getspecific(k->tls);
    if (!ctx) {
        ctx = EVP_MAC_CTX_dup(k->mac);
        if (!ctx)
            return TQ_ERR;
        if (pthread_setspecific(k->tls, ctx) != 0) {
            EVP_MAC_CTX_free(ctx);
            return TQ_ERR;
        }
    }
    size_t outl = 0;
    /* A NULL key restarts the MAC with the key already set. */
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)a, alen) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) != 1 ||
        EVP_MAC_update(ctx, (const unsigned char *)b, blen) != 1 ||
        EVP_MAC_final(ctx, out, &outl, MAC_LEN) != 1 || outl != MAC_LEN)
        return TQ_ERR;
    return TQ_OK;
}

int host_jwt_sign(const host_jwt_key *k, const char *sub, int64_t iat,
                  int64_t exp, char *out, size_t outlen)
{
    char payload[128];
    if (!k->ready || strlen(sub) != 36 || strpbrk(sub, "\"\\"))
        return TQ_ERR;
    int n = snprintf(payload, sizeof payload,
                     "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", sub,
                     (long long)iat, (long long)exp);
    if (n < 0 || (size_t)n >= sizeof payload)
        return TQ_ERR;

    size_t need = k->header_len + 1 + HOST_B64_LEN((size_t)n) + 1 +
                  SIG_B64_LEN + 1;
    if (need > outlen || need > HOST_JWT_MAX)
        return TQ_ERR;
    char *p = out;
    memcpy(p, k->header, k->header_len);
    p += k->header_len;
    *p++ = '.';
    const char *body = p;
    p += host_b64_encode(p, payload, (size_t)n, true);
    size_t body_len = (size_t)(p - body);

    unsigned char sig[MAC_LEN];
    if (mac(k, k->header, k->header_len, body, body_len, sig) != TQ_OK)
        return TQ_ERR;
    *p++ = '.';
    host_b64_encode(p, sig, sizeof sig, true);
    return TQ_OK;
}

/* ---------------------------------------------------------- the claims */

/*
 * The payload scanner: a flat JSON object whose values are strings without
 * escapes or integers.  It only ever sees payloads whose MAC matched, that
 * is payloads we minted, but it still checks every byte it reads.
 */
typedef struct claims {
    const char *sub;
    size_t sub_len;
    int64_t iat, exp;
    bool has_sub, has_iat, has_exp;
} claims;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *scan_string(const char *p, const char *end,
                               const char **s, size_t *len)
{
    if (p >= end || *p != '"')
        return NULL;
    const char *start = ++p;
    while (p < end && *p != '"') {
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return NULL;
        p++;
    }
    if (p >= end)
        return NULL;
    *s = start;
    *len = (size_t)(p - start);
    return p + 1;
}

static const char *scan_int(const char *p, const char *end, int64_t *out)
{
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return NULL;
    int64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return NULL;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return p;
}

static bool scan_claims(const char *p, const char *end, claims *c)
{
    memset(c, 0, sizeof *c);
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return false;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return false; /* empty: no sub */
    for (;;) {
        const char *key, *sv;
        size_t klen, slen;
        int64_t iv;
        p = scan_string(skip_ws(p, end), end, &key, &klen);
        if (!p)
            return false;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            return false;
        p = skip_ws(p, end);
        bool is_str = p < end && *p == '"';
        p = is_str ? scan_string(p, end, &sv, &slen) : scan_int(p, end, &iv);
        if (!p)
            return false;
        if (klen == 3 && memcmp(key, "sub", 3) == 0) {
            if (!is_str || c->has_sub)
                return false;
            c->sub = sv;
            c->sub_len = slen;
            c->has_sub = true;
        } else if (klen == 3 && memcmp(key, "iat", 3) == 0) {
            if (is_str || c->has_iat)
                return false;
            c->iat = iv;
            c->has_iat = true;
        } else if (klen == 3 && memcmp(key, "exp", 3) == 0) {
            if (is_str || c->has_exp)
                return false;
            c->exp = iv;
            c->has_exp = true;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}')
            break;
        return false;
    }
    return skip_ws(p + 1, end) == end && c->has_sub && c->has_exp &&
           c->has_iat;
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char ch = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return false;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return false; /* we mint lower case only */
        }
    }
    return true;
}

int host_jwt_verify(const host_jwt_key *const *keys, int nkeys,
                    const char *tok, size_t len, int64_t now, char sub[37])
{
    sub[0] = '\0';
    if (len == 0 || len >= HOST_JWT_MAX)
        return HOST_JWT_MALFORMED;
    const char *dot1 = memchr(tok, '.', len);
    if (!dot1)
        return HOST_JWT_MALFORMED;
    const char *body = dot1 + 1;
    const char *dot2 = memchr(body, '.', len - (size_t)(body - tok));
    if (!dot2)
        return HOST_JWT_MALFORMED;
    const char *sig = dot2 + 1;
    size_t hlen = (size_t)(dot1 - tok), blen = (size_t)(dot2 - body);
    size_t slen = len - (size_t)(sig - tok);

    const host_jwt_key *k = NULL;
    for (int i = 0; i < nkeys && !k; i++)
        if (keys[i] && keys[i]->ready && keys[i]->header_len == hlen &&
            memcmp(keys[i]->header, tok, hlen) == 0)
            k = keys[i];
    if (!k)
        return HOST_JWT_HEADER;

    unsigned char want[MAC_LEN], got[MAC_LEN];
    if (slen != SIG_B64_LEN ||
        host_b64_decode(got, sizeof got, sig, slen, true) != MAC_LEN)
        return HOST_JWT_SIGNATURE;
    if (mac(k, tok, hlen, body, blen, want) != TQ_OK)
        return HOST_JWT_INTERNAL;
    if (CRYPTO_memcmp(want, got, MAC_LEN) != 0)
        return HOST_JWT_SIGNATURE;

    char payload[PAYLOAD_MAX];
    ssize_t plen = host_b64_decode(payload, sizeof payload, body, blen, true);
    claims c;
    if (plen < 2 || !scan_claims(payload, payload + plen, &c) ||
        !is_uuid(c.sub, c.sub_len))
        return HOST_JWT_CLAIMS;
    if (c.exp <= now)
        return HOST_JWT_EXPIRED;
    if (c.iat > now + IAT_SKEW_S)
        return HOST_JWT_FUTURE;
    memcpy(sub, c.sub, 36);
    sub[36] = '\0';
    return HOST_JWT_OK;
}

const char *host_jwt_reason(int rc)
{
    switch (rc) {
    case HOST_JWT_OK: return "ok";
    case HOST_JWT_MALFORMED: return "malformed token";
    case HOST_JWT_HEADER: return "unknown alg or kid";
    case HOST_JWT_SIGNATURE: return "bad signature";
    case HOST_JWT_CLAIMS: return "unreadable claims";
    case HOST_JWT_EXPIRED: return "expired";
    case HOST_JWT_FUTURE: return "issued in the future";
    default: return "internal error";
    }
}
