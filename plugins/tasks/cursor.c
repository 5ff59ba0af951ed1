/*
 * cursor.c - keyset pagination cursors.  A cursor is the sort key of the
 * last row a page showed; the next page starts strictly after it, so rows
 * inserted meanwhile never shift what follows (no duplicates, no gaps,
 * unlike OFFSET).  On the wire it is base64url without padding of
 *
 *   task list:  't', rank (1 byte), key (8 bytes big-endian), id (16)
 *   comments:   'c', seq (8 bytes big-endian)
 *
 * Opaque to clients; parsing is strict, so a cursor that this code did
 * not make is refused before it reaches SQL.  Pure C.
 *
 * Memory: output goes into the caller's buffer of TSK_CURSOR_LEN bytes.
 */
#include "tasks_int.h"

#include <stdint.h>
#include <string.h>

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(char *out, size_t outlen, const unsigned char *in,
                   size_t n)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6 && o + 1 < outlen) {
            bits -= 6;
            out[o++] = b64[(acc >> bits) & 63];
        }
    }
    if (bits > 0 && o + 1 < outlen)
        out[o++] = b64[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* Decodes exactly n bytes; false on any other length or alphabet, or
 * when the unused low bits of the last symbol are not zero (so each byte
 * string has exactly one spelling). */
static bool decode(const char *s, unsigned char *out, size_t n)
{
    size_t len = strlen(s);
    if (len != (n * 8 + 5) / 6)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = strchr(b64, s[i]);
        if (!s[i] || !c)
            return false;
        acc = (acc << 6) | (uint32_t)(c - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o == n && (acc & ((1u << bits) - 1)) == 0;
}

static void put64(unsigned char *p, long long v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (unsigned char)(u & 0xff);
}

static long long get64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (long long)u;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void tsk_cursor_task(char out[TSK_CURSOR_LEN], int rank, long long key,
                     const char *id)
{
    unsigned char raw[26] = {'t', (unsigned char)rank};
    put64(raw + 2, key);
    /* id comes from our own result; anything else encodes as zeros. */
    if (tq_is_uuid(id))
        for (int i = 0, o = 10; o < 26; i++) {
            if (id[i] == '-')
                continue;
            raw[o++] = (unsigned char)(hexval(id[i]) << 4 | hexval(id[i + 1]));
            i++;
        }
    encode(out, TSK_CURSOR_LEN, raw, sizeof raw);
}

bool tsk_cursor_task_parse(const char *s, int *rank, long long *key,
                           char id[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[26];
    if (!s || !decode(s, raw, sizeof raw) || raw[0] != 't' || raw[1] > 1)
        return false;
    *rank = raw[1];
    *key = get64(raw + 2);
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            id[o++] = '-';
        id[o++] = hex[raw[10 + i] >> 4];
        id[o++] = hex[raw[10 + i] & 15];
    }
    id[36] = '\0';
    return true;
}

void tsk_cursor_seq(char out[TSK_CURSOR_LEN], long long seq)
{
    unsigned char raw[9] = {'c'};
    put64(raw + 1, seq);
    encode(out, TSK_CURSOR_LEN, raw, sizeof raw);
}

bool tsk_cursor_seq_parse(const char *s, long long *seq)
{
    unsigned char raw[9];
    if (!s || !decode(s, raw, sizeof raw) || raw[0] != 'c')
        return false;
    *seq = get64(raw + 1);
    return *seq >= 0;
}
