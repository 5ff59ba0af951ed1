/*
 * jsonout.c - json_t to compact JSON text, for response bodies.
 *
 * The same text as json_dumps(j, JSON_COMPACT) (the unit test compares
 * them), several times faster: jansson escapes a string one code point
 * at a time through a callback, and json_dumpb() needs a second walk to
 * size its buffer.  Here runs of bytes that need no escape are copied
 * with one memcpy (UTF-8 passes through unchanged, as jansson does
 * without JSON_ENSURE_ASCII) into one growing buffer.
 *
 * Memory: host_json_text() returns a malloc'd buffer the caller frees,
 * or NULL when out of memory.
 */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char *p;
    size_t n, cap;
    bool oom;
} out;

static bool grow(out *o, size_t need)
{
    if (o->oom)
        return false;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->n < need)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        o->oom = true;
        return false;
    }
    o->p = p;
    o->cap = cap;
    return true;
}

static inline void put(out *o, const char *s, size_t n)
{
    if (o->cap - o->n < n && !grow(o, n))
        return;
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static inline void putc1(out *o, char c)
{
    if (o->cap == o->n && !grow(o, 1))
        return;
    o->p[o->n++] = c;
}

/* 1: the byte must be escaped (jansson's set: controls, '"', '\\'). */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
};

static void put_string(out *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF"; /* as jansson */
    putc1(o, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0};
        switch (c) {
        case '"': case '\\': e[1] = (char)c; put(o, e, 2); break;
        case '\b': put(o, "\\b", 2); break;
        case '\f': put(o, "\\f", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        default:
            e[1] = 'u'; e[2] = '0'; e[3] = '0';
            e[4] = hex[c >> 4]; e[5] = hex[c & 15];
            put(o, e, 6);
        }
    }
    put(o, s + run, len - run);
    putc1(o, '"');
}

static void put_int(out *o, json_int_t v)
{
    char b[24], *e = b + sizeof b, *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10));
    if (v < 0)
        *--p = '-';
    put(o, p, (size_t)(e - p));
}

/* jansson's real format: %.17g, ".0" added when it would read as an
 * integer, the exponent without '+' or leading zeros (1e+300 -> 1e300).
 * json_real() refuses inf and nan, so they never get here. */
static void put_real(out *o, double v)
{
    char b[40];
    int n = snprintf(b, sizeof b, "%.17g", v);
    if (n <= 0 || (size_t)n >= sizeof b) {
        o->oom = true;
        return;
    }
    for (int i = 0; i < n; i++)
        if (b[i] == ',')
            b[i] = '.'; /* a locale's decimal comma */
    char *e = strchr(b, 'e');
    if (!e) {
        put(o, b, (size_t)n);
        if (!strchr(b, '.'))
            put(o, ".0", 2);
        return;
    }
    char *d = e + 1, *s = d;
    if (*s == '+')
        s++;
    else if (*s == '-')
        *d++ = *s++;
    while (*s == '0' && s[1])
        s++;
    memmove(d, s, strlen(s) + 1);
    put(o, b, strlen(b));
}

static void put_value(out *o, const json_t *j, int depth)
{
    if (depth > 2048) { /* jansson's own limit */
        o->oom = true;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        putc1(o, '{');
        bool first = true;
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            if (!first)
                putc1(o, ',');
            first = false;
            put_string(o, json_object_iter_key(it),
                       json_object_iter_key_len(it));
            putc1(o, ':');
            put_value(o, json_object_iter_value(it), depth + 1);
        }
        putc1(o, '}');
        break;
    }
    case JSON_ARRAY: {
        putc1(o, '[');
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++) {
            if (i)
                putc1(o, ',');
            put_value(o, json_array_get(j, i), depth + 1);
        }
        putc1(o, ']');
        break;
    }
    case JSON_STRING:
        put_string(o, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        put_int(o, json_integer_value(j));
        break;
    case JSON_REAL:
        put_real(o, json_real_value(j));
        break;
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    default:
        put(o, "null", 4);
    }
}

char *host_json_text(const json_t *j, size_t *len)
{
    out o = {0};
    if (!j || !grow(&o, 4096))
        return NULL;
    put_value(&o, j, 0);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    *len = o.n;
    return o.p;
}
