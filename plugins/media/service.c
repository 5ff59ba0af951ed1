/*
 * service.c - what the media plugin offers other plugins and the host:
 *
 *   media.attach v1 (tq_media_service): may the caller attach these media
 *   ids here?  Each must exist, be the caller's own upload, have the
 *   purpose asked for, and belong to the group asked for (no group: an
 *   avatar, which belongs to nobody else).  Attaching a housemate's photo
 *   to your own comment is refused: re-upload it.
 *
 *   the "group.deleted" subscriber: a deleted group's photos go with it,
 *   each row with a "media.deleted" event in the same transaction.
 *
 *   the "media.deleted" subscriber, which removes a deleted row's object
 *   from the store.  It runs from the host's outbox, after the row's
 *   deletion committed; a store failure returns an error so the host
 *   retries it with backoff, and deleting an object already gone
 *   succeeds, so a retry after a lost answer is harmless.
 */
#include "media_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { MAX_ATTACH = 20 };

static bool uuid_text(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (!s || strlen(s) != sizeof pat - 1)
        return false;
    for (size_t i = 0; pat[i]; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                   (c >= 'A' && c <= 'F');
        if (pat[i] == '-' ? c != '-' : !hex)
            return false;
    }
    return true;
}

static int check_attach(tq_req *req, const char *gid, const char *purpose,
                        json_t *ids, const char *field)
{
    if (!field)
        field = "media_ids";
    if (!json_is_array(ids) || json_array_size(ids) > MAX_ATTACH)
        return tq_error(req, 400, "validation_failed", field,
                        "%s must be an array of at most %d media ids",
                        field, MAX_ATTACH);
    size_t n = json_array_size(ids);
    if (n == 0)
        return 0;
    if (!purpose || (gid == NULL) != (strcmp(purpose, "avatar") == 0))
        return tq_error(req, 400, "validation_failed", field,
                        "%s: photos attach to a group, avatars to nobody "
                        "(purpose %s, group %s)",
                        field, purpose ? purpose : "none",
                        gid ? gid : "none");

    /* A PostgreSQL array literal of checked uuids, passed as one
     * parameter: nothing is spliced into the SQL. */
    char *arr = tq_alloc(req, n * 37 + 3);
    size_t o = 0;
    arr[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!uuid_text(id))
            return tq_error(req, 400, "validation_failed", field,
                            "%s[%zu] is not a media id (a uuid)", field, i);
        for (size_t j = 0; j < i; j++)
            if (!strcasecmp(id, json_string_value(json_array_get(ids, j))))
                return tq_error(req, 400, "validation_failed", field,
                                "%s[%zu] repeats %s[%zu]", field, i, field,
                                j);
        if (i)
            arr[o++] = ',';
        memcpy(arr + o, id, 36);
        o += 36;
    }
    arr[o++] = '}';
    arr[o] = '\0';

    tq_res *r;
    int rc = tq_sql(req, &r,
                    "SELECT i.ord - 1"
                    " FROM unnest($1::uuid[]) WITH ORDINALITY AS i(id, ord)"
                    " LEFT JOIN media.objects m ON m.id = i.id"
                    "  AND m.owner_id = $2 AND m.purpose = $3"
                    "  AND m.group_id IS NOT DISTINCT FROM $4::uuid"
                    " WHERE m.id IS NULL ORDER BY i.ord LIMIT 1",
                    arr, tq_user(req), purpose, gid);
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_rows(r) > 0) {
        long long bad = tq_get_ll(r, 0, 0);
        return tq_error(req, 400, "validation_failed", field,
                        "%s[%lld] is not one of your %s uploads%s%s: "
                        "upload it with POST /v1/media?purpose=%s%s%s",
                        field, bad, purpose, gid ? " for group " : "",
                        gid ? gid : "", purpose,
                        gid ? "&group_id=" : "", gid ? gid : "");
    }
    return 0;
}

const tq_media_service med_service = {
    .size = sizeof(tq_media_service),
    .check_attach = check_attach,
};

int med_on_deleted(tq_req *ctx, const tq_event *ev)
{
    const char *key =
        json_string_value(json_object_get(ev->payload, "store_key"));
    if (!key) {
        tq_log(ctx, TQ_LOG_ERROR,
               "event %lld (media.deleted) has no store_key; nothing to "
               "delete",
               (long long)ev->id);
        return TQ_OK; /* retrying cannot help */
    }
    int rc = tq_store_delete(ctx, key);
    if (rc != TQ_OK) {
        tq_log(ctx, TQ_LOG_WARN,
               "deleting stored object %s failed (attempt %d): %s; the "
               "host will retry",
               key, ev->attempt, tq_store_error(ctx));
        return rc;
    }
    return TQ_OK;
}

int med_on_group_deleted(tq_req *ctx, const tq_event *ev)
{
    const char *gid = ev->group_id;
    if (!gid)
        gid = json_string_value(json_object_get(ev->payload, "group_id"));
    if (!uuid_text(gid)) {
        tq_log(ctx, TQ_LOG_WARN,
               "group.deleted without a valid group id (%s); nothing to "
               "delete",
               gid ? gid : "null");
        return TQ_OK;
    }
    tq_res *r;
    int rc = tq_sql(ctx, &r,
                    "DELETE FROM media.objects WHERE group_id = $1"
                    " RETURNING id, store_key, owner_id",
                    gid);
    for (int i = 0; rc == TQ_OK && i < tq_rows(r); i++)
        rc = tq_emit(ctx, "media.deleted", NULL,
                     json_pack("{ss ss ss}", "media_id", tq_get(r, i, 0),
                               "store_key", tq_get(r, i, 1), "owner_id",
                               tq_get(r, i, 2)));
    return rc;
}
