/*
 * tokens.c - opaque tokens: refresh tokens and password-reset tokens.
 *
 * A token is 256 random bits from OpenSSL's CSPRNG, written as 43
 * base64url characters.  The database keeps only the SHA-256 of the text:
 * a leaked table lets nobody sign in.  A plain hash (no salt, no KDF) is
 * enough because the input has 256 bits of entropy: there is nothing to
 * guess.  Lookups are by hash, so no comparison of secrets happens in C.
 *
 * Memory: callers own the buffers.
 */
#include "host.h"
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static bool sha256_hex(const char *s, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != sizeof md)
        return false;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return true;
}

int host_auth_new_token(char token[HOST_TOKEN_LEN + 1], char hash_hex[65])
{
    unsigned char raw[HOST_TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return TQ_ERR;
    host_b64_encode(token, raw, sizeof raw, true);
    OPENSSL_cleanse(raw, sizeof raw);
    return sha256_hex(token, HOST_TOKEN_LEN, hash_hex) ? TQ_OK : TQ_ERR;
}

bool host_auth_token_hash(const char *token, char hash_hex[65])
{
    unsigned char raw[HOST_TOKEN_BYTES];
    size_t n = strlen(token);
    hash_hex[0] = '\0';
    /* Only a canonical 43-character encoding can be one we issued. */
    if (n != HOST_TOKEN_LEN ||
        host_b64_decode(raw, sizeof raw, token, n, true) != HOST_TOKEN_BYTES)
        return false;
    return sha256_hex(token, n, hash_hex);
}
