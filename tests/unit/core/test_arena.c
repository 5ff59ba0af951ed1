/*
 * test_arena.c - the request arena and HOST_VEC: alignment, growth past
 * the embedded buffer, big allocations, printf, reuse after free.
 * ASan/valgrind runs of this test are what prove nothing leaks.
 */
#include "host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static bool aligned(const void *p)
{
    return ((uintptr_t)p % _Alignof(max_align_t)) == 0;
}

static bool in_first(const host_arena *a, const void *p)
{
    return (const char *)p >= a->first
           && (const char *)p < a->first + sizeof(a->first);
}

static void test_small_allocs_use_embedded_buffer(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    char *p = host_arena_alloc(&a, 10);
    char *q = host_arena_alloc(&a, 10);
    assert_true(in_first(&a, p));
    assert_true(in_first(&a, q));
    assert_true(aligned(p));
    assert_true(aligned(q));
    assert_true(q >= p + 10);
    assert_null(a.head);
    memset(p, 'x', 10);
    memset(q, 'y', 10);
    assert_int_equal(p[9], 'x');
    host_arena_free(&a);
}

static void test_growth_keeps_old_memory(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    char *ptrs[2000];
    for (int i = 0; i < 2000; i++) {
        ptrs[i] = host_arena_alloc(&a, 33);
        assert_true(aligned(ptrs[i]));
        memset(ptrs[i], i & 0xff, 33);
    }
    assert_non_null(a.head);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal((unsigned char)ptrs[i][0], i & 0xff);
        assert_int_equal((unsigned char)ptrs[i][32], i & 0xff);
    }
    host_arena_free(&a);
    assert_null(a.head);
    assert_ptr_equal(a.pos, a.first);
}

static void test_big_alloc_does_not_waste_current_chunk(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    char *small = host_arena_alloc(&a, 16);
    assert_true(in_first(&a, small));
    char *pos_before = a.pos;
    char *big = host_arena_alloc(&a, 1 << 20);
    assert_non_null(big);
    memset(big, 7, 1 << 20);
    /* The embedded buffer still serves the next small allocation. */
    assert_ptr_equal(a.pos, pos_before);
    char *small2 = host_arena_alloc(&a, 16);
    assert_true(in_first(&a, small2));
    host_arena_free(&a);
}

static void test_zero_size_and_distinct(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    void *p = host_arena_alloc(&a, 0);
    void *q = host_arena_alloc(&a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    host_arena_free(&a);
}

static void test_zeroed_arena_is_usable(void **state)
{
    (void)state;
    host_arena a;
    memset(&a, 0, sizeof(a));
    char *s = host_arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    host_arena_free(&a);
    host_arena z;
    memset(&z, 0, sizeof(z));
    host_arena_free(&z); /* freeing a zeroed arena is a no-op */
}

static void test_strings(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    assert_string_equal(host_arena_strdup(&a, ""), "");
    assert_string_equal(host_arena_strndup(&a, "abcdef", 3), "abc");
    assert_string_equal(host_arena_strndup(&a, "ab", 10), "ab");
    assert_string_equal(host_arena_printf(&a, "%d-%s", 42, "x"), "42-x");
    char longs[5000];
    memset(longs, 'k', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    char *l = host_arena_printf(&a, "<%s>", longs);
    assert_int_equal(strlen(l), sizeof(longs) + 1);
    assert_int_equal(l[0], '<');
    assert_int_equal(l[4999], 'k');
    assert_int_equal(l[5000], '>');
    /* Exactly filling the embedded buffer's tail. */
    host_arena b;
    host_arena_init(&b);
    size_t room = (size_t)(b.end - b.pos);
    char fill[4096];
    memset(fill, 'f', room - 1);
    fill[room - 1] = '\0';
    char *f = host_arena_printf(&b, "%s", fill);
    assert_int_equal(strlen(f), room - 1);
    char *g = host_arena_printf(&b, "%s", "next");
    assert_string_equal(g, "next");
    assert_string_equal(f, fill);
    host_arena_free(&b);
    host_arena_free(&a);
}

static void test_reuse_after_free(void **state)
{
    (void)state;
    host_arena a;
    host_arena_init(&a);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++)
            host_arena_printf(&a, "round %d item %d", round, i);
        host_arena_alloc(&a, 100000);
        host_arena_free(&a);
        assert_null(a.head);
    }
}

static void test_vec(void **state)
{
    (void)state;
    HOST_VEC(int) v = {0};
    for (int i = 0; i < 1000; i++) {
        int *slot = host_vec_push(&v);
        assert_int_equal(*slot, 0); /* zeroed */
        *slot = i * 3;
    }
    assert_int_equal(v.n, 1000);
    assert_true(v.cap >= 1000);
    assert_true(v.cap < 2048 + 8);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v.v[i], i * 3);
    free(v.v);

    struct big { char data[100]; };
    HOST_VEC(struct big) b = {0};
    struct big *s = host_vec_push(&b);
    memset(s->data, 1, sizeof(s->data));
    s = host_vec_push(&b);
    assert_int_equal(s->data[99], 0);
    assert_int_equal(b.v[0].data[99], 1);
    free(b.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_allocs_use_embedded_buffer),
        cmocka_unit_test(test_growth_keeps_old_memory),
        cmocka_unit_test(test_big_alloc_does_not_waste_current_chunk),
        cmocka_unit_test(test_zero_size_and_distinct),
        cmocka_unit_test(test_zeroed_arena_is_usable),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_reuse_after_free),
        cmocka_unit_test(test_vec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
