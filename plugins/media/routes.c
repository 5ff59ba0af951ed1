/*
 * routes.c - the media routes of API.md:
 *
 *   POST   /v1/media?purpose=avatar|comment|maintenance&group_id=
 *          raw image body -> 201 {id, content_type, size, sha256, url,
 *          url_expires_at, purpose, group_id, owner_id, created_at}
 *   GET    /v1/media/{id}          metadata with a fresh url
 *   GET    /v1/media/{id}/content  302 to a pre-signed URL (s3), or the
 *                                  bytes (fs)
 *   DELETE /v1/media/{id}          uploader only -> 204
 *
 * Order of writes, so a failure midway leaves nothing dangling: upload
 * stores the object first, then inserts the row (a failed insert deletes
 * the object again); delete removes the row and emits "media.deleted" in
 * one transaction, and the event's handler deletes the object, retried by
 * the host until it succeeds.  Every buffer here is request memory.
 */
#include "image.h"
#include "media_int.h"

#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const purposes[] = {"avatar", "comment", "maintenance",
                                       NULL};

/* The answer for a failed store call: 503 when the store cannot be
 * reached, 502 when it answered an error, with its words. */
static int store_fail(tq_req *req, int rc, const char *doing)
{
    const char *why = tq_store_error(req);
    switch (rc) {
    case TQ_E_UNAVAILABLE:
        tq_set_header(req, "Retry-After", "5");
        return tq_error(req, 503, "unavailable", NULL,
                        "the media store is unavailable while %s (%s); "
                        "retry shortly",
                        doing, *why ? why : "no answer");
    case TQ_E_IO:
    case TQ_E_NOTFOUND:
        return tq_error(req, 502, "upstream_failed", NULL,
                        "the media store failed while %s: %s", doing,
                        *why ? why : "no detail");
    default:
        return tq_fail(req, rc);
    }
}

static const char *ext_of(const char *ct)
{
    return !strcmp(ct, "image/png") ? "png"
           : !strcmp(ct, "image/webp") ? "webp"
                                       : "jpg";
}

static char *hex_sha256(tq_req *req, const void *p, size_t n)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    char *h = tq_alloc(req, 65);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(h + 2 * i, 3, "%02x", md[i]);
    return h;
}

static char *new_uuid(tq_req *req)
{
    unsigned char b[16];
    arc4random_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return tq_printf(req,
                     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                     "%02x%02x%02x%02x%02x%02x",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
                     b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static bool uuid_shaped(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof pat - 1)
        return false;
    for (size_t i = 0; pat[i]; i++) {
        char c = s[i];
        if (pat[i] == '-' ? c != '-'
                          : !((c >= '0' && c <= '9') ||
                              (c >= 'a' && c <= 'f') ||
                              (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* "image/JPEG; charset=x" -> "image/jpeg" if it is one we take, else NULL. */
static const char *declared_type(tq_req *req)
{
    const char *h = tq_header(req, "Content-Type");
    if (!h)
        return NULL;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strcspn(h, "; \t");
    static const char *const ok[] = {"image/jpeg", "image/png",
                                     "image/webp"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (n == strlen(ok[i]) && !strncasecmp(h, ok[i], n))
            return ok[i];
    return NULL;
}

/* The url and url_expires_at of an object: a pre-signed URL from the s3
 * store, or our own /content route for the fs store. */
static int object_url(tq_req *req, const char *id, const char *key,
                      const char **url, const char **expires)
{
    int rc = tq_store_url(req, key, med_conf.url_ttl_s, url, expires);
    if (rc != TQ_OK)
        return rc;
    if (!*url) {
        *url = tq_printf(req, "/v1/media/%s/content", id);
        *expires = NULL;
    }
    return TQ_OK;
}

static json_t *row_json(const med_row *r, const char *url,
                        const char *expires)
{
    return json_pack("{ss ss sI ss ss ss? ss ss? ss ss}", "id", r->id,
                     "content_type", r->content_type, "size",
                     (json_int_t)r->size, "sha256", r->sha256, "url", url,
                     "url_expires_at", expires, "purpose", r->purpose,
                     "group_id", r->group_id, "owner_id", r->owner_id,
                     "created_at", r->created_at);
}

/* ------------------------------------------------------------- upload */

int med_h_upload(tq_req *req)
{
    const char *me = tq_user(req);
    const char *purpose = tq_query(req, "purpose");
    const char *gid = tq_query(req, "group_id");
    if (gid && !*gid)
        gid = NULL;
    bool known = false;
    for (int i = 0; purpose && purposes[i]; i++)
        known = known || !strcmp(purpose, purposes[i]);
    if (!known)
        return tq_error(req, 400, "validation_failed", "purpose",
                        "purpose must be avatar, comment or maintenance, "
                        "got %s%s%s",
                        purpose ? "\"" : "", purpose ? purpose : "nothing",
                        purpose ? "\"" : "");
    bool avatar = !strcmp(purpose, "avatar");
    if (avatar && gid)
        return tq_error(req, 400, "validation_failed", "group_id",
                        "an avatar belongs to its owner, not to a group: "
                        "drop group_id");
    if (!avatar) {
        if (!gid)
            return tq_error(req, 400, "validation_failed", "group_id",
                            "group_id is required for %s photos: the group "
                            "whose members may see it",
                            purpose);
        if (!uuid_shaped(gid))
            return tq_error(req, 400, "validation_failed", "group_id",
                            "group_id must be a group's uuid");
        int st = med_groups->require(req, gid, TQ_ROLE_ANY, NULL);
        if (st)
            return st;
    }

    const char *type = declared_type(req);
    if (!type)
        return tq_error(req, 415, "unsupported_media_type", NULL,
                        "send the image with Content-Type image/jpeg, "
                        "image/png or image/webp");
    size_t len = 0;
    const unsigned char *body = tq_body_raw(req, &len);
    if (!body || len == 0)
        return tq_error(req, 400, "validation_failed", NULL,
                        "the body is empty: send the image's bytes");
    if (len > (size_t)med_conf.max_bytes) /* the host checks this first */
        return tq_error(req, 413, "payload_too_large", NULL,
                        "the image is %zu bytes; at most %d are accepted",
                        len, med_conf.max_bytes);
    const char *sniffed = media_sniff(body, len);
    if (!sniffed || strcmp(sniffed, type) != 0)
        return tq_error(req, 415, "unsupported_media_type", NULL,
                        "the bytes are %s%s, not the %s the Content-Type "
                        "says",
                        sniffed ? "an " : "not an image of a supported type",
                        sniffed ? sniffed : "", type);

    /* Phone photos carry the home's GPS position: what is stored, hashed
     * and served is the image without its metadata. */
    unsigned char *clean = tq_alloc(req, len + 64);
    size_t clen = 0;
    media_strip_stats stats;
    if (media_strip_metadata(type, body, len, clean, &clen, &stats) !=
        MEDIA_IMG_OK)
        return tq_error(req, 415, "unsupported_media_type", NULL,
                        "the %s is malformed or truncated", type);
    if (stats.exif || stats.xmp || stats.other)
        tq_log(req, TQ_LOG_DEBUG,
               "stripped %d EXIF, %d XMP and %d other metadata blocks "
               "(%zu -> %zu bytes)",
               stats.exif, stats.xmp, stats.other, len, clen);

    med_row row = {.owner_id = me, .group_id = gid, .purpose = purpose,
                   .content_type = type, .size = (long long)clen};
    row.id = new_uuid(req);
    row.sha256 = hex_sha256(req, clean, clen);
    row.store_key = tq_printf(req, "media/%s/%s.%s", gid ? gid : me, row.id,
                              ext_of(type));

    /* Sign the URL before anything is stored: when that fails (no
     * credentials), nothing needs undoing. */
    const char *url, *expires;
    int rc = object_url(req, row.id, row.store_key, &url, &expires);
    if (rc != TQ_OK)
        return store_fail(req, rc, "signing the download URL");
    rc = tq_store_put(req, row.store_key, clean, clen, type);
    if (rc != TQ_OK)
        return store_fail(req, rc, "storing the image");

    char size[32];
    snprintf(size, sizeof size, "%zu", clen);
    tq_res *r;
    rc = tq_sql(req, &r,
                "INSERT INTO media.objects (id, owner_id, group_id, purpose,"
                " content_type, size, sha256, store_key)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " RETURNING created_at",
                row.id, me, gid, purpose, type, size, row.sha256,
                row.store_key);
    if (rc != TQ_OK) {
        /* No row will point at the object: take it back out.  Should
         * the store fail too, the log names the key to remove. */
        if (tq_store_delete(req, row.store_key) != TQ_OK)
            tq_log(req, TQ_LOG_ERROR,
                   "orphaned object %s: the row insert failed (%d) and "
                   "deleting the object failed too (%s); delete it by hand",
                   row.store_key, rc, tq_store_error(req));
        return tq_fail(req, rc);
    }
    row.created_at = tq_get(r, 0, 0);
    return tq_json(req, 201, row_json(&row, url, expires));
}

/* --------------------------------------------------------------- read */

int med_h_get(tq_req *req)
{
    const char *id;
    int st = tq_param_uuid(req, "id", &id);
    if (st)
        return st;
    med_row row;
    if ((st = med_load_readable(req, id, &row)))
        return st;
    const char *url, *expires;
    int rc = object_url(req, row.id, row.store_key, &url, &expires);
    if (rc != TQ_OK)
        return store_fail(req, rc, "signing the download URL");
    return tq_json(req, 200, row_json(&row, url, expires));
}

int med_h_content(tq_req *req)
{
    const char *id;
    int st = tq_param_uuid(req, "id", &id);
    if (st)
        return st;
    med_row row;
    if ((st = med_load_readable(req, id, &row)))
        return st;
    const char *url = NULL, *expires = NULL;
    int rc = tq_store_url(req, row.store_key, med_conf.url_ttl_s, &url,
                          &expires);
    if (rc != TQ_OK)
        return store_fail(req, rc, "signing the download URL");
    if (url) {
        /* Each answer signs anew: never cache the redirect itself. */
        tq_set_header(req, "Location", url);
        tq_set_header(req, "Cache-Control", "no-store");
        return tq_status(req, 302);
    }

    /* The object never changes under its id, so its hash is its ETag. */
    char *etag = tq_printf(req, "\"%s\"", row.sha256);
    const char *inm = tq_header(req, "If-None-Match");
    tq_set_header(req, "ETag", etag);
    tq_set_header(req, "Cache-Control", "private, max-age=86400");
    if (inm && (strstr(inm, etag) || !strcmp(inm, "*")))
        return tq_status(req, 304);
    const void *data;
    size_t len;
    rc = tq_store_get(req, row.store_key, (size_t)row.size + 1, &data, &len);
    if (rc != TQ_OK)
        return store_fail(req, rc, "reading the image");
    tq_set_header(req, "X-Content-Type-Options", "nosniff");
    tq_set_header(req, "Content-Security-Policy",
                  "default-src 'none'; sandbox");
    tq_set_header(req, "Content-Disposition",
                  tq_printf(req, "inline; filename=\"%s.%s\"", row.id,
                            ext_of(row.content_type)));
    return tq_bytes(req, 200, row.content_type, data, len);
}

/* ------------------------------------------------------------- delete */

int med_h_delete(tq_req *req)
{
    const char *id;
    int st = tq_param_uuid(req, "id", &id);
    if (st)
        return st;
    med_row row;
    if ((st = med_load_readable(req, id, &row)))
        return st;
    if (strcmp(row.owner_id, tq_user(req)) != 0)
        return tq_forbidden(req, "only the uploader may delete a photo");
    tq_res *r;
    int rc = tq_sql(req, &r,
                    "DELETE FROM media.objects WHERE id = $1 AND owner_id = $2",
                    id, tq_user(req));
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    if (tq_affected(r) == 0)
        return tq_not_found(req); /* deleted concurrently */
    /* The object goes after the row, from the outbox, in the same
     * transaction: it is deleted exactly when the row is, retried until
     * the store says it is gone. */
    rc = tq_emit(req, "media.deleted", NULL,
                 json_pack("{ss ss ss}", "media_id", id, "store_key",
                           row.store_key, "owner_id", row.owner_id));
    if (rc != TQ_OK)
        return tq_fail(req, rc);
    return tq_status(req, 204);
}
