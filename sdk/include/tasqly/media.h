/*
 * media.h - the service the media plugin provides to plugins that attach
 * photos (task comments, maintenance requests) or use avatars.
 *
 * Get it in init() with tq_service(TQ_MEDIA_SERVICE, 1); it is NULL when
 * the media plugin is disabled, and then any media_ids must be refused
 * with 400.  Strings are borrowed; nothing here allocates for the caller.
 */
#ifndef TASQLY_MEDIA_H
#define TASQLY_MEDIA_H

#include <tasqly/tasqly.h>

#define TQ_MEDIA_SERVICE "media.attach"
#define TQ_MEDIA_SERVICE_VERSION 1

typedef struct tq_media_service {
    uint32_t size;

    /*
     * ids is the request's JSON array of media ids (borrowed), field the
     * body field it came from.  Returns 0 when every id exists and the
     * caller may attach it in group gid (gid NULL: caller's own uploads,
     * e.g. an avatar with purpose "avatar"); otherwise sets a 400
     * validation_failed naming field and returns 400 (503 when the
     * database is away).
     */
    int (*check_attach)(tq_req *req, const char *gid, const char *purpose,
                        json_t *ids, const char *field);
} tq_media_service;

#endif
