/*
 * test_auth_init.c - host_auth_init()'s start-up checks and the password
 * helpers on top of it: the generated secret under var/ (created 0600,
 * kept across restarts), refusal of short secrets and bad kids, key
 * rotation, scrypt parameters and defaults, rehash detection, the dummy
 * hash for unknown emails, and the bounded hashing slots.
 *
 * host_log is replaced by a stub that keeps the last message, so the
 * tests can check that a refusal names the setting.
 */
#include "host.h"
#include "auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

/* password.c's response helper references the SDK table; never called. */
const tq_api *tq__api;
tq_plugin *tq__self;

int host_log_level;
static char last_log[4096];

void host_log(int level, const char *fmt, ...)
{
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
}

static const char uid[] = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
static char tmp[256];

static host_config base(void)
{
    host_config c;
    memset(&c, 0, sizeof c);
    c.token_secret = "0123456789abcdef0123456789abcdef";
    c.scrypt_n = 1024;
    c.scrypt_r = 8;
    c.scrypt_p = 1;
    return c;
}

static void done(void)
{
    host_jwt_key_free(&host_auth.current);
    host_jwt_key_free(&host_auth.previous);
    if (host_auth.ready)
        sem_destroy(&host_auth.hash_slots);
    memset(&host_auth, 0, sizeof host_auth);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/tq_auth_init_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static bool verifies(const char *tok)
{
    char sub[37];
    return host_jwt_verify(host_auth.verify_keys, host_auth.nverify, tok,
                           strlen(tok), (int64_t)time(NULL), sub) ==
               HOST_JWT_OK &&
           strcmp(sub, uid) == 0;
}

static void generated_secret_persists(void **state)
{
    (void)state;
    char var[300], file[320], text[200], tok[HOST_JWT_MAX];
    snprintf(var, sizeof var, "%s/var", tmp);
    snprintf(file, sizeof file, "%s/token_secret", var);
    host_config c = base();
    c.token_secret = NULL;
    c.var_dir = var;
    assert_int_equal(host_auth_init(&c), TQ_OK);

    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_int_equal(n, 65); /* 48 bytes as base64url, and a newline */
    assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                  "qrstuvwxyz0123456789-_"),
                     64);

    int64_t now = (int64_t)time(NULL);
    assert_int_equal(host_jwt_sign(&host_auth.current, uid, now, now + 60,
                                   tok, sizeof tok), TQ_OK);
    /* A restart reads the same secret: the token still verifies. */
    assert_int_equal(host_auth_init(&c), TQ_OK);
    assert_true(verifies(tok));
    done();

    /* A secret file someone truncated is refused, naming the file. */
    f = fopen(file, "w");
    fputs("too-short\n", f);
    fclose(f);
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, file));
    assert_non_null(strstr(last_log, "9 bytes"));
    assert_false(host_auth.ready);
    unlink(file);
}

static void refuses_short_secret_and_bad_kid(void **state)
{
    (void)state;
    host_config c = base();
    c.token_secret = "0123456789abcdef0123456789abcde"; /* 31 bytes */
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "auth.token_secret is 31 bytes"));
    assert_false(host_auth.ready);

    c = base();
    c.token_kid = "key one";
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "auth.token_kid"));
}

static void rotation(void **state)
{
    (void)state;
    char tok[HOST_JWT_MAX];
    int64_t now = (int64_t)time(NULL);

    /* Yesterday's host signs with k1. */
    host_config c = base();
    assert_int_equal(host_auth_init(&c), TQ_OK);
    assert_string_equal(host_auth.current.kid, "k1");
    assert_int_equal(host_auth.nverify, 1);
    assert_int_equal(host_jwt_sign(&host_auth.current, uid, now, now + 60,
                                   tok, sizeof tok), TQ_OK);

    /* Today's signs with k2 and still accepts k1's tokens. */
    c.previous_secret = c.token_secret;
    c.previous_kid = "k1";
    c.token_secret = "a brand new secret of more than 32 bytes";
    c.token_kid = "k2";
    assert_int_equal(host_auth_init(&c), TQ_OK);
    assert_int_equal(host_auth.nverify, 2);
    assert_true(verifies(tok));

    /* Once the previous secret is dropped, k1's tokens are refused. */
    c.previous_secret = NULL;
    c.previous_kid = NULL;
    assert_int_equal(host_auth_init(&c), TQ_OK);
    assert_false(verifies(tok));

    c.previous_secret = "0123456789abcdef0123456789abcdef";
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "previous_kid"));
    c.previous_kid = "k2";
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "give the new secret a new kid"));
    c.previous_kid = "k1";
    c.previous_secret = "short";
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "auth.previous_secret is 5 bytes"));
}

static void defaults_and_scrypt_params(void **state)
{
    (void)state;
    host_config c = base();
    c.scrypt_n = c.scrypt_r = c.scrypt_p = 0;
    assert_int_equal(host_auth_init(&c), TQ_OK);
    assert_true(host_auth.scrypt_n == 131072); /* OWASP minimum */
    assert_int_equal(host_auth.scrypt_r, 8);
    assert_int_equal(host_auth.scrypt_p, 1);
    assert_true(strncmp(host_auth.dummy_phc, "$scrypt$ln=17,r=8,p=1$", 22) ==
                0);
    assert_int_equal(host_auth.access_ttl_s, 900);
    assert_int_equal(host_auth.refresh_ttl_s, 30 * 86400);
    assert_int_equal(host_auth.hash_concurrency, 2);
    assert_int_equal(host_auth.login_fail_per_email, 5);
    assert_int_equal(host_auth.login_fail_per_addr, 20);
    assert_int_equal(host_auth.login_window_s, 900);
    assert_int_equal(host_auth.reset_per_email, 3);
    assert_int_equal(host_auth.reset_window_s, 3600);
    done();

    c = base();
    c.scrypt_n = 1000;
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "auth.scrypt is n=1000"));
    c = base();
    c.access_ttl_s = 7200;
    c.refresh_ttl_s = 3600;
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "auth.refresh_ttl"));
    c = base();
    c.login_window_s = 2 * 86400;
    assert_int_equal(host_auth_init(&c), TQ_ERR);
    assert_non_null(strstr(last_log, "login_window"));
}

static void passwords(void **state)
{
    (void)state;
    host_config c = base();
    assert_int_equal(host_auth_init(&c), TQ_OK);
    char phc[HOST_PHC_MAX];
    bool rehash = true;
    assert_int_equal(host_auth_password_hash("correct horse battery", phc),
                     TQ_OK);
    assert_true(strncmp(phc, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    assert_int_equal(host_auth_password_check("correct horse battery", phc,
                                              &rehash), 1);
    assert_false(rehash);
    assert_int_equal(host_auth_password_check("correct horse batterY", phc,
                                              &rehash), 0);
    /* Unknown email: the dummy runs, and never matches. */
    assert_int_equal(host_auth_password_check("correct horse battery", NULL,
                                              &rehash), 0);
    assert_false(rehash);
    assert_int_equal(host_auth_password_check("x", "$2b$12$bcrypt", &rehash),
                     TQ_ERR);

    /* The operator raised n: the next good login asks for a rehash. */
    host_auth.scrypt_n = 2048;
    assert_int_equal(host_auth_password_check("correct horse battery", phc,
                                              &rehash), 1);
    assert_true(rehash);
    assert_int_equal(host_auth_password_check("wrong password", phc,
                                              &rehash), 0);
    assert_false(rehash);
    done();
}

static double ms_of_check(const char *pass, const char *stored)
{
    bool rehash;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (host_auth_password_check(pass, stored, &rehash) < 0)
        fail_msg("password check failed");
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) * 1e3 +
           (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

/* A login for an unknown email spends the same work as a real one: the
 * check runs scrypt against a dummy hash that carries exactly the
 * configured parameters.  Asserted on the parameters, not on wall time
 * (a timed comparison is at the mercy of whatever else the CI machine
 * runs); the one time bound is a floor, which load can only raise: at
 * n = 16384 a real scrypt takes milliseconds, skipping it microseconds. */
static void unknown_email_costs_the_same(void **state)
{
    (void)state;
    host_config c = base();
    c.scrypt_n = 16384;
    assert_int_equal(host_auth_init(&c), TQ_OK);
    char phc[HOST_PHC_MAX];
    assert_int_equal(host_auth_password_hash("correct horse battery", phc),
                     TQ_OK);
    host_phc real, dummy;
    assert_int_equal(host_phc_decode(phc, &real), TQ_OK);
    assert_int_equal(host_phc_decode(host_auth.dummy_phc, &dummy), TQ_OK);
    assert_int_equal(dummy.n, c.scrypt_n);
    assert_int_equal(dummy.n, real.n);
    assert_int_equal(dummy.r, real.r);
    assert_int_equal(dummy.p, real.p);
    assert_true(ms_of_check("wrong password!", NULL) > 2.0);
    assert_true(ms_of_check("wrong password!", phc) > 2.0);
    done();
}

static void slots_are_bounded(void **state)
{
    (void)state;
    host_config c = base();
    c.hash_concurrency = 1;
    assert_int_equal(host_auth_init(&c), TQ_OK);
    host_auth.hash_wait_ms = 100;
    char phc[HOST_PHC_MAX];
    bool rehash;
    /* Somebody holds the only slot: we give up after the wait. */
    assert_int_equal(sem_wait(&host_auth.hash_slots), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(host_auth_password_hash("correct horse battery", phc),
                     TQ_E_UNAVAILABLE);
    assert_int_equal(host_auth_password_check("correct horse battery", NULL,
                                              &rehash), TQ_E_UNAVAILABLE);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
                (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    assert_true(ms >= 190 && ms < 2000);
    assert_non_null(strstr(last_log, "hashing slots busy"));
    /* Released, it works again, and gives the slot back each time. */
    assert_int_equal(sem_post(&host_auth.hash_slots), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(host_auth_password_hash("correct horse battery",
                                                 phc), TQ_OK);
    int v = -1;
    assert_int_equal(sem_getvalue(&host_auth.hash_slots, &v), 0);
    assert_int_equal(v, 1);
    done();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_secret_persists),
        cmocka_unit_test(refuses_short_secret_and_bad_kid),
        cmocka_unit_test(rotation),
        cmocka_unit_test(defaults_and_scrypt_params),
        cmocka_unit_test(passwords),
        cmocka_unit_test(unknown_email_costs_the_same),
        cmocka_unit_test(slots_are_bounded),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    done();
    return rc;
}
