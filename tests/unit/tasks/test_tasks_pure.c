/*
 * test_tasks_pure.c - unit tests of the tasks plugin's pure parts: keyset
 * cursors, recurrence validation, rotation order, If-Match, RFC 3339 and
 * UUID checks.  Compiled straight from the plugin's sources; no host, no
 * database.
 */
#include "tasks_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ------------------------------------------------------------ params */

static void uuids(void **state)
{
    (void)state;
    assert_true(tq_is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert_true(tq_is_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
    assert_false(tq_is_uuid(NULL));
    assert_false(tq_is_uuid(""));
    assert_false(tq_is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
    assert_false(tq_is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e0"));
    assert_false(tq_is_uuid("0f8fad5bd-9cb-469f-a165-70867728950e"));
    assert_false(tq_is_uuid("0f8fad5b-d9cb-469f-a165-70867728950g"));
    assert_false(tq_is_uuid("me"));
}

static void blanks(void **state)
{
    (void)state;
    assert_true(tsk_blank(""));
    assert_true(tsk_blank(" \t\n"));
    assert_true(tsk_blank(NULL));
    assert_false(tsk_blank(" a "));
}

static void rfc3339(void **state)
{
    (void)state;
    static const char *const good[] = {
        "2026-12-04T15:00:00Z",       "2026-12-04t15:00:00z",
        "2026-12-04T15:00:00.123456Z", "2026-12-04T16:00:00+01:00",
        "2026-12-04T10:00:00-05:00",  "2026-12-04T16:00:00 01:00",
        "2024-02-29T00:00:00Z",       "2026-06-30T23:59:60Z",
    };
    static const char *const bad[] = {
        "",                      "2026-12-04",
        "2026-12-04T15:00:00",   "2026-12-04 15:00:00Z",
        "2026-13-04T15:00:00Z",  "2026-00-04T15:00:00Z",
        "2026-02-29T00:00:00Z",  "2026-04-31T00:00:00Z",
        "2026-12-04T24:00:00Z",  "2026-12-04T15:60:00Z",
        "2026-12-04T15:00:00.Z", "2026-12-04T15:00:00+1:00",
        "2026-12-04T15:00:00+24:00", "2026-12-04T15:00:00Zjunk",
        "26-12-04T15:00:00Z",    "2026-1-04T15:00:00Z",
        "tomorrow",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!tsk_rfc3339_ok(good[i]))
            fail_msg("refused good time %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (tsk_rfc3339_ok(bad[i]))
            fail_msg("accepted bad time %s", bad[i]);
    assert_false(tsk_rfc3339_ok(NULL));
}

static void if_match(void **state)
{
    (void)state;
    long long v = 99;
    assert_int_equal(tsk_if_match(NULL, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(tsk_if_match("*", &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(tsk_if_match(" * ", &v), 0);
    assert_int_equal(tsk_if_match("\"7\"", &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(tsk_if_match("12", &v), 1);
    assert_int_equal(v, 12);
    assert_int_equal(tsk_if_match("  \"3\"\t", &v), 1);
    assert_int_equal(v, 3);
    assert_int_equal(tsk_if_match("W/\"7\"", &v), -1);
    assert_int_equal(tsk_if_match("\"\"", &v), -1);
    assert_int_equal(tsk_if_match("", &v), -1);
    assert_int_equal(tsk_if_match("\"7", &v), -1);
    assert_int_equal(tsk_if_match("\"-1\"", &v), -1);
    assert_int_equal(tsk_if_match("\"7\", \"8\"", &v), -1);
    assert_int_equal(tsk_if_match("1234567890123456789", &v), -1);
}

/* ----------------------------------------------------------- cursors */

static void cursor_task_round_trip(void **state)
{
    (void)state;
    static const long long keys[] = {0, 1, -1, 1780000000000000LL,
                                     -1780000000000000LL,
                                     9223372036854775807LL,
                                     -9223372036854775807LL - 1};
    const char *id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        for (int rank = 0; rank <= 1; rank++) {
            char c[TSK_CURSOR_LEN], got_id[37];
            int r;
            long long k;
            tsk_cursor_task(c, rank, keys[i], id);
            assert_int_equal(strlen(c), 35); /* 26 bytes, no padding */
            assert_null(strpbrk(c, "+/="));
            assert_true(tsk_cursor_task_parse(c, &r, &k, got_id));
            assert_int_equal(r, rank);
            assert_true(k == keys[i]);
            assert_string_equal(got_id, id);
        }
    /* Upper-case ids come out canonical. */
    char c[TSK_CURSOR_LEN], got[37];
    int r;
    long long k;
    tsk_cursor_task(c, 0, 5, "0F8FAD5B-D9CB-469F-A165-70867728950E");
    assert_true(tsk_cursor_task_parse(c, &r, &k, got));
    assert_string_equal(got, id);
}

static void cursor_task_refuses_forgeries(void **state)
{
    (void)state;
    char c[TSK_CURSOR_LEN], id[37];
    int r;
    long long k;
    tsk_cursor_task(c, 1, 42, "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_false(tsk_cursor_task_parse(NULL, &r, &k, id));
    assert_false(tsk_cursor_task_parse("", &r, &k, id));
    assert_false(tsk_cursor_task_parse("abc", &r, &k, id));

    char t[TSK_CURSOR_LEN];
    strcpy(t, c);
    t[strlen(t) - 1] = '\0'; /* one symbol short */
    assert_false(tsk_cursor_task_parse(t, &r, &k, id));
    strcpy(t, c);
    strcat(t, "A"); /* one symbol long */
    assert_false(tsk_cursor_task_parse(t, &r, &k, id));
    strcpy(t, c);
    t[5] = '+'; /* not base64url */
    assert_false(tsk_cursor_task_parse(t, &r, &k, id));
    strcpy(t, c);
    t[strlen(t) - 1] = 'B'; /* non-zero padding bits: second spelling */
    assert_false(tsk_cursor_task_parse(t, &r, &k, id));

    /* A comment cursor is not a task cursor, and the reverse. */
    char s[TSK_CURSOR_LEN];
    long long seq;
    tsk_cursor_seq(s, 42);
    assert_false(tsk_cursor_task_parse(s, &r, &k, id));
    assert_false(tsk_cursor_seq_parse(c, &seq));

    /* rank 2 does not exist: "t\x02" + zeros */
    const char *rank2 = "dAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(strlen(rank2), 35);
    assert_false(tsk_cursor_task_parse(rank2, &r, &k, id));
    const char *rank1 = "dAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_true(tsk_cursor_task_parse(rank1, &r, &k, id));
    assert_int_equal(r, 1);
}

static void cursor_seq(void **state)
{
    (void)state;
    char c[TSK_CURSOR_LEN];
    long long seq = -5;
    static const long long vals[] = {0, 1, 255, 256, 1LL << 40,
                                     9223372036854775807LL};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        tsk_cursor_seq(c, vals[i]);
        assert_true(tsk_cursor_seq_parse(c, &seq));
        assert_true(seq == vals[i]);
    }
    tsk_cursor_seq(c, -1);
    assert_false(tsk_cursor_seq_parse(c, &seq));
    assert_false(tsk_cursor_seq_parse("zz", &seq));
}

/* -------------------------------------------------------- recurrence */

static json_t *parse(const char *text, tsk_err *err)
{
    json_error_t je;
    json_t *in = json_loads(text, JSON_DECODE_ANY, &je);
    if (!in)
        fail_msg("test JSON %s: %s", text, je.text);
    memset(err, 0, sizeof *err);
    json_t *out = tsk_recurrence_parse(in, err);
    json_decref(in);
    return out;
}

static void expect_canonical(const char *in, const char *want)
{
    tsk_err err;
    json_t *got = parse(in, &err);
    if (!got)
        fail_msg("%s refused: %s: %s", in, err.field, err.msg);
    json_t *w = json_loads(want, 0, NULL);
    assert_non_null(w);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("%s became %s, want %s", in, s, want);
    }
    json_decref(got);
    json_decref(w);
}

static void expect_refused(const char *in, const char *field,
                           const char *msg_part)
{
    tsk_err err;
    json_t *got = parse(in, &err);
    if (got)
        fail_msg("%s accepted", in);
    assert_string_equal(err.field, field);
    if (!strstr(err.msg, msg_part))
        fail_msg("%s: message \"%s\" lacks \"%s\"", in, err.msg, msg_part);
}

static void recurrence_valid(void **state)
{
    (void)state;
    expect_canonical("{\"freq\": \"weekly\"}",
                     "{\"freq\": \"weekly\", \"interval\": 1, "
                     "\"rotation\": []}");
    expect_canonical("{\"freq\": \"daily\", \"interval\": null, "
                     "\"rotation\": null}",
                     "{\"freq\": \"daily\", \"interval\": 1, "
                     "\"rotation\": []}");
    expect_canonical("{\"freq\": \"monthly\", \"interval\": 365, \"rotation\":"
                     " [\"0F8FAD5B-D9CB-469F-A165-70867728950E\","
                     " \"1f8fad5b-d9cb-469f-a165-70867728950e\"]}",
                     "{\"freq\": \"monthly\", \"interval\": 365, \"rotation\":"
                     " [\"0f8fad5b-d9cb-469f-a165-70867728950e\","
                     " \"1f8fad5b-d9cb-469f-a165-70867728950e\"]}");
}

static void recurrence_refused(void **state)
{
    (void)state;
    expect_refused("[]", "recurrence", "must be an object");
    expect_refused("\"weekly\"", "recurrence", "must be an object");
    expect_refused("{\"freq\": \"weekly\", \"intervall\": 2}", "recurrence",
                   "\"intervall\"");
    expect_refused("{}", "recurrence.freq", "daily, weekly, monthly");
    expect_refused("{\"freq\": \"yearly\"}", "recurrence.freq", "monthly");
    expect_refused("{\"freq\": 7}", "recurrence.freq", "monthly");
    expect_refused("{\"freq\": \"daily\", \"interval\": 0}",
                   "recurrence.interval", "1 to 365");
    expect_refused("{\"freq\": \"daily\", \"interval\": 366}",
                   "recurrence.interval", "1 to 365");
    expect_refused("{\"freq\": \"daily\", \"interval\": 1.5}",
                   "recurrence.interval", "integer");
    expect_refused("{\"freq\": \"daily\", \"interval\": \"2\"}",
                   "recurrence.interval", "integer");
    expect_refused("{\"freq\": \"daily\", \"rotation\": \"x\"}",
                   "recurrence.rotation", "array");
    expect_refused("{\"freq\": \"daily\", \"rotation\": "
                   "[\"0f8fad5b-d9cb-469f-a165-70867728950e\", 5]}",
                   "recurrence.rotation[1]", "UUID");
    expect_refused("{\"freq\": \"daily\", \"rotation\": "
                   "[\"0f8fad5b-d9cb-469f-a165-70867728950e\","
                   " \"0F8FAD5B-D9CB-469F-A165-70867728950E\"]}",
                   "recurrence.rotation[1]", "twice");

    /* 51 people: over the limit. */
    char big[51 * 40 + 64];
    strcpy(big, "{\"freq\": \"daily\", \"rotation\": [");
    for (int i = 0; i <= TSK_ROTATION_MAX; i++)
        sprintf(big + strlen(big), "%s\"%08d-d9cb-469f-a165-70867728950e\"",
                i ? "," : "", i);
    strcat(big, "]}");
    expect_refused(big, "recurrence.rotation", "at most 50");
}

/* ---------------------------------------------------------- rotation */

static bool not_in_list(void *arg, const char *uid)
{
    for (const char *const *p = arg; *p; p++)
        if (strcmp(*p, uid) == 0)
            return false;
    return true;
}

static void rotation_order(void **state)
{
    (void)state;
    json_t *rot = json_pack("[s, s, s]", "a", "b", "c");
    const char *none[] = {NULL};
    const char *no_b[] = {"b", NULL};
    const char *only_a[] = {"b", "c", NULL};
    const char *nobody[] = {"a", "b", "c", NULL};

    assert_int_equal(tsk_rotation_find(rot, "a"), 0);
    assert_int_equal(tsk_rotation_find(rot, "c"), 2);
    assert_int_equal(tsk_rotation_find(rot, "x"), -1);
    assert_int_equal(tsk_rotation_find(rot, NULL), -1);

    /* a -> b -> c -> a */
    assert_int_equal(tsk_rotation_next(rot, 0, not_in_list, none), 1);
    assert_int_equal(tsk_rotation_next(rot, 1, not_in_list, none), 2);
    assert_int_equal(tsk_rotation_next(rot, 2, not_in_list, none), 0);
    /* no position yet: the top */
    assert_int_equal(tsk_rotation_next(rot, -1, not_in_list, none), 0);
    /* out-of-range positions (a shorter rotation now): the top */
    assert_int_equal(tsk_rotation_next(rot, 7, not_in_list, none), 0);
    assert_int_equal(tsk_rotation_next(rot, -5, not_in_list, none), 0);
    /* b left: a -> c */
    assert_int_equal(tsk_rotation_next(rot, 0, not_in_list, no_b), 2);
    /* b's own turn ends while b is gone: c */
    assert_int_equal(tsk_rotation_next(rot, 1, not_in_list, no_b), 2);
    /* only a is left: a keeps it */
    assert_int_equal(tsk_rotation_next(rot, 0, not_in_list, only_a), 0);
    assert_int_equal(tsk_rotation_next(rot, 2, not_in_list, only_a), 0);
    /* nobody left */
    assert_int_equal(tsk_rotation_next(rot, 0, not_in_list, nobody), -1);
    json_decref(rot);

    json_t *empty = json_array();
    assert_int_equal(tsk_rotation_next(empty, -1, not_in_list, none), -1);
    json_decref(empty);
}

/* ------------------------------------------------------- JSON writer */

static void json_writer(void **state)
{
    (void)state;
    tsk_buf b = {0};
    tsk_buf_cstr(&b, "[");
    tsk_buf_jstr(&b, "plain");
    tsk_buf_cstr(&b, ",");
    tsk_buf_jstr(&b, NULL);
    tsk_buf_cstr(&b, ",");
    tsk_buf_jstr(&b, "q\"b\\n\nt\tr\rb\bf\f\x01\x1f\x7f caf\xc3\xa9 \xe2\x80\xa8");
    tsk_buf_cstr(&b, ",");
    tsk_buf_jstr(&b, "");
    tsk_buf_cstr(&b, "]");
    assert_false(b.oom);
    tsk_buf_raw(&b, "", 1); /* NUL for the string compare below */
    assert_string_equal(b.p,
                        "[\"plain\",null,\"q\\\"b\\\\n\\nt\\tr\\rb\\bf\\f"
                        "\\u0001\\u001f\x7f caf\xc3\xa9 \xe2\x80\xa8\",\"\"]");
    tsk_buf_free(&b);
    assert_null(b.p);

    /* Every ASCII byte from 1 to 127 round-trips
     * through a real parser, and the buffer grows past its first 1 KiB. */
    char s[128 * 40 + 1];
    size_t k = 0;
    for (int rep = 0; rep < 40; rep++)
        for (int c = 1; c < 128; c++)
            s[k++] = (char)c;
    s[k] = '\0';
    tsk_buf_jstr(&b, s);
    assert_false(b.oom);
    assert_true(b.cap >= b.n && b.n > 1024);
    json_error_t je;
    json_t *v = json_loadb(b.p, b.n, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("writer output does not parse: %s", je.text);
    assert_string_equal(json_string_value(v), s);
    json_decref(v);
    tsk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uuids),
        cmocka_unit_test(blanks),
        cmocka_unit_test(rfc3339),
        cmocka_unit_test(if_match),
        cmocka_unit_test(cursor_task_round_trip),
        cmocka_unit_test(cursor_task_refuses_forgeries),
        cmocka_unit_test(cursor_seq),
        cmocka_unit_test(recurrence_valid),
        cmocka_unit_test(recurrence_refused),
        cmocka_unit_test(rotation_order),
        cmocka_unit_test(json_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
