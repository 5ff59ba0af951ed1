/*
 * test_image.c - plugins/media/image.c: magic-byte sniffing, and metadata
 * stripping checked by Debian's own tools on real files: ImageMagick
 * makes the images, exiftool writes GPS positions into them, our code
 * strips them, and exiftool must then find no GPS (nor any other EXIF or
 * XMP) while identify still decodes the image to the same pixels.  Ends
 * with a deterministic mutation loop (the fuzz target's poor cousin) so
 * hostile bytes are exercised under ASan in every run.
 *
 * Files live in a temporary directory removed at the end.
 */
#include "image.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

static char *path_of(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

/* Output of a shell command (malloc'd, NUL-terminated). */
static char *capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *capture(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t r;
    while ((r = fread(out + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[n] = '\0';
    pclose(f);
    return out;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Strip in -> out (files), asserting success; returns the stats. */
static media_strip_stats strip_file(const char *type, const char *in,
                                    const char *out)
{
    size_t n, m;
    unsigned char *src = slurp(in, &n);
    unsigned char *dst = malloc(n + 64);
    assert_non_null(dst);
    media_strip_stats st;
    assert_int_equal(media_strip_metadata(type, src, n, dst, &m, &st),
                     MEDIA_IMG_OK);
    assert_true(m <= n + 64);
    spit(out, dst, m);
    free(src);
    free(dst);
    return st;
}

static const char GPS_ARGS[] =
    "-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 "
    "-GPSLongitudeRef=E -GPSAltitude=35 -Make=TestPhone "
    "-SerialNumber=SN123456 -XMP:GPSLatitude=48.8584 "
    "-XMP:GPSLongitude=2.2945";

/* The metadata left, as exiftool sees it: the "-G" groups EXIF and XMP
 * and every GPS tag.  Empty when clean. */
static void assert_no_location(const char *file)
{
    char *tags = capture("exiftool -q -G -s -a -EXIF:all -XMP:all "
                         "-GPS:all '%s' 2>&1",
                         file);
    if (strstr(tags, "GPS") || strstr(tags, "TestPhone") ||
        strstr(tags, "SN123456") || strstr(tags, "[XMP]"))
        fail_msg("metadata survived in %s:\n%s", file, tags);
    free(tags);
}

static void assert_same_pixels(const char *a, const char *b)
{
    char *pa = capture("convert '%s' rgb:- | sha256sum", a);
    /* b is ours: any decoder warning about it is a failure. */
    char *pb = capture("convert -regard-warnings '%s' rgb:- | sha256sum", b);
    assert_true(strlen(pa) > 64);
    assert_string_equal(pa, pb);
    free(pa);
    free(pb);
}

/* ------------------------------------------------------------- sniff */

static void test_sniff(void **state)
{
    (void)state;
    static const unsigned char jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
    static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    static const unsigned char webp[] = "RIFF\x10\0\0\0WEBPVP8 ";
    static const unsigned char webpl[] = "RIFF\x10\0\0\0WEBPVP8L";
    static const unsigned char wav[] = "RIFF\x10\0\0\0WAVEfmt ";
    static const unsigned char gif[] = "GIF89a\x01\0\x01\0";
    assert_string_equal(media_sniff(jpg, sizeof jpg), "image/jpeg");
    assert_string_equal(media_sniff(png, sizeof png - 1), "image/png");
    assert_string_equal(media_sniff(webp, 16), "image/webp");
    assert_string_equal(media_sniff(webpl, 16), "image/webp");
    assert_null(media_sniff(wav, 16));
    assert_null(media_sniff(gif, sizeof gif - 1));
    assert_null(media_sniff(jpg, 2));     /* too short */
    assert_null(media_sniff(png, 7));
    assert_null(media_sniff(webp, 15));
    assert_null(media_sniff((const unsigned char *)"", 0));
    static const unsigned char html[] = "<html><img src=x></html>";
    assert_null(media_sniff(html, sizeof html - 1));
}

/* ------------------------------------------------------------- JPEG */

static void test_jpeg_gps_stripped(void **state)
{
    (void)state;
    const char *in = path_of("gps.jpg"), *out = path_of("gps-clean.jpg");
    run("convert -size 64x48 gradient:red-blue '%s'", in);
    run("exiftool -q -overwrite_original %s -Orientation#=6 '%s'", GPS_ARGS,
        in);
    /* The fixture really has what we mean to remove. */
    char *before = capture("exiftool -q -s -GPSLatitude '%s'", in);
    assert_non_null(strstr(before, "GPSLatitude"));
    free(before);

    media_strip_stats st = strip_file("image/jpeg", in, out);
    assert_int_equal(st.exif, 1);
    assert_int_equal(st.xmp, 1);
    assert_int_equal(st.orientation, 6);
    assert_no_location(out);
    /* Orientation survives, alone, so portrait photos stay upright. */
    char *o = capture("exiftool -q -s -n -Orientation '%s'", out);
    assert_non_null(strstr(o, "Orientation"));
    assert_non_null(strstr(o, ": 6"));
    free(o);
    run("identify -regard-warnings '%s' >/dev/null", out);
    char *dims = capture("identify -format '%%wx%%h' '%s'", out);
    assert_string_equal(dims, "64x48");
    free(dims);
    assert_same_pixels(in, out);
}

static void test_jpeg_progressive_and_trailer(void **state)
{
    (void)state;
    const char *in = path_of("prog.jpg"), *out = path_of("prog-clean.jpg");
    run("convert -size 80x60 plasma:fractal -seed 7 -interlace Plane "
        "-quality 80 '%s'",
        in);
    run("exiftool -q -overwrite_original %s '%s'", GPS_ARGS, in);
    /* Bytes after the end of image (where phones put motion videos and
     * previews with their own EXIF) must go too. */
    run("printf 'TRAILER-with-GPS' >> '%s'", in);
    media_strip_stats st = strip_file("image/jpeg", in, out);
    assert_int_equal(st.exif, 1);
    assert_int_equal(st.orientation, 0);
    assert_true(st.other >= 1);
    assert_no_location(out);
    char *tail = capture("tail -c 2 '%s' | od -An -tx1", out);
    assert_non_null(strstr(tail, "ff d9"));
    free(tail);
    run("identify -regard-warnings '%s' >/dev/null", out);
    assert_same_pixels(in, out);
}

static void test_jpeg_without_metadata_is_unchanged(void **state)
{
    (void)state;
    const char *in = path_of("plain.jpg"), *out = path_of("plain-out.jpg");
    run("convert -size 16x16 xc:orange -strip '%s'", in);
    media_strip_stats st = strip_file("image/jpeg", in, out);
    assert_int_equal(st.exif + st.xmp + st.other, 0);
    size_t a, b;
    unsigned char *x = slurp(in, &a), *y = slurp(out, &b);
    assert_int_equal(a, b);
    assert_memory_equal(x, y, a);
    free(x);
    free(y);
}

static void test_jpeg_malformed(void **state)
{
    (void)state;
    const char *in = path_of("gps.jpg"); /* from test_jpeg_gps_stripped */
    size_t n, m;
    unsigned char *src = slurp(in, &n);
    unsigned char *dst = malloc(n + 64);
    /* Cut anywhere: never a success without its end-of-image marker. */
    for (size_t cut = 0; cut < n - 2; cut += 7)
        assert_int_equal(media_strip_metadata("image/jpeg", src, cut, dst,
                                               &m, NULL),
                         MEDIA_IMG_MALFORMED);
    /* A segment length running past the end. */
    unsigned char bad[] = {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'};
    assert_int_equal(media_strip_metadata("image/jpeg", bad, sizeof bad, dst,
                                          &m, NULL),
                     MEDIA_IMG_MALFORMED);
    unsigned char zero[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x00, 0xFF, 0xD9};
    assert_int_equal(media_strip_metadata("image/jpeg", zero, sizeof zero,
                                          dst, &m, NULL),
                     MEDIA_IMG_MALFORMED);
    assert_int_equal(media_strip_metadata("image/gif", src, n, dst, &m, NULL),
                     MEDIA_IMG_MALFORMED);
    /* Well framed, but no image in it. */
    unsigned char empty_jpeg[] = {0xFF, 0xD8, 0xFF, 0xD9};
    assert_int_equal(media_strip_metadata("image/jpeg", empty_jpeg, 4, dst,
                                          &m, NULL),
                     MEDIA_IMG_MALFORMED);
    unsigned char empty_webp[] = "RIFF\x04\0\0\0WEBPVP8 \0\0\0\0";
    assert_int_equal(media_strip_metadata("image/webp", empty_webp, 20, dst,
                                          &m, NULL),
                     MEDIA_IMG_MALFORMED);
    unsigned char png_no_idat[] =
        "\x89PNG\r\n\x1a\n"
        "\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90\x77\x53\xde"
        "\0\0\0\0IEND\xae\x42\x60\x82";
    assert_int_equal(media_strip_metadata("image/png", png_no_idat,
                                          sizeof png_no_idat - 1, dst, &m,
                                          NULL),
                     MEDIA_IMG_MALFORMED);
    free(src);
    free(dst);
}

/* -------------------------------------------------------- PNG, WebP */

static void test_png_gps_stripped(void **state)
{
    (void)state;
    const char *in = path_of("gps.png"), *out = path_of("gps-clean.png");
    run("convert -size 40x30 gradient:green-yellow '%s'", in);
    run("exiftool -q -overwrite_original %s '%s'", GPS_ARGS, in);
    char *before = capture("exiftool -q -s -GPSLatitude '%s'", in);
    assert_non_null(strstr(before, "GPSLatitude"));
    free(before);
    media_strip_stats st = strip_file("image/png", in, out);
    assert_true(st.exif + st.xmp >= 1);
    assert_no_location(out);
    run("identify -regard-warnings '%s' >/dev/null", out);
    assert_same_pixels(in, out);
}

static void test_webp_gps_stripped(void **state)
{
    (void)state;
    const char *in = path_of("gps.webp"), *out = path_of("gps-clean.webp");
    run("convert -size 40x30 gradient:blue-white '%s'", in);
    run("exiftool -q -overwrite_original %s '%s'", GPS_ARGS, in);
    char *before = capture("exiftool -q -s -GPSLatitude '%s'", in);
    assert_non_null(strstr(before, "GPSLatitude"));
    free(before);
    media_strip_stats st = strip_file("image/webp", in, out);
    assert_int_equal(st.exif, 1);
    assert_int_equal(st.xmp, 1);
    assert_no_location(out);
    run("identify -regard-warnings '%s' >/dev/null", out);
    assert_same_pixels(in, out);
    /* The RIFF size covers exactly what is left. */
    size_t n;
    unsigned char *p = slurp(out, &n);
    uint32_t riff = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
                    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    assert_int_equal(riff + 8, n);
    free(p);
}

/* ------------------------------------------------------- mutations */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_mutations_never_crash(void **state)
{
    (void)state;
    static const struct { const char *file, *type; } seeds[] = {
        {"gps.jpg", "image/jpeg"}, {"prog.jpg", "image/jpeg"},
        {"gps.png", "image/png"},  {"gps.webp", "image/webp"}};
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        size_t n;
        unsigned char *orig = slurp(path_of(seeds[s].file), &n);
        unsigned char *buf = malloc(n);
        unsigned char *out = malloc(n + 64);
        for (int round = 0; round < 3000; round++) {
            memcpy(buf, orig, n);
            size_t len = n - (size_t)(next() % (n / 4 + 1));
            int flips = 1 + (int)(next() % 8);
            for (int f = 0; f < flips; f++) {
                size_t at = (size_t)(next() % len);
                buf[at] = (next() & 1) ? (unsigned char)next()
                                       : (unsigned char)(0xFF - (at & 1));
            }
            size_t m = 0;
            const char *t = media_sniff(buf, len);
            int rc = media_strip_metadata(t ? t : seeds[s].type, buf, len,
                                          out, &m, NULL);
            if (rc == MEDIA_IMG_OK)
                assert_true(m <= len + 64);
        }
        free(orig);
        free(buf);
        free(out);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tq-image-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_jpeg_gps_stripped),
        cmocka_unit_test(test_jpeg_progressive_and_trailer),
        cmocka_unit_test(test_jpeg_without_metadata_is_unchanged),
        cmocka_unit_test(test_jpeg_malformed),
        cmocka_unit_test(test_png_gps_stripped),
        cmocka_unit_test(test_webp_gps_stripped),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests_name("media_image", tests, setup, teardown);
}
