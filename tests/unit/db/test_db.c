/*
 * test_db.c - host/db/db.c and pgtypes.c against a real PostgreSQL
 * (TASQLY_TEST_PGHOST): statement cache, typed results and row JSON,
 * SQLSTATE mapping, transactions, and reconnecting after the server drops
 * a connection.  The program creates its own database and drops it at
 * the end.  host_log() is replaced here so only db.c is under test.
 */
#include "dbpriv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int host_log_level = TQ_LOG_WARN;
static char last_log[1024];

void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    if (level >= host_log_level)
        fprintf(stderr, "log(%d): %s\n", level, last_log);
}

static char dbname[64];
static char url[512];

static PGconn *admin(const char *db)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s dbname=%s user=postgres",
             getenv("TASQLY_TEST_PGHOST"), db);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect (%s): %s", ci, PQerrorMessage(c));
    return c;
}

static void admin_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static int group_setup(void **state)
{
    (void)state;
    if (!getenv("TASQLY_TEST_PGHOST")) {
        fprintf(stderr, "TASQLY_TEST_PGHOST is not set: run through "
                        "`./tq test`, or export the socket directory of a "
                        "PostgreSQL you started\n");
        return -1;
    }
    snprintf(dbname, sizeof dbname, "t_unit_db_%d", (int)getpid());
    snprintf(url, sizeof url, "postgresql:///%s?host=%s&user=postgres",
             dbname, getenv("TASQLY_TEST_PGHOST"));
    PGconn *c = admin("postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", dbname);
    admin_exec(c, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    admin_exec(c, sql);
    PQfinish(c);
    c = admin(dbname);
    admin_exec(c,
               "CREATE TABLE parent (id int PRIMARY KEY);"
               "CREATE TABLE child (id serial PRIMARY KEY,"
               "  name text UNIQUE NOT NULL,"
               "  parent_id int REFERENCES parent (id),"
               "  qty int CHECK (qty >= 0));"
               "INSERT INTO parent VALUES (1);"
               "CREATE FUNCTION fail_with(code text) RETURNS int"
               "  LANGUAGE plpgsql AS $$ BEGIN"
               "  RAISE EXCEPTION 'forced %', code USING ERRCODE = code;"
               "  END $$;");
    PQfinish(c);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    PGconn *c = admin("postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             dbname);
    admin_exec(c, sql);
    PQfinish(c);
    return 0;
}

static int db_setup(void **state)
{
    host_db *db = host_db_new(url, 5000);
    assert_non_null(db);
    assert_true(host_db_ok(db));
    *state = db;
    return 0;
}

static int db_teardown(void **state)
{
    host_db_free(*state);
    return 0;
}

/* Run sql with up to 3 params and return one text cell (static copy). */
static const char *one(host_db *db, const char *sql, int n, const char *a,
                       const char *b, const char *c)
{
    static char buf[512];
    const char *p[] = {a, b, c};
    tq_res *r;
    int rc = host_db_exec(db, NULL, &r, sql, n, p);
    if (rc)
        fail_msg("%s: rc %d, %s", sql, rc, host_db_last_error(db));
    const char *v = host_res_get(r, 0, 0);
    snprintf(buf, sizeof buf, "%s", v ? v : "(null)");
    return buf;
}

/* ------------------------------------------------------------- pgtypes */

static void test_time_format(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2026-12-04 15:00:00+00", "2026-12-04T15:00:00Z"},
        {"2026-12-04 15:00:00.123456+00", "2026-12-04T15:00:00Z"},
        {"2026-12-04 15:00:00", "2026-12-04T15:00:00Z"}, /* timestamp */
        {"2026-12-04 01:30:00+02", "2026-12-03T23:30:00Z"},
        {"2026-12-31 23:30:00-01:30", "2027-01-01T01:00:00Z"},
        {"2024-02-29 00:00:00+05:30:15", "2024-02-28T18:29:45Z"},
        {"1969-12-31 23:59:59+00", "1969-12-31T23:59:59Z"},
        {"12026-01-01 00:00:00+00", "12026-01-01T00:00:00Z"},
        {"infinity", "infinity"},
        {"-infinity", "-infinity"},
        {"0044-03-15 12:00:00+00 BC", "0044-03-15 12:00:00+00 BC"},
        {"garbage", "garbage"},
        {"2026-13-04 15:00:00+00", "2026-13-04 15:00:00+00"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[40];
        host_pg_time_to_rfc3339(cases[i][0], out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
    char small[8];
    host_pg_time_to_rfc3339("2026-12-04 15:00:00+00", small, sizeof small);
    assert_string_equal(small, "2026-12"); /* truncated, terminated */
}

/* ------------------------------------------------------------ the cache */

static long prepared_count(host_db *db, const char *stmt)
{
    return atol(one(db,
                    "SELECT count(*) FROM pg_prepared_statements "
                    "WHERE statement = $1",
                    1, stmt, NULL, NULL));
}

static void test_prepare_reuse(void **state)
{
    host_db *db = *state;
    const char *sql = "SELECT $1::int + 1 AS n";
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(atoi(one(db, sql, 1, v, NULL, NULL)), i + 1);
    }
    /* Prepared once, on this connection, and reused. */
    assert_int_equal(prepared_count(db, sql), 1);
    /* The same text in another buffer hits the same statement. */
    char copy[64];
    snprintf(copy, sizeof copy, "%s", sql);
    assert_string_equal(one(db, copy, 1, "41", NULL, NULL), "42");
    assert_int_equal(prepared_count(db, sql), 1);
    /* NULL parameters are SQL NULL. */
    assert_string_equal(one(db, "SELECT $1::text IS NULL", 1, NULL, NULL,
                            NULL),
                        "t");
    /* Dynamic SQL beyond the cache's bound still runs, unprepared. */
    for (int i = 0; i < 600; i++) {
        char s[64], want[16];
        snprintf(s, sizeof s, "SELECT %d + $1::int", i);
        snprintf(want, sizeof want, "%d", i + 1);
        assert_string_equal(one(db, s, 1, "1", NULL, NULL), want);
    }
    long n = atol(one(db, "SELECT count(*) FROM pg_prepared_statements", 0,
                      NULL, NULL, NULL));
    assert_in_range(n, 500, 512);
    host_db_clear_results(db);
}

static void test_stale_statements_heal(void **state)
{
    host_db *db = *state;
    PGconn *c = admin(dbname);
    admin_exec(c, "CREATE TABLE shape (a int); INSERT INTO shape VALUES (1)");
    const char *sql = "SELECT * FROM shape";
    tq_res *r;
    assert_int_equal(host_db_exec(db, NULL, &r, sql, 0, NULL), TQ_OK);
    assert_int_equal(host_res_cols(r), 1);
    /* A migration elsewhere changes the table under "SELECT *". */
    admin_exec(c, "ALTER TABLE shape ADD COLUMN b int DEFAULT 2");
    assert_int_equal(host_db_exec(db, NULL, &r, sql, 0, NULL), TQ_OK);
    assert_int_equal(host_res_cols(r), 2);
    /* Inside a transaction it cannot be hidden: RETRY, so the host reruns
     * the handler, and the rerun works. */
    admin_exec(c, "ALTER TABLE shape ADD COLUMN c int DEFAULT 3");
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, &r, sql, 0, NULL), TQ_E_RETRY);
    assert_int_equal(host_db_rollback(db), TQ_OK);
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, &r, sql, 0, NULL), TQ_OK);
    assert_int_equal(host_res_cols(r), 3);
    assert_int_equal(host_db_commit(db), TQ_OK);
    /* Statements gone from the server (a pooler, DEALLOCATE ALL). */
    assert_int_equal(host_db_exec(db, NULL, NULL, "DEALLOCATE ALL", 0, NULL),
                     TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, &r, sql, 0, NULL), TQ_OK);
    assert_int_equal(host_res_cols(r), 3);
    /* One live copy on the server, not one per reset. */
    assert_int_equal(prepared_count(db, sql), 1);
    admin_exec(c, "DROP TABLE shape");
    PQfinish(c);
    host_db_clear_results(db);
}

static void test_wrong_param_count_is_a_bug_not_an_outage(void **state)
{
    host_db *db = *state;
    const char *p[] = {"1", "2"};
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT $1::int", 2, p),
                     TQ_E_QUERY);
    assert_true(host_db_ok(db));
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT $1::int", 1, p),
                     TQ_OK);
}

/* ------------------------------------------------------------- results */

static void test_row_json_types(void **state)
{
    host_db *db = *state;
    tq_res *r;
    int rc = host_db_exec(
        db, NULL, &r,
        "SELECT true AS b, false AS f, 7::int2 AS i2, -8::int4 AS i4, "
        "9007199254740993::int8 AS i8, 1.5::float4 AS f4, "
        "-0.25::float8 AS f8, 'NaN'::float8 AS fnan, "
        "12345678901::numeric AS nint, 12.50::numeric AS nfrac, "
        "'NaN'::numeric AS nnan, '{\"a\":[1,2]}'::json AS j, "
        "'{\"b\": {\"c\": null}}'::jsonb AS jb, '3'::jsonb AS jscalar, "
        "'2026-12-04 17:00:00.5+02'::timestamptz AS tz, "
        "'2026-12-04 15:00:00'::timestamp AS ts, "
        "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u, "
        "'héllo \"q\"'::text AS t, NULL::text AS nul, "
        "NULL::timestamptz AS nul_ts, '2026-12-04'::date AS d, "
        "\"CamelCase\" FROM (SELECT 1 AS \"CamelCase\") x",
        0, NULL);
    assert_int_equal(rc, TQ_OK);
    assert_int_equal(host_res_rows(r), 1);
    json_t *row = host_res_row_json(r, 0);
    assert_non_null(row);
    json_t *want = json_loads(
        "{\"b\": true, \"f\": false, \"i2\": 7, \"i4\": -8,"
        " \"i8\": 9007199254740993, \"f4\": 1.5, \"f8\": -0.25,"
        " \"fnan\": null, \"nint\": 12345678901, \"nfrac\": 12.5,"
        " \"nnan\": null, \"j\": {\"a\": [1, 2]}, \"jb\": {\"b\": {\"c\": null}},"
        " \"jscalar\": 3, \"tz\": \"2026-12-04T15:00:00Z\","
        " \"ts\": \"2026-12-04T15:00:00Z\","
        " \"u\": \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
        " \"t\": \"h\u00e9llo \\\"q\\\"\", \"nul\": null, \"nul_ts\": null,"
        " \"d\": \"2026-12-04\", \"CamelCase\": 1}",
        0, NULL);
    assert_non_null(want);
    if (!json_equal(row, want)) {
        char *got = json_dumps(row, JSON_SORT_KEYS);
        fail_msg("row json: %s", got);
    }
    json_decref(want);
    json_decref(row);

    /* The same cells through the scalar accessors. */
    assert_int_equal(host_res_cols(r), 22);
    assert_int_equal(host_res_col(r, "tz"), 14);
    assert_int_equal(host_res_col(r, "CamelCase"), 21);
    assert_int_equal(host_res_col(r, "camelcase"), -1);
    assert_int_equal(host_res_col(r, "nope"), -1);
    assert_string_equal(host_res_get(r, 0, 14), "2026-12-04T15:00:00Z");
    assert_null(host_res_get(r, 0, 18));
    assert_null(host_res_get(r, 0, 19));
    assert_null(host_res_get(r, 1, 0)); /* out of range */
    assert_null(host_res_get(r, 0, 99));
    assert_int_equal(host_res_bool(r, 0, 0), 1);
    assert_int_equal(host_res_bool(r, 0, 1), 0);
    assert_int_equal(host_res_int(r, 0, 4), 9007199254740993LL);
    assert_int_equal(host_res_int(r, 0, 3), -8);
    assert_int_equal(host_res_int(r, 0, 0), 1);
    assert_int_equal(host_res_int(r, 0, 18), 0);

    json_t *all = host_res_json(r);
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);

    /* Idempotent early release; accessors then see an empty result. */
    host_res_free(r);
    host_res_free(r);
    assert_int_equal(host_res_rows(r), 0);
    assert_null(host_res_get(r, 0, 0));
    assert_null(host_res_row_json(r, 0));
    host_db_clear_results(db);

    /* Many rows, several timestamp columns; affected counts for DML. */
    rc = host_db_exec(db, NULL, &r,
                      "SELECT g, timestamptz '2026-01-01 00:00:00+00' + "
                      "g * interval '1 day' AS a, now() AS b "
                      "FROM generate_series(0, 999) g",
                      0, NULL);
    assert_int_equal(rc, TQ_OK);
    assert_int_equal(host_res_rows(r), 1000);
    assert_string_equal(host_res_get(r, 999, 1), "2028-09-26T00:00:00Z");
    assert_int_equal(strlen(host_res_get(r, 500, 2)), 20);
    json_t *rows = host_res_json(r);
    assert_int_equal(json_array_size(rows), 1000);
    json_decref(rows);

    assert_int_equal(host_db_exec(db, NULL, &r,
                                  "UPDATE parent SET id = id WHERE id = 1", 0,
                                  NULL),
                     TQ_OK);
    assert_int_equal(host_res_affected(r), 1);
    assert_int_equal(host_db_exec(db, NULL, &r, "SELECT 1", 0, NULL), TQ_OK);
    assert_int_equal(host_res_affected(r), 1); /* SELECT 1 row */
    host_db_clear_results(db);
    /* No result asked for: nothing kept. */
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1", 0, NULL), TQ_OK);
    /* Accessors tolerate NULL (a failed tq_sql leaves *out NULL). */
    assert_int_equal(host_res_rows(NULL), 0);
    assert_null(host_res_get(NULL, 0, 0));
    assert_int_equal(host_res_col(NULL, "x"), -1);
}

/* -------------------------------------------------------------- errors */

static void test_error_mapping(void **state)
{
    host_db *db = *state;
    const char *p[3];
    p[0] = "dup";
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_E_UNIQUE);
    assert_non_null(strstr(host_db_last_error(db), "duplicate key"));
    p[0] = "orphan";
    p[1] = "99";
    assert_int_equal(
        host_db_exec(db, NULL, NULL,
                     "INSERT INTO child (name, parent_id) VALUES ($1, $2)", 2,
                     p),
        TQ_E_FOREIGN_KEY);
    p[0] = "neg";
    p[1] = "-1";
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name, qty) VALUES ($1, $2)",
                                  2, p),
                     TQ_E_CHECK);
    p[0] = NULL;
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_E_CHECK);
    p[0] = "not-a-uuid";
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT $1::uuid", 1, p),
                     TQ_E_INVALID);
    p[0] = "abc";
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT $1::int", 1, p),
                     TQ_E_INVALID);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELEC 1", 0, NULL),
                     TQ_E_QUERY);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT * FROM nope", 0,
                                  NULL),
                     TQ_E_QUERY);

    static const struct { const char *state; int rc; } codes[] = {
        {"40001", TQ_E_RETRY},       {"40P01", TQ_E_RETRY},
        {"23505", TQ_E_UNIQUE},      {"23503", TQ_E_FOREIGN_KEY},
        {"23514", TQ_E_CHECK},       {"23502", TQ_E_CHECK},
        {"22012", TQ_E_INVALID},     {"57014", TQ_E_UNAVAILABLE},
        {"08006", TQ_E_UNAVAILABLE}, {"57P01", TQ_E_UNAVAILABLE},
        {"53300", TQ_E_UNAVAILABLE}, {"42501", TQ_E_QUERY},
        {"P0001", TQ_E_QUERY},       {"XX000", TQ_E_QUERY},
    };
    long before = atomic_load(&host_db_stats_g.query_errors);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        p[0] = codes[i].state;
        int rc = host_db_exec(db, NULL, NULL, "SELECT fail_with($1)", 1, p);
        if (rc != codes[i].rc)
            fail_msg("SQLSTATE %s mapped to %d, want %d", codes[i].state, rc,
                     codes[i].rc);
        assert_true(host_db_ok(db)); /* a raised error is no outage */
    }
    assert_int_equal(atomic_load(&host_db_stats_g.query_errors) - before,
                     (long)(sizeof codes / sizeof codes[0]));
}

/* -------------------------------------------------------- transactions */

static void test_transactions(void **state)
{
    host_db *db = *state;
    const char *p[] = {"tx-rolled-back"};
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    assert_int_equal(host_db_rollback(db), TQ_OK);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, p[0], NULL, NULL),
                        "0");

    p[0] = "tx-committed";
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    assert_int_equal(host_db_commit(db), TQ_OK);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, p[0], NULL, NULL),
                        "1");

    /* A failed statement poisons the transaction: COMMIT must say so. */
    p[0] = "tx-poisoned";
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1/0", 0, NULL),
                     TQ_E_INVALID);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1", 0, NULL),
                     TQ_E_QUERY); /* 25P02: the transaction is aborted */
    assert_int_not_equal(host_db_commit(db), TQ_OK);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, p[0], NULL, NULL),
                        "0");

    /* Plugin SQL that ends the host's transaction is refused. */
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL, "COMMIT", 0, NULL), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1", 0, NULL),
                     TQ_E_STATE);
    assert_int_equal(host_db_rollback(db), TQ_OK);

    /* A BEGIN over a leftover transaction rolls that one back instead of
     * letting the next request's statements join it. */
    p[0] = "tx-leftover";
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_commit(db), TQ_OK);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, p[0], NULL, NULL),
                        "0");
}

static void test_exec_req(void **state)
{
    host_db *db = *state;
    tq_req req;
    memset(&req, 0, sizeof req);
    req.db = db;
    /* Reads run without a transaction. */
    assert_int_equal(host_db_exec_req(&req, NULL, "SELECT 1", 0, NULL), TQ_OK);
    assert_false(req.in_tx);

    /* A writing request begins at its first statement and records only
     * its first error. */
    req.write = true;
    const char *p[] = {"req-1"};
    tq_res *r = (tq_res *)&req; /* must be reset to NULL on failure */
    assert_int_equal(host_db_exec_req(&req, &r,
                                      "INSERT INTO child (name) VALUES ($1) "
                                      "RETURNING id",
                                      1, p),
                     TQ_OK);
    assert_true(req.in_tx);
    assert_int_equal(host_res_rows(r), 1);
    assert_int_equal(host_db_exec_req(&req, &r,
                                      "INSERT INTO child (name) VALUES ($1)",
                                      1, p),
                     TQ_E_UNIQUE);
    assert_null(r);
    assert_int_equal(host_db_exec_req(&req, NULL, "SELECT 1", 0, NULL),
                     TQ_E_QUERY);
    assert_int_equal(req.db_error, TQ_E_UNIQUE);
    /* Ending the request inside its transaction rolls it back. */
    host_db_req_cleanup(&req);
    assert_false(req.in_tx);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, "req-1", NULL, NULL),
                        "0");
    host_db_clear_results(db);

    tq_req none;
    memset(&none, 0, sizeof none);
    assert_int_equal(host_db_exec_req(&none, NULL, "SELECT 1", 0, NULL),
                     TQ_E_STATE);
}

/* ----------------------------------------------------------- reconnects */

static void terminate(const char *pid)
{
    PGconn *c = admin("postgres");
    const char *p[] = {pid};
    PGresult *r = PQexecParams(c, "SELECT pg_terminate_backend($1::int)", 1,
                               NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(c);
    usleep(100 * 1000); /* let the backend go */
}

static void test_reconnect_after_terminate(void **state)
{
    host_db *db = *state;
    const char *sql = "SELECT pg_backend_pid()";
    char pid[32];
    snprintf(pid, sizeof pid, "%s", one(db, sql, 0, NULL, NULL, NULL));
    long rec = atomic_load(&host_db_stats_g.reconnects);
    terminate(pid);
    /* Idle connection: the next statement simply works, on a new backend,
     * with its prepared statements made again. */
    const char *now = one(db, sql, 0, NULL, NULL, NULL);
    assert_string_not_equal(now, pid);
    assert_int_equal(atomic_load(&host_db_stats_g.reconnects), rec + 1);
    assert_int_equal(prepared_count(db, sql), 1);
    host_db_clear_results(db);
}

static void test_terminate_inside_transaction(void **state)
{
    host_db *db = *state;
    char pid[32];
    snprintf(pid, sizeof pid, "%s",
             one(db, "SELECT pg_backend_pid()", 0, NULL, NULL, NULL));
    const char *p[] = {"lost-in-tx"};
    assert_int_equal(host_db_begin(db), TQ_OK);
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_OK);
    terminate(pid);
    /* The transaction is gone: no silent reconnect that would run the
     * rest of it in autocommit. */
    assert_int_equal(host_db_exec(db, NULL, NULL,
                                  "INSERT INTO child (name) VALUES ($1)", 1, p),
                     TQ_E_UNAVAILABLE);
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1", 0, NULL),
                     TQ_E_UNAVAILABLE);
    assert_int_equal(host_db_commit(db), TQ_E_UNAVAILABLE);
    assert_int_equal(host_db_rollback(db), TQ_OK);
    /* Rolled back: the next statement reconnects at once. */
    long rec = atomic_load(&host_db_stats_g.reconnects);
    assert_string_equal(one(db, "SELECT count(*) FROM child WHERE name = $1",
                            1, p[0], NULL, NULL),
                        "0");
    assert_int_equal(atomic_load(&host_db_stats_g.reconnects), rec + 1);
    host_db_clear_results(db);
}

static void test_down_database_answers_fast(void **state)
{
    (void)state;
    host_db *db = host_db_new("postgresql:///x?host=/nonexistent-tasqly", 1000);
    assert_non_null(db); /* down at start is not fatal */
    assert_false(host_db_ok(db));
    long long t0 = host_now_ms();
    for (int i = 0; i < 200; i++)
        assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT 1", 0, NULL),
                         TQ_E_UNAVAILABLE);
    assert_in_range(host_now_ms() - t0, 0, 1000);
    assert_non_null(strstr(host_db_last_error(db), "nonexistent-tasqly"));
    assert_int_equal(host_db_begin(db), TQ_E_UNAVAILABLE);
    assert_int_equal(host_db_commit(db), TQ_OK); /* nothing begun */
    host_db_free(db);
}

static void test_statement_timeout(void **state)
{
    (void)state;
    host_db *db = host_db_new(url, 200);
    assert_true(host_db_ok(db));
    long long t0 = host_now_ms();
    assert_int_equal(host_db_exec(db, NULL, NULL, "SELECT pg_sleep(5)", 0,
                                  NULL),
                     TQ_E_UNAVAILABLE);
    assert_in_range(host_now_ms() - t0, 150, 2000);
    assert_true(host_db_ok(db)); /* the connection itself is fine */
    assert_string_equal(one(db, "SHOW TimeZone", 0, NULL, NULL, NULL), "UTC");
    assert_string_equal(one(db, "SELECT current_setting('application_name')",
                            0, NULL, NULL, NULL),
                        "tasqlyd");
    host_db_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),
        cmocka_unit_test_setup_teardown(test_prepare_reuse, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_param_count_is_a_bug_not_an_outage, db_setup,
            db_teardown),
        cmocka_unit_test_setup_teardown(test_stale_statements_heal, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_row_json_types, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_exec_req, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_after_terminate,
                                        db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_terminate_inside_transaction,
                                        db_setup, db_teardown),
        cmocka_unit_test(test_down_database_answers_fast),
        cmocka_unit_test(test_statement_timeout),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
