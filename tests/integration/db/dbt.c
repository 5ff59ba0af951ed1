/* dbt.c - see dbt.h. */
#include "dbt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *dbt_plugins(const char *label, bool subs, const char *extra_fix)
{
    char *s = NULL;
    int n = asprintf(&s,
                     "  - name: dbfix\n    enabled: true\n    config:\n"
                     "      label: %s\n%s",
                     label, extra_fix ? extra_fix : "");
    if (n >= 0 && subs) {
        char *t = NULL;
        n = asprintf(&t,
                     "%s  - name: dbsub_a\n    enabled: true\n    config:\n"
                     "      label: %s\n"
                     "  - name: dbsub_b\n    enabled: true\n    config:\n"
                     "      label: %s\n",
                     s, label, label);
        free(s);
        s = t;
    }
    if (n < 0)
        fail_msg("out of memory");
    return s;
}

long long dbt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dbt_wait_ready(tqt_host *h, int seconds)
{
    long last = 0;
    for (long long end = dbt_now_ms() + seconds * 1000LL; dbt_now_ms() < end;) {
        tqt_resp r = tqt_req(h, "GET", "/readyz", NULL, NULL);
        last = r.status;
        tqt_resp_free(&r);
        if (last == 200)
            return;
        usleep(50 * 1000);
    }
    char *log = dbt_slurp(tqt_log_path(h));
    fprintf(stderr, "---- %s ----\n%s\n", tqt_log_path(h), log);
    free(log);
    fail_msg("host on port %d not ready within %d s (last /readyz %ld)",
             tqt_port(h), seconds, last);
}

long dbt_wait_sql(tqt_host *h, const char *want, int seconds,
                  const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    long long t0 = dbt_now_ms();
    char *v = NULL;
    while (dbt_now_ms() - t0 < seconds * 1000LL) {
        free(v);
        v = tqt_sql(h, "%s", sql);
        if (strcmp(v, want) == 0) {
            free(v);
            return (long)(dbt_now_ms() - t0);
        }
        usleep(50 * 1000);
    }
    fail_msg("after %d s, %s gives \"%s\", want \"%s\"", seconds, sql, v, want);
    return -1;
}

long long dbt_sql_ll(tqt_host *h, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    char *v = tqt_sql(h, "%s", sql);
    long long x = atoll(v);
    free(v);
    return x;
}

char *dbt_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!b)
        fail_msg("out of memory");
    b[got] = '\0';
    return b;
}

int dbt_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

void dbt_uuid(char out[37])
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 36; i++)
        out[i] = i == 8 || i == 13 || i == 18 || i == 23
                     ? '-'
                     : i == 14 ? '4' : hex[rand_r(&seed) % 16];
    out[36] = '\0';
}
