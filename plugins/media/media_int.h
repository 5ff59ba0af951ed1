/*
 * media_int.h - what the files of the media plugin share; never included
 * outside plugins/media/.
 *
 * Files, one idea each:
 *   media.c    descriptor, config, migrations, init (routes, service,
 *              the delete-object subscription)
 *   routes.c   POST /v1/media, GET /v1/media/{id}[/content], DELETE
 *   access.c   who may read a media object; the row lookup
 *   service.c  the media.attach service (tq_media_service) and the
 *              "media.deleted" handler that removes stored objects
 *   image.c    magic-byte sniffing and metadata stripping (pure C)
 *
 * The bytes live in the host's object store (tq_store_*), PostgreSQL keeps
 * the metadata and the object key (media.objects).  Memory: request
 * memory and jansson references handed to the host only; the plugin keeps
 * nothing on the heap between requests.  Internal names start with med_.
 */
#ifndef MEDIA_INT_H
#define MEDIA_INT_H

#include <tasqly/groups.h>
#include <tasqly/media.h>
#include <tasqly/tasqly.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct med_config {
    int max_bytes;  /* upload limit: 10 MiB */
    int url_ttl_s;  /* pre-signed URL lifetime: 900 */
} med_config;

extern med_config med_conf;                 /* set in init, read-only after */
extern const tq_groups_service *med_groups; /* required: never NULL */
extern const tq_media_service med_service;

/* One row of media.objects, as request memory. */
typedef struct med_row {
    const char *id, *owner_id, *group_id, *purpose, *content_type, *sha256,
        *store_key, *created_at;
    long long size;
} med_row;

/*
 * The row of id when the caller may read it: 0 with *row; otherwise sets
 * 404 (absent, or not the caller's to see: the same answer) or 503 and
 * returns that status.  id must already be a uuid.
 */
int med_load_readable(tq_req *req, const char *id, med_row *row);

/* Route handlers (routes.c). */
int med_h_upload(tq_req *req);
int med_h_get(tq_req *req);
int med_h_content(tq_req *req);
int med_h_delete(tq_req *req);

/* "media.deleted" subscriber: removes the stored object (service.c). */
int med_on_deleted(tq_req *ctx, const tq_event *ev);
/* "group.deleted" subscriber: deletes the group's photos (service.c). */
int med_on_group_deleted(tq_req *ctx, const tq_event *ev);

/* Migrations (media.c). */
int med_register_migrations(void);

#endif
