/*
 * image.h - what the media plugin knows about image bytes: the type their
 * magic bytes say, and how to remove the metadata that leaks where a photo
 * was taken.  Pure functions over buffers (no SDK, no allocation), so the
 * fuzz target and the unit tests call them directly.
 */
#ifndef TASQLY_MEDIA_IMAGE_H
#define TASQLY_MEDIA_IMAGE_H

#include <stddef.h>

/* "image/jpeg", "image/png", "image/webp" (static), or NULL when the bytes
 * are none of these. */
const char *media_sniff(const unsigned char *p, size_t n);

enum {
    MEDIA_IMG_OK = 0,
    MEDIA_IMG_MALFORMED = -1, /* not a well-formed file of its type */
};

typedef struct media_strip_stats {
    int exif;       /* EXIF blocks removed (JPEG APP1, PNG eXIf, WebP EXIF) */
    int xmp;        /* XMP packets removed */
    int other;      /* other dropped parts (MPF, bytes after the end) */
    int orientation; /* EXIF orientation kept (2..8), 0 when none */
} media_strip_stats;

/*
 * Copy the image in[0..n) of type (as media_sniff() names it) into out,
 * which must hold n + 64 bytes, without its EXIF and XMP metadata (GPS
 * position, camera serial, timestamps): JPEG APP1 segments (a minimal
 * EXIF holding only the orientation is put back when the photo had one,
 * so phones' portrait shots still display upright), the MPF index and
 * anything after the end of the image (embedded previews and videos
 * carry their own EXIF); PNG eXIf and XMP iTXt chunks; WebP EXIF and XMP
 * chunks (with the VP8X flags and RIFF size fixed).  Pixel data is copied
 * byte for byte.  Returns MEDIA_IMG_OK with *outlen, or
 * MEDIA_IMG_MALFORMED.  stats may be NULL.
 */
int media_strip_metadata(const char *type, const unsigned char *in, size_t n,
                         unsigned char *out, size_t *outlen,
                         media_strip_stats *stats);

#endif
