/*
 * params.c - checks of request input the SDK does not parse for us: the
 * If-Match header, RFC 3339 times in query strings, UUIDs, blank titles.
 * Pure C (no host calls), so the unit tests link it directly.
 *
 * Memory: nothing is allocated; results go into the caller's variables.
 */
#include "tasks_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>


bool tsk_blank(const char *s)
{
    for (; s && *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* n decimal digits at *p into *out; advances *p. */
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

bool tsk_rfc3339_ok(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    int Y, M, D, h, m, sec, oh, om;
    const char *p = s;

    if (!p || !digits(&p, 4, &Y) || *p++ != '-' || !digits(&p, 2, &M) ||
        *p++ != '-' || !digits(&p, 2, &D))
        return false;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &m) ||
        *p++ != ':' || !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return false;
    } else {
        return false;
    }
    if (*p || Y < 1 || M < 1 || M > 12 || D < 1 || h > 23 || m > 59 ||
        sec > 60)
        return false;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    return D <= mdays[M - 1] && !(M == 2 && D == 29 && !leap);
}

int tsk_if_match(const char *h, long long *version)
{
    *version = -1;
    if (!h)
        return 0;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 1 && h[0] == '*')
        return 0;
    /* Our ETag is "<version>"; a bare number is accepted for clients that
     * send the version they read from the body. */
    if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
        h++;
        n -= 2;
    }
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)h[i]))
            return -1;
    errno = 0;
    long long v = strtoll(h, NULL, 10);
    if (errno)
        return -1;
    *version = v;
    return 1;
}
