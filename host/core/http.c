/*
 * http.c - I/O threads (libevent evhttp) and the bounded worker pool.
 *
 * An I/O thread owns one event_base and one evhttp; it parses requests,
 * routes them, answers 404/405/413/415 itself and queues the rest.  A
 * worker owns one database connection, runs auth and the handler, and
 * hands the finished tq_req back to the owning I/O thread with
 * event_base_once(), because evhttp objects may only be touched by the
 * thread that runs their base.  A tq_req is malloc'd by the I/O thread,
 * owned by the queue/worker while queued, and freed by the I/O thread
 * after the reply is sent.
 *
 * SIGTERM: stop accepting, let in-flight requests finish (bounded by the
 * request timeout), then leave the loops.
 */
#include "host.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <event2/util.h>

typedef struct io_thread {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    pthread_t tid;
    evutil_socket_t fd;
} io_thread;

/* What http.c hangs on req->io. */
typedef struct http_io {
    struct evhttp_request *ev;
    io_thread *thread;
    struct timespec start;
} http_io;

static const host_config *cfg;
static io_thread *ios;
static int nios;

/* The work queue: a ring of requests, bounded so overload answers 503
 * instead of growing memory without limit. */
#define QUEUE_CAP 4096
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tq_req *ring[QUEUE_CAP];
    size_t head, n;
    bool stop;
} q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static pthread_t *workers;
static int nworkers;
static atomic_long inflight;
static atomic_bool draining;
static atomic_ullong req_counter;
static char boot_id[9];

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------- reply */

static void reply_written(struct evhttp_request *ev, void *arg)
{
    (void)ev;
    (void)arg;
    atomic_fetch_sub(&inflight, 1);
}

static void send_reply(tq_req *req)
{
    http_io *io = req->io;
    struct evhttp_request *ev = io->ev;
    struct evkeyvalq *oh = evhttp_request_get_output_headers(ev);

    if (req->content_type)
        evhttp_add_header(oh, "Content-Type", req->content_type);
    for (int i = 0; i < req->nout_headers; i++)
        evhttp_add_header(oh, req->out_headers[i].name,
                          req->out_headers[i].value);
    evhttp_add_header(oh, "X-Request-Id", req->request_id);
    if (req->out_len)
        evbuffer_add(evhttp_request_get_output_buffer(ev), req->out,
                     req->out_len);
    /* A request counts as in flight until its reply is written, so a drain
     * never closes a connection with a reply still in its buffer.  When the
     * client has gone, evhttp frees the request without completing it. */
    if (evhttp_request_get_connection(ev))
        evhttp_request_set_on_complete_cb(ev, reply_written, NULL);
    else
        atomic_fetch_sub(&inflight, 1);
    evhttp_send_reply(ev, req->status, NULL, NULL);

    double s = elapsed_s(&io->start);
    host_metrics_request(req->route, req->method, req->status, s);
    host_log_access(req, req->status, s * 1000.0);
    host_req_free(req);
    free(req);
}

static void reply_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_reply(arg);
}

/* ------------------------------------------------------------ workers */

static void process(tq_req *req)
{
    unsigned flags = req->route->r.flags;
    if (!(flags & TQ_ROUTE_PUBLIC)) {
        if (host_auth_request(req, tq_header(req, "Authorization")))
            return;
    }
    if (!(flags & TQ_ROUTE_RAW_BODY) && host_parse_json_body(req))
        return;
    if (!(flags & HOST_ROUTE_NO_DB)) {
        if (!atomic_load(&host_migrated) || !host_db_ok(req->db)) {
            tq_fail(req, TQ_E_UNAVAILABLE);
            return;
        }
    }
    req->write = req->method != HOST_GET;
    host_run_handler(req);
}

static void *worker_main(void *arg)
{
    (void)arg;
    host_db *db = host_db_new(cfg->database_url, cfg->statement_timeout_ms);
    for (;;) {
        pthread_mutex_lock(&q.mu);
        while (q.n == 0 && !q.stop)
            pthread_cond_wait(&q.cv, &q.mu);
        if (q.n == 0 && q.stop) {
            pthread_mutex_unlock(&q.mu);
            break;
        }
        tq_req *req = q.ring[q.head];
        q.head = (q.head + 1) % QUEUE_CAP;
        q.n--;
        pthread_mutex_unlock(&q.mu);

        req->db = db;
        atomic_fetch_add(&host_db_stats_g.in_use, 1);
        process(req);
        atomic_fetch_sub(&host_db_stats_g.in_use, 1);
        /* Results live on the connection; release them before another
         * request takes it (the reply is already serialised). */
        host_db_req_cleanup(req);
        req->db = NULL;
        http_io *io = req->io;
        if (event_base_once(io->thread->base, -1, EV_TIMEOUT, reply_cb, req,
                            NULL) != 0) {
            host_log(TQ_LOG_ERROR, "event_base_once failed; dropping reply "
                                   "of request %s", req->request_id);
        }
    }
    host_db_free(db);
    return NULL;
}

static bool enqueue(tq_req *req)
{
    pthread_mutex_lock(&q.mu);
    if (q.n == QUEUE_CAP) {
        pthread_mutex_unlock(&q.mu);
        return false;
    }
    if (q.n)
        atomic_fetch_add(&host_db_stats_g.waits, 1);
    q.ring[(q.head + q.n) % QUEUE_CAP] = req;
    q.n++;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return true;
}

/* ----------------------------------------------------------- requests */

static bool header_token_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0 && n < sizeof(((tq_req *)0)->request_id);
}

static int method_of(struct evhttp_request *ev)
{
    switch (evhttp_request_get_command(ev)) {
    case EVHTTP_REQ_GET: return HOST_GET;
    case EVHTTP_REQ_POST: return HOST_POST;
    case EVHTTP_REQ_PUT: return HOST_PUT;
    case EVHTTP_REQ_PATCH: return HOST_PATCH;
    case EVHTTP_REQ_DELETE: return HOST_DELETE;
    default: return -1;
    }
}

static void copy_input(tq_req *req, struct evhttp_request *ev)
{
    struct evkeyvalq *ih = evhttp_request_get_input_headers(ev);
    struct evkeyval *kv;
    int n = 0;
    TAILQ_FOREACH(kv, ih, next) n++;
    req->headers = host_arena_alloc(&req->arena, sizeof(host_kv) * (size_t)(n + 1));
    TAILQ_FOREACH(kv, ih, next)
    {
        req->headers[req->nheaders].name = host_arena_strdup(&req->arena, kv->key);
        req->headers[req->nheaders].value = host_arena_strdup(&req->arena, kv->value);
        req->nheaders++;
    }

    const char *rid = evhttp_find_header(ih, "X-Request-Id");
    if (rid && header_token_ok(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        snprintf(req->request_id, sizeof req->request_id, "%s-%llx", boot_id,
                 (unsigned long long)atomic_fetch_add(&req_counter, 1));

    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(ev), &addr, &port);
    req->client_addr = host_arena_strdup(&req->arena, addr ? addr : "");
    /* The trusted proxy appends its own header line (HAProxy) or its own
     * entry (nginx): either way the last one is the proxy's. */
    const char *xff = NULL;
    if (cfg->trust_proxy)
        TAILQ_FOREACH(kv, ih, next)
        {
            if (strcasecmp(kv->key, "X-Forwarded-For") == 0)
                xff = kv->value;
        }
    if (xff && *xff) {
        /* The proxy appends the address it saw: the last entry is the
         * one we can trust. */
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        if (*last)
            req->client_addr = host_arena_strdup(&req->arena, last);
    }

    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t len = evbuffer_get_length(in);
    if (len) {
        char *b = host_arena_alloc(&req->arena, len + 1);
        evbuffer_copyout(in, b, len);
        b[len] = '\0';
        req->body_raw = b;
        req->body_len = len;
    }
}

static void parse_query(tq_req *req, const char *query)
{
    if (!query || !*query)
        return;
    struct evkeyvalq kvq;
    TAILQ_INIT(&kvq);
    if (evhttp_parse_query_str(query, &kvq) != 0) {
        evhttp_clear_headers(&kvq);
        return;
    }
    struct evkeyval *kv;
    int n = 0;
    TAILQ_FOREACH(kv, &kvq, next) n++;
    req->query = host_arena_alloc(&req->arena, sizeof(host_kv) * (size_t)(n + 1));
    TAILQ_FOREACH(kv, &kvq, next)
    {
        req->query[req->nquery].name = host_arena_strdup(&req->arena, kv->key);
        req->query[req->nquery].value = host_arena_strdup(&req->arena, kv->value);
        req->nquery++;
    }
    evhttp_clear_headers(&kvq);
}

static void set_allow(tq_req *req, unsigned allowed)
{
    char buf[64] = "";
    for (int m = 0; m < HOST_NMETHODS; m++)
        if (allowed & (1u << m)) {
            if (buf[0])
                strcat(buf, ", ");
            strcat(buf, host_method_str(m));
        }
    tq_set_header(req, "Allow", buf);
}

static bool is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    io_thread *t = arg;
    tq_req *req = malloc(sizeof *req);
    if (!req) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    atomic_fetch_add(&inflight, 1);
    host_req_init(req, NULL, NULL);
    http_io *io = host_arena_alloc(&req->arena, sizeof *io);
    io->ev = ev;
    io->thread = t;
    clock_gettime(CLOCK_MONOTONIC, &io->start);
    req->io = io;

    copy_input(req, ev);
    req->method = method_of(ev);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    req->path = host_arena_strdup(&req->arena, path && *path ? path : "/");
    parse_query(req, uri ? evhttp_uri_get_query(uri) : NULL);

    unsigned allowed = 0;
    const host_route_rec *rt = NULL;
    if (req->method >= 0)
        rt = host_router_match(host_routes, req->method, req->path,
                               &req->arena, req->params, &req->nparams,
                               &allowed);
    else /* HEAD, OPTIONS, ...: 405 with the methods the path has */
        for (int m = 0; m < HOST_NMETHODS; m++) {
            int np = 0;
            unsigned ignored;
            host_param ps[HOST_MAX_PARAMS];
            if (host_router_match(host_routes, m, req->path, &req->arena, ps,
                                  &np, &ignored))
                allowed |= 1u << m;
        }
    if (req->method >= 0 && !rt && !allowed) {
        tq_error(req, 404, "not_found", NULL, "no route for %s", req->path);
        send_reply(req);
        return;
    }
    if (!rt) {
        set_allow(req, allowed);
        if (allowed)
            tq_error(req, 405, "method_not_allowed", NULL,
                     "method not allowed on %s", req->path);
        else
            tq_error(req, 404, "not_found", NULL, "no route for %s", req->path);
        send_reply(req);
        return;
    }
    req->route = rt;
    req->plugin = rt->plugin;

    size_t limit = rt->r.body_limit ? rt->r.body_limit : cfg->body_limit;
    if (req->body_len > limit) {
        tq_error(req, 413, "payload_too_large", NULL,
                 "the body is %zu bytes; this route takes at most %zu",
                 req->body_len, limit);
        send_reply(req);
        return;
    }
    if (req->body_len && !(rt->r.flags & TQ_ROUTE_RAW_BODY) &&
        !is_json_type(tq_header(req, "Content-Type"))) {
        tq_error(req, 415, "unsupported_media_type", NULL,
                 "send the body as Content-Type: application/json");
        send_reply(req);
        return;
    }
    if (rt->r.flags & HOST_ROUTE_INLINE) {
        host_run_handler(req);
        send_reply(req);
        return;
    }
    if (atomic_load(&draining) || !enqueue(req)) {
        tq_set_header(req, "Retry-After", "1");
        tq_error(req, 503, "unavailable", NULL,
                 "the server is busy or shutting down; retry shortly");
        send_reply(req);
    }
}

/* ------------------------------------------------------------- set-up */

static evutil_socket_t listen_on(const char *listen_addr)
{
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    if (!colon || (size_t)(colon - listen_addr) >= sizeof host) {
        host_log(TQ_LOG_ERROR,
                 "server.listen: expected host:port, got \"%s\"", listen_addr);
        return -1;
    }
    memcpy(host, listen_addr, (size_t)(colon - listen_addr));
    host[colon - listen_addr] = '\0';
    char *h = host;
    if (h[0] == '[') { /* [::1]:8080 */
        h++;
        char *rb = strchr(h, ']');
        if (rb)
            *rb = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai);
    if (rc) {
        host_log(TQ_LOG_ERROR, "server.listen \"%s\": %s", listen_addr,
                 gai_strerror(rc));
        return -1;
    }
    evutil_socket_t fd = socket(ai->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        /* Accepted sockets inherit it: replies are written whole, so
         * Nagle would only hold the tail back for a delayed ACK. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024) ||
        evutil_make_socket_nonblocking(fd) ||
        evutil_make_socket_closeonexec(fd)) {
        host_log(TQ_LOG_ERROR,
                 "server.listen \"%s\": %s; is another process on that port?",
                 listen_addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void stop_accepting_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    io_thread *t = arg;
    if (t->bound) {
        evhttp_del_accept_socket(t->http, t->bound); /* closes the fd */
        t->bound = NULL;
    }
}

static struct event *drain_timer;
static struct timespec drain_start;

static void drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    long n = atomic_load(&inflight);
    if (n > 0 && elapsed_s(&drain_start) < cfg->request_timeout_s)
        return;
    if (n > 0)
        host_log(TQ_LOG_WARN, "drain timed out with %ld requests in flight", n);
    for (int i = 0; i < nios; i++)
        event_base_loopexit(ios[i].base, NULL);
}

static void on_sigterm(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (atomic_exchange(&draining, true))
        return;
    host_log(TQ_LOG_INFO, "signal %d: draining %ld in-flight requests", (int)sig,
             atomic_load(&inflight));
    clock_gettime(CLOCK_MONOTONIC, &drain_start);
    for (int i = 0; i < nios; i++)
        event_base_once(ios[i].base, -1, EV_TIMEOUT, stop_accepting_cb, &ios[i],
                        NULL);
    struct timeval tv = {0, 20000};
    event_add(drain_timer, &tv);
}

/* Stop from any thread (a fatal start-up error on the migration thread):
 * the same drain as SIGTERM, or an immediate return when not serving yet. */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static bool stop_requested, serving;

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    on_sigterm(SIGTERM, what, arg);
}

void host_http_stop(void)
{
    pthread_mutex_lock(&stop_mu);
    stop_requested = true;
    if (serving)
        event_base_once(ios[0].base, -1, EV_TIMEOUT, stop_cb, NULL, NULL);
    pthread_mutex_unlock(&stop_mu);
}

static void *io_main(void *arg)
{
    io_thread *t = arg;
    event_base_dispatch(t->base);
    return NULL;
}

static size_t max_body_limit(void)
{
    size_t max = cfg->body_limit;
    for (size_t i = 0; i < host_reg.plugins.n; i++) {
        tq_plugin *p = host_reg.plugins.v[i];
        for (size_t j = 0; j < p->routes.n; j++)
            if (p->routes.v[j].r.body_limit > max)
                max = p->routes.v[j].r.body_limit;
    }
    return max;
}

int host_http_run(const host_config *c)
{
    cfg = c;
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0) {
        host_log(TQ_LOG_ERROR, "libevent: pthreads support missing");
        return TQ_ERR;
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    snprintf(boot_id, sizeof boot_id, "%08x", rand_r(&seed));

    evutil_socket_t fd = listen_on(c->listen);
    if (fd < 0)
        return TQ_ERR;

    nios = c->io_threads > 0 ? c->io_threads : 1;
    ios = calloc((size_t)nios, sizeof *ios);
    nworkers = c->workers > 0 ? c->workers : 1;
    workers = calloc((size_t)nworkers, sizeof *workers);
    if (!ios || !workers)
        return TQ_E_NOMEM;
    atomic_store(&host_db_stats_g.size, nworkers);

    size_t max_body = max_body_limit();
    for (int i = 0; i < nios; i++) {
        io_thread *t = &ios[i];
        t->base = event_base_new();
        t->http = t->base ? evhttp_new(t->base) : NULL;
        if (!t->http) {
            host_log(TQ_LOG_ERROR, "libevent: cannot create an event base");
            return TQ_ERR;
        }
        evhttp_set_allowed_methods(t->http,
                                   EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                       EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                       EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                       EVHTTP_REQ_OPTIONS);
        evhttp_set_max_body_size(t->http, (ev_ssize_t)max_body);
        evhttp_set_max_headers_size(t->http, 16384);
        evhttp_set_timeout(t->http, c->request_timeout_s);
        evhttp_set_gencb(t->http, on_request, t);
        /* Each I/O thread accepts on its own socket; the kernel spreads
         * connections between them (SO_REUSEPORT). */
        t->fd = i == 0 ? fd : listen_on(c->listen);
        if (t->fd < 0)
            return TQ_ERR;
        t->bound = evhttp_accept_socket_with_handle(t->http, t->fd);
        if (!t->bound) {
            host_log(TQ_LOG_ERROR, "evhttp: cannot accept on %s", c->listen);
            return TQ_ERR;
        }
    }

    for (int i = 0; i < nworkers; i++)
        if (pthread_create(&workers[i], NULL, worker_main, NULL)) {
            host_log(TQ_LOG_ERROR, "cannot start worker thread %d", i);
            return TQ_ERR;
        }

    struct event *sigterm = evsignal_new(ios[0].base, SIGTERM, on_sigterm, NULL);
    struct event *sigint = evsignal_new(ios[0].base, SIGINT, on_sigterm, NULL);
    drain_timer = event_new(ios[0].base, -1, EV_PERSIST, drain_check_cb, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    host_log(TQ_LOG_INFO, "listening on %s (%d I/O thread%s, %d workers)",
             c->listen, nios, nios == 1 ? "" : "s", nworkers);
    for (int i = 1; i < nios; i++)
        pthread_create(&ios[i].tid, NULL, io_main, &ios[i]);
    pthread_mutex_lock(&stop_mu);
    serving = true;
    if (stop_requested)
        event_base_once(ios[0].base, -1, EV_TIMEOUT, stop_cb, NULL, NULL);
    pthread_mutex_unlock(&stop_mu);
    event_base_dispatch(ios[0].base);
    pthread_mutex_lock(&stop_mu);
    serving = false;
    pthread_mutex_unlock(&stop_mu);
    for (int i = 1; i < nios; i++)
        pthread_join(ios[i].tid, NULL);

    pthread_mutex_lock(&q.mu);
    q.stop = true;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);

    event_free(sigterm);
    event_free(sigint);
    event_free(drain_timer);
    for (int i = 0; i < nios; i++) {
        evhttp_free(ios[i].http);
        event_base_free(ios[i].base);
    }
    free(ios);
    free(workers);
    host_log(TQ_LOG_INFO, "drained; bye");
    return TQ_OK;
}
