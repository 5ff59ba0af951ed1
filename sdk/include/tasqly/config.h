/*
 * config.h - reading a plugin's "config:" mapping from tasqly.yaml, with
 * the messages an operator needs.  Header-only, built on tq_config() and
 * tq_log(): it adds no slot to the ABI and works with every 1.x host.
 *
 * Call these from init().  Each returns TQ_OK, or logs what is wrong, the
 * value found and what is expected, e.g.
 *
 *     groups: tasqly.yaml: config.invite_ttl_hours: expected an integer
 *     from 1 to 8760, got 0
 *
 * (the host adds the plugin's name) and returns TQ_E_INVALID, which
 * init() returns so the host refuses to start.  An absent or null key
 * leaves *out untouched: set the default first.
 *
 *     static const char *const keys[] = {"ttl_hours", "greeting", NULL};
 *     int ttl = 168;
 *     const char *greeting = "hello";
 *     int rc = tq_conf_known(keys);
 *     if (rc == TQ_OK) rc = tq_conf_int("ttl_hours", 1, 8760, &ttl);
 *     if (rc == TQ_OK) rc = tq_conf_str("greeting", 1, 100, &greeting);
 *
 * Values arrive typed by the manifest's YAML (integers, booleans,
 * strings); a ${env:...} or ${file:...} reference always yields a string,
 * so integers and booleans are also accepted as strings.  Strings are
 * borrowed from the host's copy of the manifest: valid until shutdown.
 */
#ifndef TASQLY_CONFIG_H
#define TASQLY_CONFIG_H

#include <tasqly/tasqly.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Logs "config.KEY: expected WHAT, got VALUE"; returns TQ_E_INVALID. */
TQ_INL int tq_conf__bad(const char *key, const char *what, json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    tq_log(NULL, TQ_LOG_ERROR, "tasqly.yaml: config.%s: expected %s, got %s",
           key, what, text ? text : "?");
    free(text);
    return TQ_E_INVALID;
}

/* Every key of the mapping is in keys (NULL-terminated): a typo in the
 * manifest stops the start instead of being silently ignored. */
TQ_INL int tq_conf_known(const char *const *keys)
{
    const char *key;
    json_t *v;
    json_object_foreach(tq_config(), key, v) {
        int ok = 0;
        for (int i = 0; keys[i] && !ok; i++)
            ok = strcmp(key, keys[i]) == 0;
        if (!ok) {
            char list[512] = "";
            for (int i = 0; keys[i]; i++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "",
                         keys[i]);
            }
            tq_log(NULL, TQ_LOG_ERROR,
                   "tasqly.yaml: config.%s: unknown setting; this plugin "
                   "knows %s",
                   key, list[0] ? list : "no settings");
            return TQ_E_INVALID;
        }
    }
    return TQ_OK;
}

/* An integer in min..max. */
TQ_INL int tq_conf_int(const char *key, int min, int max, int *out)
{
    json_t *v = json_object_get(tq_config(), key);
    long long x;
    if (!v || json_is_null(v))
        return TQ_OK;
    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_string(v) && *json_string_value(v)) {
        char *end;
        errno = 0;
        x = strtoll(json_string_value(v), &end, 10);
        if (*end || errno)
            x = (long long)min - 1;
    } else {
        x = (long long)min - 1;
    }
    if (x < min || x > max) {
        char what[96];
        snprintf(what, sizeof what, "an integer from %d to %d", min, max);
        return tq_conf__bad(key, what, v);
    }
    *out = (int)x;
    return TQ_OK;
}

/* A string of min..max bytes. */
TQ_INL int tq_conf_str(const char *key, size_t min, size_t max,
                       const char **out)
{
    json_t *v = json_object_get(tq_config(), key);
    if (!v || json_is_null(v))
        return TQ_OK;
    size_t len = json_is_string(v) ? json_string_length(v) : 0;
    if (!json_is_string(v) || len < min || len > max ||
        strlen(json_string_value(v)) != len) {
        char what[96];
        snprintf(what, sizeof what, "a string of %zu to %zu bytes", min, max);
        return tq_conf__bad(key, what, v);
    }
    *out = json_string_value(v);
    return TQ_OK;
}

/* true or false (also as the strings "true" and "false"). */
TQ_INL int tq_conf_bool(const char *key, int *out)
{
    json_t *v = json_object_get(tq_config(), key);
    if (!v || json_is_null(v))
        return TQ_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return TQ_OK;
    }
    if (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 ||
                              strcmp(json_string_value(v), "false") == 0)) {
        *out = strcmp(json_string_value(v), "true") == 0;
        return TQ_OK;
    }
    return tq_conf__bad(key, "true or false", v);
}

/* The value is present but unusable for a reason of the plugin's own
 * (e.g. not an ISO 4217 code): the same message, with what is expected. */
TQ_INL int tq_conf_reject(const char *key, const char *expected)
{
    return tq_conf__bad(key, expected, json_object_get(tq_config(), key));
}

#endif
