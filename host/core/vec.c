/*
 * vec.c - growth for HOST_VEC(T), the one growable-array idiom of the host.
 *
 * A HOST_VEC is { T *v; size_t n, cap; }; the struct's owner frees v with
 * free().  Pushing returns a zeroed slot at the end, doubling the storage
 * when full.  Out of memory aborts: registries are built at start-up,
 * where there is nothing sensible to fall back to.
 */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The layout every HOST_VEC(T) shares. */
struct host_vec_any {
    void *v;
    size_t n, cap;
};

void *host_vec_push_(void *vec, size_t elem)
{
    struct host_vec_any *h = vec;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        if (cap < h->cap || cap > SIZE_MAX / elem) {
            fprintf(stderr, "tasqlyd: vector of %zu elements cannot grow; "
                            "aborting\n", h->n);
            abort();
        }
        void *v = realloc(h->v, cap * elem);
        if (!v) {
            fprintf(stderr, "tasqlyd: out of memory growing a vector to "
                            "%zu bytes; aborting\n", cap * elem);
            abort();
        }
        h->v = v;
        h->cap = cap;
    }
    char *slot = (char *)h->v + h->n * elem;
    memset(slot, 0, elem);
    h->n++;
    return slot;
}
