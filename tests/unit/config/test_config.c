/*
 * test_config.c - the manifest parser: every field, defaults, syntax and
 * type errors with positions, references (env, file, registered schemes),
 * TASQLY_* overrides, plugin config to JSON, duplicates, range checks, and
 * that no resolved value ever shows up in an error message.
 */
#include "host.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static const char *const overrides[] = {
    "TASQLY_DATABASE_URL", "TASQLY_LISTEN", "TASQLY_PLUGIN_DIR",
    "TASQLY_MAIL_SPOOL", "TASQLY_LOG_LEVEL", "TASQLY_ADMIN_TOKEN",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
        unsetenv(overrides[i]);
    unsetenv("TQT_CFG_A");
    unsetenv("TQT_CFG_SECRET");
    return 0;
}

static void parse_ok(host_config *c, const char *text)
{
    char err[512] = "untouched";
    int rc = host_config_parse(c, "t.yaml", text, strlen(text), err,
                               sizeof(err));
    if (rc != TQ_OK)
        fail_msg("parse failed: %s\n--- manifest:\n%s", err, text);
    assert_string_equal(err, "");
}

/* Parse text, expect failure, return the message (static buffer). */
static const char *parse_err(const char *text)
{
    static char err[512];
    host_config c;
    memset(&c, 0xab, sizeof(c)); /* garbage in: must come out zeroed */
    int rc = host_config_parse(&c, "t.yaml", text, strlen(text), err,
                               sizeof(err));
    if (rc == TQ_OK)
        fail_msg("parse succeeded, expected an error; manifest:\n%s", text);
    assert_int_equal(rc, TQ_ERR);
    host_config zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&c, &zero, sizeof(c));
    host_config_free(&c); /* safe on the zeroed config */
    assert_true(strlen(err) > 0);
    return err;
}

#define assert_contains(hay, needle)                                        \
    do {                                                                    \
        if (!strstr((hay), (needle)))                                       \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));    \
    } while (0)

static void assert_defaults(const host_config *c)
{
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_int_equal(c->io_threads, 1);
    assert_int_equal(c->workers, 8);
    assert_int_equal(c->body_limit, 65536);
    assert_int_equal(c->request_timeout_s, 30);
    assert_int_equal(c->log_level, TQ_LOG_INFO);
    assert_false(c->trust_proxy);
    assert_null(c->admin_token);
    assert_null(c->database_url);
    assert_int_equal(c->db_pool, 8);
    assert_int_equal(c->statement_timeout_ms, 10000);
    assert_null(c->token_secret);
    assert_string_equal(c->token_kid, "k1");
    assert_null(c->previous_secret);
    assert_null(c->previous_kid);
    assert_int_equal(c->access_ttl_s, 900);
    assert_int_equal(c->refresh_ttl_s, 30 * 86400);
    assert_int_equal(c->scrypt_n, 131072);
    assert_int_equal(c->scrypt_r, 8);
    assert_int_equal(c->scrypt_p, 1);
    assert_int_equal(c->hash_concurrency, 2);
    /* 0: host/auth/init.c applies its documented defaults. */
    assert_int_equal(c->login_fail_per_email, 0);
    assert_int_equal(c->login_fail_per_addr, 0);
    assert_int_equal(c->login_window_s, 0);
    assert_int_equal(c->reset_per_email, 0);
    assert_int_equal(c->reset_window_s, 0);
    assert_int_equal(c->event_max_attempts, 8);
    assert_int_equal(c->event_retention_days, 90);
    assert_string_equal(c->var_dir, "var");
    assert_string_equal(c->plugin_dir, "build/plugins");
    assert_string_equal(c->mail_spool, "var/mail");
    assert_int_equal(c->nplugins, 0);
}

static void test_builtin_defaults(void **state)
{
    (void)state;
    host_config c;
    char err[256];
    assert_int_equal(host_config_load(&c, NULL, err, sizeof(err)), TQ_OK);
    assert_null(c.path);
    assert_defaults(&c);
    host_config_free(&c);
}

static void test_empty_manifests_give_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "", "---\n", "# only a comment\n", "~\n",
        "server:\ndatabase:\nauth:\nevents:\npaths:\nplugins:\n",
        "server: {}\nplugins: []\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        host_config c;
        parse_ok(&c, texts[i]);
        assert_defaults(&c);
        assert_string_equal(c.path, "t.yaml");
        host_config_free(&c);
    }
}

static const char full[] =
    "server:\n"
    "  listen: \"[::1]:9090\"\n"
    "  io_threads: 2\n"
    "  workers: 16\n"
    "  body_limit: 1MiB\n"
    "  request_timeout: 2m\n"
    "  log_level: debug\n"
    "  trust_proxy: true\n"
    "  admin_token: adm-token\n"
    "database:\n"
    "  url: postgresql://app@db/tasqly\n"
    "  pool: 16\n"
    "  statement_timeout_ms: 5s\n"
    "auth:\n"
    "  token_secret: 0123456789abcdef0123456789abcdef-new\n"
    "  token_kid: k2\n"
    "  previous_secret: 0123456789abcdef0123456789abcdef-old\n"
    "  previous_kid: k1\n"
    "  access_ttl: 10m\n"
    "  refresh_ttl: 7d\n"
    "  scrypt: {n: 16384, r: 4, p: 2}\n"
    "  hash_concurrency: 3\n"
    "events:\n"
    "  max_attempts: 5\n"
    "  retention_days: 30\n"
    "paths:\n"
    "  var: /srv/tasqly\n"
    "  plugins: /usr/lib/tasqly\n"
    "  mail_spool: /srv/mail\n"
    "plugins:\n"
    "  - name: groups\n"
    "    enabled: true\n"
    "    config:\n"
    "      default_currency: EUR\n"
    "  - name: tasks\n"
    "    enabled: false\n"
    "  - {name: media}\n";

static void test_every_field(void **state)
{
    (void)state;
    host_config c;
    parse_ok(&c, full);
    assert_string_equal(c.listen, "[::1]:9090");
    assert_int_equal(c.io_threads, 2);
    assert_int_equal(c.workers, 16);
    assert_int_equal(c.body_limit, 1 << 20);
    assert_int_equal(c.request_timeout_s, 120);
    assert_int_equal(c.log_level, TQ_LOG_DEBUG);
    assert_true(c.trust_proxy);
    assert_string_equal(c.admin_token, "adm-token");
    assert_string_equal(c.database_url, "postgresql://app@db/tasqly");
    assert_int_equal(c.db_pool, 16);
    assert_int_equal(c.statement_timeout_ms, 5000);
    assert_string_equal(c.token_secret, "0123456789abcdef0123456789abcdef-new");
    assert_string_equal(c.token_kid, "k2");
    assert_string_equal(c.previous_secret,
                        "0123456789abcdef0123456789abcdef-old");
    assert_string_equal(c.previous_kid, "k1");
    assert_int_equal(c.access_ttl_s, 600);
    assert_int_equal(c.refresh_ttl_s, 7 * 86400);
    assert_int_equal(c.scrypt_n, 16384);
    assert_int_equal(c.scrypt_r, 4);
    assert_int_equal(c.scrypt_p, 2);
    assert_int_equal(c.hash_concurrency, 3);
    assert_int_equal(c.event_max_attempts, 5);
    assert_int_equal(c.event_retention_days, 30);
    assert_string_equal(c.var_dir, "/srv/tasqly");
    assert_string_equal(c.plugin_dir, "/usr/lib/tasqly");
    assert_string_equal(c.mail_spool, "/srv/mail");
    assert_int_equal(c.nplugins, 3);
    assert_string_equal(c.plugins[0].name, "groups");
    assert_true(c.plugins[0].enabled);
    assert_int_equal(c.plugins[0].line, 31);
    assert_string_equal(
        json_string_value(json_object_get(c.plugins[0].config,
                                          "default_currency")), "EUR");
    assert_string_equal(c.plugins[1].name, "tasks");
    assert_false(c.plugins[1].enabled);
    assert_true(json_is_object(c.plugins[1].config));
    assert_int_equal(json_object_size(c.plugins[1].config), 0);
    assert_string_equal(c.plugins[2].name, "media");
    assert_true(c.plugins[2].enabled); /* listed means wanted */
    host_config_free(&c);
}

static void test_pool_follows_workers(void **state)
{
    (void)state;
    host_config c;
    parse_ok(&c, "server:\n  workers: 3\n");
    assert_int_equal(c.db_pool, 3);
    host_config_free(&c);
    /* Each worker owns one connection: another pool size is refused,
     * not silently ignored. */
    const char *e = parse_err("server:\n  workers: 3\ndatabase:\n  pool: 5\n");
    assert_non_null(strstr(e, "database.pool"));
    assert_non_null(strstr(e, "server.workers"));
}

static void test_lead_manifest_shape(void **state)
{
    (void)state;
    /* The shape of tasqly.yaml at the repository root. */
    setenv("TQT_CFG_A", "", 1);
    host_config c;
    parse_ok(&c,
             "server:\n"
             "  listen: 127.0.0.1:8080\n"
             "  admin_token: ${env:TQT_CFG_UNSET_X:-}\n"
             "database:\n"
             "  url: ${env:TQT_CFG_UNSET_Y:-postgresql:///tasqly}\n"
             "auth:\n"
             "  token_secret: ${env:TQT_CFG_A:-}\n"
             "plugins:\n"
             "  - name: groups\n"
             "    enabled: true\n"
             "    config:\n"
             "      default_currency: USD\n");
    assert_null(c.admin_token);  /* empty means not set */
    assert_null(c.token_secret);
    assert_string_equal(c.database_url, "postgresql:///tasqly");
    host_config_free(&c);
}

static void test_syntax_error_has_position(void **state)
{
    (void)state;
    const char *e = parse_err("server:\n  listen: x\n  workers: [1, 2\n");
    assert_contains(e, "t.yaml:");
    assert_contains(e, "YAML syntax error");
    e = parse_err("server:\n  listen: x\n workers: 3\n");
    assert_true(strncmp(e, "t.yaml:3:", 9) == 0);
    e = parse_err("a: b\n---\nc: d\n");
    assert_contains(e, "second YAML document");
    e = parse_err("- 1\n- 2\n");
    assert_contains(e, "t.yaml:1:1: the manifest must be a mapping");
    assert_contains(e, "got a sequence");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    const char *e = parse_err("server:\n  listen: 127.0.0.1:1\n  wrokers: 3\n");
    assert_true(strncmp(e, "t.yaml:3:3: server.wrokers: unknown key", 39) == 0);
    assert_contains(e, "workers");
    e = parse_err("srever:\n  workers: 3\n");
    assert_true(strncmp(e, "t.yaml:1:1: srever: unknown key", 31) == 0);
    e = parse_err("auth:\n  scrypt:\n    q: 1\n");
    assert_true(strncmp(e, "t.yaml:3:5: auth.scrypt.q: unknown key", 38) == 0);
    e = parse_err("plugins:\n  - name: x\n    enable: true\n");
    assert_true(strncmp(e, "t.yaml:3:5: plugins[0].enable: unknown key",
                        42) == 0);
}

static void test_wrong_types(void **state)
{
    (void)state;
    /* The example of the design docs, to the letter. */
    char m[1024] = "";
    for (int i = 0; i < 8; i++)
        strcat(m, "# padding\n");
    strcat(m, "plugins:\n"                    /* line 9 */
              "  - name: a\n"
              "  - name: b\n"
              "    enabled: true\n"
              "  - name: c\n"                 /* line 13 */
              "    enabled: yes\n");          /* line 14 */
    char err[512];
    host_config c;
    assert_int_equal(host_config_parse(&c, "tasqly.yaml", m, strlen(m), err,
                                       sizeof(err)), TQ_ERR);
    assert_string_equal(err, "tasqly.yaml:14:5: plugins[2].enabled: expected "
                             "true or false, got \"yes\"");

    const char *e = parse_err("server:\n  workers: many\n");
    assert_string_equal(e, "t.yaml:2:3: server.workers: expected an integer "
                           "from 1 to 256, got \"many\"");
    e = parse_err("server:\n  workers: \"8\"\n");
    assert_contains(e, "got \"8\" (a quoted string)");
    e = parse_err("server:\n  workers: 0\n");
    assert_contains(e, "server.workers: expected an integer from 1 to 256, "
                       "got 0");
    e = parse_err("server:\n  workers: 257\n");
    assert_contains(e, "got 257");
    e = parse_err("server:\n  workers: 99999999999999999999999\n");
    assert_contains(e, "server.workers: expected an integer");
    e = parse_err("server:\n  workers: [1]\n");
    assert_contains(e, "got a sequence");
    e = parse_err("server:\n  listen: {a: 1}\n");
    assert_contains(e, "server.listen: expected a string, got a mapping");
    e = parse_err("server:\n  listen: ~\n");
    assert_contains(e, "server.listen: expected a string, got null");
    e = parse_err("server:\n  listen: localhost\n");
    assert_contains(e, "server.listen: expected \"host:port\"");
    e = parse_err("server:\n  listen: ::1:80\n");
    assert_contains(e, "server.listen");
    e = parse_err("server:\n  listen: 1.2.3.4:99999\n");
    assert_contains(e, "server.listen");
    e = parse_err("server:\n  body_limit: 512\n");
    assert_contains(e, "server.body_limit: expected a size in bytes");
    assert_contains(e, "from 1024 to 1073741824, got 512");
    e = parse_err("server:\n  body_limit: 2GiB\n");
    assert_contains(e, "got 2147483648");
    e = parse_err("server:\n  body_limit: 64 kb\n");
    assert_contains(e, "server.body_limit");
    e = parse_err("server:\n  request_timeout: 2w\n");
    assert_contains(e, "server.request_timeout: expected a duration");
    e = parse_err("server:\n  log_level: loud\n");
    assert_string_equal(e, "t.yaml:2:3: server.log_level: expected debug, "
                           "info, warn or error, got \"loud\"");
    e = parse_err("server:\n  trust_proxy: 1\n");
    assert_contains(e, "expected true or false, got \"1\"");
    e = parse_err("server:\n  trust_proxy: \"true\"\n");
    assert_contains(e, "(a quoted string)");
    e = parse_err("server: 3\n");
    assert_contains(e, "t.yaml:1:1: server: expected a mapping, got \"3\"");
    e = parse_err("auth:\n  scrypt:\n    n: 1000\n");
    assert_contains(e, "auth.scrypt.n: expected a power of two");
    e = parse_err("auth:\n  scrypt:\n    n: 1048576\n    r: 16\n");
    assert_contains(e, "auth.scrypt: n * r * 128 bytes");
    e = parse_err("events:\n  max_attempts: 0\n");
    assert_contains(e, "events.max_attempts");
    e = parse_err("database:\n  statement_timeout_ms: 2h\n");
    assert_contains(e, "database.statement_timeout_ms");
    e = parse_err("paths:\n  var: \"\"\n");
    assert_contains(e, "paths.var: expected a non-empty string");
    e = parse_err("server:\n  !!int 3: 4\n");
    assert_contains(e, "unsupported tag");
    e = parse_err("server:\n  listen: !!binary abc\n");
    assert_contains(e, "unsupported tag");
}

static void test_duplicates(void **state)
{
    (void)state;
    const char *e = parse_err("server:\n  workers: 2\n  workers: 3\n");
    assert_string_equal(e, "t.yaml:3:3: server.workers: duplicate key (first "
                           "at line 2); keep one");
    e = parse_err("plugins: []\nplugins: []\n");
    assert_contains(e, "t.yaml:2:1: plugins: duplicate key");
    e = parse_err("plugins:\n"
                  "  - name: tasks\n"
                  "  - name: groups\n"
                  "  - name: tasks\n"
                  "    enabled: false\n");
    assert_string_equal(e, "t.yaml:4:5: plugins[2]: plugin \"tasks\" is listed "
                           "twice (first at line 2); keep one entry");
    e = parse_err("plugins:\n  - name: x\n    config:\n      a: 1\n      a: 2\n");
    assert_contains(e, "t.yaml:5:7: plugins[0].config.a: duplicate key");
}

static void test_plugin_entries(void **state)
{
    (void)state;
    const char *e = parse_err("plugins:\n  - enabled: true\n");
    assert_contains(e, "plugins[0].name: missing");
    e = parse_err("plugins:\n  - name: Tasks\n");
    assert_contains(e, "plugins[0].name: expected a plugin name");
    e = parse_err("plugins:\n  - name: [a]\n");
    assert_contains(e, "plugins[0].name");
    e = parse_err("plugins:\n  - tasks\n");
    assert_contains(e, "plugins[0]: expected a mapping");
    e = parse_err("plugins:\n  name: tasks\n");
    assert_contains(e, "plugins: expected a sequence");
    e = parse_err("plugins:\n  - name: x\n    config: [1]\n");
    assert_contains(e, "plugins[0].config: expected a mapping, got a sequence");
    /* Aliases are refused while reading, before any key is looked at. */
    e = parse_err("anchors:\n  a: &x 1\nplugins:\n  - name: *x\n");
    assert_contains(e, "t.yaml:4:11: aliases (*x) are not supported");
    e = parse_err("plugins:\n  - &p {name: a}\n  - *p\n");
    assert_contains(e, "t.yaml:3:5: aliases (*p) are not supported");

    host_config c;
    parse_ok(&c, "plugins:\n  - name: x\n    config: ~\n");
    assert_int_equal(json_object_size(c.plugins[0].config), 0);
    host_config_free(&c);
}

static void test_plugin_config_json_types(void **state)
{
    (void)state;
    setenv("TQT_CFG_A", "8025", 1);
    host_config c;
    parse_ok(&c,
             "plugins:\n"
             "  - name: notify\n"
             "    config:\n"
             "      b1: true\n"
             "      b2: False\n"
             "      i: 42\n"
             "      neg: -7\n"
             "      hex: 0x1F\n"
             "      oct: 0o17\n"
             "      f: 1.5\n"
             "      e: 2e3\n"
             "      n1: null\n"
             "      n2: ~\n"
             "      n3:\n"
             "      s: hello world\n"
             "      qtrue: \"true\"\n"
             "      q42: '42'\n"
             "      qnull: \"null\"\n"
             "      tagged: !!str 17\n"
             "      yes_is_text: yes\n"
             "      version: 1.2.3\n"
             "      list: [1, two, false, {k: v}]\n"
             "      nested:\n"
             "        smtp:\n"
             "          host: localhost\n"
             "          port: ${env:TQT_CFG_A}\n"
             "          port_text: \"${env:TQT_CFG_A}\"\n"
             "      empty_list: []\n"
             "      empty_map: {}\n"
             "      big: 9223372036854775807\n");
    json_error_t je;
    json_t *want = json_loads(
        "{\"b1\": true, \"b2\": false, \"i\": 42, \"neg\": -7, \"hex\": 31,"
        " \"oct\": 15, \"f\": 1.5, \"e\": 2000.0, \"n1\": null, \"n2\": null,"
        " \"n3\": null, \"s\": \"hello world\", \"qtrue\": \"true\","
        " \"q42\": \"42\", \"qnull\": \"null\", \"tagged\": \"17\","
        " \"yes_is_text\": \"yes\", \"version\": \"1.2.3\","
        " \"list\": [1, \"two\", false, {\"k\": \"v\"}],"
        " \"nested\": {\"smtp\": {\"host\": \"localhost\", \"port\": 8025,"
        "   \"port_text\": \"8025\"}},"
        " \"empty_list\": [], \"empty_map\": {},"
        " \"big\": 9223372036854775807}", 0, &je);
    assert_non_null(want);
    json_t *got = c.plugins[0].config;
    if (!json_equal(want, got)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("plugin config differs: %s", g);
    }
    assert_true(json_is_real(json_object_get(got, "e")));
    assert_true(json_is_integer(json_object_get(got, "i")));
    json_decref(want);
    host_config_free(&c);

    const char *e = parse_err("plugins:\n  - name: x\n    config:\n"
                              "      big: 9223372036854775808\n");
    assert_contains(e, "plugins[0].config.big: integer");
    assert_contains(e, "does not fit in 64 bits");
    e = parse_err("plugins:\n  - name: x\n    config:\n      v: .inf\n");
    assert_contains(e, "not representable in JSON");
    e = parse_err("plugins:\n  - name: x\n    config:\n"
                  "      a: {b: {c: [1, \"${env:TQT_CFG_NOPE_Z}\"]}}\n");
    assert_contains(e, "plugins[0].config.a.b.c[1]: environment variable "
                       "TQT_CFG_NOPE_Z is not set");
}

static void test_env_references(void **state)
{
    (void)state;
    setenv("TQT_CFG_A", "db.internal", 1);
    host_config c;
    parse_ok(&c,
             "database:\n"
             "  url: postgresql://app@${env:TQT_CFG_A}:5432/x?a=$$b&c=$${env:NOT}\n"
             "server:\n"
             "  admin_token: ${env:TQT_CFG_UNSET_Q:-fallback-token}\n"
             "  listen: ${env:TQT_CFG_UNSET_Q:-0.0.0.0:80}\n");
    assert_string_equal(c.database_url,
                        "postgresql://app@db.internal:5432/x?a=$$b&c=${env:NOT}");
    assert_string_equal(c.admin_token, "fallback-token");
    assert_string_equal(c.listen, "0.0.0.0:80");
    host_config_free(&c);

    /* An empty variable takes the default too (as in the shell). */
    setenv("TQT_CFG_A", "", 1);
    parse_ok(&c, "paths:\n  var: ${env:TQT_CFG_A:-/tmp/v}\n");
    assert_string_equal(c.var_dir, "/tmp/v");
    host_config_free(&c);

    /* Numbers and booleans resolve, then parse. */
    setenv("TQT_CFG_A", "5", 1);
    parse_ok(&c, "server:\n  workers: ${env:TQT_CFG_A}\n"
                 "  trust_proxy: ${env:TQT_CFG_UNSET_Q:-true}\n");
    assert_int_equal(c.workers, 5);
    assert_true(c.trust_proxy);
    host_config_free(&c);

    const char *e = parse_err("auth:\n  token_secret: ${env:TQT_CFG_NOPE}\n");
    assert_string_equal(e, "t.yaml:2:3: auth.token_secret: environment "
                           "variable TQT_CFG_NOPE is not set (set it, or give "
                           "a default: ${env:TQT_CFG_NOPE:-value})");
    e = parse_err("server:\n  listen: ${env:1BAD}\n");
    assert_contains(e, "not a valid environment variable name");
    e = parse_err("server:\n  listen: ${env:X\n");
    assert_contains(e, "malformed reference");
    e = parse_err("server:\n  listen: ${:X}\n");
    assert_contains(e, "malformed reference");
    e = parse_err("server:\n  listen: ${vault:kv/x}\n");
    assert_contains(e, "server.listen: unknown reference scheme \"vault\"");
}

static void test_secrets_never_in_messages(void **state)
{
    (void)state;
    setenv("TQT_CFG_SECRET", "hunter2-very-secret", 1);
    const char *e = parse_err("server:\n  workers: ${env:TQT_CFG_SECRET}\n");
    assert_null(strstr(e, "hunter2"));
    assert_contains(e, "${env:TQT_CFG_SECRET}");
    assert_contains(e, "resolved value not shown");
    e = parse_err("server:\n  trust_proxy: ${env:TQT_CFG_SECRET}\n");
    assert_null(strstr(e, "hunter2"));
    e = parse_err("server:\n  log_level: ${env:TQT_CFG_SECRET}\n");
    assert_null(strstr(e, "hunter2"));
    e = parse_err("auth:\n  token_secret: ${env:TQT_CFG_SECRET}\n");
    assert_null(strstr(e, "hunter2"));
    assert_contains(e, "auth.token_secret: expected at least 32 characters, "
                       "got 19");
    setenv("TQT_CFG_SECRET", "9999", 1);
    e = parse_err("server:\n  workers: ${env:TQT_CFG_SECRET}\n");
    assert_null(strstr(e, "9999"));
}

static char tmpdir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tq-config-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char sub[300];
    snprintf(sub, sizeof(sub), "%s/secrets", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_file_references_and_load(void **state)
{
    (void)state;
    make_tmpdir(state);
    write_file("secrets/token", "0123456789abcdef0123456789abcdef-file\n");
    write_file("secrets/crlf", "line\r\n");
    write_file("secrets/two", "a\n\n");
    write_file("secrets/empty", "");
    char abs[400];
    snprintf(abs, sizeof(abs), "%s/secrets/crlf", tmpdir);
    char manifest[2048];
    snprintf(manifest, sizeof(manifest),
             "auth:\n"
             "  token_secret: ${file:secrets/token}\n"
             "server:\n"
             "  admin_token: ${file:%s}\n"
             "paths:\n"
             "  var: ${file:secrets/two}\n"
             "plugins:\n"
             "  - name: notify\n"
             "    config:\n"
             "      password: \"${file:secrets/token}\"\n"
             "      nothing: \"${file:secrets/empty}\"\n", abs);
    write_file("tasqly.yaml", manifest);
    char path[400], err[512];
    snprintf(path, sizeof(path), "%s/tasqly.yaml", tmpdir);
    host_config c;
    /* Load from another working directory: paths start at the manifest. */
    assert_int_equal(chdir("/"), 0);
    int rc = host_config_load(&c, path, err, sizeof(err));
    if (rc != TQ_OK)
        fail_msg("load failed: %s", err);
    assert_string_equal(c.path, path);
    assert_string_equal(c.token_secret, "0123456789abcdef0123456789abcdef-file");
    assert_string_equal(c.admin_token, "line");
    assert_string_equal(c.var_dir, "a\n"); /* one newline stripped */
    assert_string_equal(json_string_value(json_object_get(
                            c.plugins[0].config, "password")),
                        "0123456789abcdef0123456789abcdef-file");
    assert_string_equal(json_string_value(json_object_get(
                            c.plugins[0].config, "nothing")), "");
    host_config_free(&c);

    write_file("bad.yaml", "server:\n  admin_token: ${file:secrets/nope}\n");
    snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
    assert_int_equal(host_config_load(&c, path, err, sizeof(err)), TQ_ERR);
    assert_contains(err, "bad.yaml:2:3: server.admin_token: "
                         "${file:secrets/nope}: cannot read ");
    assert_contains(err, "/secrets/nope: No such file or directory");
    assert_contains(err, "relative paths start at the manifest's folder");

    snprintf(path, sizeof(path), "%s/missing.yaml", tmpdir);
    assert_int_equal(host_config_load(&c, path, err, sizeof(err)), TQ_ERR);
    assert_contains(err, "missing.yaml: cannot read the manifest: No such file");
    host_config_free(&c);

    snprintf(path, sizeof(path), "%s/secrets", tmpdir);
    assert_int_equal(host_config_load(&c, path, err, sizeof(err)), TQ_ERR);
    assert_contains(err, "cannot read the manifest");
    remove_tmpdir(state);
}

static int test_resolver(const char *arg, char **out, char *err,
                         size_t errlen)
{
    if (strcmp(arg, "prod/db#password") == 0) {
        *out = strdup("s3cr3t-from-sm");
        return *out ? TQ_OK : TQ_E_NOMEM;
    }
    snprintf(err, errlen, "secret %s not found", arg);
    return TQ_E_NOTFOUND;
}

static void test_registered_resolver(void **state)
{
    (void)state;
    const char *e = parse_err("database:\n  url: ${test-sm:prod/db#password}\n");
    assert_contains(e, "unknown reference scheme \"test-sm\"");
    assert_contains(e, "known: env, file");

    host_config_set_resolver("test-sm", test_resolver);
    host_config c;
    parse_ok(&c, "database:\n  url: postgresql://u:${test-sm:prod/db#password}@h/d\n");
    assert_string_equal(c.database_url, "postgresql://u:s3cr3t-from-sm@h/d");
    host_config_free(&c);
    e = parse_err("database:\n  url: ${test-sm:prod/other#k}\n");
    assert_string_equal(e, "t.yaml:2:3: database.url: ${test-sm:prod/other#k}: "
                           "secret prod/other#k not found");
    e = parse_err("server:\n  workers: ${test-sm:prod/db#password}\n");
    assert_null(strstr(e, "s3cr3t"));
    e = parse_err("server:\n  listen: ${nope:x}\n");
    assert_contains(e, "known: env, file, test-sm");

    host_config_set_resolver("test-sm", NULL);
    e = parse_err("database:\n  url: ${test-sm:prod/db#password}\n");
    assert_contains(e, "unknown reference scheme");
}

static void test_env_overrides(void **state)
{
    (void)state;
    setenv("TASQLY_DATABASE_URL", "postgresql:///fromenv", 1);
    setenv("TASQLY_LISTEN", "0.0.0.0:9999", 1);
    setenv("TASQLY_PLUGIN_DIR", "/opt/plugins", 1);
    setenv("TASQLY_MAIL_SPOOL", "/var/spool/tq", 1);
    setenv("TASQLY_LOG_LEVEL", "warn", 1);
    setenv("TASQLY_ADMIN_TOKEN", "env-admin", 1);
    host_config c;
    parse_ok(&c, full);
    assert_string_equal(c.database_url, "postgresql:///fromenv");
    assert_string_equal(c.listen, "0.0.0.0:9999");
    assert_string_equal(c.plugin_dir, "/opt/plugins");
    assert_string_equal(c.mail_spool, "/var/spool/tq");
    assert_int_equal(c.log_level, TQ_LOG_WARN);
    assert_string_equal(c.admin_token, "env-admin");
    assert_int_equal(c.workers, 16); /* untouched */
    host_config_free(&c);

    char err[256];
    assert_int_equal(host_config_load(&c, NULL, err, sizeof(err)), TQ_OK);
    assert_string_equal(c.listen, "0.0.0.0:9999");
    assert_string_equal(c.admin_token, "env-admin");
    host_config_free(&c);

    /* Empty means unset. */
    setenv("TASQLY_LISTEN", "", 1);
    parse_ok(&c, "server:\n  listen: 10.1.1.1:1\n");
    assert_string_equal(c.listen, "10.1.1.1:1");
    host_config_free(&c);

    setenv("TASQLY_LOG_LEVEL", "verbose", 1);
    const char *e = parse_err("");
    assert_string_equal(e, "t.yaml: TASQLY_LOG_LEVEL: expected debug, info, "
                           "warn or error, got \"verbose\"");
    assert_int_equal(host_config_load(&c, NULL, err, sizeof(err)), TQ_ERR);
    assert_contains(err, "TASQLY_LOG_LEVEL");
    setenv("TASQLY_LOG_LEVEL", "error", 1);
    setenv("TASQLY_LISTEN", "nocolon", 1);
    e = parse_err("");
    assert_contains(e, "TASQLY_LISTEN: expected \"host:port\"");
    clear_env(state);
}

static void test_auth_checks(void **state)
{
    (void)state;
    const char *e = parse_err("auth:\n  token_secret: short\n");
    assert_contains(e, "auth.token_secret: expected at least 32 characters, "
                       "got 5");
    assert_null(strstr(e, "short"));
    e = parse_err("auth:\n  previous_secret: "
                  "0123456789abcdef0123456789abcdef-old\n");
    assert_contains(e, "previous_secret and previous_kid go together");
    e = parse_err("auth:\n  token_kid: \"bad kid\"\n");
    assert_contains(e, "auth.token_kid");
    e = parse_err("auth:\n  previous_secret: "
                  "0123456789abcdef0123456789abcdef-old\n  previous_kid: k1\n");
    assert_contains(e, "auth.previous_kid: equals auth.token_kid");
    e = parse_err("auth:\n  access_ttl: 2d\n");
    assert_contains(e, "auth.access_ttl");
    e = parse_err("auth:\n  access_ttl: 1h\n  refresh_ttl: 30m\n");
    assert_contains(e, "longer than auth.refresh_ttl");
}

static void test_auth_rate_limits(void **state)
{
    (void)state;
    host_config c;
    parse_ok(&c, "auth:\n"
                 "  rate_limits:\n"
                 "    login_failures_per_email: 2\n"
                 "    login_failures_per_address: 100000\n"
                 "    login_window: 15m\n"
                 "    reset_per_email: 1\n"
                 "    reset_window: 1h\n");
    assert_int_equal(c.login_fail_per_email, 2);
    assert_int_equal(c.login_fail_per_addr, 100000);
    assert_int_equal(c.login_window_s, 900);
    assert_int_equal(c.reset_per_email, 1);
    assert_int_equal(c.reset_window_s, 3600);
    host_config_free(&c);

    /* Units are optional (seconds), and a day is the longest window. */
    parse_ok(&c, "auth:\n  rate_limits: {login_window: 90, reset_window: 1d}"
                 "\n");
    assert_int_equal(c.login_window_s, 90);
    assert_int_equal(c.reset_window_s, 86400);
    assert_int_equal(c.login_fail_per_email, 0); /* unset: the default */
    assert_int_equal(c.reset_per_email, 0);
    host_config_free(&c);
    parse_ok(&c, "auth:\n  rate_limits:\n    login_window: 1s\n"
                 "    reset_window: 24 h\n");
    assert_int_equal(c.login_window_s, 1);
    assert_int_equal(c.reset_window_s, 86400);
    host_config_free(&c);
    parse_ok(&c, "auth:\n  rate_limits: {}\n");
    assert_int_equal(c.login_window_s, 0);
    host_config_free(&c);

    const char *e;
    e = parse_err("auth:\n  rate_limits:\n    login_failures_per_email: 0\n");
    assert_string_equal(e, "t.yaml:3:5: auth.rate_limits.login_failures_per_"
                           "email: expected an integer from 1 to 100000, "
                           "got 0");
    e = parse_err("auth:\n  rate_limits:\n"
                  "    login_failures_per_address: 100001\n");
    assert_contains(e, "auth.rate_limits.login_failures_per_address: "
                       "expected an integer from 1 to 100000, got 100001");
    e = parse_err("auth:\n  rate_limits:\n    reset_per_email: -1\n");
    assert_contains(e, "auth.rate_limits.reset_per_email: expected an "
                       "integer from 1 to 100000");
    e = parse_err("auth:\n  rate_limits:\n    reset_per_email: 3x\n");
    assert_contains(e, "auth.rate_limits.reset_per_email: expected an "
                       "integer");
    e = parse_err("auth:\n  rate_limits:\n    login_failures_per_email: "
                  "\"5\"\n");
    assert_contains(e, "(a quoted string)");
    e = parse_err("auth:\n  rate_limits:\n    login_failures_per_email: "
                  "2.5\n");
    assert_contains(e, "auth.rate_limits.login_failures_per_email");
    e = parse_err("auth:\n  rate_limits:\n    login_window: 2d\n");
    assert_contains(e, "auth.rate_limits.login_window: expected a duration "
                       "in seconds (units s, m, h, d allowed) from 1 to "
                       "86400, got 172800");
    e = parse_err("auth:\n  rate_limits:\n    login_window: 0s\n");
    assert_contains(e, "auth.rate_limits.login_window");
    assert_contains(e, "got 0");
    e = parse_err("auth:\n  rate_limits:\n    reset_window: 1w\n");
    assert_contains(e, "auth.rate_limits.reset_window: expected a duration");
    e = parse_err("auth:\n  rate_limits:\n    reset_window: 1 hour\n");
    assert_contains(e, "auth.rate_limits.reset_window");
    e = parse_err("auth:\n  rate_limits:\n    reset_window: [1h]\n");
    assert_contains(e, "got a sequence");
    e = parse_err("auth:\n  rate_limits: 5\n");
    assert_contains(e, "auth.rate_limits: expected a mapping");
    e = parse_err("auth:\n  rate_limits:\n    login_failures: 5\n");
    assert_contains(e, "login_failures");
    e = parse_err("auth:\n  rate_limits:\n    login_window: 1m\n"
                  "    login_window: 2m\n");
    assert_contains(e, "duplicate key");
    /* The limits belong under auth.rate_limits, nowhere else. */
    e = parse_err("auth:\n  login_failures_per_email: 2\n");
    assert_contains(e, "login_failures_per_email");
}

static void test_nesting_and_size_limits(void **state)
{
    (void)state;
    /* Deep flow nesting inside a plugin's config. */
    char m[4096];
    int o = snprintf(m, sizeof(m), "plugins:\n  - name: x\n    config:\n"
                                   "      a: ");
    for (int i = 0; i < 100; i++)
        m[o++] = '[';
    for (int i = 0; i < 100; i++)
        m[o++] = ']';
    m[o++] = '\n';
    m[o] = '\0';
    const char *e = parse_err(m);
    assert_contains(e, "nested deeper than 64 levels");

    /* A NUL inside a string meant for C. */
    e = parse_err("paths:\n  var: \"a\\0b\"\n");
    assert_contains(e, "paths.var: the value holds a NUL character");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_builtin_defaults, clear_env),
        cmocka_unit_test_setup(test_empty_manifests_give_defaults, clear_env),
        cmocka_unit_test_setup(test_every_field, clear_env),
        cmocka_unit_test_setup(test_pool_follows_workers, clear_env),
        cmocka_unit_test_setup(test_lead_manifest_shape, clear_env),
        cmocka_unit_test_setup(test_syntax_error_has_position, clear_env),
        cmocka_unit_test_setup(test_unknown_keys, clear_env),
        cmocka_unit_test_setup(test_wrong_types, clear_env),
        cmocka_unit_test_setup(test_duplicates, clear_env),
        cmocka_unit_test_setup(test_plugin_entries, clear_env),
        cmocka_unit_test_setup(test_plugin_config_json_types, clear_env),
        cmocka_unit_test_setup(test_env_references, clear_env),
        cmocka_unit_test_setup(test_secrets_never_in_messages, clear_env),
        cmocka_unit_test_setup(test_file_references_and_load, clear_env),
        cmocka_unit_test_setup(test_registered_resolver, clear_env),
        cmocka_unit_test_setup(test_env_overrides, clear_env),
        cmocka_unit_test_setup(test_auth_checks, clear_env),
        cmocka_unit_test_setup(test_auth_rate_limits, clear_env),
        cmocka_unit_test_setup(test_nesting_and_size_limits, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
