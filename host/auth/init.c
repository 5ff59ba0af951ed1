/*
 * init.c - host_auth_init(): the signing secrets, token lifetimes, scrypt
 * parameters, the hashing slots and the rate limits, checked once at
 * start-up so that a bad value stops the host with a message naming the
 * setting, the value and the fix, instead of failing requests later.
 *
 * The token secret comes from the manifest (auth.token_secret, its bytes
 * used as the HMAC key).  Without one, the host keeps a generated secret
 * in <var_dir>/token_secret (mode 0600, 48 random bytes as base64url) so
 * tokens survive restarts of a development host; several replicas must
 * share a configured secret instead.
 *
 * Memory: host_auth (a global) owns the keys and the semaphore; the
 * config strings are only read.
 */
#include "host.h"
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

host_auth_state host_auth;

#define SECRET_FILE "token_secret"
#define SECRET_RANDOM_BYTES 48
#define SECRET_FILE_MAX 4096

/* OWASP Password Storage Cheat Sheet, scrypt minimum. */
#define OWASP_N 131072
#define OWASP_R 8
#define OWASP_P 1

/* Read a secret file: regular, not a symlink, at most 4 KiB; trailing
 * whitespace (an editor's newline) is not part of the secret. */
static int read_secret(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return TQ_E_NOTFOUND;
    if (fd < 0) {
        host_log(TQ_LOG_ERROR,
                 "auth: cannot open %s: %s; fix its permissions, or set "
                 "auth.token_secret",
                 path, strerror(errno));
        return TQ_ERR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        host_log(TQ_LOG_ERROR,
                 "auth: %s is not a regular file; remove it to have a new "
                 "token secret generated, or set auth.token_secret",
                 path);
        close(fd);
        return TQ_ERR;
    }
    if (st.st_mode & 077)
        host_log(TQ_LOG_WARN,
                 "auth: %s is readable by other users (mode %03o); "
                 "run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 0777), path);
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            host_log(TQ_LOG_ERROR, "auth: reading %s: %s", path,
                     strerror(errno));
            close(fd);
            return TQ_ERR;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n == cap) {
        host_log(TQ_LOG_ERROR, "auth: %s is larger than %zu bytes; a token "
                               "secret is 32 to a few hundred bytes",
                 path, cap - 1);
        return TQ_ERR;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    *len = n;
    return TQ_OK;
}

/* Create <var_dir>/token_secret; O_EXCL so two hosts starting together on
 * one var_dir agree on whichever wrote first. */
static int create_secret(const char *dir, const char *path)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        host_log(TQ_LOG_ERROR,
                 "auth: cannot create %s for the token secret: %s; create "
                 "it or set paths.var_dir",
                 dir, strerror(errno));
        return TQ_ERR;
    }
    unsigned char raw[SECRET_RANDOM_BYTES];
    char text[HOST_B64_LEN(SECRET_RANDOM_BYTES) + 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return TQ_ERR;
    size_t n = host_b64_encode(text, raw, sizeof raw, true);
    OPENSSL_cleanse(raw, sizeof raw);
    text[n++] = '\n';

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (fd < 0) {
        OPENSSL_cleanse(text, sizeof text);
        if (errno == EEXIST)
            return TQ_OK; /* someone else won; read theirs */
        host_log(TQ_LOG_ERROR, "auth: cannot create %s: %s", path,
                 strerror(errno));
        return TQ_ERR;
    }
    bool ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    OPENSSL_cleanse(text, sizeof text);
    if (close(fd) != 0)
        ok = false;
    if (!ok) {
        host_log(TQ_LOG_ERROR,
                 "auth: writing %s failed: %s; remove the file and restart",
                 path, strerror(errno));
        unlink(path);
        return TQ_ERR;
    }
    host_log(TQ_LOG_INFO,
             "auth: generated a token secret in %s (set auth.token_secret "
             "when several replicas must accept each other's tokens)",
             path);
    return TQ_OK;
}

static int generated_secret(const host_config *c, char *buf, size_t cap,
                            size_t *len)
{
    const char *dir = c->var_dir && *c->var_dir ? c->var_dir : "var";
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, SECRET_FILE) >=
        sizeof path)
        return TQ_ERR;
    int rc = read_secret(path, buf, cap, len);
    if (rc == TQ_E_NOTFOUND) {
        if (create_secret(dir, path) != TQ_OK)
            return TQ_ERR;
        rc = read_secret(path, buf, cap, len);
    }
    if (rc != TQ_OK)
        return TQ_ERR; /* read_secret said why */
    if (*len < HOST_JWT_MIN_SECRET) {
        host_log(TQ_LOG_ERROR,
                 "auth: %s holds %zu bytes; a token secret needs at least "
                 "%d; remove the file to have a new one generated",
                 path, *len, HOST_JWT_MIN_SECRET);
        return TQ_ERR;
    }
    return TQ_OK;
}

static int init_key(host_jwt_key *k, const char *setting, const char *kid,
                    const char *kid_setting, const char *secret, size_t len)
{
    if (len < HOST_JWT_MIN_SECRET) {
        host_log(TQ_LOG_ERROR,
                 "auth.%s is %zu bytes; HS256 needs at least %d random "
                 "bytes: generate one with `openssl rand -base64 48`",
                 setting, len, HOST_JWT_MIN_SECRET);
        return TQ_ERR;
    }
    if (host_jwt_key_init(k, kid, secret, len) != TQ_OK) {
        host_log(TQ_LOG_ERROR,
                 "auth.%s is \"%s\"; a key id is 1 to %d characters of "
                 "A-Z a-z 0-9 . _ -",
                 kid_setting, kid, HOST_JWT_KID_MAX);
        return TQ_ERR;
    }
    return TQ_OK;
}

static int check_range(const char *setting, long long v, long long lo,
                       long long hi)
{
    if (v >= lo && v <= hi)
        return TQ_OK;
    host_log(TQ_LOG_ERROR, "auth.%s is %lld; it must be from %lld to %lld",
             setting, v, lo, hi);
    return TQ_ERR;
}

static void release(void)
{
    if (!host_auth.ready)
        return;
    host_jwt_key_free(&host_auth.current);
    host_jwt_key_free(&host_auth.previous);
    sem_destroy(&host_auth.hash_slots);
    memset(&host_auth, 0, sizeof host_auth);
}

static int init_keys(const host_config *c, host_auth_state *a)
{
    char buf[SECRET_FILE_MAX + 1];
    const char *secret = c->token_secret;
    size_t len = secret ? strlen(secret) : 0;
    if (!secret) {
        if (generated_secret(c, buf, sizeof buf, &len) != TQ_OK)
            return TQ_ERR;
        secret = buf;
    }
    const char *kid = c->token_kid && *c->token_kid ? c->token_kid : "k1";
    int rc = init_key(&a->current, "token_secret", kid, "token_kid", secret,
                      len);
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc != TQ_OK)
        return rc;
    a->verify_keys[a->nverify++] = &a->current;

    if (!c->previous_secret)
        return TQ_OK;
    if (!c->previous_kid || !*c->previous_kid) {
        host_log(TQ_LOG_ERROR,
                 "auth.previous_secret is set without auth.previous_kid; "
                 "set previous_kid to the kid the old secret signed with");
        return TQ_ERR;
    }
    if (strcmp(c->previous_kid, kid) == 0) {
        host_log(TQ_LOG_ERROR,
                 "auth.previous_kid and auth.token_kid are both \"%s\"; give "
                 "the new secret a new kid (e.g. k2)",
                 kid);
        return TQ_ERR;
    }
    if (init_key(&a->previous, "previous_secret", c->previous_kid,
                 "previous_kid", c->previous_secret,
                 strlen(c->previous_secret)) != TQ_OK)
        return TQ_ERR;
    a->verify_keys[a->nverify++] = &a->previous;
    return TQ_OK;
}

static int init_hashing(const host_config *c, host_auth_state *a)
{
    a->scrypt_n = c->scrypt_n ? c->scrypt_n : OWASP_N;
    a->scrypt_r = c->scrypt_r ? c->scrypt_r : OWASP_R;
    a->scrypt_p = c->scrypt_p ? c->scrypt_p : OWASP_P;
    if (!host_scrypt_params_ok(a->scrypt_n, a->scrypt_r, a->scrypt_p)) {
        host_log(TQ_LOG_ERROR,
                 "auth.scrypt is n=%llu r=%u p=%u; n must be a power of two "
                 "from 2 to 2^24, r and p at least 1, and 128*r*n at most "
                 "1 GiB (OWASP minimum: n=%d r=%d p=%d)",
                 (unsigned long long)a->scrypt_n, a->scrypt_r, a->scrypt_p,
                 OWASP_N, OWASP_R, OWASP_P);
        return TQ_ERR;
    }
    if (a->scrypt_n < OWASP_N || a->scrypt_r < OWASP_R)
        host_log(TQ_LOG_WARN,
                 "auth.scrypt n=%llu r=%u is below the OWASP minimum "
                 "(n=%d r=%d); fine for tests, not for production",
                 (unsigned long long)a->scrypt_n, a->scrypt_r, OWASP_N,
                 OWASP_R);

    a->hash_concurrency = c->hash_concurrency > 0 ? c->hash_concurrency : 2;
    a->hash_wait_ms = 5000;
    if (check_range("hash_concurrency", a->hash_concurrency, 1, 256))
        return TQ_ERR;

    /* The dummy has random salt and hash: checking a password against it
     * costs exactly what checking against a real hash costs, and fails. */
    host_phc d = {.n = a->scrypt_n, .r = a->scrypt_r, .p = a->scrypt_p,
                  .salt_len = HOST_PHC_SALT_LEN,
                  .hash_len = HOST_PHC_HASH_LEN};
    if (RAND_bytes(d.salt, (int)d.salt_len) != 1 ||
        RAND_bytes(d.hash, (int)d.hash_len) != 1 ||
        host_phc_encode(&d, a->dummy_phc, sizeof a->dummy_phc) != TQ_OK)
        return TQ_ERR;
    return TQ_OK;
}

int host_auth_init(const host_config *c)
{
    release();
    host_auth_state *a = &host_auth;

    a->access_ttl_s = c->access_ttl_s > 0 ? c->access_ttl_s : 900;
    a->refresh_ttl_s = c->refresh_ttl_s > 0 ? c->refresh_ttl_s : 30 * 86400;
    if (check_range("access_ttl", a->access_ttl_s, 1, 86400) ||
        check_range("refresh_ttl", a->refresh_ttl_s, a->access_ttl_s,
                    366 * 86400))
        goto fail;

    a->login_fail_per_email =
        c->login_fail_per_email > 0 ? c->login_fail_per_email : 5;
    a->login_fail_per_addr =
        c->login_fail_per_addr > 0 ? c->login_fail_per_addr : 20;
    a->login_window_s = c->login_window_s > 0 ? c->login_window_s : 900;
    a->reset_per_email = c->reset_per_email > 0 ? c->reset_per_email : 3;
    a->reset_window_s = c->reset_window_s > 0 ? c->reset_window_s : 3600;
    a->register_per_addr =
        c->register_per_addr > 0 ? c->register_per_addr : 30;
    a->register_window_s =
        c->register_window_s > 0 ? c->register_window_s : 3600;
    /* Windows end within a day: the cleanup job forgets older ones. */
    if (check_range("rate_limits.login_failures_per_email",
                    a->login_fail_per_email, 1, 100000) ||
        check_range("rate_limits.login_failures_per_address",
                    a->login_fail_per_addr, 1, 100000) ||
        check_range("rate_limits.login_window", a->login_window_s, 1, 86400) ||
        check_range("rate_limits.reset_per_email", a->reset_per_email, 1,
                    100000) ||
        check_range("rate_limits.reset_window", a->reset_window_s, 1, 86400) ||
        check_range("rate_limits.register_per_address", a->register_per_addr,
                    1, 1000000) ||
        check_range("rate_limits.register_window", a->register_window_s, 1,
                    86400))
        goto fail;

    if (init_keys(c, a) != TQ_OK || init_hashing(c, a) != TQ_OK)
        goto fail;
    if (sem_init(&a->hash_slots, 0, (unsigned)a->hash_concurrency) != 0) {
        host_log(TQ_LOG_ERROR, "auth: sem_init(%d): %s", a->hash_concurrency,
                 strerror(errno));
        goto fail;
    }
    a->ready = true;
    return TQ_OK;

fail:
    host_jwt_key_free(&a->current);
    host_jwt_key_free(&a->previous);
    memset(a, 0, sizeof *a);
    return TQ_ERR;
}
