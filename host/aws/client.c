/*
 * client.c - AWS requests over libcurl: sign (sigv4.c) with the current
 * credentials (credentials.c), send with timeouts, retry with exponential
 * backoff and full jitter on connection errors, timeouts, 5xx, 429 and
 * throttling codes, and turn AWS error bodies (S3's XML, the JSON of the
 * other services) into one sentence.
 *
 * One curl easy handle per call: AWS calls are rare next to HTTP requests
 * (one per upload, delete or secret), and a handle per call keeps the
 * client free of shared state between worker threads.  The response body
 * and strings in host_aws_resp are malloc'd and owned by the caller
 * (host_aws_resp_free).
 */
#include "aws/aws.h"

#include <curl/curl.h>
#include <jansson.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---------------------------------------------------------- plain HTTP */

typedef struct body_buf {
    char *p;
    size_t n, cap, max;
    bool too_big;
    char *content_type;
    char *error_type; /* x-amzn-ErrorType */
} body_buf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    body_buf *b = arg;
    size_t n = size * nmemb;
    if (b->n + n > b->max) {
        b->too_big = true;
        return 0; /* aborts the transfer: never buffer more than max */
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return NULL;
    const char *v = line + nl + 1;
    const char *e = line + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
        e--;
    return strndup(v, (size_t)(e - v));
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
    body_buf *b = arg;
    size_t n = size * nmemb;
    char *v;
    if (!b->content_type && (v = header_value(line, n, "Content-Type")))
        b->content_type = v;
    else if (!b->error_type && (v = header_value(line, n, "x-amzn-ErrorType")))
        b->error_type = v;
    return n;
}

void host_aws_resp_free(host_aws_resp *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->content_type);
    free(r->error_code);
    *r = (host_aws_resp){0};
}

int host_aws_http(const host_aws_http_req *r, host_aws_resp *resp,
                  host_aws_http_fail *fail, char *err, size_t errlen)
{
    *resp = (host_aws_resp){0};
    if (fail)
        *fail = (host_aws_http_fail){0};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    body_buf b = {.max = r->max_response ? r->max_response : (1u << 20)};
    int rc = TQ_E_NOMEM;
    if (!c)
        goto out;
    /* Empty values remove what curl would add on its own: a form
     * Content-Type for POST, "Expect: 100-continue" for large bodies. */
    bool has_ct = false;
    for (int i = 0; i < r->nheaders; i++) {
        char line[8192];
        int l = snprintf(line, sizeof line, "%s: %s", r->headers[i].name,
                         r->headers[i].value);
        if (l < 0 || (size_t)l >= sizeof line) {
            snprintf(err, errlen, "%s: header %s is too long (%zu bytes)",
                     r->what ? r->what : r->url, r->headers[i].name,
                     strlen(r->headers[i].value));
            rc = TQ_E_INVALID;
            goto out;
        }
        struct curl_slist *t = curl_slist_append(hl, line);
        if (!t)
            goto out;
        hl = t;
        if (!strcasecmp(r->headers[i].name, "Content-Type"))
            has_ct = true;
    }
    const char *strip[] = {"Expect:", has_ct ? NULL : "Content-Type:",
                           "Accept:"};
    for (size_t i = 0; i < sizeof strip / sizeof *strip; i++) {
        if (!strip[i])
            continue;
        struct curl_slist *t = curl_slist_append(hl, strip[i]);
        if (!t)
            goto out;
        hl = t;
    }

    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(r->connect_timeout_ms > 0 ? r->connect_timeout_ms
                                                      : 2000));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long)(r->timeout_ms > 0 ? r->timeout_ms : 15000));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &b);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->body || !strcmp(r->method, "PUT") ||
            !strcmp(r->method, "POST")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)r->body_len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                             r->body ? r->body : (const void *)"");
        }
    }

    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && b.too_big)) {
        double connect_s = 0;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &connect_s);
        if (fail) {
            fail->curl_code = (int)cc;
            fail->connected = connect_s > 0;
            fail->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
        }
        snprintf(err, errlen, "%s: %s %s: %s",
                 r->what ? r->what : "HTTP request", r->method, r->url,
                 curl_easy_strerror(cc));
        rc = cc == CURLE_OUT_OF_MEMORY ? TQ_E_NOMEM : TQ_E_UNAVAILABLE;
        goto out;
    }
    if (b.too_big) {
        snprintf(err, errlen,
                 "%s: %s %s: the response is larger than the %zu bytes "
                 "allowed",
                 r->what ? r->what : "HTTP request", r->method, r->url, b.max);
        resp->status = status;
        rc = TQ_E_INVALID;
        goto out;
    }
    resp->status = status;
    resp->body = b.p ? b.p : strdup("");
    resp->len = b.n;
    resp->content_type = b.content_type;
    resp->error_code = b.error_type;
    b.p = b.content_type = b.error_type = NULL;
    rc = resp->body ? TQ_OK : TQ_E_NOMEM;

out:
    free(b.p);
    free(b.content_type);
    free(b.error_type);
    curl_slist_free_all(hl);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

/* ------------------------------------------------------ error bodies */

static void copy_between(const char *body, size_t len, const char *open,
                         const char *close, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    const char *s = memmem(body, len, open, strlen(open));
    if (!s)
        return;
    s += strlen(open);
    const char *e = memmem(s, len - (size_t)(s - body), close, strlen(close));
    if (!e)
        return;
    size_t n = (size_t)(e - s);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

void host_aws_parse_error(const char *body, size_t len, char *code,
                          size_t codelen, char *msg, size_t msglen)
{
    if (codelen)
        code[0] = '\0';
    if (msglen)
        msg[0] = '\0';
    if (!body || !len)
        return;
    size_t i = 0;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    if (i < len && body[i] == '<') {
        copy_between(body, len, "<Code>", "</Code>", code, codelen);
        copy_between(body, len, "<Message>", "</Message>", msg, msglen);
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    const char *t = json_string_value(json_object_get(j, "__type"));
    if (!t)
        t = json_string_value(json_object_get(j, "code"));
    if (!t)
        t = json_string_value(json_object_get(j, "Code"));
    const char *m = json_string_value(json_object_get(j, "message"));
    if (!m)
        m = json_string_value(json_object_get(j, "Message"));
    if (t) {
        const char *hash = strrchr(t, '#'); /* "com.amazonaws...#Code" */
        snprintf(code, codelen, "%s", hash ? hash + 1 : t);
    }
    if (m)
        snprintf(msg, msglen, "%s", m);
    json_decref(j);
}

/* --------------------------------------------------------- endpoints */

/* Split "https://Host:443/" into scheme and the Host header value (host
 * lowercased, default port dropped, as every AWS SDK signs it). */
int host_aws_parse_endpoint(const char *endpoint, char *scheme,
                            size_t schemelen, char *host, size_t hostlen)
{
    const char *p = strstr(endpoint ? endpoint : "", "://");
    if (!p)
        return TQ_E_INVALID;
    size_t sl = (size_t)(p - endpoint);
    if (sl >= schemelen)
        return TQ_E_INVALID;
    memcpy(scheme, endpoint, sl);
    scheme[sl] = '\0';
    for (size_t i = 0; i < sl; i++)
        scheme[i] = (char)tolower((unsigned char)scheme[i]);
    if (strcmp(scheme, "http") && strcmp(scheme, "https"))
        return TQ_E_INVALID;
    const char *a = p + 3;
    size_t al = strcspn(a, "/?#");
    /* Only a bare "/" may follow: a base path would be silently dropped. */
    if (a[al] && strcmp(a + al, "/"))
        return TQ_E_INVALID;
    if (al == 0 || al >= hostlen || memchr(a, '@', al))
        return TQ_E_INVALID;
    memcpy(host, a, al);
    host[al] = '\0';
    for (size_t i = 0; i < al; i++)
        host[i] = (char)tolower((unsigned char)host[i]);
    const char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        const char *def = !strcmp(scheme, "https") ? ":443" : ":80";
        if (!strcmp(colon, def))
            host[colon - host] = '\0';
    }
    return TQ_OK;
}

/* ------------------------------------------------------- signed calls */

static bool retryable_code(const char *code)
{
    static const char *const codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException",
        "RequestThrottledException", "TooManyRequestsException",
        "SlowDown", "RequestTimeout", "RequestTimeoutException",
        "InternalError", "ServiceUnavailable", "PriorRequestNotComplete"};
    for (size_t i = 0; code && i < sizeof codes / sizeof *codes; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

static void backoff(int attempt)
{
    /* Full jitter: uniform in [0, min(cap, base * 2^attempt)). */
    unsigned cap_ms = 2000, base_ms = 100;
    unsigned ceil_ms = base_ms << (attempt < 5 ? attempt : 5);
    if (ceil_ms > cap_ms)
        ceil_ms = cap_ms;
    unsigned ms = arc4random_uniform(ceil_ms) + 1;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

int host_aws_send(const host_aws_call *call, host_aws_resp *resp, char *err,
                  size_t errlen)
{
    *resp = (host_aws_resp){0};
    const char *what = call->what ? call->what : call->service;
    char scheme[8], host[256];
    if (host_aws_parse_endpoint(call->endpoint, scheme, sizeof scheme, host,
                                sizeof host) != TQ_OK) {
        snprintf(err, errlen,
                 "%s: endpoint \"%s\" is not a URL like "
                 "https://s3.us-east-1.amazonaws.com or "
                 "http://127.0.0.1:4569 (no path, no user)",
                 what, call->endpoint ? call->endpoint : "");
        return TQ_E_INVALID;
    }
    const char *signed_host = call->host ? call->host : host;
    char payload[65];
    host_aws_sha256_hex(call->body, call->body_len, payload);
    bool s3 = !strcmp(call->service, "s3");
    int connect_ms, timeout_ms, attempts;
    host_aws_limits(&connect_ms, &timeout_ms, &attempts);

    for (int attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0)
            backoff(attempt);
        host_aws_resp_free(resp);
        host_aws_creds cr;
        int rc = host_aws_credentials(&cr, err, errlen);
        if (rc != TQ_OK)
            return rc == TQ_E_NOTFOUND ? TQ_E_IO : rc;
        char date[17];
        host_aws_amz_date(time(NULL), date);
        host_sigv4_req sr = {
            .method = call->method, .host = signed_host, .path = call->path,
            .query = call->query, .nquery = call->nquery,
            .headers = call->headers, .nheaders = call->nheaders,
            .payload_hash = payload,
            .region = call->region ? call->region : host_aws_region(),
            .service = call->service, .amz_date = date, .s3 = s3};
        host_sigv4_out so;
        rc = host_sigv4_sign(&sr, &cr, &so);
        host_aws_creds_wipe(&cr);
        if (rc != TQ_OK) {
            snprintf(err, errlen,
                     "%s: cannot sign the request (%s): a header value "
                     "holds a control character, or the region (%s) is "
                     "malformed",
                     what, rc == TQ_E_NOMEM ? "out of memory" : "invalid",
                     sr.region);
            return rc;
        }
        size_t ul = strlen(scheme) + strlen(signed_host) +
                    strlen(so.url_path) + strlen(so.url_query) + 8;
        char *url = malloc(ul);
        int nh = call->nheaders + so.nadded + 2;
        host_kv *hv = calloc((size_t)nh, sizeof *hv);
        if (!url || !hv) {
            free(url);
            free(hv);
            host_sigv4_out_free(&so);
            snprintf(err, errlen, "%s: out of memory", what);
            return TQ_E_NOMEM;
        }
        snprintf(url, ul, "%s://%s%s%s%s", scheme, signed_host, so.url_path,
                 so.url_query[0] ? "?" : "", so.url_query);
        int k = 0;
        hv[k++] = (host_kv){"Host", signed_host};
        for (int i = 0; i < call->nheaders; i++)
            hv[k++] = call->headers[i];
        for (int i = 0; i < so.nadded; i++)
            hv[k++] = so.added[i];
        hv[k++] = (host_kv){"Authorization", so.authorization};
        host_aws_http_req hr = {
            .method = call->method, .url = url, .headers = hv, .nheaders = k,
            .body = call->body, .body_len = call->body_len,
            .connect_timeout_ms = connect_ms, .timeout_ms = timeout_ms,
            .max_response = call->max_response, .what = what};
        char terr[768];
        rc = host_aws_http(&hr, resp, NULL, terr, sizeof terr);
        free(hv);
        free(url);
        host_sigv4_out_free(&so);
        resp->attempts = attempt + 1;
        if (rc == TQ_E_UNAVAILABLE) {
            /* Connection errors and timeouts are retried. */
            snprintf(err, errlen,
                     "%s (%d attempt%s): is the endpoint %s right and the "
                     "service up?",
                     terr, attempt + 1, attempt ? "s" : "", call->endpoint);
            continue;
        }
        if (rc != TQ_OK) {
            snprintf(err, errlen, "%s", terr);
            return rc;
        }
        if (resp->status >= 200 && resp->status < 300)
            return TQ_OK;

        char code[128], msg[512];
        host_aws_parse_error(resp->body, resp->len, code, sizeof code, msg,
                             sizeof msg);
        if (!code[0] && resp->error_code) {
            const char *c = resp->error_code;
            snprintf(code, sizeof code, "%.*s", (int)strcspn(c, ":"), c);
        }
        free(resp->error_code);
        resp->error_code = code[0] ? strdup(code) : NULL;
        snprintf(err, errlen, "%s: %s answered %ld %s%s%s%s", what,
                 call->endpoint, resp->status, code[0] ? code : "(no code)",
                 msg[0] ? ": " : "", msg,
                 attempt ? " (after retries)" : "");
        if (!(resp->status >= 500 || resp->status == 429 ||
              retryable_code(code)))
            break;
    }
    if (resp->status == 0)
        return TQ_E_UNAVAILABLE;
    if (resp->status >= 200 && resp->status < 300)
        return TQ_OK;
    if (resp->status == 404)
        return TQ_E_NOTFOUND;
    const char *code = resp->error_code ? resp->error_code : "";
    if (resp->status == 503 || resp->status == 429 ||
        strstr(code, "Throttl") || !strcmp(code, "SlowDown"))
        return TQ_E_UNAVAILABLE;
    return TQ_E_IO;
}
