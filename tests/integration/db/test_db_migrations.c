/*
 * test_db_migrations - migrations through the real tasqlyd: applied once
 * and idempotent across restarts, an edited one refused at start-up, two
 * hosts starting together on one database applying each migration once,
 * and each plugin's tables in the schema named after it.
 */
#include "dbt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char applied_sql[] =
    "SELECT string_agg(plugin || '/' || name || '@' || applied_at, ',' "
    "ORDER BY plugin, name) FROM tasqly.schema_migrations";

static void test_idempotent_across_restarts(void **state)
{
    (void)state;
    char *plugins = dbt_plugins("a", true, NULL);
    tqt_opts o = {.plugins_yaml = plugins};
    tqt_host *h = tqt_start("mig_idem", &o);
    char db[64];
    snprintf(db, sizeof db, "%s", tqt_database(h));

    char *first = tqt_sql(h, "%s", applied_sql);
    assert_non_null(strstr(first, "dbfix/0001_items@"));
    assert_non_null(strstr(first, "dbfix/0002_slow@"));
    assert_non_null(strstr(first, "dbsub_a/0001_received@"));
    assert_non_null(strstr(first, "tasqly/events_0001_outbox@"));
    assert_non_null(strstr(first, "tasqly/jobs_0001_jobs@"));
    /* Checksums are sha256 hex of the SQL. */
    assert_int_equal(dbt_sql_ll(h, "SELECT count(*) FROM tasqly.schema_migrations "
                                   "WHERE checksum !~ '^[0-9a-f]{64}$'"),
                     0);
    assert_int_equal(tqt_stop(h), 0);

    for (int i = 0; i < 2; i++) {
        o.database = db;
        h = tqt_start("mig_idem_again", &o);
        char *again = tqt_sql(h, "%s", applied_sql);
        assert_string_equal(again, first); /* nothing re-applied */
        assert_int_equal(dbt_sql_ll(h, "SELECT count(*) FROM "
                                       "dbfix.migration_runs"),
                         1);
        char *log = dbt_slurp(tqt_log_path(h));
        assert_null(strstr(log, "applied migration"));
        free(log);
        free(again);
        assert_int_equal(tqt_stop(h), 0);
    }
    free(first);
    free(plugins);
}

static void test_edited_migration_refused(void **state)
{
    (void)state;
    char *plugins = dbt_plugins("a", false, NULL);
    tqt_opts o = {.plugins_yaml = plugins};
    tqt_host *h = tqt_start("mig_edit", &o);
    char db[64];
    snprintf(db, sizeof db, "%s", tqt_database(h));
    char *manifest = dbt_slurp(tqt_manifest_path(h));
    char *sums = tqt_sql(h, "SELECT string_agg(checksum, ',' ORDER BY name) "
                            "FROM tasqly.schema_migrations");
    assert_int_equal(tqt_stop(h), 0);

    /* The same manifest, with dbfix registering an edited 0002. */
    const char *at = strstr(manifest, "      label: a\n");
    assert_non_null(at);
    char *edited = NULL;
    size_t cut = (size_t)(at - manifest) + strlen("      label: a\n");
    assert_true(asprintf(&edited, "%.*s      edit: true\n%s", (int)cut,
                         manifest, manifest + cut) > 0);
    char *out = NULL;
    int rc = tqt_run_manifest("mig_edit_refused", edited, &out);
    if (rc != 1 ||
        !strstr(out, "migration dbfix/0002_slow was edited after it was "
                     "applied") ||
        !strstr(out, "in dbfix.so") ||
        !strstr(out, "restore it and add a new migration instead"))
        fail_msg("exit %d, output:\n%s", rc, out);

    /* Nothing changed: the original plugin still starts, same checksums. */
    o.database = db;
    h = tqt_start("mig_edit_after", &o);
    char *after = tqt_sql(h, "SELECT string_agg(checksum, ',' ORDER BY name) "
                             "FROM tasqly.schema_migrations");
    assert_string_equal(after, sums);
    assert_int_equal(dbt_sql_ll(h, "SELECT count(*) FROM dbfix.migration_runs"),
                     1);
    assert_int_equal(tqt_stop(h), 0);
    free(after);
    free(out);
    free(edited);
    free(sums);
    free(manifest);
    free(plugins);
}

static void test_two_hosts_migrate_once(void **state)
{
    (void)state;
    char *plugins = dbt_plugins("a", true, NULL);
    tqt_opts o = {.plugins_yaml = plugins, .no_wait = 1};
    tqt_host *a = tqt_start("mig_race", &o);
    o.database = tqt_database(a);
    tqt_host *b = tqt_start("mig_race", &o);
    dbt_wait_ready(a, 30);
    dbt_wait_ready(b, 30);

    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM dbfix.migration_runs"),
                     1);
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM "
                                   "tasqly.schema_migrations WHERE plugin = "
                                   "'dbfix'"),
                     2);
    char *la = dbt_slurp(tqt_log_path(a)), *lb = dbt_slurp(tqt_log_path(b));
    /* Each migration applied by exactly one of the two... */
    assert_int_equal(dbt_count(la, "applied migration dbfix/0002_slow") +
                         dbt_count(lb, "applied migration dbfix/0002_slow"),
                     1);
    assert_int_equal(dbt_count(la, "applied migration tasqly/events_0001") +
                         dbt_count(lb, "applied migration tasqly/events_0001"),
                     1);
    /* ...while the other waited for the lock (the slow migration keeps
     * the window wide open). */
    assert_int_equal(dbt_count(la, "another replica is applying migrations") +
                         dbt_count(lb, "another replica is applying migrations"),
                     1);
    free(la);
    free(lb);

    /* Each plugin's tables live in its own schema, none in public. */
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM information_schema."
                                   "tables WHERE table_schema = 'dbfix'"),
                     3);
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM information_schema."
                                   "tables WHERE table_schema = 'dbsub_b' "
                                   "AND table_name = 'received'"),
                     1);
    assert_int_equal(dbt_sql_ll(a, "SELECT count(*) FROM information_schema."
                                   "tables WHERE table_schema = 'public'"),
                     0);
    assert_int_equal(tqt_stop(b), 0);
    assert_int_equal(tqt_stop(a), 0);
    free(plugins);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent_across_restarts),
        cmocka_unit_test(test_edited_migration_refused),
        cmocka_unit_test(test_two_hosts_migrate_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
