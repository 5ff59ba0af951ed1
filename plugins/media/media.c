/*
 * media.c - the media plugin: photos (avatars, task comment photos,
 * maintenance photos) whose bytes go to the host's object store while
 * PostgreSQL keeps their metadata and object key.  This file is the
 * descriptor, the configuration, the schema and init(): the plugin's
 * table of contents.  docs/media.md is its manual.
 *
 * Memory: med_conf and med_groups are written once in init() (the host
 * loads plugins on one thread) and only read afterwards; the route table
 * is copied by the host.
 */
#include "media_int.h"

#include <tasqly/config.h>

med_config med_conf;
const tq_groups_service *med_groups;

/* body_limit of the upload route is set from the configuration. */
static tq_route routes[] = {
    {"POST", "/v1/media", med_h_upload, TQ_ROUTE_RAW_BODY, 0},
    {"GET", "/v1/media/{id}", med_h_get, 0, 0},
    {"GET", "/v1/media/{id}/content", med_h_content, 0, 0},
    {"DELETE", "/v1/media/{id}", med_h_delete, 0, 0},
};

/* ------------------------------------------------------------ config */

static int load_config(void)
{
    static const char *const keys[] = {"max_bytes", "url_ttl", NULL};
    med_conf = (med_config){.max_bytes = 10 << 20, .url_ttl_s = 900};
    int rc = tq_conf_known(keys);
    if (rc == TQ_OK)
        rc = tq_conf_int("max_bytes", 1024, 100 << 20, &med_conf.max_bytes);
    if (rc == TQ_OK)
        rc = tq_conf_int("url_ttl", 60, 604800, &med_conf.url_ttl_s);
    return rc;
}

/* ------------------------------------------------------------ schema */

static const char m001_objects[] =
    "CREATE TABLE media.objects (\n"
    "    id            uuid PRIMARY KEY,\n"
    /* The uploader; users belong to the host, so no foreign key. */
    "    owner_id      uuid NOT NULL,\n"
    /* The group it was uploaded for; NULL for avatars.  No foreign key
     * into the groups plugin's schema either: membership is asked of
     * its service at read time, so a deleted group hides its photos. */
    "    group_id      uuid,\n"
    "    purpose       text NOT NULL\n"
    "                  CHECK (purpose IN ('avatar', 'comment', "
    "'maintenance')),\n"
    "    content_type  text NOT NULL\n"
    "                  CHECK (content_type IN ('image/jpeg', 'image/png',"
    " 'image/webp')),\n"
    "    size          bigint NOT NULL CHECK (size > 0),\n"
    /* Of the stored bytes, i.e. after the metadata was stripped. */
    "    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),\n"
    "    store_key     text NOT NULL UNIQUE,\n"
    "    created_at    timestamptz NOT NULL DEFAULT now(),\n"
    "    CHECK ((purpose = 'avatar') = (group_id IS NULL))\n"
    ");\n"
    "CREATE INDEX objects_by_owner ON media.objects (owner_id, created_at);\n"
    "CREATE INDEX objects_by_group ON media.objects (group_id)\n"
    "    WHERE group_id IS NOT NULL;\n";

int med_register_migrations(void)
{
    return tq_migration("001_objects", m001_objects);
}

/* -------------------------------------------------------------- init */

static int media_init(tq_plugin *p)
{
    (void)p;
    if (!TQ_API_HAS(store_error)) {
        tq_log(NULL, TQ_LOG_ERROR,
               "this host has no object store in its API table (size %u); "
               "upgrade tasqlyd to one that offers tq_store_*",
               (unsigned)tq__api->size);
        return TQ_E_STATE;
    }
    int rc = load_config();
    if (rc != TQ_OK)
        return rc;
    med_groups = tq_service_required(TQ_GROUPS_SERVICE,
                                     TQ_GROUPS_SERVICE_VERSION, "groups");
    if (!med_groups)
        return TQ_E_NOTFOUND;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (routes[i].handler == med_h_upload)
            routes[i].body_limit = (size_t)med_conf.max_bytes;
    rc = med_register_migrations();
    if (rc == TQ_OK)
        rc = tq_routes(routes, sizeof routes / sizeof *routes);
    if (rc == TQ_OK)
        rc = tq_provide(TQ_MEDIA_SERVICE, TQ_MEDIA_SERVICE_VERSION,
                        &med_service);
    if (rc == TQ_OK)
        rc = tq_subscribe("media.deleted", med_on_deleted);
    if (rc == TQ_OK)
        rc = tq_subscribe("group.deleted", med_on_group_deleted);
    return rc;
}

static const char *const requires[] = {"groups", NULL};

TQ_PLUGIN_DEFINE("media", "1.0.0", requires, media_init, NULL)
