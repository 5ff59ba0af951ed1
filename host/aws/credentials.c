/*
 * credentials.c - where AWS credentials come from, and the client's
 * settings (region, timeouts, attempts).
 *
 * Order: the manifest's aws: keys, then the standard AWS_* environment
 * variables, then EC2 instance metadata with IMDSv2 (a session token is
 * PUT first; IMDSv1 is never used, so a metadata service that only speaks
 * v1 is an error, not a downgrade).  IMDS credentials are cached until
 * five minutes before they expire; one thread refreshes while the others
 * keep using the still-valid old ones (or wait, when there are none).
 *
 * The settings and the cache are module state behind one mutex; callers
 * get copies.  Strings of the settings are strdup'd here and freed by
 * host_aws_shutdown().
 */
#include "aws/aws.h"

#include <jansson.h>
#include <openssl/crypto.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define REFRESH_MARGIN_S 300   /* refresh IMDS credentials this early */
#define IMDS_TOKEN_TTL_S 21600 /* the longest IMDS allows: 6 hours */
#define IMDS_TIMEOUT_MS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t refreshed = PTHREAD_COND_INITIALIZER;

static struct {
    char *region, *akid, *secret, *token, *imds;
    int connect_timeout_ms, timeout_ms, max_attempts;
} conf = {NULL, NULL, NULL, NULL, NULL, 2000, 15000, 3};

static host_aws_creds cached; /* IMDS credentials; access_key "" when none */
static bool refreshing;
static char imds_token[1024];
static time_t imds_token_expires;
static char region_buf[64];

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void host_aws_creds_wipe(host_aws_creds *c)
{
    OPENSSL_cleanse(c, sizeof *c);
}

static void free_conf_locked(void)
{
    free(conf.region);
    wipe_free(conf.akid);
    wipe_free(conf.secret);
    wipe_free(conf.token);
    free(conf.imds);
    conf.region = conf.akid = conf.secret = conf.token = conf.imds = NULL;
}

static void resolve_region_locked(void)
{
    const char *r = conf.region;
    if (!r)
        r = getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    if (!r || !*r)
        r = "us-east-1";
    snprintf(region_buf, sizeof region_buf, "%s", r);
}

int host_aws_configure(const host_aws_conf *c)
{
    pthread_mutex_lock(&mu);
    free_conf_locked();
    conf.region = dup_or_null(c->region);
    conf.akid = dup_or_null(c->access_key_id);
    conf.secret = dup_or_null(c->secret_access_key);
    conf.token = dup_or_null(c->session_token);
    conf.imds = dup_or_null(c->imds_endpoint);
    conf.connect_timeout_ms =
        c->connect_timeout_ms > 0 ? c->connect_timeout_ms : 2000;
    conf.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 15000;
    conf.max_attempts = c->max_attempts > 0 ? c->max_attempts : 3;
    bool oom = (c->region && *c->region && !conf.region) ||
               (c->access_key_id && *c->access_key_id && !conf.akid) ||
               (c->secret_access_key && *c->secret_access_key &&
                !conf.secret) ||
               (c->session_token && *c->session_token && !conf.token) ||
               (c->imds_endpoint && *c->imds_endpoint && !conf.imds);
    host_aws_creds_wipe(&cached);
    imds_token[0] = '\0';
    imds_token_expires = 0;
    resolve_region_locked();
    pthread_mutex_unlock(&mu);
    return oom ? TQ_E_NOMEM : TQ_OK;
}

void host_aws_shutdown(void)
{
    pthread_mutex_lock(&mu);
    free_conf_locked();
    host_aws_creds_wipe(&cached);
    OPENSSL_cleanse(imds_token, sizeof imds_token);
    imds_token_expires = 0;
    pthread_mutex_unlock(&mu);
}

const char *host_aws_region(void)
{
    pthread_mutex_lock(&mu);
    if (!region_buf[0])
        resolve_region_locked();
    pthread_mutex_unlock(&mu);
    return region_buf;
}

void host_aws_limits(int *connect_timeout_ms, int *timeout_ms,
                     int *max_attempts)
{
    pthread_mutex_lock(&mu);
    *connect_timeout_ms = conf.connect_timeout_ms;
    *timeout_ms = conf.timeout_ms;
    *max_attempts = conf.max_attempts;
    pthread_mutex_unlock(&mu);
}

static int set_creds(host_aws_creds *out, const char *akid,
                     const char *secret, const char *token,
                     const char *source, char *err, size_t errlen)
{
    *out = (host_aws_creds){0};
    size_t la = strlen(akid), ls = strlen(secret);
    size_t lt = token ? strlen(token) : 0;
    if (la >= sizeof out->access_key || ls >= sizeof out->secret_key ||
        lt >= sizeof out->token) {
        snprintf(err, errlen,
                 "AWS credentials from the %s are too long (access key %zu, "
                 "secret %zu, session token %zu bytes; at most %zu, %zu, "
                 "%zu)",
                 source, la, ls, lt, sizeof out->access_key - 1,
                 sizeof out->secret_key - 1, sizeof out->token - 1);
        return TQ_E_INVALID;
    }
    memcpy(out->access_key, akid, la + 1);
    memcpy(out->secret_key, secret, ls + 1);
    if (token)
        memcpy(out->token, token, lt + 1);
    out->source = source;
    return TQ_OK;
}

/* ---------------------------------------------------------------- IMDS */

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

static void imds_base(char *out, size_t outlen)
{
    const char *e = conf.imds;
    if (!e)
        e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!e || !*e)
        e = "http://169.254.169.254";
    size_t n = strlen(e);
    while (n && e[n - 1] == '/')
        n--;
    snprintf(out, outlen, "%.*s", (int)n, e);
}

/* A fresh IMDSv2 session token into imds_token (caller holds no lock: the
 * token is only touched by the one refreshing thread). */
static int imds_get_token(const char *base, char *err, size_t errlen)
{
    time_t now = time(NULL);
    if (imds_token[0] && now < imds_token_expires)
        return TQ_OK;
    char url[512], ttl[16];
    snprintf(url, sizeof url, "%s/latest/api/token", base);
    snprintf(ttl, sizeof ttl, "%d", IMDS_TOKEN_TTL_S);
    host_kv h[] = {{"X-aws-ec2-metadata-token-ttl-seconds", ttl}};
    host_aws_http_req r = {.method = "PUT", .url = url, .headers = h,
                           .nheaders = 1, .connect_timeout_ms = 1000,
                           .timeout_ms = IMDS_TIMEOUT_MS,
                           .max_response = 4096,
                           .what = "EC2 instance metadata (IMDSv2 token)"};
    host_aws_resp resp;
    host_aws_http_fail f;
    char terr[512];
    int rc = host_aws_http(&r, &resp, &f, terr, sizeof terr);
    if (rc != TQ_OK) {
        if (f.connected && f.timed_out)
            /* The PUT reached IMDS but its answer never came back: the
             * classic sign of a response hop limit of 1 seen from a
             * container (the answer dies one hop short). */
            snprintf(err, errlen,
                     "%s: connected, but no answer within %d ms. If "
                     "tasqlyd runs in a container on EC2, raise the "
                     "instance's metadata response hop limit to 2 (aws ec2 "
                     "modify-instance-metadata-options "
                     "--http-put-response-hop-limit 2 --instance-id ...); "
                     "or give credentials through AWS_ACCESS_KEY_ID / "
                     "the manifest's aws: keys",
                     terr, IMDS_TIMEOUT_MS);
        else
            snprintf(err, errlen,
                     "%s. No AWS credentials were configured (manifest "
                     "aws.access_key_id, or AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY) and no EC2 instance metadata "
                     "service answered at %s; set credentials, or "
                     "AWS_EC2_METADATA_DISABLED=true to stop trying",
                     terr, base);
        host_aws_resp_free(&resp);
        return rc;
    }
    if (resp.status != 200 || resp.len == 0 ||
        resp.len >= sizeof imds_token) {
        snprintf(err, errlen,
                 "EC2 instance metadata: PUT %s answered %ld (%zu bytes); "
                 "IMDSv2 is required (IMDSv1 is deliberately not used)",
                 url, resp.status, resp.len);
        host_aws_resp_free(&resp);
        return TQ_E_IO;
    }
    memcpy(imds_token, resp.body, resp.len + 1);
    imds_token_expires = now + IMDS_TOKEN_TTL_S - 60;
    host_aws_resp_free(&resp);
    return TQ_OK;
}

static int imds_get(const char *base, const char *path, host_aws_resp *resp,
                    char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = imds_get_token(base, err, errlen);
        if (rc != TQ_OK)
            return rc;
        char url[512];
        snprintf(url, sizeof url, "%s%s", base, path);
        host_kv h[] = {{"X-aws-ec2-metadata-token", imds_token}};
        host_aws_http_req r = {.method = "GET", .url = url, .headers = h,
                               .nheaders = 1, .connect_timeout_ms = 1000,
                               .timeout_ms = IMDS_TIMEOUT_MS,
                               .max_response = 65536,
                               .what = "EC2 instance metadata"};
        rc = host_aws_http(&r, resp, NULL, err, errlen);
        if (rc != TQ_OK)
            return rc;
        if (resp->status == 401 && attempt == 0) {
            /* The session token expired or IMDS restarted: get another. */
            host_aws_resp_free(resp);
            imds_token[0] = '\0';
            continue;
        }
        if (resp->status != 200) {
            snprintf(err, errlen,
                     "EC2 instance metadata: GET %s answered %ld%s", url,
                     resp->status,
                     resp->status == 404
                         ? " (no IAM role attached to the instance? attach "
                           "an instance profile)"
                         : "");
            host_aws_resp_free(resp);
            return TQ_E_IO;
        }
        return TQ_OK;
    }
    return TQ_E_IO; /* not reached */
}

static time_t parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    const char *e = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!e)
        return 0;
    return timegm(&tm);
}

static int imds_fetch(host_aws_creds *out, char *err, size_t errlen)
{
    char base[256];
    pthread_mutex_lock(&mu);
    imds_base(base, sizeof base);
    pthread_mutex_unlock(&mu);

    host_aws_resp r;
    const char *list = "/latest/meta-data/iam/security-credentials/";
    int rc = imds_get(base, list, &r, err, errlen);
    if (rc != TQ_OK)
        return rc;
    char role[256];
    size_t rl = strcspn(r.body, "\r\n");
    if (rl == 0 || rl >= sizeof role) {
        snprintf(err, errlen,
                 "EC2 instance metadata: %s%s lists no IAM role; attach an "
                 "instance profile to the instance",
                 base, list);
        host_aws_resp_free(&r);
        return TQ_E_IO;
    }
    memcpy(role, r.body, rl);
    role[rl] = '\0';
    host_aws_resp_free(&r);

    char path[512];
    snprintf(path, sizeof path, "%s%s", list, role);
    if ((rc = imds_get(base, path, &r, err, errlen)) != TQ_OK)
        return rc;
    json_error_t je;
    json_t *j = json_loadb(r.body, r.len, 0, &je);
    host_aws_resp_free(&r);
    const char *code = json_string_value(json_object_get(j, "Code"));
    const char *akid = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *sec = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *tok = json_string_value(json_object_get(j, "Token"));
    const char *exp = json_string_value(json_object_get(j, "Expiration"));
    time_t expires = parse_rfc3339(exp);
    if (!j || (code && strcmp(code, "Success")) || !akid || !sec ||
        !expires) {
        snprintf(err, errlen,
                 "EC2 instance metadata: credentials of role %s are not "
                 "usable (Code %s, %s%s%s%s)",
                 role, code ? code : "absent", !j ? je.text : "",
                 akid ? "" : " no AccessKeyId",
                 sec ? "" : " no SecretAccessKey",
                 expires ? "" : " no valid Expiration");
        json_decref(j);
        return TQ_E_IO;
    }
    rc = set_creds(out, akid, sec, tok, "imds", err, errlen);
    out->expires = expires;
    json_decref(j);
    return rc;
}

int host_aws_credentials(host_aws_creds *out, char *err, size_t errlen)
{
    *out = (host_aws_creds){0};
    pthread_mutex_lock(&mu);
    if (conf.akid && conf.secret) {
        int rc = set_creds(out, conf.akid, conf.secret, conf.token,
                           "manifest", err, errlen);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    const char *ea = getenv("AWS_ACCESS_KEY_ID");
    const char *es = getenv("AWS_SECRET_ACCESS_KEY");
    if (ea && *ea && es && *es) {
        const char *et = getenv("AWS_SESSION_TOKEN");
        int rc = set_creds(out, ea, es, et && *et ? et : NULL, "environment",
                           err, errlen);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    if (env_true("AWS_EC2_METADATA_DISABLED")) {
        pthread_mutex_unlock(&mu);
        snprintf(err, errlen,
                 "no AWS credentials: set the manifest's aws.access_key_id "
                 "and aws.secret_access_key, or AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY (instance metadata is disabled by "
                 "AWS_EC2_METADATA_DISABLED)");
        return TQ_E_NOTFOUND;
    }

    for (;;) {
        time_t now = time(NULL);
        bool valid = cached.access_key[0] && cached.expires > now + 10;
        if (valid && (cached.expires - now > REFRESH_MARGIN_S || refreshing)) {
            *out = cached;
            pthread_mutex_unlock(&mu);
            return TQ_OK;
        }
        if (!refreshing)
            break;
        /* Someone is fetching and we have nothing valid: wait for them. */
        pthread_cond_wait(&refreshed, &mu);
    }
    refreshing = true;
    pthread_mutex_unlock(&mu);

    host_aws_creds fresh;
    int rc = imds_fetch(&fresh, err, errlen);

    pthread_mutex_lock(&mu);
    refreshing = false;
    time_t now = time(NULL);
    if (rc == TQ_OK) {
        cached = fresh;
        *out = fresh;
    } else if (cached.access_key[0] && cached.expires > now + 10) {
        host_log(TQ_LOG_WARN,
                 "aws: refreshing instance credentials failed, using the "
                 "current ones until they expire in %lds: %s",
                 (long)(cached.expires - now), err);
        *out = cached;
        rc = TQ_OK;
    }
    pthread_cond_broadcast(&refreshed);
    pthread_mutex_unlock(&mu);
    host_aws_creds_wipe(&fresh);
    return rc;
}
