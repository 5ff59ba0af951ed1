/*
 * test_loader.c - the loader refuses each kind of bad plugin by name, and
 * a refused plugin leaves nothing behind (start-up stops).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Start tasqlyd on a manifest with these plugins; expect exit 1 and every
 * needle in its output. */
static void expect_refused(const char *name, const char *plugins,
                           const char *const *needles)
{
    char manifest[8192];
    snprintf(manifest, sizeof manifest,
             "server:\n  listen: 127.0.0.1:1\n"
             "database:\n  url: \"postgresql:///none?host=/nonexistent\"\n"
             "auth:\n  token_secret: 0123456789abcdef0123456789abcdef01\n"
             "paths:\n  var: /tmp\n  plugins: \"%s\"\n"
             "plugins:\n%s",
             tqt_plugin_path(), plugins);
    char *out = NULL;
    int rc = tqt_run_manifest(name, manifest, &out);
    if (rc != 1)
        fail_msg("%s: expected exit 1, got %d: %s", name, rc, out);
    for (int i = 0; needles[i]; i++)
        if (!strstr(out, needles[i]))
            fail_msg("%s: output lacks \"%s\": %s", name, needles[i], out);
    free(out);
}

static void test_wrong_abi(void **state)
{
    (void)state;
    expect_refused("abi", "  - name: fx_abi\n    enabled: true\n",
                   (const char *const[]){"fx_abi", "ABI 2.0", "host speaks 1.1",
                                         "rebuild", NULL});
}

static void test_missing_requirement(void **state)
{
    (void)state;
    expect_refused("needs", "  - name: fx_needs\n    enabled: true\n",
                   (const char *const[]){"fx_needs requires plugin fx_absent",
                                         "not in the manifest", NULL});
}

static void test_disabled_requirement(void **state)
{
    (void)state;
    expect_refused("needs_disabled",
                   "  - name: fx_cycle_a\n    enabled: true\n"
                   "  - name: fx_cycle_b\n    enabled: false\n",
                   (const char *const[]){"requires plugin fx_cycle_b",
                                         "disabled", NULL});
}

static void test_cycle(void **state)
{
    (void)state;
    expect_refused("cycle",
                   "  - name: fx_cycle_a\n    enabled: true\n"
                   "  - name: fx_cycle_b\n    enabled: true\n",
                   (const char *const[]){"dependency cycle",
                                         "fx_cycle_a -> fx_cycle_b -> fx_cycle_a",
                                         NULL});
}

static void test_route_collision(void **state)
{
    (void)state;
    expect_refused("clash",
                   "  - name: fx_good\n    enabled: true\n"
                   "  - name: fx_clash\n    enabled: true\n",
                   (const char *const[]){"fx_clash", "/v1/fx/good/{other}",
                                         "collides", "fx_good", NULL});
}

static void test_failing_init(void **state)
{
    (void)state;
    expect_refused("fail", "  - name: fx_fail\n    enabled: true\n",
                   (const char *const[]){"fx_fail", "init() failed",
                                         "refusing to start", NULL});
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_refused("missing", "  - name: nosuchplugin\n    enabled: true\n",
                   (const char *const[]){"nosuchplugin.so not found", NULL});
}

/* A good plugin next to a disabled bad one loads; --list-routes shows its
 * routes and not the failing plugin's. */
static void test_good_and_list_routes(void **state)
{
    (void)state;
    tqt_opts o = {.plugins_yaml = "  - name: fx_good\n    enabled: true\n"
                                  "  - name: fx_fail\n    enabled: false\n"};
    tqt_host *h = tqt_start("loader_good", &o);
    char *out = NULL;
    assert_int_equal(tqt_run_cli(h, (const char *const[]){"--list-routes", NULL}, &out), 0);
    assert_non_null(strstr(out, "/v1/fx/good/{id}"));
    assert_non_null(strstr(out, "/healthz"));
    assert_null(strstr(out, "/v1/fx/fail"));
    free(out);
    assert_int_equal(tqt_run_cli(h, (const char *const[]){"--check-config", NULL}, &out), 0);
    assert_non_null(strstr(out, "ok"));
    free(out);
    assert_int_equal(tqt_stop(h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_abi),
        cmocka_unit_test(test_missing_requirement),
        cmocka_unit_test(test_disabled_requirement),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_route_collision),
        cmocka_unit_test(test_failing_init),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_good_and_list_routes),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
