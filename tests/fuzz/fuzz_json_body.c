/*
 * fuzz_json_body.c - libFuzzer target for what a JSON route does with a
 * request body before and inside its handler: host_parse_json_body() (the
 * worker's own step), then every SDK validator the plugins use, on a
 * tq_req made by host_req_init() as the server makes it.
 *
 * Input: the first byte is the length L of a query string ("limit=5&
 * cursor=x", split on '&' and '=' without decoding, as the validators see
 * it after evhttp); the next L bytes are that query; the rest is the body.
 * Besides "no crash, no leak, no UB" it checks what must hold: every
 * refusal is the API's error shape with the status returned and the
 * expected code, and every value a validator accepts honours its
 * contract.  Memory: everything hangs off the one request, freed by
 * host_req_free() at the end of each run.
 */
#include "host.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_json_body: %s:%d: %s\n", __FILE__,       \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* The response is exactly {"error":{"code":code,"message":..[,"field"]}}
 * with the status rc, as API.md requires. */
static void check_error(tq_req *req, int rc, int status, const char *code,
                        const char *field)
{
    CHECK(rc == status);
    CHECK(req->status == status);
    CHECK(req->content_type &&
          strcmp(req->content_type, "application/json; charset=utf-8") == 0);
    json_error_t e;
    json_t *j = json_loadb(req->out, req->out_len, JSON_REJECT_DUPLICATES, &e);
    CHECK(j && json_is_object(j) && json_object_size(j) == 1);
    json_t *err = json_object_get(j, "error");
    CHECK(json_is_object(err));
    CHECK(json_is_string(json_object_get(err, "code")));
    CHECK(strcmp(json_string_value(json_object_get(err, "code")), code) == 0);
    json_t *msg = json_object_get(err, "message");
    CHECK(json_is_string(msg) && json_string_length(msg) > 0);
    json_t *f = json_object_get(err, "field");
    if (field)
        CHECK(json_is_string(f) && strcmp(json_string_value(f), field) == 0);
    else
        CHECK(!f);
    CHECK(json_object_size(err) == (field ? 3u : 2u));
    json_decref(j);
    host_req_reset_response(req);
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* "YYYY-MM-DDTHH:MM:SSZ", the only form get_time may hand a plugin. */
static int is_rfc3339_utc(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return strncmp(s, "0000", 4) != 0;
}

static const char *const choices[] = {"member", "landlord", "admin", "", NULL};

/* Every validator on one field name, required and optional. */
static void validate_field(tq_req *req, const char *field)
{
    for (int required = 0; required <= 1; required++) {
        json_t *v = json_is_object(req->body_json)
                        ? json_object_get(req->body_json, field)
                        : NULL;
        int present = v && !json_is_null(v);
        CHECK(tq_has(req, field) == (v != NULL));

        const char *s = (const char *)1;
        int rc = tq_get_str(req, field, required, 1, 100, &s);
        if (rc) {
            check_error(req, rc, 400, "validation_failed", field);
        } else if (present) {
            CHECK(s && strlen(s) == json_string_length(v));
            size_t n = utf8_chars(s);
            CHECK(n >= 1 && n <= 100);
        } else {
            CHECK(!required && !s);
        }

        long long n = 77;
        rc = tq_get_int(req, field, required, -5, 1000, &n);
        if (rc)
            check_error(req, rc, 400, "validation_failed", field);
        else if (present)
            CHECK(n >= -5 && n <= 1000 && n == json_integer_value(v));
        else
            CHECK(!required && n == 77);

        int b = 7;
        rc = tq_get_bool(req, field, required, &b);
        if (rc)
            check_error(req, rc, 400, "validation_failed", field);
        else
            CHECK(present ? b == json_is_true(v) : (!required && b == 7));

        s = (const char *)1;
        rc = tq_get_uuid(req, field, required, &s);
        if (rc) {
            check_error(req, rc, 400, "validation_failed", field);
        } else if (present) {
            CHECK(s && host_is_uuid(s));
            for (const char *p = s; *p; p++)
                CHECK(!isupper((unsigned char)*p));
        } else {
            CHECK(!required && !s);
        }

        s = (const char *)1;
        rc = tq_get_time(req, field, required, &s);
        if (rc) {
            check_error(req, rc, 400, "validation_failed", field);
        } else if (present) {
            if (!s || !is_rfc3339_utc(s)) {
                fprintf(stderr, "get_time(%s) -> \"%s\"\n",
                        json_string_value(v), s ? s : "(null)");
                abort();
            }
        } else {
            CHECK(!required && !s);
        }

        s = (const char *)1;
        rc = tq_get_enum(req, field, required, choices, &s);
        if (rc) {
            check_error(req, rc, 400, "validation_failed", field);
        } else if (present) {
            int found = 0;
            for (int i = 0; choices[i]; i++)
                found |= s == choices[i];
            CHECK(found && strcmp(s, json_string_value(v)) == 0);
        } else {
            CHECK(!required && !s);
        }
    }
}

static void parse_query(tq_req *req, const char *q, size_t len)
{
    char *text = host_arena_strndup(&req->arena, q, len);
    int n = 1;
    for (const char *p = text; *p; p++)
        n += *p == '&';
    req->query = host_arena_alloc(&req->arena, sizeof(host_kv) * (size_t)n);
    char *save = NULL;
    for (char *kv = strtok_r(text, "&", &save); kv;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        req->query[req->nquery].name = kv;
        req->query[req->nquery].value = eq ? eq + 1 : "";
        req->nquery++;
    }
}

static void check_page(tq_req *req)
{
    int limit = -1;
    const char *cursor = (const char *)1;
    int rc = tq_page(req, &limit, &cursor);
    const char *l = NULL, *c = NULL;
    /* The first of a repeated key wins (tq_query). */
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, "limit") == 0) {
            l = req->query[i].value;
            break;
        }
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].name, "cursor") == 0) {
            c = req->query[i].value;
            break;
        }
    bool limit_ok = true;
    if (l) {
        char *end;
        long x = strtol(l, &end, 10);
        limit_ok = *l && !*end && x >= 1 && x <= 100;
    }
    if (rc) {
        check_error(req, rc, 400, "validation_failed",
                    limit_ok ? "cursor" : "limit");
        return;
    }
    CHECK(limit_ok);
    CHECK(limit >= 1 && limit <= 100);
    if (!l)
        CHECK(limit == 20);
    CHECK(cursor == c);
    if (c)
        CHECK(*c && strlen(c) <= 256);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536 + 256)
        return 0;
    size_t qlen = data[0];
    if (qlen > size - 1)
        qlen = size - 1;
    const char *query = (const char *)data + 1;
    const uint8_t *body = data + 1 + qlen;
    size_t blen = size - 1 - qlen;

    tq_req req;
    host_req_init(&req, NULL, NULL);
    /* The server copies the body into the arena with a NUL after it. */
    char *raw = host_arena_alloc(&req.arena, blen + 1);
    memcpy(raw, body, blen);
    raw[blen] = '\0';
    req.body_raw = raw;
    req.body_len = blen;
    parse_query(&req, query, qlen);

    int rc = host_parse_json_body(&req);
    if (rc) {
        check_error(&req, rc, 400, "bad_request", NULL);
        host_req_free(&req);
        return 0;
    }
    CHECK(blen == 0 ? req.body_json == NULL : json_is_object(req.body_json));
    CHECK(req.status == 0 && req.out == NULL);

    /* The names the plugins ask for, then whatever keys the body has
     * (plugins ask for fixed names, but any name must be safe). */
    static const char *const fixed[] = {"title", "due_at", "missing", NULL};
    for (int i = 0; fixed[i]; i++)
        validate_field(&req, fixed[i]);
    const char *key;
    json_t *v;
    int nkeys = 0;
    json_object_foreach(req.body_json, key, v)
    {
        if (nkeys++ == 8)
            break;
        validate_field(&req, key);
    }
    check_page(&req);

    host_req_free(&req);
    return 0;
}
