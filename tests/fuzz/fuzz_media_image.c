/*
 * fuzz_media_image.c - libFuzzer target for the media plugin's image code
 * (plugins/media/image.c): magic-byte sniffing and metadata stripping
 * face every byte a client uploads.
 *
 * Input: the first byte picks the type the client declared (jpeg, png,
 * webp, or what the bytes sniff as); the rest is the body.  Besides "no
 * crash, no UB, no out-of-bounds read", it checks the contract: success
 * writes at most n + 64 bytes, the output sniffs as the same type, and
 * stripping what was already stripped changes nothing (idempotence:
 * nothing left to remove, the pixels copied byte for byte).  Memory: two
 * malloc'd buffers per run, freed before returning.
 */
#include "image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_media_image: %s:%d: %s\n", __FILE__,     \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const types[] = {"image/jpeg", "image/png",
                                        "image/webp", NULL};
    const unsigned char *in = data + 1;
    size_t n = size - 1;
    const char *type = types[data[0] % 4];
    const char *sniffed = media_sniff(in, n);
    if (!type)
        type = sniffed;
    if (!type)
        return 0;
    unsigned char *out = malloc(n + 64);
    CHECK(out);
    size_t m = 0;
    media_strip_stats st;
    int rc = media_strip_metadata(type, in, n, out, &m, &st);
    if (rc == MEDIA_IMG_OK) {
        CHECK(m <= n + 64);
        CHECK(media_sniff(out, m) == NULL || sniffed == NULL ||
              strcmp(media_sniff(out, m), type) == 0 ||
              strcmp(sniffed, type) != 0);
        unsigned char *again = malloc(m + 64);
        CHECK(again);
        size_t m2 = 0;
        media_strip_stats st2;
        CHECK(media_strip_metadata(type, out, m, again, &m2, &st2) ==
              MEDIA_IMG_OK);
        CHECK(st2.xmp == 0 && st2.other == 0);
        CHECK(m2 == m && memcmp(again, out, m) == 0);
        free(again);
    } else {
        CHECK(rc == MEDIA_IMG_MALFORMED);
    }
    free(out);
    return 0;
}
