/*
 * db.c - one libpq connection per worker thread: connect and reconnect,
 * the prepared-statement cache, transactions, results, and the mapping of
 * SQLSTATEs to TQ_E_* codes.
 *
 * A host_db belongs to the thread that created it and is never shared, so
 * nothing here takes a lock (the statistics are atomics).  The host_db
 * owns its PGconn, its statement cache (malloc'd copies of the SQL text)
 * and every result handed out since the last host_db_clear_results(): a
 * tq_res is one malloc'd block (the PGresult pointer, a column map and
 * the RFC 3339 text of timestamp cells) chained on db->results.  A
 * request's results therefore live until host_req_free() calls
 * host_db_req_cleanup(), whatever the order in which the arena goes.
 *
 * When the server goes away the next statement fails with
 * TQ_E_UNAVAILABLE; later ones try to reconnect at most every 500 ms with
 * a 2 s connect timeout, so a down database costs a request microseconds,
 * not seconds.  A connection is never replaced under an open transaction:
 * that transaction is gone, and the statements of the request that owned
 * it keep failing until it rolls back.
 */
#include "dbpriv.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

host_db_stats host_db_stats_g;

#define RECONNECT_EVERY_MS 500
#define STMT_MAX 512   /* prepared statements a connection keeps */
#define STMT_SLOTS 1024 /* open addressing, load factor <= 1/2 */
#define TS_LEN 40      /* "-infinity", BC and 5-digit years fit */

/* Type OIDs from pg_type.h (stable since PostgreSQL 7). */
enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

typedef struct stmt {
    char *sql; /* NULL: free slot */
    uint32_t hash;
    int id;    /* prepared as "tq<id>" on this connection */
} stmt;

struct tq_res {
    PGresult *pg;  /* NULL once host_res_free() ran */
    tq_res *next;  /* db->results chain */
    int rows, cols, nts;
    int *tsidx;    /* per column: index among timestamp columns, or -1 */
    char (*ts)[TS_LEN]; /* rows * nts RFC 3339 strings */
};

struct host_db {
    PGconn *conn;
    char *url;
    int timeout_ms;
    long long failed_ms;    /* last failed connect attempt, 0: none */
    unsigned generation;    /* successful connects so far */
    bool in_tx;             /* BEGIN sent, no COMMIT/ROLLBACK yet */
    bool dealloc_pending;   /* forgotten statements still on the server */
    int nstmts, next_id;
    stmt *slots;            /* STMT_SLOTS */
    tq_res *results;
    char err[512];
};

/* One "unreachable" line per outage, not one per connection or request. */
static atomic_bool db_down;

long long host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's messages span lines ("...\n\tThis probably means ..."): keep
 * one line, for logs and for tests that look for a phrase. */
static void set_err(host_db *db, const char *msg)
{
    size_t j = 0;
    bool space = false;
    for (const char *p = msg ? msg : "unknown error";
         *p && j + 1 < sizeof db->err; p++) {
        if (*p == '\n' || *p == '\t' || *p == ' ') {
            space = j > 0;
            continue;
        }
        if (space && j + 2 < sizeof db->err)
            db->err[j++] = ' ';
        space = false;
        db->err[j++] = *p;
    }
    db->err[j] = '\0';
}

/* ------------------------------------------------------------ notices */

static void notice_to_log(void *arg, const char *msg)
{
    (void)arg;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", msg);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    /* NOTICEs ("schema exists, skipping") are chatter; WARNINGs are not. */
    host_log(strncmp(buf, "WARNING", 7) == 0 ? TQ_LOG_WARN : TQ_LOG_DEBUG,
             "postgresql: %s", buf);
}

void host_db_quiet_notices(PGconn *conn)
{
    if (conn)
        PQsetNoticeProcessor(conn, notice_to_log, NULL);
}

/* ------------------------------------------------------------- errors */

int host_db_map_error(PGconn *conn, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return TQ_E_UNAVAILABLE;
    if (!st || strlen(st) != 5)
        return TQ_E_UNAVAILABLE; /* libpq's own failure: lost the server */
    if (strcmp(st, "23505") == 0)
        return TQ_E_UNIQUE;
    if (strcmp(st, "23503") == 0)
        return TQ_E_FOREIGN_KEY;
    if (strcmp(st, "23514") == 0 || strcmp(st, "23502") == 0)
        return TQ_E_CHECK;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
        return TQ_E_RETRY;
    if (strncmp(st, "22", 2) == 0)
        return TQ_E_INVALID;
    /* 08P01 is our own bind mistake (wrong parameter count), not the
     * network; 57014 is statement_timeout: the database cannot keep up,
     * which the client should treat like an outage (503, retry). */
    if ((strncmp(st, "08", 2) == 0 && strcmp(st, "08P01") != 0) ||
        strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
        strcmp(st, "57P03") == 0 || strcmp(st, "57014") == 0 ||
        strncmp(st, "53", 2) == 0)
        return TQ_E_UNAVAILABLE;
    return TQ_E_QUERY;
}

static void log_outage(host_db *db)
{
    if (!atomic_exchange(&db_down, true))
        host_log(TQ_LOG_WARN,
                 "database unreachable: %s; requests get 503 and "
                 "connections retry every %d ms",
                 db->err, RECONNECT_EVERY_MS);
}

const char *host_rc_name(int rc)
{
    switch (rc) {
    case TQ_ERR: return "TQ_ERR";
    case TQ_E_NOMEM: return "TQ_E_NOMEM";
    case TQ_E_UNAVAILABLE: return "TQ_E_UNAVAILABLE";
    case TQ_E_UNIQUE: return "TQ_E_UNIQUE";
    case TQ_E_FOREIGN_KEY: return "TQ_E_FOREIGN_KEY";
    case TQ_E_CHECK: return "TQ_E_CHECK";
    case TQ_E_RETRY: return "TQ_E_RETRY";
    case TQ_E_INVALID: return "TQ_E_INVALID";
    case TQ_E_QUERY: return "TQ_E_QUERY";
    case TQ_E_STATE: return "TQ_E_STATE";
    case TQ_E_EXISTS: return "TQ_E_EXISTS";
    case TQ_E_NOTFOUND: return "TQ_E_NOTFOUND";
    case TQ_E_IO: return "TQ_E_IO";
    default: return "an unknown code";
    }
}

/* --------------------------------------------------------- connection */

PGconn *host_db_connect(const char *url, const char *app,
                        int statement_timeout_ms, char *err, size_t errlen)
{
    /* Our defaults come before dbname so that settings in the URL win. */
    /* Over TCP, a peer that vanished is noticed within ~25 s (keepalives
     * while waiting for an answer, tcp_user_timeout while our data goes
     * unacknowledged), below the default 30 s request timeout. */
    const char *keys[] = {"connect_timeout", "application_name",
                          "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count",
                          "tcp_user_timeout", "dbname", NULL};
    const char *vals[] = {"2", app, "1", "10", "5", "3", "15000", url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        snprintf(err, errlen, "out of memory creating a database connection");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    host_db_quiet_notices(c);
    char tmo[24];
    snprintf(tmo, sizeof tmo, "%d",
             statement_timeout_ms > 0 ? statement_timeout_ms : 0);
    const char *p[] = {tmo};
    PGresult *r = PQexecParams(
        c,
        "SELECT set_config('TimeZone', 'UTC', false), "
        "set_config('DateStyle', 'ISO, YMD', false), "
        "set_config('IntervalStyle', 'iso_8601', false), "
        "set_config('statement_timeout', $1, false)",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "database session setup failed: %s",
                 PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void cache_reset(host_db *db)
{
    for (int i = 0; i < STMT_SLOTS; i++) {
        free(db->slots[i].sql);
        db->slots[i].sql = NULL;
    }
    db->nstmts = 0;
}

static void drop_conn(host_db *db)
{
    if (db->conn)
        PQfinish(db->conn);
    db->conn = NULL;
    cache_reset(db); /* prepared statements died with the session */
    db->dealloc_pending = false;
}

/*
 * The server no longer has a statement we prepared (26000: DEALLOCATE ALL,
 * a pooler that moved us to another backend) or cannot reuse it (0A000
 * "cached plan must not change result type": a migration changed a table
 * under "SELECT *").  Forget the whole cache: names are never reused, so
 * re-preparing is safe at once, and the old statements are deallocated at
 * the next moment outside a transaction.
 */
static bool stale_statement(const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return st && (strcmp(st, "26000") == 0 ||
                  (strcmp(st, "0A000") == 0 && msg &&
                   strstr(msg, "cached plan must not change result type")));
}

static bool db_connect(host_db *db)
{
    drop_conn(db);
    char err[sizeof db->err];
    db->conn = host_db_connect(db->url, "tasqlyd", db->timeout_ms, err,
                               sizeof err);
    if (!db->conn) {
        set_err(db, err);
        db->failed_ms = host_now_ms();
        log_outage(db);
        return false;
    }
    db->failed_ms = 0;
    if (db->generation++ > 0)
        atomic_fetch_add(&host_db_stats_g.reconnects, 1);
    if (atomic_exchange(&db_down, false))
        host_log(TQ_LOG_INFO, "database connection restored");
    return true;
}

/*
 * An idle connection has nothing to say; if its socket is readable the
 * server is probably telling us it is going away (pg_terminate_backend,
 * shutdown).  Reading that now saves the next request a failed statement.
 */
static void check_idle(host_db *db)
{
    for (int i = 0; i < 3; i++) {
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
            return;
        if (!PQconsumeInput(db->conn) ||
            PQstatus(db->conn) != CONNECTION_OK)
            return;
        (void)PQisBusy(db->conn); /* parses what arrived */
    }
}

host_db *host_db_new(const char *url, int statement_timeout_ms)
{
    host_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->slots = calloc(STMT_SLOTS, sizeof *db->slots);
    db->url = url ? strdup(url) : NULL;
    if (!db->slots || (url && !db->url)) {
        free(db->slots);
        free(db->url);
        free(db);
        return NULL;
    }
    db->timeout_ms = statement_timeout_ms;
    /* A database that is down at start is not an error: /readyz says 503
     * and the first request after it comes back reconnects. */
    db_connect(db);
    return db;
}

void host_db_clear_results(host_db *db)
{
    if (!db)
        return;
    tq_res *r = db->results;
    while (r) {
        tq_res *next = r->next;
        PQclear(r->pg);
        free(r);
        atomic_fetch_sub(&host_db_stats_g.results_held, 1);
        r = next;
    }
    db->results = NULL;
}

void host_db_free(host_db *db)
{
    if (!db)
        return;
    host_db_clear_results(db);
    drop_conn(db);
    free(db->slots);
    free(db->url);
    free(db);
}

PGconn *host_db_conn(host_db *db)
{
    return db && db->conn && PQstatus(db->conn) == CONNECTION_OK ? db->conn
                                                                 : NULL;
}

unsigned host_db_generation(host_db *db) { return db ? db->generation : 0; }

bool host_db_ok(host_db *db)
{
    if (!db)
        return false;
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
        if (!db->in_tx &&
            PQtransactionStatus(db->conn) == PQTRANS_IDLE)
            check_idle(db);
        if (PQstatus(db->conn) == CONNECTION_OK)
            return true;
    }
    if (db->conn && PQstatus(db->conn) != CONNECTION_OK)
        set_err(db, PQerrorMessage(db->conn));
    if (db->in_tx)
        return false; /* that transaction is lost; wait for its rollback */
    /* The first attempt after losing a working connection is immediate;
     * while attempts fail, one per RECONNECT_EVERY_MS. */
    if (db->failed_ms && host_now_ms() - db->failed_ms < RECONNECT_EVERY_MS)
        return false;
    return db_connect(db);
}

const char *host_db_last_error(host_db *db)
{
    return db ? db->err : "no database connection";
}

/* ------------------------------------------------------ statement cache */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static stmt *cache_slot(host_db *db, const char *sql, uint32_t h)
{
    for (uint32_t i = h & (STMT_SLOTS - 1);; i = (i + 1) & (STMT_SLOTS - 1)) {
        stmt *s = &db->slots[i];
        if (!s->sql || (s->hash == h && strcmp(s->sql, sql) == 0))
            return s; /* the match, or the free slot to fill */
    }
}

/* Run sql once: prepared (first use prepares), or unnamed when the cache
 * is full, which only dynamic SQL ever reaches. */
static PGresult *run(host_db *db, const char *sql, int n,
                     const char *const *params)
{
    char name[16];
    uint32_t h = fnv1a(sql);
    stmt *s = cache_slot(db, sql, h);
    if (!s->sql) {
        if (db->nstmts >= STMT_MAX)
            return PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL,
                                0);
        char *copy = strdup(sql);
        if (!copy)
            return NULL;
        snprintf(name, sizeof name, "tq%d", db->next_id);
        PGresult *p = PQprepare(db->conn, name, sql, 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            free(copy);
            return p; /* the error, for the caller to map */
        }
        PQclear(p);
        s->sql = copy;
        s->hash = h;
        s->id = db->next_id++;
        db->nstmts++;
    }
    snprintf(name, sizeof name, "tq%d", s->id);
    return PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
}

/* ------------------------------------------------------------ results */

static bool is_ts(Oid t) { return t == OID_TIMESTAMP || t == OID_TIMESTAMPTZ; }

static tq_res *wrap(host_db *db, PGresult *pg)
{
    int rows = PQntuples(pg), cols = PQnfields(pg), nts = 0;
    for (int c = 0; c < cols; c++)
        nts += is_ts(PQftype(pg, c));
    size_t cells = (size_t)rows * (size_t)nts;
    if (nts && cells / (size_t)nts != (size_t)rows)
        return NULL;
    size_t head = sizeof(tq_res) + (size_t)cols * sizeof(int);
    head = (head + 7) & ~(size_t)7;
    tq_res *r = malloc(head + cells * TS_LEN);
    if (!r)
        return NULL;
    r->pg = pg;
    r->rows = rows;
    r->cols = cols;
    r->nts = nts;
    r->tsidx = (int *)(r + 1);
    r->ts = (char (*)[TS_LEN])((char *)r + head);
    for (int c = 0, k = 0; c < cols; c++)
        r->tsidx[c] = is_ts(PQftype(pg, c)) ? k++ : -1;
    for (int row = 0; row < rows; row++)
        for (int c = 0; c < cols; c++)
            if (r->tsidx[c] >= 0)
                host_pg_time_to_rfc3339(
                    PQgetvalue(pg, row, c),
                    r->ts[(size_t)row * (size_t)nts + (size_t)r->tsidx[c]],
                    TS_LEN);
    r->next = db->results;
    db->results = r;
    atomic_fetch_add(&host_db_stats_g.results_held, 1);
    return r;
}

static void log_failure(host_db *db, int rc, const PGresult *pg,
                        const char *sql)
{
    const char *st = pg ? PQresultErrorField(pg, PG_DIAG_SQLSTATE) : NULL;
    switch (rc) {
    case TQ_E_UNAVAILABLE:
        if (PQstatus(db->conn) != CONNECTION_OK) {
            log_outage(db);
            break;
        }
        /* A live connection: statement_timeout or a server too busy. */
        host_log(TQ_LOG_WARN, "query failed (SQLSTATE %s): %s; sql: %.300s",
                 st ? st : "none", db->err, sql);
        break;
    case TQ_E_QUERY: /* a bug in some SQL: say which */
        host_log(TQ_LOG_ERROR, "query failed (SQLSTATE %s): %s; sql: %.300s",
                 st ? st : "none", db->err, sql);
        break;
    default: /* constraint and input errors are the client's, not ours */
        host_log(TQ_LOG_DEBUG, "query failed (SQLSTATE %s): %s; sql: %.300s",
                 st ? st : "none", db->err, sql);
    }
}

int host_db_exec(host_db *db, host_arena *a, tq_res **out, const char *sql,
                 int n, const char *const *params)
{
    (void)a; /* results are chained on db, see the top of the file */
    if (out)
        *out = NULL;
    if (!db || !sql || n < 0 || (n > 0 && !params)) {
        host_log(TQ_LOG_ERROR, "host_db_exec: no connection, SQL or params "
                               "(a bug in the caller)");
        return TQ_E_STATE;
    }
    for (int attempt = 0;; attempt++) {
        if (!host_db_ok(db)) {
            atomic_fetch_add(&host_db_stats_g.query_errors, 1);
            log_outage(db);
            return TQ_E_UNAVAILABLE;
        }
        bool idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
        if (db->in_tx && idle) {
            set_err(db, "the transaction ended inside the request (COMMIT "
                        "or ROLLBACK in plugin SQL?); the host owns "
                        "transactions");
            host_log(TQ_LOG_ERROR, "%s; sql: %.300s", db->err, sql);
            atomic_fetch_add(&host_db_stats_g.query_errors, 1);
            return TQ_E_STATE;
        }
        if (db->dealloc_pending && idle) {
            cache_reset(db); /* what was prepared since goes too */
            PQclear(PQexec(db->conn, "DEALLOCATE ALL"));
            db->dealloc_pending = false;
        }
        PGresult *pg = run(db, sql, n, params);
        ExecStatusType st = PQresultStatus(pg);
        if (pg && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ||
                   st == PGRES_EMPTY_QUERY)) {
            if (!out) {
                PQclear(pg);
                return TQ_OK;
            }
            if (!(*out = wrap(db, pg))) {
                PQclear(pg);
                set_err(db, "out of memory for a query result");
                return TQ_E_NOMEM;
            }
            return TQ_OK;
        }
        if (!pg) { /* libpq could not even allocate the result */
            set_err(db, PQerrorMessage(db->conn));
            if (PQstatus(db->conn) == CONNECTION_OK) {
                atomic_fetch_add(&host_db_stats_g.query_errors, 1);
                return TQ_E_NOMEM;
            }
        } else {
            set_err(db, PQresultErrorMessage(pg));
        }
        int rc = host_db_map_error(db->conn, pg);
        if (stale_statement(pg)) {
            cache_reset(db);
            db->dealloc_pending = true;
            if (idle && attempt == 0) {
                PQclear(pg);
                continue; /* nothing else ran: just prepare again */
            }
            rc = TQ_E_RETRY; /* the host reruns the handler, which works */
        }
        /* Lost the server between statements (restart, failover, idle
         * timeout): outside a transaction nothing is lost, so reconnect
         * and run the statement once more. */
        if (rc == TQ_E_UNAVAILABLE && idle && !db->in_tx && attempt == 0 &&
            PQstatus(db->conn) != CONNECTION_OK) {
            PQclear(pg);
            continue;
        }
        atomic_fetch_add(&host_db_stats_g.query_errors, 1);
        log_failure(db, rc, pg, sql);
        PQclear(pg);
        return rc;
    }
}

/* ------------------------------------------------------- transactions */

static int control(host_db *db, const char *sql)
{
    return host_db_exec(db, NULL, NULL, sql, 0, NULL);
}

int host_db_begin(host_db *db)
{
    if (!db)
        return TQ_E_STATE;
    if (db->in_tx || (db->conn && PQstatus(db->conn) == CONNECTION_OK &&
                      PQtransactionStatus(db->conn) != PQTRANS_IDLE)) {
        /* Someone left a transaction open: never let the next request's
         * statements join it. */
        host_log(TQ_LOG_WARN, "a transaction was left open on this "
                              "connection; rolling it back");
        host_db_rollback(db);
    }
    int rc = control(db, "BEGIN");
    if (rc == TQ_OK)
        db->in_tx = true;
    return rc;
}

int host_db_commit(host_db *db)
{
    if (!db)
        return TQ_E_STATE;
    if (!db->in_tx)
        return TQ_OK;
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
        db->in_tx = false; /* the server rolled it back when we lost it */
        set_err(db, "the connection was lost before COMMIT; the "
                    "transaction was rolled back");
        atomic_fetch_add(&host_db_stats_g.query_errors, 1);
        return TQ_E_UNAVAILABLE;
    }
    if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK; say so. */
        host_db_rollback(db);
        set_err(db, "a statement of the transaction failed; rolled back");
        return TQ_E_QUERY;
    }
    int rc = control(db, "COMMIT");
    db->in_tx = false;
    return rc;
}

int host_db_rollback(host_db *db)
{
    if (!db)
        return TQ_E_STATE;
    db->in_tx = false;
    if (!db->conn || PQstatus(db->conn) != CONNECTION_OK ||
        PQtransactionStatus(db->conn) == PQTRANS_IDLE)
        return TQ_OK;
    PGresult *r = PQexec(db->conn, "ROLLBACK");
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK
                 ? TQ_OK
                 : host_db_map_error(db->conn, r);
    if (rc)
        set_err(db, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------ the api slot */

int host_db_exec_req(tq_req *req, tq_res **out, const char *sql, int n,
                     const char *const *params)
{
    if (out)
        *out = NULL;
    if (!req || !req->db) {
        host_log(TQ_LOG_ERROR, "tq_sql on a request without a database "
                               "connection (route flagged no-db?)");
        return TQ_E_STATE;
    }
    int rc = TQ_OK;
    if (req->write && !req->in_tx) {
        rc = host_db_begin(req->db);
        if (rc == TQ_OK)
            req->in_tx = true;
    }
    if (rc == TQ_OK)
        rc = host_db_exec(req->db, &req->arena, out, sql, n, params);
    if (rc && !req->db_error)
        req->db_error = rc;
    return rc;
}

void host_db_req_cleanup(tq_req *req)
{
    if (!req || !req->db)
        return;
    if (req->db->in_tx) {
        host_log(TQ_LOG_WARN, "request %s ended inside a transaction; "
                              "rolling it back",
                 req->request_id[0] ? req->request_id : "(internal)");
        host_db_rollback(req->db);
        req->in_tx = false;
    }
    host_db_clear_results(req->db);
}

/* ------------------------------------------------------ result access */

static bool cell_ok(const tq_res *r, int row, int col)
{
    return r && r->pg && row >= 0 && row < r->rows && col >= 0 &&
           col < r->cols;
}

int host_res_rows(const tq_res *r) { return r && r->pg ? r->rows : 0; }
int host_res_cols(const tq_res *r) { return r && r->pg ? r->cols : 0; }

int host_res_affected(const tq_res *r)
{
    if (!r || !r->pg)
        return 0;
    return atoi(PQcmdTuples(r->pg)); /* "" for non-DML: 0 */
}

int host_res_col(const tq_res *r, const char *name)
{
    /* Exact names: PQfnumber would case-fold unquoted ones. */
    for (int c = 0; name && r && r->pg && c < r->cols; c++)
        if (strcmp(PQfname(r->pg, c), name) == 0)
            return c;
    return -1;
}

const char *host_res_get(const tq_res *r, int row, int col)
{
    if (!cell_ok(r, row, col) || PQgetisnull(r->pg, row, col))
        return NULL;
    if (r->tsidx[col] >= 0)
        return r->ts[(size_t)row * (size_t)r->nts + (size_t)r->tsidx[col]];
    return PQgetvalue(r->pg, row, col);
}

long long host_res_int(const tq_res *r, int row, int col)
{
    const char *v = host_res_get(r, row, col);
    if (!v)
        return 0;
    if (PQftype(r->pg, col) == OID_BOOL)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

int host_res_bool(const tq_res *r, int row, int col)
{
    const char *v = host_res_get(r, row, col);
    if (!v)
        return 0;
    if (v[0] == 't')
        return 1;
    return strtoll(v, NULL, 10) != 0;
}

/* A numeric: an integer when it is one and fits, else a double; NaN and
 * the infinities have no JSON form and become null. */
static json_t *number_json(const char *v, bool integral_allowed)
{
    if (integral_allowed && !strpbrk(v, ".eEnN")) {
        errno = 0;
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!errno && !*end)
            return json_integer(x);
    }
    char *end;
    double d = strtod(v, &end);
    if (*end || !isfinite(d))
        return json_null();
    return json_real(d);
}

static json_t *cell_json(const tq_res *r, int row, int col)
{
    const char *v = host_res_get(r, row, col);
    if (!v)
        return json_null();
    switch (PQftype(r->pg, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
        return number_json(v, false);
    case OID_NUMERIC:
        return number_json(v, true);
    case OID_JSON:
    case OID_JSONB: {
        json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        return j ? j : json_string(v);
    }
    default: { /* text, uuid, timestamps (already RFC 3339), the rest */
        json_t *s = json_string(v);
        return s ? s : json_null(); /* invalid UTF-8 cannot be JSON */
    }
    }
}

json_t *host_res_row_json(const tq_res *r, int row)
{
    if (!r || !r->pg || row < 0 || row >= r->rows)
        return NULL;
    json_t *o = json_object();
    for (int c = 0; o && c < r->cols; c++)
        if (json_object_set_new(o, PQfname(r->pg, c), cell_json(r, row, c))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

json_t *host_res_json(const tq_res *r)
{
    json_t *a = json_array();
    for (int row = 0; a && r && r->pg && row < r->rows; row++)
        if (json_array_append_new(a, host_res_row_json(r, row))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

void host_res_free(tq_res *r)
{
    if (!r)
        return;
    PQclear(r->pg); /* the block itself goes with the db's chain */
    r->pg = NULL;
}
