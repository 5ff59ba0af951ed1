/*
 * harness.h - integration test support: a real tasqlyd, a real PostgreSQL,
 * HTTP through libcurl.
 *
 * `./tq test` starts a throwaway PostgreSQL cluster and exports
 * TASQLY_TEST_PGHOST (its socket directory); meson exports TASQLY_BIN.
 * tqt_start() creates a fresh database for the test, writes a manifest
 * under the build tree, starts tasqlyd on a free port and waits for
 * /readyz.  Every function aborts the test (cmocka fail) on a harness
 * failure, so tests only assert on what they are testing.
 *
 * Memory: tqt_resp and tqt_user own their strings and json; free them with
 * tqt_resp_free() / tqt_user_free().  tqt_host is freed by tqt_stop().
 */
#ifndef TQT_HARNESS_H
#define TQT_HARNESS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

typedef struct tqt_host tqt_host;

typedef struct tqt_opts {
    /* YAML text of the "plugins:" list items, e.g.
     * "  - name: groups\n    enabled: true\n"; NULL: every plugin built. */
    const char *plugins_yaml;
    /* Extra top-level YAML appended verbatim (e.g. an "events:" block). */
    const char *extra_yaml;
    /* Reuse this database instead of creating a fresh one (second host). */
    const char *database;
    /* Don't wait for /readyz (tests of start-up failures). */
    int no_wait;
    /* Extra lines inside the server: and auth: sections, each line
     * indented by two spaces, e.g. "  trust_proxy: true\n". */
    const char *server_yaml;
    const char *auth_yaml;
} tqt_opts;

/* Start a host for the test called name (used for the database name).
 * The server is killed when the thread that started it exits (so a test
 * killed by its timeout leaves none behind): start hosts from the test's
 * main thread. */
tqt_host *tqt_start(const char *name, const tqt_opts *opts);
/* SIGTERM, wait; returns the exit status (0 on a clean drain), -1 for
 * NULL.  Fails the test on a sanitizer or valgrind report in the log, or
 * the TASQLY_TEST_WRAPPER's error exit code (docs/testing.md); a harness
 * failure in a group setup or teardown makes the test process exit 1. */
int tqt_stop(tqt_host *h);
/* Run tasqlyd with args (e.g. "--check-config") on h's manifest; returns
 * exit status, output (stdout+stderr) malloc'd into *out if out. */
int tqt_run_cli(tqt_host *h, const char *const *args, char **out);
/* Start tasqlyd on a manifest text and wait for it to exit (start-up
 * failures); returns exit status and its stderr in *out (malloc'd). */
int tqt_run_manifest(const char *name, const char *manifest, char **out);

int tqt_port(const tqt_host *h);
pid_t tqt_pid(const tqt_host *h);
const char *tqt_database(const tqt_host *h); /* database name */
const char *tqt_db_url(const tqt_host *h);
const char *tqt_manifest_path(const tqt_host *h);
const char *tqt_log_path(const tqt_host *h);    /* tasqlyd's stderr */
const char *tqt_admin_token(void);
/* A libpq connection to the test database, owned by h. */
PGconn *tqt_pg(tqt_host *h);
/* Run SQL on the test database; returns the first column of the first
 * row as a malloc'd string ("" for none), fails the test on error. */
char *tqt_sql(tqt_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Base URL and the PostgreSQL socket directory (for stopping/starting). */
const char *tqt_base_url(const tqt_host *h);
const char *tqt_pghost(void);
/* The colon-separated plugin path the harness uses (real plugins, the
 * example, every fixture folder); static storage. */
const char *tqt_plugin_path(void);

typedef struct tqt_resp {
    long status;
    char *body;     /* NUL-terminated */
    size_t len;
    json_t *json;   /* parsed body or NULL */
    char *headers;  /* raw header block */
} tqt_resp;

/* A JSON request; body_fmt NULL sends no body.  token NULL: no auth. */
tqt_resp tqt_req(tqt_host *h, const char *method, const char *path,
                 const char *token, const char *body_fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Any body and Content-Type (NULL: none); extra_headers NULL-terminated
 * "Name: value" strings or NULL. */
tqt_resp tqt_req_raw(tqt_host *h, const char *method, const char *path,
                     const char *token, const char *content_type,
                     const void *body, size_t len,
                     const char *const *extra_headers);
void tqt_resp_free(tqt_resp *r);
/* Header value (malloc'd) or NULL. */
char *tqt_header(const tqt_resp *r, const char *name);
/* Assert the JSON error shape and code: {"error":{"code":code,...}}. */
void tqt_assert_error(const tqt_resp *r, long status, const char *code);
/* String member of the body (borrowed), NULL if absent. */
const char *tqt_str(const tqt_resp *r, const char *key);

typedef struct tqt_user {
    char *id, *email, *token, *refresh;
} tqt_user;
/* Register a new user with a unique email; fails the test unless 201. */
tqt_user tqt_register(tqt_host *h, const char *display_name);
void tqt_user_free(tqt_user *u);

/* A unique suffix for names and emails within this test process. */
const char *tqt_unique(void);

#endif
