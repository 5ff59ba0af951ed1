/*
 * metrics.c - request counters and latency histograms, rendered in the
 * Prometheus text format together with the pool, outbox and job numbers.
 *
 * Recording is O(1) and lock-free: host_router_add() gives every route
 * record a metrics_slot number, and the slot's counters live at a fixed
 * place in a two-level table (chunks of SLOTS_PER_CHUNK slots, each chunk
 * malloc'd by the first request that needs it and installed with a
 * compare-and-swap).  No string is hashed or compared per request.  The
 * status dimension is a plain array indexed by status code.  Requests
 * that matched no route (404, 405) count under route="unmatched".
 *
 * Memory: chunks live until exit.  host_metrics_render() returns a
 * malloc'd string the caller frees.
 */
#include "host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS_PER_CHUNK 64
#define MAX_CHUNKS 1024            /* 65536 routes */
#define STATUS_MIN 100
#define NSTATUS 500                /* 100..599 */
#define NBUCKETS 13

static const double bucket_le[NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10,
};

typedef struct mslot {
    _Atomic(const host_route_rec *) rec; /* NULL: unmatched or unused */
    atomic_int method;                   /* +1, 0 while unused */
    atomic_ullong status[NSTATUS];
    atomic_ullong bucket[NBUCKETS + 1];  /* not cumulative; last is +Inf */
    atomic_ullong sum_us;
    atomic_ullong count;
} mslot;

static _Atomic(mslot *) chunks[MAX_CHUNKS];
/* Unmatched requests, one slot per method plus one for other methods. */
static mslot unmatched[HOST_NMETHODS + 1];

static mslot *slot_for(int n)
{
    if (n <= 0 || n > MAX_CHUNKS * SLOTS_PER_CHUNK)
        return NULL;
    size_t i = (size_t)(n - 1);
    _Atomic(mslot *) *cp = &chunks[i / SLOTS_PER_CHUNK];
    mslot *c = atomic_load_explicit(cp, memory_order_acquire);
    if (!c) {
        mslot *fresh = calloc(SLOTS_PER_CHUNK, sizeof(mslot));
        if (!fresh)
            return NULL; /* counted as unmatched rather than lost */
        if (atomic_compare_exchange_strong_explicit(
                cp, &c, fresh, memory_order_acq_rel, memory_order_acquire))
            c = fresh;
        else
            free(fresh); /* another thread won; c is its chunk */
    }
    return &c[i % SLOTS_PER_CHUNK];
}

void host_metrics_request(const host_route_rec *route, int method,
                          int status, double seconds)
{
    if (method < 0 || method >= HOST_NMETHODS)
        method = HOST_NMETHODS;
    mslot *s = route ? slot_for(route->metrics_slot) : NULL;
    if (s) {
        if (!atomic_load_explicit(&s->rec, memory_order_relaxed)) {
            atomic_store_explicit(&s->method, method + 1,
                                  memory_order_relaxed);
            atomic_store_explicit(&s->rec, route, memory_order_release);
        }
    } else {
        s = &unmatched[method];
        atomic_store_explicit(&s->method, method + 1, memory_order_relaxed);
    }

    if (status < STATUS_MIN || status >= STATUS_MIN + NSTATUS)
        status = 500;
    atomic_fetch_add_explicit(&s->status[status - STATUS_MIN], 1,
                              memory_order_relaxed);

    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    int b = 0;
    while (b < NBUCKETS && seconds > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    double us = seconds * 1e6;
    atomic_fetch_add_explicit(&s->sum_us,
                              us < 1e18 ? (unsigned long long)us : 0,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------- render */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

__attribute__((format(printf, 2, 3)))
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A label value, escaped as the text format wants. */
static void sb_label(sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_printf(b, "\\\\");
        else if (*s == '"')
            sb_printf(b, "\\\"");
        else if (*s == '\n')
            sb_printf(b, "\\n");
        else
            sb_printf(b, "%c", *s);
    }
}

typedef void (*slot_fn)(sbuf *b, const mslot *s, const char *route,
                        const char *method);

static void each_slot(sbuf *b, slot_fn fn)
{
    for (int m = 0; m <= HOST_NMETHODS; m++)
        if (atomic_load_explicit(&unmatched[m].method, memory_order_relaxed))
            fn(b, &unmatched[m], "unmatched", host_method_str(m));
    for (size_t c = 0; c < MAX_CHUNKS; c++) {
        mslot *ch = atomic_load_explicit(&chunks[c], memory_order_acquire);
        if (!ch)
            continue;
        for (size_t i = 0; i < SLOTS_PER_CHUNK; i++) {
            const host_route_rec *r =
                atomic_load_explicit(&ch[i].rec, memory_order_acquire);
            if (!r)
                continue;
            int m = atomic_load_explicit(&ch[i].method, memory_order_relaxed);
            const char *method = r->r.method ? r->r.method
                                             : host_method_str(m - 1);
            fn(b, &ch[i], r->r.path ? r->r.path : "", method);
        }
    }
}

static void labels(sbuf *b, const char *route, const char *method)
{
    sb_printf(b, "route=\"");
    sb_label(b, route);
    sb_printf(b, "\",method=\"");
    sb_label(b, method);
    sb_printf(b, "\"");
}

static void render_requests(sbuf *b, const mslot *s, const char *route,
                            const char *method)
{
    for (int i = 0; i < NSTATUS; i++) {
        unsigned long long n =
            atomic_load_explicit(&s->status[i], memory_order_relaxed);
        if (!n)
            continue;
        sb_printf(b, "tasqly_http_requests_total{");
        labels(b, route, method);
        sb_printf(b, ",status=\"%d\"} %llu\n", i + STATUS_MIN, n);
    }
}

static void render_histogram(sbuf *b, const mslot *s, const char *route,
                             const char *method)
{
    unsigned long long cum = 0;
    for (int i = 0; i <= NBUCKETS; i++) {
        cum += atomic_load_explicit(&s->bucket[i], memory_order_relaxed);
        sb_printf(b, "tasqly_http_request_duration_seconds_bucket{");
        labels(b, route, method);
        if (i < NBUCKETS)
            sb_printf(b, ",le=\"%g\"} %llu\n", bucket_le[i], cum);
        else
            sb_printf(b, ",le=\"+Inf\"} %llu\n", cum);
    }
    /* _count is the +Inf bucket so the series agree even while requests
     * are being recorded concurrently. */
    sb_printf(b, "tasqly_http_request_duration_seconds_sum{");
    labels(b, route, method);
    sb_printf(b, "} %.6f\n",
              (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed)
                  / 1e6);
    sb_printf(b, "tasqly_http_request_duration_seconds_count{");
    labels(b, route, method);
    sb_printf(b, "} %llu\n", cum);
}

static void family(sbuf *b, const char *name, const char *type,
                   const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(sbuf *b, const char *name, const char *type,
                   const char *help, long long v)
{
    family(b, name, type, help);
    sb_printf(b, "%s %lld\n", name, v);
}

char *host_metrics_render(size_t *len)
{
    sbuf b = {0};

    family(&b, "tasqly_http_requests_total", "counter",
           "HTTP requests answered, by route pattern, method and status.");
    each_slot(&b, render_requests);
    family(&b, "tasqly_http_request_duration_seconds", "histogram",
           "Time from request parsed to response queued, by route.");
    each_slot(&b, render_histogram);

    host_db_stats *d = &host_db_stats_g;
    scalar(&b, "tasqly_db_pool_connections", "gauge",
           "Database connections in the pool.", atomic_load(&d->size));
    scalar(&b, "tasqly_db_pool_in_use", "gauge",
           "Database connections serving a request now.",
           atomic_load(&d->in_use));
    scalar(&b, "tasqly_db_pool_waits_total", "counter",
           "Requests that waited for a free database connection.",
           atomic_load(&d->waits));
    scalar(&b, "tasqly_db_query_errors_total", "counter",
           "Queries that failed.", atomic_load(&d->query_errors));
    scalar(&b, "tasqly_db_reconnects_total", "counter",
           "Database reconnections.", atomic_load(&d->reconnects));
    scalar(&b, "tasqly_db_results_held", "gauge",
           "Query results not yet released (0 when idle).",
           atomic_load(&d->results_held));

    host_event_stats *e = &host_event_stats_g;
    scalar(&b, "tasqly_events_delivered_total", "counter",
           "Event deliveries that succeeded.", atomic_load(&e->delivered));
    scalar(&b, "tasqly_events_failed_attempts_total", "counter",
           "Event delivery attempts that failed (and will be retried).",
           atomic_load(&e->failed_attempts));
    scalar(&b, "tasqly_events_dead_total", "counter",
           "Event deliveries given up after the last attempt.",
           atomic_load(&e->dead));
    scalar(&b, "tasqly_events_pending_deliveries", "gauge",
           "Event deliveries waiting in the outbox.",
           atomic_load(&e->pending_gauge));
    scalar(&b, "tasqly_events_dead_deliveries", "gauge",
           "Event deliveries given up and kept for inspection.",
           atomic_load(&e->dead_gauge));
    family(&b, "tasqly_events_dispatch_seconds", "summary",
           "Time from emit to successful delivery.");
    sb_printf(&b, "tasqly_events_dispatch_seconds_sum %.6f\n",
              (double)atomic_load(&e->dispatch_us_total) / 1e6);
    sb_printf(&b, "tasqly_events_dispatch_seconds_count %lld\n",
              (long long)atomic_load(&e->dispatch_count));

    static const struct {
        const char *name, *type, *help;
    } jobf[] = {
        {"tasqly_job_last_run_timestamp_seconds", "gauge",
         "Unix time the job last ran (0: never)."},
        {"tasqly_job_runs_total", "counter", "Runs of the job."},
        {"tasqly_job_failures_total", "counter", "Runs that failed."},
    };
    for (size_t f = 0; f < sizeof(jobf) / sizeof(jobf[0]); f++) {
        family(&b, jobf[f].name, jobf[f].type, jobf[f].help);
        for (size_t i = 0; i < host_reg.jobs.n; i++) {
            host_job *j = host_reg.jobs.v[i];
            long long v = f == 0 ? atomic_load(&j->last_run_unix)
                          : f == 1 ? atomic_load(&j->runs)
                                   : atomic_load(&j->failures);
            sb_printf(&b, "%s{job=\"", jobf[f].name);
            sb_label(&b, j->name ? j->name : "");
            sb_printf(&b, "\"} %lld\n", v);
        }
    }

    if (b.failed) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
