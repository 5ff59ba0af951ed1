/*
 * fuzz_router.c - libFuzzer target for the router.
 *
 * The input is lines.  The first byte says how many of them are routes
 * (each: a method digit, then a pattern); the rest are requests (a method
 * digit, then a path).  Besides "no crash, no leak, no UB" it checks what
 * must hold: bad patterns and only bad patterns are refused as invalid,
 * a collision names the route it hit, params come back decoded, non-empty
 * and NUL-free, and a path made from any added pattern always finds a
 * node (a route or a 405), i.e. backing off from literals is complete.
 */
#include "host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h(tq_req *r) { (void)r; return 200; }

static int count_params(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '{';
    return n;
}

/* /a/{x}/b -> /a/v/b */
static void concrete(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 2 < n; p++) {
        if (*p == '{') {
            out[o++] = 'v';
            while (*p && *p != '}')
                p++;
            if (!*p)
                break;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    int nroutes = data[0] % 32;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    host_router *r = host_router_new();
    char *added[32];
    int nadded = 0;
    host_arena a;
    host_arena_init(&a);

    char *save = NULL;
    int i = 0;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), i++) {
        if (!line[0])
            continue;
        int method = (line[0] - '0') % HOST_NMETHODS;
        if (method < 0)
            method = -method;
        const char *s = line + 1;
        if (i < nroutes) {
            host_route_rec rec;
            memset(&rec, 0, sizeof(rec));
            rec.r.handler = h;
            const host_route_rec *clash = NULL;
            int rc = host_router_add(r, method, s, &rec, &clash);
            const char *why = host_router_check(s);
            if ((rc == TQ_E_INVALID) != (why != NULL))
                abort();
            if (rc == TQ_E_EXISTS && !clash)
                abort();
            if (rc != TQ_OK && rc != TQ_E_EXISTS && rc != TQ_E_INVALID)
                abort();
            if (rc == TQ_OK)
                added[nadded++] = strdup(s);
            continue;
        }
        host_param params[HOST_MAX_PARAMS];
        int np = -1;
        unsigned allowed = 0;
        const host_route_rec *m =
            host_router_match(r, method, s, &a, params, &np, &allowed);
        if (m) {
            if (np != count_params(m->r.path) || allowed != 0)
                abort();
            for (int k = 0; k < np; k++)
                if (!params[k].name || !params[k].value
                    || !params[k].value[0])
                    abort();
        } else if (allowed >> HOST_NMETHODS) {
            abort();
        }
    }

    for (int k = 0; k < nadded; k++) {
        char path[8192];
        concrete(added[k], path, sizeof(path));
        host_param params[HOST_MAX_PARAMS];
        int np;
        unsigned allowed = 0;
        const host_route_rec *m =
            host_router_match(r, HOST_GET, path, &a, params, &np, &allowed);
        if (!m && !allowed) {
            fprintf(stderr, "pattern %s: path %s found nothing\n", added[k],
                    path);
            abort();
        }
        free(added[k]);
    }

    host_arena_free(&a);
    host_router_free(r);
    free(text);
    return 0;
}
