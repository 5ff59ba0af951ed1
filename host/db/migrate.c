/*
 * migrate.c - applies the registered migrations at start-up.
 *
 * Every plugin owns the schema named after it (the core, "tasqly", owns
 * schema tasqly).  Migrations run in registration order (core first, then
 * plugins in load order), each in its own transaction together with its
 * row in tasqly.schema_migrations, under a session advisory lock so that
 * replicas starting together apply each migration once: the second
 * replica waits, then finds everything applied.  The checksums of the
 * applied migrations are all compared before anything new runs, so an
 * edited migration stops start-up without touching the database.
 *
 * Memory: one connection of our own, closed before returning; the
 * checksums are written into host_reg.migrations; nothing else persists.
 */
#include "dbpriv.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_bool host_migrated;

/* pg_advisory_lock key: "tasqly" in ASCII, plus 1.  Job locks use the
 * two-int form, which PostgreSQL keeps in a separate key space. */
#define MIGRATE_LOCK_KEY "127961897462906"

static const char bootstrap_sql[] =
    "CREATE SCHEMA IF NOT EXISTS tasqly;\n"
    "CREATE TABLE IF NOT EXISTS tasqly.schema_migrations (\n"
    "    plugin     text NOT NULL,\n"
    "    name       text NOT NULL,\n"
    "    checksum   text NOT NULL,\n"
    "    applied_at timestamptz NOT NULL DEFAULT now(),\n"
    "    PRIMARY KEY (plugin, name)\n"
    ");";

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n != 32) {
        host_log(TQ_LOG_ERROR, "sha256 failed (OpenSSL); aborting");
        abort();
    }
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static bool valid_schema_name(const char *s)
{
    if (!s || !(*s >= 'a' && *s <= 'z') || strlen(s) > 63)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static const char *plugin_file(const tq_plugin *p)
{
    if (!p->file)
        return "tasqlyd (built in)";
    const char *slash = strrchr(p->file, '/');
    return slash ? slash + 1 : p->file;
}

/* Run a parameterless script (several statements allowed). */
static bool script(PGconn *c, const char *sql, char *err, size_t errlen,
                   const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
              st == PGRES_EMPTY_QUERY;
    if (!ok)
        snprintf(err, errlen, "%s: %s", what,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return ok;
}

static PGresult *param_query(PGconn *c, const char *sql, int n,
                             const char *const *p)
{
    return PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* "line N" of a 1-based character position in sql (PostgreSQL counts
 * characters; our SQL is ASCII in practice, and a wrong line is only a
 * hint). */
static int line_of(const char *sql, const char *pos)
{
    long at = pos ? strtol(pos, NULL, 10) : 0;
    int line = 1;
    for (long i = 0; sql[i] && i < at - 1; i++)
        line += sql[i] == '\n';
    return line;
}

static int apply_one(PGconn *c, host_migration *m, char *err, size_t errlen)
{
    const char *pname = m->plugin->name;
    char *schema = PQescapeIdentifier(c, pname, strlen(pname));
    if (!schema) {
        snprintf(err, errlen, "out of memory quoting schema %s", pname);
        return TQ_E_NOMEM;
    }
    /* Unqualified names land in the plugin's own schema, never in another
     * plugin's or in public; public stays visible for extensions. */
    char setpath[200];
    snprintf(setpath, sizeof setpath, "SET LOCAL search_path TO %s, public",
             schema);
    PQfreemem(schema);

    long long t0 = host_now_ms();
    char why[1024];
    if (!script(c, "BEGIN", why, sizeof why, "BEGIN") ||
        !script(c, setpath, why, sizeof why, "search_path")) {
        snprintf(err, errlen, "migration %s/%s: %s", pname, m->name, why);
        script(c, "ROLLBACK", why, sizeof why, "ROLLBACK");
        return TQ_E_UNAVAILABLE;
    }
    PGresult *r = PQexec(c, m->sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
        st != PGRES_EMPTY_QUERY) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s",
                 r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        chomp(msg);
        const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)
                            : NULL;
        int rc = host_db_map_error(c, r);
        if (pos)
            snprintf(err, errlen,
                     "migration %s/%s (%s) failed at line %d of its SQL: %s; "
                     "fix the migration (nothing of it was applied)",
                     pname, m->name, plugin_file(m->plugin),
                     line_of(m->sql, pos), msg);
        else
            snprintf(err, errlen,
                     "migration %s/%s (%s) failed: %s; fix the migration "
                     "(nothing of it was applied)",
                     pname, m->name, plugin_file(m->plugin), msg);
        PQclear(r);
        script(c, "ROLLBACK", why, sizeof why, "ROLLBACK");
        return rc == TQ_E_UNAVAILABLE ? rc : TQ_E_QUERY;
    }
    PQclear(r);
    const char *p[] = {pname, m->name, m->checksum};
    r = param_query(c,
                    "INSERT INTO tasqly.schema_migrations "
                    "(plugin, name, checksum) VALUES ($1, $2, $3)",
                    3, p);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(why, sizeof why, "%s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok || !script(c, "COMMIT", why, sizeof why, "COMMIT")) {
        chomp(why);
        snprintf(err, errlen, "migration %s/%s: recording it failed: %s",
                 pname, m->name, why);
        script(c, "ROLLBACK", why, sizeof why, "ROLLBACK");
        return TQ_E_QUERY;
    }
    host_log(TQ_LOG_INFO, "applied migration %s/%s in %lld ms", pname,
             m->name, host_now_ms() - t0);
    return TQ_OK;
}

/* The applied checksum of plugin/name in r, or NULL. */
static const char *applied_sum(const PGresult *r, const char *plugin,
                               const char *name)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), plugin) == 0 &&
            strcmp(PQgetvalue(r, i, 1), name) == 0)
            return PQgetvalue(r, i, 2);
    return NULL;
}

static int migrate(PGconn *c, char *err, size_t errlen)
{
    char why[1024];
    const char *key[] = {MIGRATE_LOCK_KEY};
    PGresult *r = param_query(c, "SELECT pg_try_advisory_lock($1::bigint)",
                              1, key);
    bool got = PQresultStatus(r) == PGRES_TUPLES_OK &&
               PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!got) {
        host_log(TQ_LOG_INFO, "another replica is applying migrations; "
                              "waiting for it to finish");
        r = param_query(c, "SELECT pg_advisory_lock($1::bigint)", 1, key);
        got = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!got)
            snprintf(err, errlen, "waiting for the migration lock failed: %s",
                     PQresultErrorMessage(r));
        PQclear(r);
        if (!got)
            return TQ_E_UNAVAILABLE;
    }
    if (!script(c, bootstrap_sql, why, sizeof why, "creating tasqly."
                                                   "schema_migrations")) {
        snprintf(err, errlen, "%s; the database user needs CREATE on the "
                              "database", why);
        return TQ_E_QUERY;
    }

    r = PQexec(c, "SELECT plugin, name, checksum FROM tasqly.schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading tasqly.schema_migrations: %s",
                 PQresultErrorMessage(r));
        PQclear(r);
        return TQ_E_QUERY;
    }

    /* Verify everything before changing anything. */
    int rc = TQ_OK;
    size_t pending = 0;
    for (size_t i = 0; i < host_reg.migrations.n && rc == TQ_OK; i++) {
        host_migration *m = &host_reg.migrations.v[i];
        if (!valid_schema_name(m->plugin->name)) {
            snprintf(err, errlen,
                     "plugin name \"%s\" (%s) cannot name a schema: use "
                     "[a-z][a-z0-9_]*, at most 63 characters",
                     m->plugin->name, plugin_file(m->plugin));
            rc = TQ_E_INVALID;
            break;
        }
        if (!m->checksum[0])
            sha256_hex(m->sql, m->checksum);
        const char *db_sum = applied_sum(r, m->plugin->name, m->name);
        if (!db_sum) {
            pending++;
        } else if (strcmp(db_sum, m->checksum) != 0) {
            snprintf(err, errlen,
                     "migration %s/%s was edited after it was applied "
                     "(checksum %.12s… in the database, %.12s… in %s); "
                     "restore it and add a new migration instead",
                     m->plugin->name, m->name, db_sum, m->checksum,
                     plugin_file(m->plugin));
            rc = TQ_E_STATE;
        }
    }
    PQclear(r);
    if (rc != TQ_OK || pending == 0)
        return rc;

    /* The schema of every plugin that has migrations, once. */
    for (size_t i = 0; i < host_reg.migrations.n; i++) {
        const char *name = host_reg.migrations.v[i].plugin->name;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = host_reg.migrations.v[j].plugin ==
                   host_reg.migrations.v[i].plugin;
        if (seen)
            continue;
        char *q = PQescapeIdentifier(c, name, strlen(name));
        if (!q) {
            snprintf(err, errlen, "out of memory quoting schema %s", name);
            return TQ_E_NOMEM;
        }
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", q);
        PQfreemem(q);
        if (!script(c, sql, why, sizeof why, "creating the schema")) {
            snprintf(err, errlen, "plugin %s: %s", name, why);
            return TQ_E_QUERY;
        }
    }

    r = PQexec(c, "SELECT plugin, name, checksum FROM tasqly.schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading tasqly.schema_migrations: %s",
                 PQresultErrorMessage(r));
        PQclear(r);
        return TQ_E_QUERY;
    }
    for (size_t i = 0; i < host_reg.migrations.n && rc == TQ_OK; i++) {
        host_migration *m = &host_reg.migrations.v[i];
        if (!applied_sum(r, m->plugin->name, m->name))
            rc = apply_one(c, m, err, errlen);
    }
    PQclear(r);
    return rc;
}

int host_migrate(const char *url, char *err, size_t errlen)
{
    char why[512];
    atomic_store(&host_migrated, false);
    PGconn *c = host_db_connect(url, "tasqlyd-migrate", 0, why, sizeof why);
    if (!c) {
        chomp(why);
        snprintf(err, errlen,
                 "cannot connect to the database to apply migrations: %s; "
                 "check database.url and that PostgreSQL is running",
                 why);
        return TQ_E_UNAVAILABLE;
    }
    int rc = migrate(c, err, errlen);
    PQfinish(c); /* also releases the advisory lock */
    if (rc == TQ_OK)
        atomic_store(&host_migrated, true);
    return rc;
}
