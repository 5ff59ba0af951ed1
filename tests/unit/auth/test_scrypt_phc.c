/*
 * test_scrypt_phc.c - scrypt against the RFC 7914 section 12 test vectors,
 * the PHC string format (round trip, a foreign string from passlib's
 * documentation, strict refusals) and the strict base64 underneath.
 */
#include "auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void check_vector(const char *pass, const char *salt, uint64_t n,
                         uint32_t r, uint32_t p, const char *want)
{
    unsigned char dk[64];
    char got[129];
    assert_int_equal(host_scrypt(pass, strlen(pass), salt, strlen(salt), n,
                                 r, p, dk, sizeof dk),
                     TQ_OK);
    hex(dk, sizeof dk, got);
    assert_string_equal(got, want);
}

static void rfc7914_vector1(void **state)
{
    (void)state;
    check_vector("", "", 16, 1, 1,
                 "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
                 "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
}

static void rfc7914_vector2(void **state)
{
    (void)state;
    check_vector("password", "NaCl", 1024, 8, 16,
                 "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
                 "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

static void rfc7914_vector3(void **state)
{
    (void)state;
    check_vector("pleaseletmein", "SodiumChloride", 16384, 8, 1,
                 "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
                 "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

/* N = 2^20, r = 8: one GiB and a few seconds. */
static void rfc7914_vector4(void **state)
{
    (void)state;
    check_vector("pleaseletmein", "SodiumChloride", 1048576, 8, 1,
                 "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47"
                 "8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4");
}

static void scrypt_refuses_bad_params(void **state)
{
    (void)state;
    unsigned char dk[32];
    assert_false(host_scrypt_params_ok(0, 8, 1));
    assert_false(host_scrypt_params_ok(1, 8, 1));
    assert_false(host_scrypt_params_ok(1000, 8, 1)); /* not a power of 2 */
    assert_false(host_scrypt_params_ok(1024, 0, 1));
    assert_false(host_scrypt_params_ok(1024, 8, 0));
    assert_false(host_scrypt_params_ok(1ull << 25, 1, 1));
    assert_false(host_scrypt_params_ok(1ull << 21, 8, 1)); /* 2 GiB */
    assert_true(host_scrypt_params_ok(131072, 8, 1));
    assert_int_equal(host_scrypt("x", 1, "s", 1, 1000, 8, 1, dk, sizeof dk),
                     TQ_ERR);
}

static void phc_round_trip(void **state)
{
    (void)state;
    host_phc h = {.n = 131072, .r = 8, .p = 1, .salt_len = 16,
                  .hash_len = 32};
    for (size_t i = 0; i < h.salt_len; i++)
        h.salt[i] = (unsigned char)(i * 17 + 3);
    for (size_t i = 0; i < h.hash_len; i++)
        h.hash[i] = (unsigned char)(255 - i * 7);
    char s[HOST_PHC_MAX];
    assert_int_equal(host_phc_encode(&h, s, sizeof s), TQ_OK);
    assert_true(strncmp(s, "$scrypt$ln=17,r=8,p=1$", 22) == 0);

    host_phc d;
    assert_int_equal(host_phc_decode(s, &d), TQ_OK);
    assert_true(d.n == h.n);
    assert_int_equal(d.r, h.r);
    assert_int_equal(d.p, h.p);
    assert_int_equal(d.salt_len, h.salt_len);
    assert_int_equal(d.hash_len, h.hash_len);
    assert_memory_equal(d.salt, h.salt, h.salt_len);
    assert_memory_equal(d.hash, h.hash, h.hash_len);

    char again[HOST_PHC_MAX];
    assert_int_equal(host_phc_encode(&d, again, sizeof again), TQ_OK);
    assert_string_equal(again, s);

    /* Too small an output buffer is refused, not truncated. */
    assert_int_equal(host_phc_encode(&h, s, 20), TQ_ERR);
}

/* A string minted by another implementation (passlib's documentation). */
static const char passlib_example[] =
    "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$"
    "nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";

static void phc_verifies_foreign_string(void **state)
{
    (void)state;
    host_phc h;
    assert_int_equal(host_phc_decode(passlib_example, &h), TQ_OK);
    assert_true(h.n == 65536);
    assert_int_equal(host_phc_verify("password", 8, &h), 1);
    assert_int_equal(host_phc_verify("Password", 8, &h), 0);
}

static void phc_hash_and_verify(void **state)
{
    (void)state;
    char a[HOST_PHC_MAX], b[HOST_PHC_MAX];
    assert_int_equal(host_phc_hash("correct horse", 13, 1024, 8, 1, a,
                                   sizeof a), TQ_OK);
    assert_int_equal(host_phc_hash("correct horse", 13, 1024, 8, 1, b,
                                   sizeof b), TQ_OK);
    assert_string_not_equal(a, b); /* fresh salt each time */
    assert_true(strncmp(a, "$scrypt$ln=10,r=8,p=1$", 22) == 0);

    host_phc h;
    assert_int_equal(host_phc_decode(a, &h), TQ_OK);
    assert_int_equal(h.salt_len, HOST_PHC_SALT_LEN);
    assert_int_equal(h.hash_len, HOST_PHC_HASH_LEN);
    assert_int_equal(host_phc_verify("correct horse", 13, &h), 1);
    assert_int_equal(host_phc_verify("correct hors", 12, &h), 0);
    assert_int_equal(host_phc_verify("correct horse!", 14, &h), 0);
}

static void phc_refuses_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$scrypt$ln=16,r=8$aM15713r3Xsvxbi31lqr1Q$nFNh",
        "$scrypt$ln=016,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=0,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=25,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=16,r=0,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=16,r=8,p=-1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q==$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5F",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD-iCs5E",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$",
        "$scrypt$ln=16,r=8,p=1$$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh$extra",
        "$scrypt$ln=16,r=99999999999,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        host_phc h;
        if (host_phc_decode(bad[i], &h) != TQ_ERR)
            fail_msg("accepted malformed PHC string %zu: %s", i, bad[i]);
    }
}

static void b64_strict(void **state)
{
    (void)state;
    unsigned char out[16];
    char enc[32];
    assert_int_equal(host_b64_encode(enc, "f", 1, true), 2);
    assert_string_equal(enc, "Zg");
    assert_int_equal(host_b64_encode(enc, "fo", 2, true), 3);
    assert_string_equal(enc, "Zm8");
    assert_int_equal(host_b64_encode(enc, "foo", 3, true), 4);
    assert_string_equal(enc, "Zm9v");
    assert_int_equal(host_b64_encode(enc, "\xfb\xff", 2, true), 3);
    assert_string_equal(enc, "-_8");
    assert_int_equal(host_b64_encode(enc, "\xfb\xff", 2, false), 3);
    assert_string_equal(enc, "+/8");

    assert_int_equal(host_b64_decode(out, sizeof out, "Zm8", 3, true), 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(host_b64_decode(out, sizeof out, "", 0, true), 0);
    /* Stray bits in the last character: a second spelling of "fo". */
    assert_int_equal(host_b64_decode(out, sizeof out, "Zm9", 3, true), -1);
    assert_int_equal(host_b64_decode(out, sizeof out, "Zm8=", 4, true), -1);
    assert_int_equal(host_b64_decode(out, sizeof out, "Z", 1, true), -1);
    assert_int_equal(host_b64_decode(out, sizeof out, "-_8", 3, false), -1);
    assert_int_equal(host_b64_decode(out, sizeof out, "+/8", 3, true), -1);
    assert_int_equal(host_b64_decode(out, 1, "Zm8", 3, true), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7914_vector1),
        cmocka_unit_test(rfc7914_vector2),
        cmocka_unit_test(rfc7914_vector3),
        cmocka_unit_test(rfc7914_vector4),
        cmocka_unit_test(scrypt_refuses_bad_params),
        cmocka_unit_test(phc_round_trip),
        cmocka_unit_test(phc_verifies_foreign_string),
        cmocka_unit_test(phc_hash_and_verify),
        cmocka_unit_test(phc_refuses_malformed),
        cmocka_unit_test(b64_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
