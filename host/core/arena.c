/*
 * arena.c - the per-request bump allocator.
 *
 * An arena hands out memory that is never freed piece by piece: everything
 * goes at once in host_arena_free().  The first 2 KiB live inside the
 * struct itself, so most requests never call malloc for their arena; after
 * that, chunks of growing size are malloc'd and chained on a->head.  A
 * large allocation gets a chunk of its own so the current chunk's free
 * tail is not wasted.  The arena owns every chunk; callers own nothing.
 * Because a->pos may point into a->first, an initialised arena must not
 * be moved or copied.
 */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct host_arena_chunk {
    host_arena_chunk *next;
    size_t size; /* usable bytes in data */
    _Alignas(max_align_t) char data[];
};

#define ARENA_ALIGN _Alignof(max_align_t)
#define CHUNK_MIN 4096
#define CHUNK_MAX (1u << 20)

static void arena_oom(size_t n)
{
    fprintf(stderr, "tasqlyd: out of memory allocating %zu bytes for a "
                    "request arena; aborting\n", n);
    abort();
}

void host_arena_init(host_arena *a)
{
    a->head = NULL;
    a->pos = a->first;
    a->end = a->first + sizeof(a->first);
}

static char *align_up(char *p)
{
    uintptr_t u = (uintptr_t)p;
    u = (u + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    return (char *)u;
}

static host_arena_chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(host_arena_chunk))
        arena_oom(size);
    host_arena_chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        arena_oom(size);
    c->size = size;
    return c;
}

void *host_arena_alloc(host_arena *a, size_t n)
{
    if (n == 0)
        n = 1; /* every call returns a distinct pointer */
    if (a->pos) {
        char *p = align_up(a->pos);
        if (p <= a->end && (size_t)(a->end - p) >= n) {
            a->pos = p + n;
            return p;
        }
    }
    if (n > SIZE_MAX - ARENA_ALIGN)
        arena_oom(n);

    /* The next chunk doubles the current one, up to 1 MiB. */
    bool head_current = a->head && (uintptr_t)a->pos >= (uintptr_t)a->head->data
                        && (uintptr_t)a->pos
                               <= (uintptr_t)(a->head->data + a->head->size);
    size_t want = head_current ? a->head->size * 2 : CHUNK_MIN;
    if (want > CHUNK_MAX)
        want = CHUNK_MAX;

    if (n > want / 4 && a->pos) {
        /* Big: a private chunk kept off the head, so the current chunk
         * (or the embedded buffer) goes on serving small allocations. */
        host_arena_chunk *c = chunk_new(n);
        if (head_current) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
        return c->data;
    }
    if (want < n)
        want = n;
    host_arena_chunk *c = chunk_new(want);
    c->next = a->head;
    a->head = c;
    a->pos = c->data + n;
    a->end = c->data + c->size;
    return c->data;
}

char *host_arena_strndup(host_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = host_arena_alloc(a, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *host_arena_strdup(host_arena *a, const char *s)
{
    size_t len = strlen(s);
    char *d = host_arena_alloc(a, len + 1);
    memcpy(d, s, len + 1);
    return d;
}

char *host_arena_vprintf(host_arena *a, const char *fmt, va_list ap)
{
    /* Try the free tail of the current chunk first: one pass for the
     * common short string. */
    char *p = a->pos ? align_up(a->pos) : NULL;
    size_t room = (p && p <= a->end) ? (size_t)(a->end - p) : 0;
    va_list cp;
    va_copy(cp, ap);
    int len = vsnprintf(room ? p : NULL, room, fmt, cp);
    va_end(cp);
    if (len < 0) {
        fprintf(stderr, "tasqlyd: bad format string \"%s\"; aborting\n", fmt);
        abort();
    }
    if ((size_t)len < room) {
        a->pos = p + len + 1;
        return p;
    }
    char *d = host_arena_alloc(a, (size_t)len + 1);
    va_copy(cp, ap);
    vsnprintf(d, (size_t)len + 1, fmt, cp);
    va_end(cp);
    return d;
}

char *host_arena_printf(host_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = host_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}

void host_arena_free(host_arena *a)
{
    host_arena_chunk *c = a->head;
    while (c) {
        host_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    host_arena_init(a);
}
