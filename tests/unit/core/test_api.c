/*
 * test_api.c - the host's side of the SDK table without a server: the
 * JSON error body, field validation, path uuids and paging.
 */
#include "host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

static tq_req req;

static int setup(void **state)
{
    (void)state;
    host_req_init(&req, NULL, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_req_free(&req);
    return 0;
}

static json_t *out_json(void)
{
    json_t *j = json_loadb(req.out, req.out_len, 0, NULL);
    assert_non_null(j);
    return tq_keep(&req, j);
}

static void set_body(const char *text)
{
    json_decref(req.body_json);
    req.body_json = json_loads(text, JSON_ALLOW_NUL, NULL);
    assert_non_null(req.body_json);
}

static void test_error_shape(void **state)
{
    (void)state;
    assert_int_equal(tq_error(&req, 404, "not_found", NULL, "no task %d", 7), 404);
    assert_int_equal(req.status, 404);
    assert_string_equal(req.content_type, "application/json; charset=utf-8");
    json_t *e = json_object_get(out_json(), "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "not_found");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "no task 7");
    assert_null(json_object_get(e, "field"));

    tq_error(&req, 400, "validation_failed", "title", "bad \"quote\"");
    e = json_object_get(out_json(), "error");
    assert_string_equal(json_string_value(json_object_get(e, "field")), "title");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "bad \"quote\"");
}

/* Found by fuzz_json_body: jansson quotes the bytes near a syntax error,
 * which can be a cut or invalid UTF-8 sequence; json_pack refused the
 * message and the client got 500 "out of memory" instead of 400. */
static void test_error_message_not_utf8(void **state)
{
    (void)state;
    static const char body[] = "{\"x\":\"h\\u00e\307\223\223\220\"}";
    req.body_raw = body;
    req.body_len = sizeof body - 1;
    assert_int_equal(host_parse_json_body(&req), 400);
    assert_int_equal(req.status, 400);
    json_t *e = json_object_get(out_json(), "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_request");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
                           "invalid escape"));

    assert_int_equal(tq_error(&req, 404, "not_found", NULL, "no route for %s",
                              "/v1/\xff\xc3(\xed\xa0\x80\xf4\x90\x80\x80\xc3\xa9"), 404);
    e = json_object_get(out_json(), "error");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "no route for /v1/?" "?(???????\xc3\xa9");

    /* Cut by the 512-byte message buffer in the middle of a character. */
    char long_text[520];
    memset(long_text, 'a', 510);
    strcpy(long_text + 510, "\xc3\xa9");
    assert_int_equal(tq_error(&req, 400, "validation_failed", "t", "%s", long_text), 400);
    e = json_object_get(out_json(), "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    assert_int_equal(strlen(m), 511);
    assert_int_equal(m[510], '?');
}

static void test_fail_mapping(void **state)
{
    (void)state;
    static const struct { int rc, status; const char *code; } cases[] = {
        {TQ_E_UNAVAILABLE, 503, "unavailable"}, {TQ_E_UNIQUE, 409, "conflict"},
        {TQ_E_FOREIGN_KEY, 400, "validation_failed"},
        {TQ_E_INVALID, 400, "validation_failed"}, {TQ_E_NOTFOUND, 404, "not_found"},
        {TQ_E_QUERY, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(tq_fail(&req, cases[i].rc), cases[i].status);
        json_t *e = json_object_get(out_json(), "error");
        assert_string_equal(json_string_value(json_object_get(e, "code")), cases[i].code);
    }
}

static void test_get_str(void **state)
{
    (void)state;
    const char *s;
    set_body("{\"title\":\"h\\u00e9llo\",\"n\":5,\"nul\":\"a\\u0000b\"}");
    assert_int_equal(tq_get_str(&req, "title", 1, 1, 5, &s), 0);
    assert_string_equal(s, "h\xc3\xa9llo"); /* 5 characters, 6 bytes */
    assert_int_equal(tq_get_str(&req, "title", 1, 1, 4, &s), 400);
    assert_int_equal(tq_get_str(&req, "n", 1, 1, 4, &s), 400);
    assert_int_equal(tq_get_str(&req, "nul", 1, 0, 10, &s), 400);
    assert_int_equal(tq_get_str(&req, "missing", 1, 0, 10, &s), 400);
    json_t *e = json_object_get(out_json(), "error");
    assert_string_equal(json_string_value(json_object_get(e, "field")), "missing");
    assert_int_equal(tq_get_str(&req, "missing", 0, 0, 10, &s), 0);
    assert_null(s);
}

static void test_get_time_uuid_enum_int(void **state)
{
    (void)state;
    const char *s;
    long long n = -1;
    set_body("{\"a\":\"2026-03-29T01:30:00+02:00\",\"b\":\"2026-02-30T00:00:00Z\","
             "\"c\":\"2026-12-04T15:00:00.250Z\",\"u\":\"0E0F0A1B-2C3D-4E5F-8a9b-0c1d2e3f4a5b\","
             "\"bad\":\"0e0f0a1b2c3d\",\"p\":\"high\",\"i\":12,\"f\":1.5}");
    assert_int_equal(tq_get_time(&req, "a", 1, &s), 0);
    assert_string_equal(s, "2026-03-28T23:30:00Z");
    assert_int_equal(tq_get_time(&req, "b", 1, &s), 400);
    assert_int_equal(tq_get_time(&req, "c", 1, &s), 0);
    assert_string_equal(s, "2026-12-04T15:00:00Z");
    assert_int_equal(tq_get_uuid(&req, "u", 1, &s), 0);
    assert_string_equal(s, "0e0f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b");
    assert_int_equal(tq_get_uuid(&req, "bad", 1, &s), 400);
    static const char *const prio[] = {"low", "normal", "high", NULL};
    assert_int_equal(tq_get_enum(&req, "p", 1, prio, &s), 0);
    assert_string_equal(s, "high");
    assert_int_equal(tq_get_enum(&req, "a", 1, prio, &s), 400);
    assert_int_equal(tq_get_int(&req, "i", 1, 1, 100, &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(tq_get_int(&req, "i", 1, 13, 100, &n), 400);
    assert_int_equal(tq_get_int(&req, "f", 1, 0, 100, &n), 400);
    assert_true(tq_has(&req, "f"));
    assert_false(tq_has(&req, "zzz"));
}

/* Found by fuzz_json_body: years below 1000 came back unpadded ("148-12-04
 * T15:00:00Z"), and sscanf let signs and spaces through as digits. */
static void test_get_time_strict(void **state)
{
    (void)state;
    const char *s;
    set_body("{\"old\":\"0148-12-04T15:00:00Z\","
             "\"first\":\"0001-01-01T00:30:00+00:30\","
             "\"before1\":\"0001-01-01T00:30:00+01:00\","
             "\"after9999\":\"9999-12-31T23:59:59-01:00\","
             "\"last\":\"9999-12-31T23:59:59Z\","
             "\"sign\":\"+148-12-04T15:00:00Z\","
             "\"msign\":\"2026-+1-01T00:00:00Z\","
             "\"space\":\"2026-01-01T 1:00:00Z\","
             "\"offspace\":\"2026-01-01T01:00:00+ 1:00\","
             "\"short\":\"2026-01-01T01:00:00+01\"}");
    assert_int_equal(tq_get_time(&req, "old", 1, &s), 0);
    assert_string_equal(s, "0148-12-04T15:00:00Z");
    assert_int_equal(tq_get_time(&req, "first", 1, &s), 0);
    assert_string_equal(s, "0001-01-01T00:00:00Z");
    assert_int_equal(tq_get_time(&req, "last", 1, &s), 0);
    assert_string_equal(s, "9999-12-31T23:59:59Z");
    static const char *const bad[] = {"before1", "after9999", "sign", "msign",
                                      "space", "offspace", "short", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(tq_get_time(&req, bad[i], 1, &s), 400);
        assert_null(s);
        json_t *e = json_object_get(out_json(), "error");
        assert_string_equal(json_string_value(json_object_get(e, "field")), bad[i]);
    }
}

static void test_param_uuid_and_page(void **state)
{
    (void)state;
    const char *s;
    int limit;
    req.params[0] = (host_param){"gid", "not-a-uuid"};
    req.nparams = 1;
    assert_int_equal(tq_param_uuid(&req, "gid", &s), 404);
    req.params[0].value = "0e0f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b";
    assert_int_equal(tq_param_uuid(&req, "gid", &s), 0);

    host_kv q[2] = {{"limit", "101"}, {"cursor", "abc"}};
    req.query = q;
    req.nquery = 2;
    assert_int_equal(tq_page(&req, &limit, &s), 400);
    q[0].value = "0";
    assert_int_equal(tq_page(&req, &limit, &s), 400);
    q[0].value = "7x";
    assert_int_equal(tq_page(&req, &limit, &s), 400);
    q[0].value = "100";
    assert_int_equal(tq_page(&req, &limit, &s), 0);
    assert_int_equal(limit, 100);
    assert_string_equal(s, "abc");
    req.nquery = 0;
    assert_int_equal(tq_page(&req, &limit, &s), 0);
    assert_int_equal(limit, 20);
    assert_null(s);
    req.query = NULL;
}

static void test_headers_no_injection(void **state)
{
    (void)state;
    assert_int_equal(tq_set_header(&req, "ETag", "\"3\""), TQ_OK);
    assert_int_equal(tq_set_header(&req, "X-Evil", "a\r\nSet-Cookie: x"), TQ_E_INVALID);
    assert_int_equal(req.nout_headers, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_error_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_message_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_str, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_time_uuid_enum_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_time_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_uuid_and_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_no_injection, setup, teardown),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
