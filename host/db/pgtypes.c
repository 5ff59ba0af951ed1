/*
 * pgtypes.c - PostgreSQL text values into the API's formats.
 *
 * The session runs with TimeZone 'UTC' and DateStyle 'ISO', so timestamptz
 * arrives as "2026-12-04 15:00:00.123456+00"; the API promises RFC 3339
 * UTC with whole seconds ("2026-12-04T15:00:00Z").  Any offset is folded
 * into UTC anyway, so a connection with another TimeZone still answers
 * correctly.  No allocation: the caller owns out.
 */
#include "host.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
 * days_from_civil), valid far beyond the years PostgreSQL stores. */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long long z, long long *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = era * 400 + yoe + (*m <= 2);
}

/* n digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

void host_pg_time_to_rfc3339(const char *pg, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    if (!pg) {
        out[0] = '\0';
        return;
    }
    const char *p = pg;
    long long year = 0;
    int ndig = 0;
    while (isdigit((unsigned char)*p) && ndig < 9) {
        year = year * 10 + (*p++ - '0');
        ndig++;
    }
    int mon, day, hh, mm, ss, oh = 0, om = 0, os = 0;
    if (ndig < 4 || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
        !digits(&p, 2, &day) || (*p != ' ' && *p != 'T'))
        goto verbatim;
    p++;
    if (!digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mm) ||
        *p++ != ':' || !digits(&p, 2, &ss))
        goto verbatim;
    if (*p == '.') { /* whole seconds only, as the API promises */
        p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int sign = 0;
    if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, 2, &oh))
            goto verbatim;
        if (*p == ':' && (p++, !digits(&p, 2, &om)))
            goto verbatim;
        if (*p == ':' && (p++, !digits(&p, 2, &os)))
            goto verbatim;
    } else if (*p == 'Z') {
        p++;
    }
    /* " BC" years and anything unexpected are passed through unchanged
     * rather than silently mangled. */
    if (*p || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 ||
        mm > 59 || ss > 60)
        goto verbatim;

    long long t = days_from_civil(year, mon, day) * 86400 + hh * 3600 +
                  mm * 60 + ss - sign * (oh * 3600 + om * 60 + os);
    long long days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    long long secs = t - days * 86400;
    long long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999 && outlen >= 21) {
        /* Every row of a list formats several of these; snprintf was a
         * measurable share of a list request (docs/benchmarks.md). */
        int v[6] = {(int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
                    (int)(secs % 60)};
        char *o = out;
        *o++ = (char)('0' + v[0] / 1000);
        *o++ = (char)('0' + v[0] / 100 % 10);
        for (int i = 0; i < 6; i++) {
            *o++ = (char)('0' + v[i] / 10 % 10);
            *o++ = (char)('0' + v[i] % 10);
            *o++ = "--T::Z"[i];
        }
        *o = '\0';
        return;
    }
    snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return;
verbatim: /* "infinity", "-infinity", BC dates */
    snprintf(out, outlen, "%s", pg);
}
