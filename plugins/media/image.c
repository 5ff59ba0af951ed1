/*
 * image.c - magic-byte sniffing and metadata stripping for JPEG, PNG and
 * WebP (see image.h).
 *
 * Every parser walks its container's own framing (JPEG markers and
 * segment lengths, PNG chunks, RIFF chunks) with a bounds check before
 * each read, and refuses what does not frame correctly, so hostile input
 * can only earn MEDIA_IMG_MALFORMED.  Nothing is allocated: the caller
 * owns in and out.  Fuzzed by tests/fuzz (media_image).
 */
#include "image.h"

#include <stdint.h>
#include <string.h>

const char *media_sniff(const unsigned char *p, size_t n)
{
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
        return "image/jpeg";
    if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (n >= 16 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBPVP8", 7) &&
        (p[15] == ' ' || p[15] == 'L' || p[15] == 'X'))
        return "image/webp";
    return NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 |
           p[0];
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---------------------------------------------------------------- JPEG */

/* Orientation (1..8) from an APP1 Exif payload ("Exif\0\0" + TIFF), or 0. */
static int exif_orientation(const unsigned char *p, size_t n)
{
    if (n < 6 + 8 || memcmp(p, "Exif\0\0", 6) != 0)
        return 0;
    const unsigned char *t = p + 6;
    size_t tn = n - 6;
    int le;
    if (!memcmp(t, "II*\0", 4))
        le = 1;
    else if (!memcmp(t, "MM\0*", 4))
        le = 0;
    else
        return 0;
#define U16(q) (le ? (unsigned)((q)[0] | (q)[1] << 8) \
                   : (unsigned)((q)[0] << 8 | (q)[1]))
#define U32(q) (le ? le32(q) : be32(q))
    uint32_t ifd = U32(t + 4);
    if (ifd > tn || tn - ifd < 2)
        return 0;
    unsigned count = U16(t + ifd);
    if ((tn - ifd - 2) / 12 < count)
        return 0;
    for (unsigned i = 0; i < count; i++) {
        const unsigned char *e = t + ifd + 2 + 12 * i;
        if (U16(e) == 0x0112 && U16(e + 2) == 3 && U32(e + 4) == 1) {
            unsigned v = U16(e + 8);
            return v >= 1 && v <= 8 ? (int)v : 0;
        }
    }
    return 0;
#undef U16
#undef U32
}

/* A complete APP1 segment holding only IFD0 Orientation; 36 bytes. */
static size_t minimal_exif(unsigned char *o, int orientation)
{
    static const unsigned char head[] = {
        0xFF, 0xE1, 0x00, 0x22,             /* APP1, length 34 */
        'E', 'x', 'i', 'f', 0, 0,           /* Exif identifier */
        'M', 'M', 0x00, 0x2A,               /* TIFF, big endian */
        0x00, 0x00, 0x00, 0x08,             /* IFD0 at offset 8 */
        0x00, 0x01,                         /* one entry */
        0x01, 0x12, 0x00, 0x03,             /* Orientation, SHORT */
        0x00, 0x00, 0x00, 0x01};            /* count 1 */
    memcpy(o, head, sizeof head);
    size_t k = sizeof head;
    o[k++] = 0x00;
    o[k++] = (unsigned char)orientation;
    o[k++] = 0x00;
    o[k++] = 0x00;
    o[k++] = 0x00; /* no next IFD */
    o[k++] = 0x00;
    o[k++] = 0x00;
    o[k++] = 0x00;
    return k;
}

static int strip_jpeg(const unsigned char *in, size_t n, unsigned char *out,
                      size_t *outlen, media_strip_stats *st)
{
    if (n < 4 || in[0] != 0xFF || in[1] != 0xD8)
        return MEDIA_IMG_MALFORMED;
    size_t i = 2, o = 0;
    out[o++] = 0xFF;
    out[o++] = 0xD8;
    size_t exif_at = 0; /* where the first removed Exif was, for its stand-in */
    int orientation = 0;
    int in_scan = 0;
    int frames = 0, scans = 0; /* an image has both */

    for (;;) {
        if (in_scan) {
            /* Entropy-coded data: runs until a marker that is not a
             * stuffed 0xFF00 or a restart marker. */
            size_t s = i;
            while (i + 1 < n &&
                   !(in[i] == 0xFF && in[i + 1] != 0x00 &&
                     !(in[i + 1] >= 0xD0 && in[i + 1] <= 0xD7)))
                i++;
            if (i + 1 >= n)
                return MEDIA_IMG_MALFORMED; /* no EOI */
            memcpy(out + o, in + s, i - s);
            o += i - s;
            in_scan = 0;
        }
        if (i >= n || in[i] != 0xFF)
            return MEDIA_IMG_MALFORMED;
        while (i < n && in[i] == 0xFF) /* fill bytes */
            i++;
        if (i >= n)
            return MEDIA_IMG_MALFORMED;
        unsigned m = in[i++];
        if (m == 0xD9) { /* EOI: the image ends; anything after is dropped */
            if (!frames || !scans)
                return MEDIA_IMG_MALFORMED;
            out[o++] = 0xFF;
            out[o++] = 0xD9;
            if (i < n)
                st->other++;
            break;
        }
        if (m == 0x00 || m == 0xD8)
            return MEDIA_IMG_MALFORMED;
        if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            out[o++] = 0xFF;
            out[o++] = (unsigned char)m;
            continue;
        }
        if (n - i < 2)
            return MEDIA_IMG_MALFORMED;
        size_t len = (size_t)in[i] << 8 | in[i + 1];
        if (len < 2 || len > n - i)
            return MEDIA_IMG_MALFORMED;
        const unsigned char *payload = in + i + 2;
        size_t plen = len - 2;
        int drop = 0;
        if (m == 0xE1) { /* APP1: Exif, XMP, extended XMP */
            drop = 1;
            if (plen >= 6 && !memcmp(payload, "Exif\0\0", 6)) {
                st->exif++;
                int v = exif_orientation(payload, plen);
                if (!exif_at) {
                    exif_at = o;
                    orientation = v;
                }
            } else if (plen >= 4 && !memcmp(payload, "http", 4)) {
                st->xmp++;
            } else {
                st->other++;
            }
        } else if (m == 0xE2 && plen >= 4 && !memcmp(payload, "MPF\0", 4)) {
            /* The multi-picture index points at images after EOI, which
             * are dropped (each has its own EXIF). */
            drop = 1;
            st->other++;
        }
        if (!drop) {
            out[o++] = 0xFF;
            out[o++] = (unsigned char)m;
            memcpy(out + o, in + i, len);
            o += len;
        }
        i += len;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            frames++; /* SOFn; C4 DHT, C8 JPG, CC DAC are not frames */
        if (m == 0xDA) {
            if (!frames)
                return MEDIA_IMG_MALFORMED;
            scans++;
            in_scan = 1;
        }
    }

    if (orientation > 1) {
        /* Put the orientation back where the Exif block was. */
        unsigned char seg[40];
        size_t k = minimal_exif(seg, orientation);
        memmove(out + exif_at + k, out + exif_at, o - exif_at);
        memcpy(out + exif_at, seg, k);
        o += k;
        st->orientation = orientation;
    }
    *outlen = o;
    return MEDIA_IMG_OK;
}

/* ----------------------------------------------------------------- PNG */

static int strip_png(const unsigned char *in, size_t n, unsigned char *out,
                     size_t *outlen, media_strip_stats *st)
{
    if (n < 8 || memcmp(in, "\x89PNG\r\n\x1a\n", 8) != 0)
        return MEDIA_IMG_MALFORMED;
    memcpy(out, in, 8);
    size_t i = 8, o = 8;
    int first = 1, idat = 0;
    for (;;) {
        if (n - i < 12)
            return MEDIA_IMG_MALFORMED; /* no IEND */
        uint32_t len = be32(in + i);
        const unsigned char *type = in + i + 4;
        if (len > n - i - 12)
            return MEDIA_IMG_MALFORMED;
        if (first && memcmp(type, "IHDR", 4) != 0)
            return MEDIA_IMG_MALFORMED;
        first = 0;
        size_t total = 12 + (size_t)len;
        int drop = 0;
        if (!memcmp(type, "IDAT", 4))
            idat++;
        if (!memcmp(type, "eXIf", 4)) {
            drop = 1;
            st->exif++;
        } else if (!memcmp(type, "iTXt", 4) && len >= 18 &&
                   !memcmp(in + i + 8, "XML:com.adobe.xmp", 18)) {
            drop = 1; /* the keyword and its NUL */
            st->xmp++;
        }
        if (!drop) {
            memcpy(out + o, in + i, total);
            o += total;
        }
        i += total;
        if (!memcmp(type, "IEND", 4)) {
            if (!idat)
                return MEDIA_IMG_MALFORMED; /* no pixels */
            if (i < n)
                st->other++;
            break;
        }
    }
    *outlen = o;
    return MEDIA_IMG_OK;
}

/* ---------------------------------------------------------------- WebP */

static int strip_webp(const unsigned char *in, size_t n, unsigned char *out,
                      size_t *outlen, media_strip_stats *st)
{
    if (n < 20 || memcmp(in, "RIFF", 4) || memcmp(in + 8, "WEBP", 4))
        return MEDIA_IMG_MALFORMED;
    uint32_t riff = le32(in + 4);
    if (riff < 4 || riff > n - 8)
        return MEDIA_IMG_MALFORMED;
    size_t end = 8 + (size_t)riff; /* bytes past the RIFF are dropped */
    if (end < n)
        st->other++;
    memcpy(out, in, 12);
    size_t i = 12, o = 12, vp8x = 0;
    int images = 0;
    while (i < end) {
        if (end - i < 8)
            return MEDIA_IMG_MALFORMED;
        uint32_t len = le32(in + i + 4);
        size_t padded = (size_t)len + (len & 1);
        if (padded > end - i - 8)
            return MEDIA_IMG_MALFORMED;
        const unsigned char *cc = in + i;
        int drop = 0;
        if (i == 12 && memcmp(cc, "VP8 ", 4) && memcmp(cc, "VP8L", 4) &&
            memcmp(cc, "VP8X", 4))
            return MEDIA_IMG_MALFORMED; /* what media_sniff() checked */
        if (!memcmp(cc, "VP8 ", 4) || !memcmp(cc, "VP8L", 4) ||
            !memcmp(cc, "ANMF", 4))
            images++;
        if (!memcmp(cc, "EXIF", 4)) {
            drop = 1;
            st->exif++;
        } else if (!memcmp(cc, "XMP ", 4)) {
            drop = 1;
            st->xmp++;
        } else if (!memcmp(cc, "VP8X", 4)) {
            if (len < 10 || vp8x)
                return MEDIA_IMG_MALFORMED;
            vp8x = o;
        }
        if (!drop) {
            memcpy(out + o, in + i, 8 + padded);
            o += 8 + padded;
        }
        i += 8 + padded;
    }
    if (!images)
        return MEDIA_IMG_MALFORMED;
    if (vp8x)
        out[vp8x + 8] &= (unsigned char)~(0x08 | 0x04); /* EXIF, XMP flags */
    put_le32(out + 4, (uint32_t)(o - 8));
    *outlen = o;
    return MEDIA_IMG_OK;
}

int media_strip_metadata(const char *type, const unsigned char *in, size_t n,
                         unsigned char *out, size_t *outlen,
                         media_strip_stats *stats)
{
    media_strip_stats dummy;
    media_strip_stats *st = stats ? stats : &dummy;
    memset(st, 0, sizeof *st);
    *outlen = 0;
    if (!type || !in)
        return MEDIA_IMG_MALFORMED;
    if (!strcmp(type, "image/jpeg"))
        return strip_jpeg(in, n, out, outlen, st);
    if (!strcmp(type, "image/png"))
        return strip_png(in, n, out, outlen, st);
    if (!strcmp(type, "image/webp"))
        return strip_webp(in, n, out, outlen, st);
    return MEDIA_IMG_MALFORMED;
}
