/*
 * invite_code.c - invite codes: 80 bits from the kernel's random source,
 * written as 16 symbols of Crockford's base32 in groups of four
 * ("7KQ2-M9XD-AR4T-0HZP").  The alphabet has no I, L, O or U, and reading
 * folds the look-alikes back (O->0, I/L->1), so a code read aloud or
 * copied by hand still works.  80 bits make guessing hopeless even
 * without a rate limit: 2^80 / (10^6 tries a second) is 38 billion years.
 *
 * Pure C (libc only), caller-provided buffers, no memory of its own.
 */
#include "groups_int.h"

#include <errno.h>
#include <sys/random.h>

static const char alphabet[33] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The value of a typed symbol, after folding; -1 when not a symbol. */
static int symbol_value(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    switch (c) {
    case 'O':
        c = '0';
        break;
    case 'I':
    case 'L':
        c = '1';
        break;
    default:
        break;
    }
    for (int i = 0; i < 32; i++)
        if (alphabet[i] == c)
            return i;
    return -1;
}

int grp_code_new(char out[GRP_CODE_FORMATTED])
{
    unsigned char rnd[GRP_CODE_SYMBOLS * 5 / 8]; /* 10 bytes, 80 bits */
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t n = getrandom(rnd + got, sizeof rnd - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    char canon[GRP_CODE_SYMBOLS + 1];
    /* Five bits a symbol, most significant first. */
    for (int i = 0; i < GRP_CODE_SYMBOLS; i++) {
        int bit = i * 5, v = 0;
        for (int k = 0; k < 5; k++, bit++)
            v = (v << 1) | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
        canon[i] = alphabet[v];
    }
    canon[GRP_CODE_SYMBOLS] = '\0';
    grp_code_format(canon, out);
    return 0;
}

bool grp_code_normalize(const char *in, char out[GRP_CODE_SYMBOLS + 1])
{
    int n = 0;
    if (!in)
        return false;
    for (const char *p = in; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        int v = symbol_value(*p);
        if (v < 0 || n == GRP_CODE_SYMBOLS)
            return false;
        out[n++] = alphabet[v];
    }
    out[n] = '\0';
    return n == GRP_CODE_SYMBOLS;
}

void grp_code_format(const char *canon, char out[GRP_CODE_FORMATTED])
{
    int o = 0;
    for (int i = 0; i < GRP_CODE_SYMBOLS; i++) {
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = canon[i];
    }
    out[o] = '\0';
}
