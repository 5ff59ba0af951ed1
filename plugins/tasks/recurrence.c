/*
 * recurrence.c - the shape of a recurrence rule and the order of a chore
 * rotation.  The dates themselves are computed in SQL (complete.c), in
 * the group's time zone; this file only decides what a valid rule is and
 * who is next.  Pure C (jansson and libc).
 *
 * Memory: tsk_recurrence_parse returns a new reference the caller owns;
 * the rotation functions borrow their arguments.
 */
#include "tasks_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static json_t *fail(tsk_err *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *fail(tsk_err *err, const char *field, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->field, sizeof err->field, "%s", field);
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return NULL;
}

json_t *tsk_recurrence_parse(json_t *in, tsk_err *err)
{
    static const char *const freqs[] = {"daily", "weekly", "monthly"};
    const char *key;
    json_t *v;

    if (!json_is_object(in))
        return fail(err, "recurrence",
                    "recurrence must be an object such as "
                    "{\"freq\": \"weekly\", \"interval\": 1}, or null");
    json_object_foreach(in, key, v) {
        if (strcmp(key, "freq") && strcmp(key, "interval") &&
            strcmp(key, "rotation"))
            return fail(err, "recurrence",
                        "recurrence has no field \"%.64s\"; it takes freq, "
                        "interval and rotation",
                        key);
    }

    v = json_object_get(in, "freq");
    const char *freq = NULL;
    for (size_t i = 0; json_is_string(v) && i < 3; i++)
        if (strcmp(json_string_value(v), freqs[i]) == 0)
            freq = freqs[i];
    if (!freq)
        return fail(err, "recurrence.freq",
                    "recurrence.freq must be one of: daily, weekly, "
                    "monthly");

    long long interval = 1;
    v = json_object_get(in, "interval");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > TSK_INTERVAL_MAX)
            return fail(err, "recurrence.interval",
                        "recurrence.interval must be an integer from 1 to "
                        "%d (2 with weekly means every other week)",
                        TSK_INTERVAL_MAX);
        interval = json_integer_value(v);
    }

    json_t *rot = json_array();
    if (!rot)
        return fail(err, "recurrence", "out of memory");
    v = json_object_get(in, "rotation");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) > TSK_ROTATION_MAX) {
            json_decref(rot);
            return fail(err, "recurrence.rotation",
                        "recurrence.rotation must be an array of at most "
                        "%d user ids, in the order they take turns",
                        TSK_ROTATION_MAX);
        }
        size_t i;
        json_t *u;
        json_array_foreach(v, i, u) {
            char field[48], id[37];
            snprintf(field, sizeof field, "recurrence.rotation[%zu]", i);
            if (!json_is_string(u) || !tq_is_uuid(json_string_value(u))) {
                json_decref(rot);
                return fail(err, field, "%s must be a user id (a UUID)",
                            field);
            }
            for (int k = 0; k < 37; k++)
                id[k] = (char)tolower((unsigned char)json_string_value(u)[k]);
            if (tsk_rotation_find(rot, id) >= 0) {
                json_decref(rot);
                return fail(err, field,
                            "%s: user %s is in the rotation twice; list "
                            "each person once",
                            field, id);
            }
            if (json_array_append_new(rot, json_string(id))) {
                json_decref(rot);
                return fail(err, "recurrence", "out of memory");
            }
        }
    }
    json_t *out = json_pack("{s:s, s:I, s:o}", "freq", freq, "interval",
                            (json_int_t)interval, "rotation", rot);
    if (!out)
        return fail(err, "recurrence", "out of memory");
    return out;
}

int tsk_rotation_find(json_t *rotation, const char *uid)
{
    size_t i;
    json_t *u;
    if (!uid)
        return -1;
    json_array_foreach(rotation, i, u) {
        if (json_is_string(u) && strcmp(json_string_value(u), uid) == 0)
            return (int)i;
    }
    return -1;
}

int tsk_rotation_next(json_t *rotation, int from,
                      bool (*ok)(void *arg, const char *uid), void *arg)
{
    int n = (int)json_array_size(rotation);
    if (n == 0)
        return -1;
    if (from < -1 || from >= n)
        from = -1;
    for (int k = 1; k <= n; k++) {
        int i = (from + k) % n;
        json_t *u = json_array_get(rotation, (size_t)i);
        if (json_is_string(u) && ok(arg, json_string_value(u)))
            return i;
    }
    return -1;
}
