/*
 * jsonw.c - a small JSON text writer for the task list, the hot path:
 * writing a page of rows straight from the result's text cells costs a
 * fraction of building a jansson object per row (a hash table and a
 * dozen allocations each) and serialising it again.  Everywhere else
 * the plugin uses jansson.  Pure C.
 *
 * Memory: the buffer is malloc'd and grows by doubling; its owner frees
 * it with tsk_buf_free().  After an allocation failure the buffer stops
 * growing and b->oom says so; callers check once at the end.
 */
#include "tasks_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(tsk_buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->n + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void tsk_buf_raw(tsk_buf *b, const char *s, size_t n)
{
    if (reserve(b, n)) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

void tsk_buf_cstr(tsk_buf *b, const char *s)
{
    tsk_buf_raw(b, s, strlen(s));
}

void tsk_buf_jstr(tsk_buf *b, const char *s)
{
    if (!s) {
        tsk_buf_raw(b, "null", 4);
        return;
    }
    tsk_buf_raw(b, "\"", 1);
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue; /* UTF-8 passes through as is */
        tsk_buf_raw(b, run, (size_t)(p - run));
        if (!c)
            break;
        char esc[8];
        switch (c) {
        case '"': tsk_buf_raw(b, "\\\"", 2); break;
        case '\\': tsk_buf_raw(b, "\\\\", 2); break;
        case '\n': tsk_buf_raw(b, "\\n", 2); break;
        case '\r': tsk_buf_raw(b, "\\r", 2); break;
        case '\t': tsk_buf_raw(b, "\\t", 2); break;
        case '\b': tsk_buf_raw(b, "\\b", 2); break;
        case '\f': tsk_buf_raw(b, "\\f", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            tsk_buf_raw(b, esc, 6);
        }
        run = p + 1;
    }
    tsk_buf_raw(b, "\"", 1);
}

void tsk_buf_free(tsk_buf *b)
{
    free(b->p);
    *b = (tsk_buf){0};
}
