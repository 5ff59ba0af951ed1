/*
 * aws.h - the host's AWS client, shared by every host module that talks to
 * AWS (the object store, the aws-sm config resolver, later SES): one SigV4
 * signer, one credential provider, one HTTP client with retries, S3 object
 * calls and Secrets Manager.  Plugins never see this header; they reach S3
 * through the store slots of struct tq_api (tq_store_*).
 *
 * Memory: every char * a function here returns through an out parameter is
 * malloc'd and belongs to the caller (free()), unless it says "static".
 * Structs with an _out/_resp suffix are released with their *_free().
 * Error texts are written into caller buffers (err, errlen) and name the
 * service, the operation, the value at fault and, where there is one, the
 * fix.
 */
#ifndef TASQLY_HOST_AWS_H
#define TASQLY_HOST_AWS_H

#include "host.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* ------------------------------------------------------------ signing */

#define HOST_AWS_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST_AWS_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct host_aws_creds {
    char access_key[128];
    char secret_key[128];
    char token[4096];   /* session token; "" when none */
    time_t expires;     /* 0: never (static keys) */
    const char *source; /* static: "manifest", "environment", "imds" */
} host_aws_creds;

/*
 * One request to sign.  Every string is raw (not percent-encoded): the
 * signer encodes path and query exactly as SigV4 specifies, so callers
 * never pre-encode.  For S3 (s3 = true) the path is encoded once and not
 * normalised, as S3 requires; for every other service it is normalised
 * (dot segments and empty segments removed) and encoded twice in the
 * canonical request, as the SigV4 specification says.
 */
typedef struct host_sigv4_req {
    const char *method;        /* "GET" */
    const char *host;          /* Host header: "b.s3.amazonaws.com" */
    const char *path;          /* "/bucket/my key.jpg"; NULL or "" means "/" */
    const host_kv *query;      /* decoded name=value pairs (value "" allowed) */
    int nquery;
    const host_kv *headers;    /* further headers to sign and send (any case) */
    int nheaders;
    const char *payload_hash;  /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD;
                                  NULL: the empty body's hash (header signing),
                                  UNSIGNED-PAYLOAD (S3 presigning) */
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3", "secretsmanager", "ses" */
    const char *amz_date;      /* "20130524T000000Z" (host_aws_amz_date()) */
    bool s3;                   /* S3 path rules + x-amz-content-sha256 header */
    bool path_is_encoded;      /* path is already the URL's path (as sent on
                                  the wire); used as is, encoded once more
                                  in the canonical request (not for S3) */
} host_sigv4_req;

typedef struct host_sigv4_out {
    char *canonical_request;   /* for tests and debug logs */
    char *string_to_sign;
    char signature[65];        /* lowercase hex */
    char *authorization;       /* header signing: the Authorization value */
    char *url_path;            /* the path for the URL (encoded once) */
    char *url_query;           /* query for the URL, sorted, "" when none;
                                  presigning: ends with &X-Amz-Signature=... */
    /* Header signing: headers the caller must send besides its own
     * (X-Amz-Date, X-Amz-Content-Sha256 for S3, X-Amz-Security-Token). */
    host_kv added[3];
    int nadded;
    char amz_date[17];
    char *added_store;         /* backing store of added[] */
} host_sigv4_out;

/* "20130524T000000Z" for t (UTC) into out[17]. */
void host_aws_amz_date(time_t t, char out[17]);
/* Lowercase hex SHA-256 of data into out[65]. */
void host_aws_sha256_hex(const void *data, size_t len, char out[65]);
/* The SigV4 signing key (32 bytes) for secret/date(YYYYMMDD)/region/service. */
int host_sigv4_signing_key(const char *secret, const char *date8,
                           const char *region, const char *service,
                           unsigned char out[32]);
/* AWS's URI-encode: every byte but A-Za-z0-9-_.~ as %XY (uppercase);
 * '/' kept when keep_slash.  Returns malloc'd text or NULL (no memory). */
char *host_aws_uri_encode(const char *s, size_t len, bool keep_slash);

/* Sign with the Authorization header.  0, or TQ_E_INVALID / TQ_E_NOMEM
 * with out zeroed.  out is released with host_sigv4_out_free(). */
int host_sigv4_sign(const host_sigv4_req *r, const host_aws_creds *c,
                    host_sigv4_out *out);
/* Pre-sign into a query string valid expires_s seconds (1..604800). */
int host_sigv4_presign(const host_sigv4_req *r, const host_aws_creds *c,
                       int expires_s, host_sigv4_out *out);
void host_sigv4_out_free(host_sigv4_out *out);

/* -------------------------------------------------------- credentials */

/* Where credentials come from, in this order: the manifest's aws: keys
 * (both set), the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN environment variables, then EC2 instance metadata
 * (IMDSv2) unless AWS_EC2_METADATA_DISABLED=true. */
typedef struct host_aws_conf {
    const char *region;           /* NULL: AWS_REGION, ..., us-east-1 */
    const char *access_key_id;    /* manifest; NULL when absent */
    const char *secret_access_key;
    const char *session_token;
    const char *imds_endpoint;    /* NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT
                                     or http://169.254.169.254 */
    int connect_timeout_ms;       /* 2000 */
    int timeout_ms;               /* 15000 per attempt */
    int max_attempts;             /* 3 */
} host_aws_conf;

/* Set the client's settings (copied) and drop cached credentials.  Not
 * thread-safe against requests in flight: call at start-up. */
int host_aws_configure(const host_aws_conf *conf);
/* Current credentials into *out (a copy), refreshing from IMDS when they
 * expire within five minutes.  Thread-safe.  0, or TQ_E_NOTFOUND (no
 * source has any) / TQ_E_IO (IMDS failed) with err set. */
int host_aws_credentials(host_aws_creds *out, char *err, size_t errlen);
const char *host_aws_region(void); /* static, never NULL */
/* Release cached state (at exit). */
void host_aws_shutdown(void);
/* Zero a credentials copy once it is no longer needed. */
void host_aws_creds_wipe(host_aws_creds *c);
/* The configured timeouts and attempt count (defaults filled in). */
void host_aws_limits(int *connect_timeout_ms, int *timeout_ms,
                     int *max_attempts);

/* ------------------------------------------------------------- client */

/* One unsigned HTTP exchange (IMDS, and the transport under every signed
 * call).  headers are sent as given. */
typedef struct host_aws_http_req {
    const char *method, *url;
    const host_kv *headers; int nheaders;
    const void *body; size_t body_len;
    int connect_timeout_ms, timeout_ms; /* <= 0: 2000 / 15000 */
    size_t max_response;                /* 0: 1 MiB */
    const char *what;                   /* for messages */
} host_aws_http_req;

/* Why a transfer failed, for callers that explain it (IMDS hop limit). */
typedef struct host_aws_http_fail {
    int curl_code;
    bool connected;  /* the TCP connection was made */
    bool timed_out;
} host_aws_http_fail;

typedef struct host_aws_call {
    const char *service;       /* "s3": also chooses S3 signing rules */
    const char *region;        /* NULL: host_aws_region() */
    const char *method;
    const char *endpoint;      /* "https://s3.us-east-1.amazonaws.com" */
    const char *host;          /* NULL: from endpoint (virtual-host S3) */
    const char *path;          /* raw */
    const host_kv *query; int nquery;
    const host_kv *headers; int nheaders; /* signed and sent */
    const void *body; size_t body_len;
    size_t max_response;       /* bytes kept of the body; 0: 1 MiB */
    const char *what;          /* "S3 PutObject media/x.jpg": for messages */
} host_aws_call;

typedef struct host_aws_resp {
    long status;               /* HTTP status; 0 when nothing answered */
    char *body; size_t len;    /* NUL-terminated */
    char *content_type;        /* or NULL */
    char *error_code;          /* "NoSuchBucket" (from the body) or NULL */
    int attempts;
} host_aws_resp;

/*
 * Sign and send, retrying with exponential backoff and full jitter on
 * connection errors, timeouts, 5xx, 429 and throttling codes, at most
 * max_attempts times (each attempt signed afresh).  Returns 0 for a 2xx;
 * otherwise err holds one sentence naming the call, the endpoint, the
 * status, the AWS error code and message, and the result says what kind
 * of failure it was:
 *   TQ_E_UNAVAILABLE  nothing answered (connection refused, timeout), or
 *                     503 / 429 / throttling after every attempt: answer 503
 *   TQ_E_NOTFOUND     404 (resp->error_code tells NoSuchKey from NoSuchBucket)
 *   TQ_E_IO           any other error answer (403 AccessDenied, 500...): 502
 *   TQ_E_INVALID      bad endpoint, unsignable request, response too large
 * resp is filled whenever something answered (free with host_aws_resp_free).
 */
int host_aws_send(const host_aws_call *call, host_aws_resp *resp, char *err,
                  size_t errlen);
void host_aws_resp_free(host_aws_resp *resp);

/* 0 with any HTTP answer in resp (whatever its status); TQ_E_UNAVAILABLE
 * when nothing answered (err says why, fail details it); TQ_E_INVALID
 * when the body exceeded max_response (never buffered beyond it). */
int host_aws_http(const host_aws_http_req *r, host_aws_resp *resp,
                  host_aws_http_fail *fail, char *err, size_t errlen);

/* "https://Host:443/" -> scheme "https", host "host" (lowercased, default
 * port dropped, as AWS SDKs sign it).  TQ_E_INVALID for anything but
 * http(s)://authority[/]. */
int host_aws_parse_endpoint(const char *endpoint, char *scheme,
                            size_t schemelen, char *host, size_t hostlen);

/* Pull <Code>/<Message> (XML) or __type/message (JSON) out of an AWS error
 * body.  Copies into code/msg (possibly empty). */
void host_aws_parse_error(const char *body, size_t len, char *code,
                          size_t codelen, char *msg, size_t msglen);

/* ----------------------------------------------------------------- S3 */

/* What went wrong, for the log (msg: names bucket, key, endpoint) and for
 * a client (code and status only: "NoSuchBucket", 404). */
typedef struct host_aws_err {
    char msg[1024];
    char code[96];  /* AWS error code, "" when none */
    long status;    /* HTTP status, 0 when nothing answered */
} host_aws_err;

typedef struct host_s3_conf {
    const char *bucket;
    const char *region;        /* NULL: host_aws_region() */
    const char *endpoint;      /* NULL: https://s3.<region>.amazonaws.com */
    bool path_style;           /* endpoint/bucket/key, not bucket.endpoint/key */
} host_s3_conf;

/* Results as host_aws_send(), except that a missing bucket (NoSuchBucket)
 * is TQ_E_IO: the operator's mistake, not a missing object. */
int host_s3_put(const host_s3_conf *s, const char *key, const void *data,
                size_t len, const char *content_type, host_aws_err *e);
/* *data malloc'd (caller frees), at most max bytes (TQ_E_INVALID beyond). */
int host_s3_get(const host_s3_conf *s, const char *key, size_t max,
                void **data, size_t *len, host_aws_err *e);
/* Deleting an absent key succeeds, as in S3. */
int host_s3_delete(const host_s3_conf *s, const char *key, host_aws_err *e);
/* A pre-signed GET URL valid ttl_s seconds from now (never beyond the
 * signing credentials' expiry); *url malloc'd. */
int host_s3_presign_get(const host_s3_conf *s, const char *key, int ttl_s,
                        time_t now, char **url, host_aws_err *e);

/* ------------------------------------------------------ Secrets Manager */

/* SecretString of secret_id (an ARN or a name); *value malloc'd.  The
 * region is taken from an ARN when it has one.  endpoint NULL: the
 * public one for the region (AWS_ENDPOINT_URL_SECRETS_MANAGER overrides). */
int host_secrets_get(const char *secret_id, const char *endpoint,
                     char **value, char *err, size_t errlen);
/* Drop (and wipe) the cached secrets. */
void host_secrets_forget(void);
/* The "aws-sm" manifest resolver (host_config_resolver): arg is
 * "SECRET_ID" (the SecretString) or "SECRET_ID#KEY" (member KEY of a
 * SecretString holding a JSON object); *out malloc'd. */
int host_aws_sm_resolve(const char *arg, char **out, char *err,
                        size_t errlen);

#endif
