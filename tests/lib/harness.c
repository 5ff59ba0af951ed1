/*
 * harness.c - see harness.h.  One tasqlyd child process per tqt_host, one
 * fresh PostgreSQL database per test (unless shared on purpose), libcurl
 * for HTTP.  Failures of the harness itself fail the test with a message
 * and the tail of tasqlyd's log.
 *
 * TASQLY_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 -q ...", split
 * on spaces) runs every tasqlyd under that command: start-up and shutdown
 * get longer timeouts, and the wrapper's error exit code or a valgrind
 * error in the log fails the test (docs/testing.md).
 */
#include "harness.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_TOKEN "test-admin-token-0123456789abcdef"
#define TOKEN_SECRET "test-secret-0123456789abcdef0123456789abcdef"

struct tqt_host {
    pid_t pid;
    int port;
    char database[64];
    char db_url[512];
    char manifest[600];
    char log[600];
    char dir[512];
    char base[64];
    PGconn *pg;
};

static atomic_int uniq;
static atomic_bool harness_failed;

const char *tqt_admin_token(void) { return ADMIN_TOKEN; }

/* cmocka (1.1) reports a failed group setup or teardown but still exits
 * 0, and tqt_stop() runs in group teardowns, where it finds sanitizer and
 * valgrind reports: any harness failure makes the process exit 1. */
static void exit_failed(void)
{
    if (atomic_load(&harness_failed)) {
        fflush(NULL);
        _exit(1);
    }
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!atomic_exchange(&harness_failed, true))
        atexit(exit_failed);
    fail_msg("harness: %s", msg);
    abort(); /* not reached */
}

static const char *env_or_die(const char *name, const char *why)
{
    const char *v = getenv(name);
    if (!v || !*v)
        die("%s is not set: %s", name, why);
    return v;
}

const char *tqt_pghost(void)
{
    return env_or_die("TASQLY_TEST_PGHOST",
                      "run the suite with `./tq test`, which starts a throwaway "
                      "PostgreSQL and exports its socket directory");
}

const char *tqt_unique(void)
{
    static __thread char buf[48];
    snprintf(buf, sizeof buf, "%d%04d%ld", (int)getpid(),
             atomic_fetch_add(&uniq, 1), (long)(time(NULL) % 100000));
    return buf;
}

static void print_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, sz > 6000 ? sz - 6000 : 0, SEEK_SET);
    char buf[6001];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- tail of %s ----\n%s\n---- end ----\n", path, buf);
}

static PGconn *connect_db(const char *dbname)
{
    char conninfo[512];
    snprintf(conninfo, sizeof conninfo, "host=%s dbname=%s user=postgres",
             tqt_pghost(), dbname);
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        PQfinish(c);
        die("cannot connect to PostgreSQL (%s): %s", conninfo, msg);
    }
    return c;
}

static void create_database(const char *name)
{
    PGconn *c = connect_db("postgres");
    char *id = PQescapeIdentifier(c, name, strlen(name));
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", id);
    PQfreemem(id);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        die("CREATE DATABASE %s: %s", name, msg);
    }
    PQclear(r);
    PQfinish(c);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* Every folder that holds built plugins: real ones, fixtures, the example. */
static void plugin_path(char *out, size_t outlen)
{
    const char *b = env_or_die("TASQLY_BUILD_ROOT", "set by meson test");
    snprintf(out, outlen, "%s/plugins:%s/sdk/example", b, b);
    char fx[600];
    snprintf(fx, sizeof fx, "%s/tests/fixtures", b);
    DIR *d = opendir(fx);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, ":%s/%s", fx, e->d_name);
    }
    if (d)
        closedir(d);
}

const char *tqt_plugin_path(void)
{
    static char path[4096];
    if (!path[0])
        plugin_path(path, sizeof path);
    return path;
}

/* "  - name: x\n    enabled: true\n" for every real plugin built. */
static void all_plugins_yaml(char *out, size_t outlen)
{
    const char *b = env_or_die("TASQLY_BUILD_ROOT", "set by meson test");
    static const char *const order[] = {"groups", "tasks", "expenses",
                                        "media", "landlord", "notify", NULL};
    out[0] = '\0';
    for (int i = 0; order[i]; i++) {
        char so[700];
        struct stat st;
        snprintf(so, sizeof so, "%s/plugins/%s/%s.so", b, order[i], order[i]);
        if (stat(so, &st) != 0)
            continue;
        size_t l = strlen(out);
        snprintf(out + l, outlen - l, "  - name: %s\n    enabled: true\n",
                 order[i]);
    }
}

static void write_manifest(tqt_host *h, const tqt_opts *o)
{
    char plugins[4096], path[4096];
    plugin_path(path, sizeof path);
    if (o && o->plugins_yaml)
        snprintf(plugins, sizeof plugins, "%s", o->plugins_yaml);
    else
        all_plugins_yaml(plugins, sizeof plugins);
    FILE *f = fopen(h->manifest, "w");
    if (!f)
        die("cannot write %s: %s", h->manifest, strerror(errno));
    fprintf(f,
            "server:\n"
            "  listen: 127.0.0.1:%d\n"
            "  workers: 4\n"
            "  request_timeout: 10\n"
            "  log_level: %s\n"
            "  admin_token: %s\n"
            "%s"
            "database:\n"
            "  url: \"postgresql:///%s?host=%s&user=postgres\"\n"
            "auth:\n"
            "  token_secret: %s\n"
            "  scrypt:\n"
            "    n: 1024\n"
            "    r: 8\n"
            "    p: 1\n"
            "%s"
            "paths:\n"
            "  var: %s\n"
            "  plugins: \"%s\"\n"
            "  mail_spool: %s/mail\n"
            "%s"
            "plugins:\n%s",
            h->port, getenv("TASQLY_TEST_LOG_LEVEL") ? getenv("TASQLY_TEST_LOG_LEVEL") : "info",
            ADMIN_TOKEN, o && o->server_yaml ? o->server_yaml : "",
            h->database, tqt_pghost(), TOKEN_SECRET,
            /* Tests register many users from one address: lift that
             * limit unless the test sets rate limits itself. */
            o && o->auth_yaml ? o->auth_yaml
                              : "  rate_limits:\n"
                                "    register_per_address: 1000000\n",
            h->dir, path,
            h->dir, o && o->extra_yaml ? o->extra_yaml : "",
            plugins[0] ? plugins : "  []\n");
    fclose(f);
}

/* ------------------------------------------------------ the wrapper */

#define MAX_WRAP_ARGS 32

/* TASQLY_TEST_WRAPPER split on spaces into argv (pointers into buf);
 * returns the count, 0 when unset. */
static int wrapper_argv(char *buf, size_t buflen, const char **argv)
{
    const char *w = getenv("TASQLY_TEST_WRAPPER");
    if (!w || !*w)
        return 0;
    if (strlen(w) >= buflen)
        die("TASQLY_TEST_WRAPPER is longer than %zu characters", buflen - 1);
    snprintf(buf, buflen, "%s", w);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == MAX_WRAP_ARGS)
            die("TASQLY_TEST_WRAPPER has more than %d words", MAX_WRAP_ARGS);
        argv[n++] = t;
    }
    return n;
}

static bool wrapped(void)
{
    const char *w = getenv("TASQLY_TEST_WRAPPER");
    return w && strspn(w, " ") < strlen(w);
}

/* Seconds to allow for start-up, shutdown and CLI runs: valgrind makes
 * tasqlyd 20-50 times slower. */
static int patience(void) { return wrapped() ? 300 : 30; }

/* The wrapper's --error-exitcode=N, or -1 when it has none. */
static int wrapper_error_code(void)
{
    const char *w = getenv("TASQLY_TEST_WRAPPER");
    const char *p = w ? strstr(w, "--error-exitcode=") : NULL;
    return p ? atoi(p + strlen("--error-exitcode=")) : -1;
}

/* A valgrind report line: "==PID== " then an error headline (memcheck's
 * kinds, a fatal signal) or a definite leak.  Ordinary "==PID==" lines
 * (banner, "HEAP SUMMARY", zero counts, suppressed) do not match. */
static bool valgrind_error_line(const char *line)
{
    if (line[0] != '=' || line[1] != '=')
        return false;
    const char *p = line + 2;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    if (strncmp(p, "== ", 3) != 0)
        return false;
    p += 3;
    while (*p == ' ')
        p++;
    static const char *const headlines[] = {
        "Invalid ",                 /* read/write/free/alignment/... */
        "Mismatched free",
        "Conditional jump or move depends on uninitialised",
        "Use of uninitialised value",
        "Syscall param",
        "Source and destination overlap",
        "Argument '",               /* "... has a fishy value" */
        "Jump to the invalid address",
        "Process terminating with default action",
        "Possible data race",       /* helgrind/drd, if asked for */
        NULL};
    for (int i = 0; headlines[i]; i++)
        if (strncmp(p, headlines[i], strlen(headlines[i])) == 0)
            return true;
    if (strstr(p, " are definitely lost in loss record"))
        return true;
    /* LEAK SUMMARY / ERROR SUMMARY with a non-zero count */
    const char *d = strstr(p, "definitely lost: ");
    if (d && strncmp(d + strlen("definitely lost: "), "0 bytes", 7) != 0)
        return true;
    d = strstr(p, "ERROR SUMMARY: ");
    if (d && strncmp(d + strlen("ERROR SUMMARY: "), "0 errors", 8) != 0)
        return true;
    return false;
}

static pid_t spawn(const char *manifest, const char *log,
                   const char *const *extra_args)
{
    const char *bin = env_or_die("TASQLY_BIN", "set by meson test");
    /* Built before fork(): the child of a threaded test only execs. */
    char wbuf[1024];
    const char *argv[MAX_WRAP_ARGS + 16];
    int n = wrapper_argv(wbuf, sizeof wbuf, argv);
    bool wrap = n > 0;
    argv[n++] = bin;
    argv[n++] = "--config";
    argv[n++] = manifest;
    for (int i = 0; extra_args && extra_args[i]; i++) {
        if (n == (int)(sizeof argv / sizeof argv[0]) - 1)
            die("too many arguments for tasqlyd");
        argv[n++] = extra_args[i];
    }
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* A test killed by meson's timeout (likelier under valgrind) must
         * not leave its server running. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        static const char *const env[] = {
            "TASQLY_DATABASE_URL", "TASQLY_LISTEN", "TASQLY_PLUGIN_DIR",
            "TASQLY_MAIL_SPOOL", "TASQLY_LOG_LEVEL", "TASQLY_ADMIN_TOKEN",
            NULL};
        for (int i = 0; env[i]; i++)
            unsetenv(env[i]);
        if (wrap)
            execvp(argv[0], (char *const *)argv);
        else
            execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void make_dirs(tqt_host *h, const char *tag)
{
    const char *b = env_or_die("TASQLY_BUILD_ROOT", "set by meson test");
    snprintf(h->dir, sizeof h->dir, "%s/tests/tmp", b);
    mkdir(h->dir, 0755);
    snprintf(h->dir, sizeof h->dir, "%s/tests/tmp/%s", b, tag);
    mkdir(h->dir, 0755);
    snprintf(h->manifest, sizeof h->manifest, "%s/tasqly.yaml", h->dir);
    snprintf(h->log, sizeof h->log, "%s/tasqlyd.log", h->dir);
}

static void sanitize(char *out, size_t outlen, const char *name)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < outlen; i++) {
        char c = name[i];
        out[j++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[j] = '\0';
}

static int wait_ready(tqt_host *h, int seconds)
{
    for (int i = 0; i < seconds * 50; i++) {
        int st;
        if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
            h->pid = 0;
            return -1;
        }
        tqt_resp r = tqt_req(h, "GET", "/readyz", NULL, NULL);
        long s = r.status;
        tqt_resp_free(&r);
        if (s == 200)
            return 0;
        usleep(20000);
    }
    return -2;
}

tqt_host *tqt_start(const char *name, const tqt_opts *o)
{
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    tqt_host *h = calloc(1, sizeof *h);
    char clean[40];
    sanitize(clean, sizeof clean, name);
    if (o && o->database)
        snprintf(h->database, sizeof h->database, "%s", o->database);
    else {
        snprintf(h->database, sizeof h->database, "t_%.24s_%s", clean,
                 tqt_unique());
        create_database(h->database);
    }
    char tag[128];
    snprintf(tag, sizeof tag, "%s_%s", h->database, tqt_unique());
    make_dirs(h, tag);
    h->port = free_port();
    snprintf(h->base, sizeof h->base, "http://127.0.0.1:%d", h->port);
    snprintf(h->db_url, sizeof h->db_url, "postgresql:///%s?host=%s&user=postgres",
             h->database, tqt_pghost());
    write_manifest(h, o);
    h->pid = spawn(h->manifest, h->log, NULL);
    if (o && o->no_wait)
        return h;
    int rc = wait_ready(h, patience());
    if (rc) {
        print_log_tail(h->log);
        die("tasqlyd for %s %s", name,
            rc == -1 ? "exited during start-up" : "was not ready in time");
    }
    return h;
}

/* Sanitizer reports in the host's log fail the test that started it. */
static void check_log_clean(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[4096];
    bool bad = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "ERROR: AddressSanitizer") ||
            strstr(line, "ERROR: LeakSanitizer") ||
            strstr(line, "runtime error:") || valgrind_error_line(line))
            bad = true;
    fclose(f);
    if (bad) {
        print_log_tail(log);
        die("sanitizer or valgrind report in %s", log);
    }
}

/* Under a wrapper, its error exit code fails the test even when the log
 * does not say why (e.g. a custom tool). */
static void check_wrapper_status(int status, const char *log)
{
    if (wrapped() && status == wrapper_error_code()) {
        print_log_tail(log);
        die("%s exited %d, the TASQLY_TEST_WRAPPER error code; see %s",
            getenv("TASQLY_TEST_WRAPPER"), status, log);
    }
}

int tqt_stop(tqt_host *h)
{
    int status = -1;
    if (!h) /* a teardown after a failed tqt_start() */
        return -1;
    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        int wait = patience();
        for (int i = 0; i < wait * 50; i++) {
            if (waitpid(h->pid, &status, WNOHANG) == h->pid)
                break;
            usleep(20000);
            if (i == wait * 50 - 1) {
                kill(h->pid, SIGKILL);
                waitpid(h->pid, &status, 0);
                print_log_tail(h->log);
                die("tasqlyd did not exit within %d s of SIGTERM", wait);
            }
        }
        status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        check_wrapper_status(status, h->log);
    }
    check_log_clean(h->log);
    if (h->pg)
        PQfinish(h->pg);
    free(h);
    return status;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

static int wait_exit(pid_t pid, int seconds)
{
    int st = 0;
    for (int i = 0; i < seconds * 50; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

int tqt_run_cli(tqt_host *h, const char *const *args, char **out)
{
    char log[sizeof h->log + 64];
    snprintf(log, sizeof log, "%s.cli.%s", h->log, tqt_unique());
    pid_t pid = spawn(h->manifest, log, args);
    int rc = wait_exit(pid, patience());
    check_wrapper_status(rc, log);
    check_log_clean(log);
    if (out)
        *out = slurp(log);
    unlink(log);
    return rc;
}

int tqt_run_manifest(const char *name, const char *manifest, char **out)
{
    tqt_host h = {0};
    char clean[40];
    sanitize(clean, sizeof clean, name);
    char tag[128];
    snprintf(tag, sizeof tag, "m_%s_%s", clean, tqt_unique());
    make_dirs(&h, tag);
    FILE *f = fopen(h.manifest, "w");
    if (!f)
        die("cannot write %s", h.manifest);
    fputs(manifest, f);
    fclose(f);
    pid_t pid = spawn(h.manifest, h.log, NULL);
    int rc = wait_exit(pid, patience());
    check_wrapper_status(rc, h.log);
    check_log_clean(h.log);
    if (out)
        *out = slurp(h.log);
    return rc;
}

int tqt_port(const tqt_host *h) { return h->port; }
pid_t tqt_pid(const tqt_host *h) { return h->pid; }
const char *tqt_database(const tqt_host *h) { return h->database; }
const char *tqt_db_url(const tqt_host *h) { return h->db_url; }
const char *tqt_manifest_path(const tqt_host *h) { return h->manifest; }
const char *tqt_log_path(const tqt_host *h) { return h->log; }
const char *tqt_base_url(const tqt_host *h) { return h->base; }

PGconn *tqt_pg(tqt_host *h)
{
    if (!h->pg)
        h->pg = connect_db(h->database);
    return h->pg;
}

char *tqt_sql(tqt_host *h, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(tqt_pg(h), sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        PQclear(r);
        die("SQL failed: %s: %s", sql, msg);
    }
    char *v = strdup(PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)
                         ? PQgetvalue(r, 0, 0)
                         : "");
    PQclear(r);
    return v;
}

/* ------------------------------------------------------------- HTTP */

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->n, ptr, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

tqt_resp tqt_req_raw(tqt_host *h, const char *method, const char *path,
                     const char *token, const char *content_type,
                     const void *body, size_t len,
                     const char *const *extra_headers)
{
    tqt_resp r = {0};
    CURL *c = curl_easy_init();
    if (!c)
        die("curl_easy_init failed");
    char url[2048];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    buf data = {0}, hdr = {0};
    struct curl_slist *hl = NULL;
    char line[4200];
    if (token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hl = curl_slist_append(hl, line);
    }
    if (content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        hl = curl_slist_append(hl, line);
    } else {
        hl = curl_slist_append(hl, "Content-Type:");
    }
    hl = curl_slist_append(hl, "Expect:");
    for (int i = 0; extra_headers && extra_headers[i]; i++)
        hl = curl_slist_append(hl, extra_headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) /* no body will follow the headers */
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &data);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    else
        r.status = 0; /* connection failed: tests may expect that */
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r.body = data.p ? data.p : strdup("");
    r.len = data.n;
    r.headers = hdr.p ? hdr.p : strdup("");
    r.json = r.len ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    return r;
}

tqt_resp tqt_req(tqt_host *h, const char *method, const char *path,
                 const char *token, const char *body_fmt, ...)
{
    if (!body_fmt)
        return tqt_req_raw(h, method, path, token, NULL, NULL, 0, NULL);
    va_list ap;
    va_start(ap, body_fmt);
    char *body = NULL;
    if (vasprintf(&body, body_fmt, ap) < 0)
        die("out of memory");
    va_end(ap);
    tqt_resp r = tqt_req_raw(h, method, path, token,
                             "application/json; charset=utf-8", body,
                             strlen(body), NULL);
    free(body);
    return r;
}

void tqt_resp_free(tqt_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

char *tqt_header(const tqt_resp *r, const char *name)
{
    size_t nl = strlen(name);
    const char *p = r->headers;
    char *found = NULL;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            eol = p + strlen(p);
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 &&
            p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            free(found); /* the last one wins (after redirects, 100s) */
            found = strndup(v, (size_t)(eol - v));
        }
        p = *eol ? eol + 2 : eol;
    }
    return found;
}

void tqt_assert_error(const tqt_resp *r, long status, const char *code)
{
    if (r->status != status)
        fail_msg("expected status %ld, got %ld: %s", status, r->status, r->body);
    json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    if (!e || !json_is_string(json_object_get(e, "code")) ||
        !json_is_string(json_object_get(e, "message")))
        fail_msg("body is not the error shape: %s", r->body);
    if (code && strcmp(json_string_value(json_object_get(e, "code")), code) != 0)
        fail_msg("expected error code %s: %s", code, r->body);
}

const char *tqt_str(const tqt_resp *r, const char *key)
{
    json_t *v = r->json ? json_object_get(r->json, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

tqt_user tqt_register(tqt_host *h, const char *display_name)
{
    tqt_user u = {0};
    char email[128];
    snprintf(email, sizeof email, "user%s@example.com", tqt_unique());
    tqt_resp r = tqt_req(h, "POST", "/v1/auth/register", NULL,
                         "{\"email\":\"%s\",\"password\":\"correct horse "
                         "battery\",\"display_name\":\"%s\"}",
                         email, display_name);
    if (r.status != 201)
        die("register %s: status %ld: %s", email, r.status, r.body);
    json_t *user = json_object_get(r.json, "user");
    const char *id = json_string_value(json_object_get(user, "id"));
    const char *tok = tqt_str(&r, "access_token");
    const char *ref = tqt_str(&r, "refresh_token");
    if (!id || !tok || !ref)
        die("register: unexpected body %s", r.body);
    u.id = strdup(id);
    u.email = strdup(email);
    u.token = strdup(tok);
    u.refresh = strdup(ref);
    tqt_resp_free(&r);
    return u;
}

void tqt_user_free(tqt_user *u)
{
    free(u->id);
    free(u->email);
    free(u->token);
    free(u->refresh);
    memset(u, 0, sizeof *u);
}
