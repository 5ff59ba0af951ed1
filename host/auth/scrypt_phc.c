/*
 * scrypt_phc.c - password hashing: scrypt (RFC 7914) through OpenSSL, and
 * the PHC string format that records salt and parameters with the hash:
 *
 *     $scrypt$ln=17,r=8,p=1$<salt, base64>$<hash, base64>
 *
 * ln is log2(N), as passlib and the PHC reference write it, so any N we
 * store is a power of two by construction.  The parser is strict (one
 * spelling per value, canonical base64) because the string is ours: a
 * stored hash that does not parse is corruption, not a format to guess at.
 *
 * Nothing here knows about configuration, the hashing slots or requests
 * (password.c does); callers own every buffer.
 */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRYPT_MAX_LN 24                 /* N = 16 Mi: 2 GiB at r = 1 */
#define SCRYPT_MAX_MEM (1024ull << 20)   /* per buffer; refuses typos */

bool host_scrypt_params_ok(uint64_t n, uint32_t r, uint32_t p)
{
    if (n < 2 || n > (1ull << SCRYPT_MAX_LN) || (n & (n - 1)) != 0)
        return false;
    if (r < 1 || p < 1)
        return false;
    /* RFC 7914: p <= (2^32 - 1) * hLen / MFLen; our memory cap is far
     * stricter and keeps every product below in range. */
    if ((uint64_t)r * 128 * n > SCRYPT_MAX_MEM ||
        (uint64_t)r * 128 * p > SCRYPT_MAX_MEM)
        return false;
    return true;
}

int host_scrypt(const void *pass, size_t pass_len, const void *salt,
                size_t salt_len, uint64_t n, uint32_t r, uint32_t p,
                unsigned char *out, size_t out_len)
{
    if (!host_scrypt_params_ok(n, r, p))
        return TQ_ERR;
    /* OpenSSL refuses unless maxmem covers B (128 r p) and V
     * (128 r (N + 2)); its own default of 32 MiB is below OWASP's N. */
    uint64_t maxmem = (uint64_t)128 * r * (n + 2) + (uint64_t)128 * r * p;
    /* OpenSSL wants a non-NULL pointer even for an empty password. */
    const char *pw = pass_len ? pass : "";
    const unsigned char *sa = salt_len ? salt : (const unsigned char *)"";
    if (EVP_PBE_scrypt(pw, pass_len, sa, salt_len, n, r, p, maxmem, out,
                       out_len) != 1)
        return TQ_ERR;
    return TQ_OK;
}

static int log2_exact(uint64_t n)
{
    int ln = 0;
    while (((uint64_t)1 << ln) < n)
        ln++;
    return ln;
}

int host_phc_encode(const host_phc *h, char *out, size_t outlen)
{
    char salt[HOST_B64_LEN(HOST_PHC_MAX_BYTES) + 1];
    char hash[HOST_B64_LEN(HOST_PHC_MAX_BYTES) + 1];
    if (!host_scrypt_params_ok(h->n, h->r, h->p) || h->salt_len == 0 ||
        h->salt_len > HOST_PHC_MAX_BYTES || h->hash_len == 0 ||
        h->hash_len > HOST_PHC_MAX_BYTES)
        return TQ_ERR;
    host_b64_encode(salt, h->salt, h->salt_len, false);
    host_b64_encode(hash, h->hash, h->hash_len, false);
    int len = snprintf(out, outlen, "$scrypt$ln=%d,r=%u,p=%u$%s$%s",
                       log2_exact(h->n), h->r, h->p, salt, hash);
    if (len < 0 || (size_t)len >= outlen)
        return TQ_ERR;
    return TQ_OK;
}

/* A decimal without sign, leading zeros or overflow; advances *s. */
static bool read_uint(const char **s, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return false;
    }
    *s = p;
    *out = v;
    return true;
}

static bool expect(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

int host_phc_decode(const char *s, host_phc *h)
{
    uint64_t ln, r, p;
    memset(h, 0, sizeof *h);
    if (!expect(&s, "$scrypt$ln=") || !read_uint(&s, SCRYPT_MAX_LN, &ln) ||
        !expect(&s, ",r=") || !read_uint(&s, UINT32_MAX, &r) ||
        !expect(&s, ",p=") || !read_uint(&s, UINT32_MAX, &p) ||
        !expect(&s, "$"))
        return TQ_ERR;
    h->n = (uint64_t)1 << ln;
    h->r = (uint32_t)r;
    h->p = (uint32_t)p;
    if (!host_scrypt_params_ok(h->n, h->r, h->p))
        return TQ_ERR;

    const char *dollar = strchr(s, '$');
    if (!dollar)
        return TQ_ERR;
    ssize_t sl = host_b64_decode(h->salt, sizeof h->salt, s,
                                 (size_t)(dollar - s), false);
    s = dollar + 1;
    ssize_t hl = host_b64_decode(h->hash, sizeof h->hash, s, strlen(s),
                                 false);
    if (sl < 1 || hl < 1)
        return TQ_ERR;
    h->salt_len = (size_t)sl;
    h->hash_len = (size_t)hl;
    return TQ_OK;
}

int host_phc_hash(const void *pass, size_t pass_len, uint64_t n, uint32_t r,
                  uint32_t p, char *out, size_t outlen)
{
    host_phc h = {.n = n, .r = r, .p = p,
                  .salt_len = HOST_PHC_SALT_LEN,
                  .hash_len = HOST_PHC_HASH_LEN};
    if (RAND_bytes(h.salt, (int)h.salt_len) != 1)
        return TQ_ERR;
    int rc = host_scrypt(pass, pass_len, h.salt, h.salt_len, n, r, p, h.hash,
                         h.hash_len);
    if (rc == TQ_OK)
        rc = host_phc_encode(&h, out, outlen);
    OPENSSL_cleanse(h.hash, sizeof h.hash);
    return rc;
}

int host_phc_verify(const void *pass, size_t pass_len, const host_phc *h)
{
    unsigned char got[HOST_PHC_MAX_BYTES];
    if (h->hash_len == 0 || h->hash_len > sizeof got)
        return TQ_ERR;
    if (host_scrypt(pass, pass_len, h->salt, h->salt_len, h->n, h->r, h->p,
                    got, h->hash_len) != TQ_OK)
        return TQ_ERR;
    int same = CRYPTO_memcmp(got, h->hash, h->hash_len) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return same;
}
