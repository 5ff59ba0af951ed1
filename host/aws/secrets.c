/*
 * secrets.c - Secrets Manager GetSecretValue, and the "aws-sm" manifest
 * resolver built on it: ${aws-sm:SECRET_ID} is the secret's SecretString,
 * ${aws-sm:SECRET_ID#KEY} the member KEY of a SecretString holding a JSON
 * object (how the console stores key/value secrets).
 *
 * The resolver runs while the manifest loads, before the manifest's own
 * aws: settings exist, so it finds credentials in the environment or
 * instance metadata, and the region in the secret's ARN, else AWS_REGION.
 * Each secret is fetched once per process: a manifest naming five keys of
 * one secret makes one call.  The cache owns its strings (wiped on free).
 */
#include "aws/aws.h"

#include <jansson.h>
#include <openssl/crypto.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cached_secret {
    struct cached_secret *next;
    char *id, *value;
} cached_secret;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cached_secret *cache;

/* arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME -> REGION. */
static bool arn_region(const char *id, char *out, size_t outlen)
{
    if (strncmp(id, "arn:", 4) != 0)
        return false;
    const char *p = id;
    for (int i = 0; i < 3; i++) {
        p = strchr(p, ':');
        if (!p)
            return false;
        p++;
    }
    size_t n = strcspn(p, ":");
    if (n == 0 || n >= outlen || !p[n])
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

int host_secrets_get(const char *secret_id, const char *endpoint,
                     char **value, char *err, size_t errlen)
{
    *value = NULL;
    if (!secret_id || !*secret_id || strlen(secret_id) > 2048) {
        snprintf(err, errlen,
                 "Secrets Manager: the secret id is empty or longer than "
                 "2048 bytes; write ${aws-sm:NAME_OR_ARN} or "
                 "${aws-sm:NAME_OR_ARN#KEY}");
        return TQ_E_INVALID;
    }
    pthread_mutex_lock(&mu);
    for (cached_secret *c = cache; c; c = c->next)
        if (!strcmp(c->id, secret_id)) {
            *value = strdup(c->value);
            pthread_mutex_unlock(&mu);
            return *value ? TQ_OK : TQ_E_NOMEM;
        }
    pthread_mutex_unlock(&mu);

    char region[64], ep[512];
    if (!arn_region(secret_id, region, sizeof region))
        snprintf(region, sizeof region, "%s", host_aws_region());
    if (!endpoint || !*endpoint)
        endpoint = getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER");
    if (!endpoint || !*endpoint)
        endpoint = getenv("AWS_ENDPOINT_URL");
    if (endpoint && *endpoint)
        snprintf(ep, sizeof ep, "%s", endpoint);
    else
        snprintf(ep, sizeof ep, "https://secretsmanager.%s.amazonaws.com",
                 region);

    json_t *req = json_pack("{ss}", "SecretId", secret_id);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        snprintf(err, errlen, "Secrets Manager: out of memory");
        return TQ_E_NOMEM;
    }
    char what[2200];
    snprintf(what, sizeof what, "Secrets Manager GetSecretValue %s",
             secret_id);
    host_kv h[] = {{"Content-Type", "application/x-amz-json-1.1"},
                   {"X-Amz-Target", "secretsmanager.GetSecretValue"}};
    host_aws_call call = {.service = "secretsmanager", .region = region,
                          .method = "POST", .endpoint = ep, .path = "/",
                          .headers = h, .nheaders = 2, .body = body,
                          .body_len = strlen(body), .max_response = 1 << 20,
                          .what = what};
    host_aws_resp resp;
    int rc = host_aws_send(&call, &resp, err, errlen);
    free(body);
    if (rc != TQ_OK) {
        if (resp.error_code &&
            !strcmp(resp.error_code, "ResourceNotFoundException")) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n,
                     " (no secret of that name in region %s)", region);
        }
        host_aws_resp_free(&resp);
        return rc;
    }
    json_error_t je;
    json_t *j = json_loadb(resp.body, resp.len, 0, &je);
    OPENSSL_cleanse(resp.body, resp.len);
    host_aws_resp_free(&resp);
    const char *s = json_string_value(json_object_get(j, "SecretString"));
    if (!s) {
        snprintf(err, errlen,
                 "%s: the answer has no SecretString (%s); binary secrets "
                 "are not supported in the manifest",
                 what, j ? "SecretBinary only?" : je.text);
        json_decref(j);
        return TQ_E_INVALID;
    }
    *value = strdup(s);
    cached_secret *c = calloc(1, sizeof *c);
    if (c) {
        c->id = strdup(secret_id);
        c->value = strdup(s);
    }
    const char *sv = json_string_value(json_object_get(j, "SecretString"));
    OPENSSL_cleanse((void *)sv, strlen(sv));
    json_decref(j);
    if (!*value || !c || !c->id || !c->value) {
        free(*value);
        *value = NULL;
        if (c) {
            free(c->id);
            free(c->value);
            free(c);
        }
        snprintf(err, errlen, "%s: out of memory", what);
        return TQ_E_NOMEM;
    }
    pthread_mutex_lock(&mu);
    c->next = cache;
    cache = c;
    pthread_mutex_unlock(&mu);
    return TQ_OK;
}

void host_secrets_forget(void)
{
    pthread_mutex_lock(&mu);
    while (cache) {
        cached_secret *c = cache;
        cache = c->next;
        OPENSSL_cleanse(c->value, strlen(c->value));
        free(c->value);
        free(c->id);
        free(c);
    }
    pthread_mutex_unlock(&mu);
}

int host_aws_sm_resolve(const char *arg, char **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    const char *hash = strchr(arg, '#');
    size_t idlen = hash ? (size_t)(hash - arg) : strlen(arg);
    char *id = strndup(arg, idlen);
    if (!id) {
        snprintf(err, errlen, "aws-sm: out of memory");
        return TQ_E_NOMEM;
    }
    char *value = NULL;
    int rc = host_secrets_get(id, NULL, &value, err, errlen);
    if (rc != TQ_OK || !hash) {
        free(id);
        *out = value;
        return rc;
    }
    const char *key = hash + 1;
    json_t *j = json_loads(value, 0, NULL);
    OPENSSL_cleanse(value, strlen(value));
    free(value);
    json_t *v = json_object_get(j, key);
    if (!json_is_object(j)) {
        snprintf(err, errlen,
                 "aws-sm:%s: the secret is not a JSON object, so it has no "
                 "key \"%s\"; drop \"#%s\" to use the whole secret",
                 id, key, key);
        rc = TQ_E_INVALID;
    } else if (!v) {
        snprintf(err, errlen,
                 "aws-sm:%s: the secret has no key \"%s\" (it has %zu "
                 "keys)",
                 id, key, json_object_size(j));
        rc = TQ_E_NOTFOUND;
    } else if (json_is_string(v)) {
        *out = strdup(json_string_value(v));
    } else if (json_is_integer(v) || json_is_real(v) || json_is_boolean(v)) {
        *out = json_dumps(v, JSON_ENCODE_ANY);
    } else {
        snprintf(err, errlen,
                 "aws-sm:%s#%s: expected a string, number or boolean, got "
                 "%s",
                 id, key, json_is_null(v) ? "null" : "an object or array");
        rc = TQ_E_INVALID;
    }
    if (rc == TQ_OK && !*out) {
        snprintf(err, errlen, "aws-sm: out of memory");
        rc = TQ_E_NOMEM;
    }
    /* Wipe the parsed copy: its strings held the secret. */
    const char *k;
    json_t *m;
    json_object_foreach(j, k, m) if (json_is_string(m))
        OPENSSL_cleanse((void *)json_string_value(m),
                        json_string_length(m));
    json_decref(j);
    free(id);
    return rc;
}
