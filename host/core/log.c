/*
 * log.c - JSON lines on stderr: host messages and the per-request access
 * line.
 *
 * Each line is built in a buffer (on the stack, or malloc'd for long
 * messages and freed before returning) and handed to one write(2), so
 * lines from concurrent threads never interleave.  Strings are JSON-escaped
 * and invalid UTF-8 becomes U+FFFD, so every line parses.  The access
 * line never carries bodies, query strings or headers: tokens travel
 * there.  Logging never fails a caller: out of memory truncates the line.
 */
#include "host.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int host_log_level = TQ_LOG_INFO;

/* A field is cut at FIELD_MAX bytes; escaped (at most 6 bytes a byte)
 * the few fields of a line stay well below LINE_MAX_BYTES. */
#define FIELD_MAX 8192
#define LINE_MAX_BYTES (256 * 1024)

typedef struct lbuf {
    char *p;
    size_t len, cap;
    bool heap, full;
    char stack[1024];
} lbuf;

static void lb_init(lbuf *b)
{
    b->p = b->stack;
    b->len = 0;
    b->cap = sizeof(b->stack);
    b->heap = false;
    b->full = false;
}

/* Room for n more bytes (plus "}\n"); false once the line is full. */
static bool lb_room(lbuf *b, size_t n)
{
    if (b->full)
        return false;
    if (b->len + n + 2 <= b->cap)
        return true;
    size_t cap = b->cap * 2;
    while (cap < b->len + n + 2)
        cap *= 2;
    if (cap > LINE_MAX_BYTES) {
        cap = LINE_MAX_BYTES;
        if (b->len + n + 2 > cap) {
            b->full = true;
            return false;
        }
    }
    char *p = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (!p) {
        b->full = true;
        return false;
    }
    if (!b->heap)
        memcpy(p, b->stack, b->len);
    b->p = p;
    b->cap = cap;
    b->heap = true;
    return true;
}

static void lb_put(lbuf *b, const char *s, size_t n)
{
    if (lb_room(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static void lb_puts(lbuf *b, const char *s) { lb_put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t need;
    unsigned cp;
    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) { need = 2; cp = s[0] & 0x1f; }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) { need = 3; cp = s[0] & 0x0f; }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) { need = 4; cp = s[0] & 0x07; }
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return need;
}

/* Where to cut s to at most max bytes without splitting a UTF-8 char. */
static size_t cut_utf8(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

/* A JSON string of s[0..n), cut to FIELD_MAX source bytes ("..." marks
 * the cut). */
static void lb_json_str(lbuf *b, const char *s, size_t n)
{
    size_t cut = cut_utf8(s, n, FIELD_MAX);
    lb_put(b, "\"", 1);
    size_t i = 0;
    while (i < cut && !b->full) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': lb_put(b, "\\\"", 2); i++; continue;
        case '\\': lb_put(b, "\\\\", 2); i++; continue;
        case '\n': lb_put(b, "\\n", 2); i++; continue;
        case '\r': lb_put(b, "\\r", 2); i++; continue;
        case '\t': lb_put(b, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            lb_put(b, esc, 6);
            i++;
            continue;
        }
        size_t l = utf8_len((const unsigned char *)s + i, cut - i);
        if (l == 0) {
            lb_put(b, "\\ufffd", 6);
            i++;
            continue;
        }
        /* Copy a run of plain bytes at once. */
        size_t j = i + l;
        while (j < cut) {
            unsigned char d = (unsigned char)s[j];
            if (d < 0x20 || d == 0x7f || d == '"' || d == '\\' || d >= 0x80)
                break;
            j++;
        }
        lb_put(b, s + i, j - i);
        i = j;
    }
    if (cut < n)
        lb_put(b, "...", 3);
    lb_put(b, "\"", 1);
}

static void lb_field_str(lbuf *b, const char *key, const char *val)
{
    lb_put(b, ",\"", 2);
    lb_puts(b, key);
    lb_put(b, "\":", 2);
    if (val) {
        lb_json_str(b, val, strlen(val));
    } else {
        lb_put(b, "null", 4);
    }
}

static void lb_start(lbuf *b, int level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    struct timespec ts;
    struct tm tm;
    char t[64];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(t, sizeof(t),
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    lb_put(b, t, (size_t)n);
    if (level < TQ_LOG_DEBUG)
        level = TQ_LOG_DEBUG;
    if (level > TQ_LOG_ERROR)
        level = TQ_LOG_ERROR;
    lb_field_str(b, "level", names[level]);
}

static void lb_emit(lbuf *b)
{
    static const char oom[] =
        "{\"level\":\"error\",\"msg\":\"a log line was dropped: out of "
        "memory\"}\n";
    const char *p = oom;
    size_t left = sizeof(oom) - 1;
    if (!b->full) {
        /* lb_room always kept two bytes for the end of the line. */
        b->p[b->len++] = '}';
        b->p[b->len++] = '\n';
        p = b->p;
        left = b->len;
    }
    while (left > 0) {
        ssize_t w = write(STDERR_FILENO, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report it */
        }
        p += w;
        left -= (size_t)w;
    }
    if (b->heap)
        free(b->p);
}

void host_logv(int level, const char *plugin, const char *request_id,
               const char *fmt, va_list ap)
{
    if (level < host_log_level)
        return;
    char small[512];
    char *heap = NULL;
    const char *msg = small;
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0) {
        msg = "(unprintable log message)";
        n = (int)strlen(msg);
    } else if ((size_t)n >= sizeof(small)) {
        heap = malloc((size_t)n + 1);
        if (heap) {
            va_copy(cp, ap);
            vsnprintf(heap, (size_t)n + 1, fmt, cp);
            va_end(cp);
            msg = heap;
        } else {
            n = (int)sizeof(small) - 1; /* the truncated copy will do */
        }
    }

    lbuf b;
    lb_init(&b);
    lb_start(&b, level);
    if (plugin)
        lb_field_str(&b, "plugin", plugin);
    if (request_id && request_id[0])
        lb_field_str(&b, "request_id", request_id);
    lb_put(&b, ",\"msg\":", 7);
    lb_json_str(&b, msg, (size_t)n);
    lb_emit(&b);
    free(heap);
}

void host_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    host_logv(level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void host_log_access(const tq_req *req, int status, double ms)
{
    if (TQ_LOG_INFO < host_log_level || !req)
        return;
    lbuf b;
    lb_init(&b);
    lb_start(&b, TQ_LOG_INFO);
    lb_field_str(&b, "msg", "request");
    lb_field_str(&b, "request_id",
                 req->request_id[0] ? req->request_id : NULL);
    lb_field_str(&b, "method", host_method_str(req->method));
    lb_field_str(&b, "route", req->route ? req->route->r.path : NULL);
    lb_put(&b, ",\"path\":", 8);
    if (req->route && (req->route->r.flags & TQ_ROUTE_SECRET_PATH)) {
        lb_json_str(&b, req->route->r.path, strlen(req->route->r.path));
    } else if (req->path) {
        /* Defensive: a query string must never reach the log. */
        size_t n = strcspn(req->path, "?#");
        lb_json_str(&b, req->path, n);
    } else {
        lb_put(&b, "null", 4);
    }
    char num[64];
    int n = snprintf(num, sizeof(num), ",\"status\":%d,\"ms\":%.3f", status,
                     ms >= 0 ? ms : 0.0);
    lb_put(&b, num, (size_t)n);
    lb_field_str(&b, "user", req->user_id[0] ? req->user_id : NULL);
    lb_field_str(&b, "client", req->client_addr);
    lb_emit(&b);
}
