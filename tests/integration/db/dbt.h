/*
 * dbt.h - helpers shared by the db integration tests: manifests for the
 * fixture plugins, polling the database and the host, reading logs.
 * Strings returned are malloc'd; the caller frees them.
 */
#ifndef DBT_H
#define DBT_H

#include "harness.h"

#include <stdbool.h>

/* plugins: YAML for dbfix (+ dbsub_a, dbsub_b when subs), every plugin
 * labelled label; extra_fix is appended to dbfix's config block. */
char *dbt_plugins(const char *label, bool subs, const char *extra_fix);
/* Poll /readyz until 200; fails the test after seconds. */
void dbt_wait_ready(tqt_host *h, int seconds);
/* Poll the first cell of a query until it equals want; fails the test
 * with the last value after seconds.  Returns the milliseconds it took. */
long dbt_wait_sql(tqt_host *h, const char *want, int seconds,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The first cell as a number. */
long long dbt_sql_ll(tqt_host *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A file's contents ("" when missing). */
char *dbt_slurp(const char *path);
/* Occurrences of needle in hay. */
int dbt_count(const char *hay, const char *needle);
/* A fresh random uuid. */
void dbt_uuid(char out[37]);
long long dbt_now_ms(void);

#endif
