/*
 * password.c - hashing and checking passwords with the configured scrypt
 * parameters, a bounded number at a time.
 *
 * One scrypt run at the OWASP minimum takes 128 MiB and a few hundred
 * milliseconds of one core.  Handlers already run on worker threads (never
 * on the I/O threads), but unbounded, a burst of logins would take
 * workers x 128 MiB and starve every other route of CPU; so each run holds
 * one of hash_concurrency slots.  A worker waits at most hash_wait_ms
 * (5 s) for a slot, then the request answers 503 with Retry-After rather than queueing
 * behind an attacker's burst for the whole request timeout.
 *
 * Memory: callers own every buffer; nothing is allocated.
 */
#include "host.h"
#include "auth.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int take_slot(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* sem_timedwait's clock */
    long long ns = until.tv_nsec + (long long)host_auth.hash_wait_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    while (sem_timedwait(&host_auth.hash_slots, &until) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == ETIMEDOUT) {
            host_log(TQ_LOG_WARN,
                     "auth: all %d password hashing slots busy for %d ms; "
                     "answering 503 (raise auth.hash_concurrency if the "
                     "machine has the cores and memory)",
                     host_auth.hash_concurrency, host_auth.hash_wait_ms);
            return TQ_E_UNAVAILABLE;
        }
        host_log(TQ_LOG_ERROR, "auth: sem_timedwait: %s", strerror(errno));
        return TQ_ERR;
    }
    return TQ_OK;
}

static void give_slot(void) { sem_post(&host_auth.hash_slots); }

int host_auth_password_hash(const char *pass, char out[HOST_PHC_MAX])
{
    if (!host_auth.ready)
        return TQ_E_STATE;
    int rc = take_slot();
    if (rc != TQ_OK)
        return rc;
    rc = host_phc_hash(pass, strlen(pass), host_auth.scrypt_n,
                       host_auth.scrypt_r, host_auth.scrypt_p, out,
                       HOST_PHC_MAX);
    give_slot();
    if (rc != TQ_OK)
        host_log(TQ_LOG_ERROR, "auth: scrypt failed (n=%llu r=%u p=%u): out "
                               "of memory?",
                 (unsigned long long)host_auth.scrypt_n, host_auth.scrypt_r,
                 host_auth.scrypt_p);
    return rc;
}

int host_auth_password_check(const char *pass, const char *stored,
                             bool *rehash)
{
    *rehash = false;
    if (!host_auth.ready)
        return TQ_E_STATE;
    host_phc h;
    bool dummy = stored == NULL;
    if (host_phc_decode(dummy ? host_auth.dummy_phc : stored, &h) != TQ_OK) {
        host_log(TQ_LOG_ERROR,
                 "auth: a stored password hash is not a PHC scrypt string "
                 "(\"%.14s...\"); the user must reset the password",
                 dummy ? "(dummy)" : stored);
        return TQ_ERR;
    }
    int rc = take_slot();
    if (rc != TQ_OK)
        return rc;
    rc = host_phc_verify(pass, strlen(pass), &h);
    give_slot();
    if (rc < 0) {
        host_log(TQ_LOG_ERROR, "auth: scrypt failed (n=%llu r=%u p=%u)",
                 (unsigned long long)h.n, h.r, h.p);
        return TQ_ERR;
    }
    if (dummy)
        return 0;
    *rehash = rc == 1 &&
              (h.n != host_auth.scrypt_n || h.r != host_auth.scrypt_r ||
               h.p != host_auth.scrypt_p || h.hash_len != HOST_PHC_HASH_LEN ||
               h.salt_len != HOST_PHC_SALT_LEN);
    return rc;
}

int host_auth_hash_fail(tq_req *req, int rc)
{
    if (rc != TQ_E_UNAVAILABLE)
        return tq_fail(req, rc == TQ_E_STATE ? TQ_ERR : rc);
    tq_set_header(req, "Retry-After", "1");
    return tq_error(req, 503, "unavailable", NULL,
                    "the server is busy checking passwords; retry shortly");
}
