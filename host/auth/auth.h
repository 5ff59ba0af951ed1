/*
 * auth.h - what the files of host/auth/ share with each other.  Nothing
 * outside host/auth/ includes this: the rest of the host sees only the
 * three host_auth_* entry points in host.h.
 *
 * The crypto files (b64.c, scrypt_phc.c, jwt.c) call OpenSSL and libc
 * alone (tasqly.h is included for its types), so unit tests compile them
 * without the rest of the host.  The
 * route files are ordinary SDK handlers.
 *
 * Memory: every function here writes into buffers its caller owns, or into
 * the request arena; host_auth_state is set once by host_auth_init() and
 * read-only afterwards.
 */
#ifndef TASQLY_HOST_AUTH_H
#define TASQLY_HOST_AUTH_H

#include <tasqly/tasqly.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- b64.c */

/* Characters needed for n bytes, unpadded. */
#define HOST_B64_LEN(n) (((n) * 4 + 2) / 3)
/* Encode without padding into out (HOST_B64_LEN(n) + 1 bytes, NUL added);
 * url picks the base64url alphabet (RFC 4648 section 5).  Returns the
 * length written. */
size_t host_b64_encode(char *out, const void *in, size_t n, bool url);
/* Strict decode of unpadded text: no '=', no whitespace, no stray bits in
 * the last character (so every byte string has exactly one encoding).
 * Returns the decoded length, or -1 when in is not canonical or does not
 * fit in cap bytes. */
ssize_t host_b64_decode(void *out, size_t cap, const char *in, size_t n,
                        bool url);

/* --------------------------------------------------------- scrypt_phc.c */

#define HOST_PHC_SALT_LEN 16  /* bytes we generate */
#define HOST_PHC_HASH_LEN 32  /* bytes we generate */
#define HOST_PHC_MAX_BYTES 64 /* longest salt or hash we accept */
#define HOST_PHC_MAX 192      /* longest PHC string, with its NUL */

typedef struct host_phc {
    uint64_t n;        /* CPU/memory cost, a power of two >= 2 */
    uint32_t r, p;     /* block size, parallelism */
    unsigned char salt[HOST_PHC_MAX_BYTES];
    size_t salt_len;
    unsigned char hash[HOST_PHC_MAX_BYTES];
    size_t hash_len;
} host_phc;

/* scrypt (RFC 7914) through OpenSSL; 0 or TQ_ERR (parameters refused or
 * out of memory).  Costs 128 * r * n bytes and matching CPU time. */
int host_scrypt(const void *pass, size_t pass_len, const void *salt,
                size_t salt_len, uint64_t n, uint32_t r, uint32_t p,
                unsigned char *out, size_t out_len);
/* Whether n, r, p are parameters we run: n a power of two in [2, 2^24],
 * 1 <= r, p and 128 * r * n, 128 * r * p within 1 GiB. */
bool host_scrypt_params_ok(uint64_t n, uint32_t r, uint32_t p);
/* "$scrypt$ln=17,r=8,p=1$<salt>$<hash>", standard base64 unpadded (the PHC
 * string format).  0, or TQ_ERR when outlen is too small. */
int host_phc_encode(const host_phc *h, char *out, size_t outlen);
/* Parse a PHC scrypt string strictly; 0 or TQ_ERR. */
int host_phc_decode(const char *s, host_phc *h);
/* Hash pass with a fresh random salt into a PHC string; 0 or TQ_ERR. */
int host_phc_hash(const void *pass, size_t pass_len, uint64_t n, uint32_t r,
                  uint32_t p, char *out, size_t outlen);
/* Recompute and compare in constant time: 1 match, 0 mismatch, TQ_ERR
 * when the stored string is unreadable or scrypt fails. */
int host_phc_verify(const void *pass, size_t pass_len, const host_phc *h);

/* ---------------------------------------------------------------- jwt.c */

#define HOST_JWT_KID_MAX 64
#define HOST_JWT_MAX 512        /* longest token we mint or accept */
#define HOST_JWT_MIN_SECRET 32  /* bytes */

/* One signing key.  The header is fixed per key, pre-encoded once. */
typedef struct host_jwt_key {
    char kid[HOST_JWT_KID_MAX + 1];
    char header[144];          /* base64url of {"alg":"HS256",...} */
    size_t header_len;
    EVP_MAC_CTX *mac;          /* keyed template, owned */
    pthread_key_t tls;         /* per-thread copy of mac */
    bool ready;
} host_jwt_key;

/* Reasons a token is refused (all answer 401; the reason goes to logs). */
enum {
    HOST_JWT_OK = 0,
    HOST_JWT_MALFORMED = -1, /* not three base64url parts, too long */
    HOST_JWT_HEADER = -2,    /* alg other than HS256, unknown kid */
    HOST_JWT_SIGNATURE = -3, /* HMAC does not match */
    HOST_JWT_CLAIMS = -4,    /* payload unreadable, sub not a uuid */
    HOST_JWT_EXPIRED = -5,   /* exp <= now */
    HOST_JWT_FUTURE = -6,    /* iat more than a minute ahead */
    HOST_JWT_INTERNAL = -7,  /* OpenSSL failed */
};

/* kid: 1-64 of [A-Za-z0-9._-]; secret >= 32 bytes.  0 or TQ_ERR. */
int host_jwt_key_init(host_jwt_key *k, const char *kid, const void *secret,
                      size_t secret_len);
void host_jwt_key_free(host_jwt_key *k);
/* Mint {"sub":sub,"iat":iat,"exp":exp}; sub must be a uuid.  Writes a NUL
 * terminated token (< HOST_JWT_MAX) and returns 0, or TQ_ERR. */
int host_jwt_sign(const host_jwt_key *k, const char *sub, int64_t iat,
                  int64_t exp, char *out, size_t outlen);
/* Verify tok (len bytes) against any of keys: HOST_JWT_OK and the subject
 * in sub (37 bytes), or a negative HOST_JWT_* reason.  Allocates nothing
 * after the first call on a thread. */
int host_jwt_verify(const host_jwt_key *const *keys, int nkeys,
                    const char *tok, size_t len, int64_t now, char sub[37]);
const char *host_jwt_reason(int rc);

/* --------------------------------------------------------------- init.c */

typedef struct host_auth_state {
    host_jwt_key current, previous; /* previous.ready false when none */
    const host_jwt_key *verify_keys[2];
    int nverify;
    int access_ttl_s, refresh_ttl_s;
    uint64_t scrypt_n;
    uint32_t scrypt_r, scrypt_p;
    sem_t hash_slots;              /* bounds concurrent scrypt runs */
    int hash_concurrency;
    int hash_wait_ms;              /* for a slot, then 503 */
    /* Rate limits: failures (login) or requests (reset, register) per
     * window. */
    int login_fail_per_email, login_fail_per_addr, login_window_s;
    int reset_per_email, reset_window_s;
    int register_per_addr, register_window_s; /* registrations (hashes) */
    /* A well-formed hash of nothing, for logins with an unknown email. */
    char dummy_phc[HOST_PHC_MAX];
    bool ready;
} host_auth_state;

extern host_auth_state host_auth;

/* ----------------------------------------------------------- password.c */

/* Hash a new password with the configured parameters, holding one of the
 * hashing slots.  0, TQ_E_UNAVAILABLE (no slot within the wait) or TQ_ERR. */
int host_auth_password_hash(const char *pass, char out[HOST_PHC_MAX]);
/* Check pass against stored (NULL: spend the same work on the dummy and
 * fail).  Returns 1 match, 0 mismatch, or a negative TQ_E_* code;
 * *rehash says the stored parameters differ from the configured ones. */
int host_auth_password_check(const char *pass, const char *stored,
                             bool *rehash);
/* The response for a failed hash or check: 503 with Retry-After when no
 * slot came free, 500 otherwise.  Returns the status. */
int host_auth_hash_fail(tq_req *req, int rc);

/* ----------------------------------------------------------- validate.c */

/* Each reads one body field, checks it, and returns 0 with *out set, or a
 * 400 validation_failed naming the field (a response is set). */
int host_auth_get_email(tq_req *req, const char *field, const char **out);
int host_auth_get_new_password(tq_req *req, const char *field,
                               const char **out);
int host_auth_get_display_name(tq_req *req, const char *field, int required,
                               const char **out);

/* ------------------------------------------------------------- tokens.c */

#define HOST_TOKEN_BYTES 32 /* refresh and reset tokens: 256 bits */
#define HOST_TOKEN_LEN HOST_B64_LEN(HOST_TOKEN_BYTES) /* 43 */

/* A fresh random token (base64url, NUL-terminated) and the hex SHA-256
 * that is all the database ever stores.  0 or TQ_ERR. */
int host_auth_new_token(char token[HOST_TOKEN_LEN + 1], char hash_hex[65]);
/* Hex SHA-256 of a token a client sent; false when it cannot be one of
 * ours (wrong length or alphabet), which callers treat as unknown. */
bool host_auth_token_hash(const char *token, char hash_hex[65]);

/* ------------------------------------------------------------ session.c */

/* A new sign-in for user_id: a refresh token in a new family, stored in
 * the request's transaction, and an access token, as {access_token,
 * refresh_token, token_type, expires_in}; *out is a new reference.  0 or
 * a TQ_E_* code (nothing set on the response). */
int host_auth_issue(tq_req *req, const char *user_id, json_t **out);
/* Spend the live refresh token whose SHA-256 is old_hash and store its
 * successor in the same family, in one autocommit statement; *out as
 * above.  TQ_E_NOTFOUND when no live token has that hash. */
int host_auth_rotate(tq_req *req, const char *old_hash, json_t **out);
/* SQL column list of the user object every route answers with. */
#define HOST_AUTH_USER_COLS \
    "id, email, display_name, avatar_media_id, created_at, updated_at"

/* ------------------------------------------------------------- sql_now.c */

/*
 * Run one statement now, in autocommit, outside the request's transaction:
 * for writes that must stick although the handler then answers 4xx (login
 * failure counters, revoking a refresh-token family on reuse).  Only valid
 * before the handler's first tq_sql() (the transaction would otherwise be
 * open on the same connection): returns TQ_E_STATE then.
 */
int host_auth_exec_now(tq_req *req, tq_res **out, const char *sql, int n,
                       const char *const *params);
#define host_auth_sql_now(req, res, sql, ...)                               \
    host_auth_exec_now((req), (res), (sql),                                 \
                       (int)(sizeof((const char *const[]){NULL, __VA_ARGS__}) \
                             / sizeof(const char *)) - 1,                   \
                       ((const char *const[]){NULL, __VA_ARGS__}) + 1)

/* ----------------------------------------------------------- ratelimit.c */

/* The client's address: the socket's, or the last X-Forwarded-For hop
 * when the manifest trusts the proxy.  Borrowed from the request. */
const char *host_auth_client_addr(tq_req *req);
/* 0 when none of keys[i] has reached limits[i] within windows_s[i];
 * otherwise sets 429 with Retry-After and returns 429 (or the status of
 * tq_fail() when the database failed). */
int host_auth_rl_check(tq_req *req, int n, const char *const *keys,
                       const int *limits, const int *windows_s);
/* Count one hit for key, in autocommit; 0 or a TQ_E_* code. */
int host_auth_rl_hit(tq_req *req, const char *key, int window_s);
/* Forget key (a successful login clears its email's failures). */
int host_auth_rl_clear(tq_req *req, const char *key);

/* ------------------------------------------------------- route handlers */

int host_auth_route_register(tq_req *req);   /* routes_register.c */
int host_auth_route_login(tq_req *req);      /* routes_login.c */
int host_auth_route_refresh(tq_req *req);    /* routes_refresh.c */
int host_auth_route_logout(tq_req *req);     /* routes_logout.c */
int host_auth_route_reset(tq_req *req);      /* routes_password_reset.c */
int host_auth_route_reset_confirm(tq_req *req);
int host_auth_route_me_get(tq_req *req);     /* routes_me.c */
int host_auth_route_me_patch(tq_req *req);

/* migrations.c: the core's auth tables and views. */
int host_auth_migrations(tq_plugin *core);
/* cleanup.c: the periodic job deleting expired tokens and windows. */
int host_auth_cleanup(tq_req *ctx);

#endif
