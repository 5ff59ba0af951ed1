/*
 * b64.c - unpadded base64 (PHC strings) and base64url (JWT, opaque
 * tokens), RFC 4648.
 *
 * Decoding is strict on purpose: a token whose last character carried
 * stray low bits would decode to the same bytes as the genuine one, so a
 * "tampered" signature could still verify.  Every byte string therefore
 * has exactly one accepted encoding.  Callers own both buffers.
 */
#include "auth.h"

#include <string.h>

static const char std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t host_b64_encode(char *out, const void *in, size_t n, bool url)
{
    const char *a = url ? url_alpha : std_alpha;
    const unsigned char *s = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int sextet(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

ssize_t host_b64_decode(void *out, size_t cap, const char *in, size_t n,
                        bool url)
{
    if (n % 4 == 1)
        return -1; /* no byte string encodes to this length */
    size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (len > cap)
        return -1;
    unsigned char *d = out;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = sextet(in[i], url);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1; /* leftover bits must be zero: one encoding only */
    return (ssize_t)o;
}
