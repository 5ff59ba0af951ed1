/*
 * test_log.c - JSON log lines: every line parses, fields are right and
 * escaped, levels filter, the access line carries what it should and
 * never a query string, and concurrent lines never interleave.
 */
#include "host.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* Run fn with stderr sent to a temporary file; returns what it wrote. */
static char *capture(void (*fn)(void *), void *arg)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
    fn(arg);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    off_t n = lseek(fileno(tmp), 0, SEEK_END);
    assert_true(n >= 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fileno(tmp), buf, (size_t)n, 0), n);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

/* Split into lines, parse each as JSON; returns an array (new ref). */
static json_t *lines_json(const char *text)
{
    json_t *arr = json_array();
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with a newline */
        json_error_t e;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!j)
            fail_msg("line does not parse: %s: %.*s", e.text, (int)(nl - p),
                     p);
        assert_true(json_is_object(j));
        json_array_append_new(arr, j);
        p = nl + 1;
    }
    return arr;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void emit_basic(void *arg)
{
    (void)arg;
    host_log_level = TQ_LOG_INFO;
    host_log(TQ_LOG_DEBUG, "hidden %d", 1);
    host_log(TQ_LOG_INFO, "hello %s", "world");
    host_log(TQ_LOG_WARN, "quote \" backslash \\ newline \n tab \t bell \a");
    host_log(TQ_LOG_ERROR, "bad utf8 \xff\xfe and good \xe2\x82\xac");
    host_log_level = TQ_LOG_ERROR;
    host_log(TQ_LOG_WARN, "also hidden");
    host_log(TQ_LOG_ERROR, "shown");
    host_log_level = TQ_LOG_INFO;
}

static void test_levels_and_escaping(void **state)
{
    (void)state;
    char *out = capture(emit_basic, NULL);
    json_t *lines = lines_json(out);
    assert_int_equal(json_array_size(lines), 4);

    json_t *l0 = json_array_get(lines, 0);
    assert_string_equal(str(l0, "level"), "info");
    assert_string_equal(str(l0, "msg"), "hello world");
    const char *ts = str(l0, "ts");
    assert_non_null(ts);
    /* 2026-01-02T03:04:05.678Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[23], 'Z');

    json_t *l1 = json_array_get(lines, 1);
    assert_string_equal(str(l1, "level"), "warn");
    assert_string_equal(str(l1, "msg"),
                        "quote \" backslash \\ newline \n tab \t bell \a");
    json_t *l2 = json_array_get(lines, 2);
    assert_string_equal(str(l2, "level"), "error");
    assert_string_equal(str(l2, "msg"),
                        "bad utf8 \xef\xbf\xbd\xef\xbf\xbd and good \xe2\x82\xac");
    assert_string_equal(str(json_array_get(lines, 3), "msg"), "shown");
    json_decref(lines);
    free(out);
}

static void emit_long(void *arg)
{
    (void)arg;
    char *big = malloc(100000);
    memset(big, 'a', 99999);
    big[99999] = '\0';
    host_log(TQ_LOG_INFO, "%s", big);
    /* A cut must not split a UTF-8 character. */
    for (int i = 0; i + 3 < 99999; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3);
    big[99999 - (99999 % 3)] = '\0';
    host_log(TQ_LOG_INFO, "x%s", big);
    free(big);
}

static void test_long_message_is_cut_but_parses(void **state)
{
    (void)state;
    char *out = capture(emit_long, NULL);
    json_t *lines = lines_json(out);
    assert_int_equal(json_array_size(lines), 2);
    const char *m = str(json_array_get(lines, 0), "msg");
    assert_non_null(m);
    assert_true(strlen(m) > 1000);
    assert_true(strlen(m) < 20000);
    assert_string_equal(m + strlen(m) - 3, "...");
    m = str(json_array_get(lines, 1), "msg");
    assert_non_null(m); /* jansson rejects invalid UTF-8 */
    json_decref(lines);
    free(out);
}


static void call_logv(int level, const char *plugin, const char *rid,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_logv(level, plugin, rid, fmt, ap);
    va_end(ap);
}

static void emit_plugin(void *arg)
{
    (void)arg;
    host_log(TQ_LOG_INFO, "plain");
    call_logv(TQ_LOG_WARN, "tasks", "req-1", "due %d", 3);
    call_logv(TQ_LOG_INFO, "groups", "", "no request");
}

static void test_logv_fields(void **state)
{
    (void)state;
    char *out = capture(emit_plugin, NULL);
    json_t *lines = lines_json(out);
    assert_int_equal(json_array_size(lines), 3);
    json_t *l0 = json_array_get(lines, 0);
    assert_null(json_object_get(l0, "plugin"));
    assert_null(json_object_get(l0, "request_id"));
    json_t *l1 = json_array_get(lines, 1);
    assert_string_equal(str(l1, "plugin"), "tasks");
    assert_string_equal(str(l1, "request_id"), "req-1");
    assert_string_equal(str(l1, "msg"), "due 3");
    assert_string_equal(str(l1, "level"), "warn");
    json_t *l2 = json_array_get(lines, 2);
    assert_string_equal(str(l2, "plugin"), "groups");
    assert_null(json_object_get(l2, "request_id"));
    json_decref(lines);
    free(out);
}

static void emit_access(void *arg)
{
    (void)arg;
    static host_route_rec rec;
    rec.r.path = "/v1/groups/{gid}";
    rec.r.method = "GET";

    tq_req req;
    memset(&req, 0, sizeof(req));
    req.method = HOST_GET;
    req.route = &rec;
    req.path = "/v1/groups/abc?token=SECRET";
    snprintf(req.request_id, sizeof(req.request_id), "rid-42");
    snprintf(req.user_id, sizeof(req.user_id), "user-7");
    req.client_addr = "10.0.0.9";
    host_kv hdr = {"Authorization", "Bearer SECRET"};
    req.headers = &hdr;
    req.nheaders = 1;
    req.body_raw = "{\"password\":\"SECRET\"}";
    req.body_len = strlen(req.body_raw);
    host_log_access(&req, 200, 12.3456);

    tq_req anon;
    memset(&anon, 0, sizeof(anon));
    anon.method = -1;
    anon.path = "/nope";
    host_log_access(&anon, 404, 0.5);

    host_log_level = TQ_LOG_WARN;
    host_log_access(&anon, 404, 0.5); /* filtered */
    host_log_level = TQ_LOG_INFO;
}

static void test_access_line(void **state)
{
    (void)state;
    char *out = capture(emit_access, NULL);
    assert_null(strstr(out, "SECRET"));
    json_t *lines = lines_json(out);
    assert_int_equal(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0);
    assert_string_equal(str(a, "level"), "info");
    assert_string_equal(str(a, "request_id"), "rid-42");
    assert_string_equal(str(a, "method"), "GET");
    assert_string_equal(str(a, "route"), "/v1/groups/{gid}");
    assert_string_equal(str(a, "path"), "/v1/groups/abc");
    assert_int_equal(json_integer_value(json_object_get(a, "status")), 200);
    double ms = json_number_value(json_object_get(a, "ms"));
    assert_true(ms > 12.34 && ms < 12.36);
    assert_string_equal(str(a, "user"), "user-7");
    assert_string_equal(str(a, "client"), "10.0.0.9");

    json_t *b = json_array_get(lines, 1);
    assert_true(json_is_null(json_object_get(b, "route")));
    assert_true(json_is_null(json_object_get(b, "user")));
    assert_true(json_is_null(json_object_get(b, "request_id")));
    assert_true(json_is_null(json_object_get(b, "client")));
    assert_string_equal(str(b, "method"), "OTHER");
    assert_int_equal(json_integer_value(json_object_get(b, "status")), 404);
    json_decref(lines);
    free(out);
}

static void *spam(void *arg)
{
    int id = (int)(intptr_t)arg;
    char chunk[3000];
    memset(chunk, 'a' + id, sizeof(chunk) - 1);
    chunk[sizeof(chunk) - 1] = '\0';
    for (int i = 0; i < 200; i++)
        host_log(TQ_LOG_INFO, "%d %s", id, chunk);
    return NULL;
}

static void emit_threads(void *arg)
{
    (void)arg;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, spam,
                                        (void *)(intptr_t)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

static void test_threads_do_not_interleave(void **state)
{
    (void)state;
    char *out = capture(emit_threads, NULL);
    json_t *lines = lines_json(out);
    assert_int_equal(json_array_size(lines), 800);
    for (size_t i = 0; i < 800; i++) {
        const char *m = str(json_array_get(lines, i), "msg");
        int id = m[0] - '0';
        assert_true(id >= 0 && id < 4);
        for (size_t k = 2; k < strlen(m); k++)
            assert_int_equal(m[k], 'a' + id);
    }
    json_decref(lines);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_and_escaping),
        cmocka_unit_test(test_long_message_is_cut_but_parses),
        cmocka_unit_test(test_logv_fields),
        cmocka_unit_test(test_access_line),
        cmocka_unit_test(test_threads_do_not_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
