/*
 * test_jsonout.c - host_json_text() must write exactly what
 * json_dumps(j, JSON_COMPACT) writes: response bodies may not change
 * when the host switches serialisers.  Owns every json_t it makes.
 */
#include "host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void same_as_jansson(json_t *j)
{
    size_t n = 0;
    char *ours = host_json_text(j, &n);
    char *ref = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(ours);
    assert_non_null(ref);
    assert_int_equal(n, strlen(ref));
    assert_memory_equal(ours, ref, n);
    free(ours);
    free(ref);
    json_decref(j);
}

static void test_shapes(void **state)
{
    (void)state;
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_pack("{s:[i,I,b,b,n,s], s:{s:{}}}", "a", -1,
                              (json_int_t)INT64_MIN, 1, 0, "x", "o", "p"));
    same_as_jansson(json_pack("{s:s, s:s}", "z", "last", "a", "first"));
}

static void test_escapes(void **state)
{
    (void)state;
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    same_as_jansson(json_pack("{s:s}", all, all));
    same_as_jansson(json_string("quote \" backslash \\ slash / tab \t"));
    same_as_jansson(json_string("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80"));
    same_as_jansson(json_stringn("nul\0inside", 10));
}

static void test_reals(void **state)
{
    (void)state;
    static const double v[] = {0.0, -0.0, 1.0, 0.1, 123456789.0, 1e21,
                               1e300, 1e-7, -2.5e-300, 5e-324, 1.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        same_as_jansson(json_pack("[f]", v[i]));
}

static void test_random(void **state)
{
    (void)state;
    srand(7);
    for (int k = 0; k < 2000; k++) {
        char s[48];
        int n = rand() % 47;
        for (int i = 0; i < n; i++)
            s[i] = (char)(1 + rand() % 127);
        s[n] = '\0';
        same_as_jansson(json_pack("{s:s, s:I, s:f}", s, s, "i",
                                  (json_int_t)rand() * (rand() - RAND_MAX / 2),
                                  "f", (double)rand() / (rand() + 1)));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_reals),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
