/*
 * hello.c - the example plugin of sdk/README.md: one public route, two
 * authenticated ones backed by its own table, one migration, one event.
 * Everything it needs comes from <tasqly/tasqly.h>; it links no host
 * symbol.
 */
#include <tasqly/tasqly.h>

static const char *greeting = "hello";

/* GET /v1/hello: public; the greeting comes from the plugin's config. */
static int hello(tq_req *req)
{
    return tq_json(req, 200, json_pack("{s:s}", "message", greeting));
}

/* POST /v1/hello/notes {body}: runs in one transaction with its event. */
static int note_create(tq_req *req)
{
    const char *body;
    int rc = tq_get_str(req, "body", 1, 1, 500, &body);
    if (rc)
        return rc;
    tq_res *res;
    rc = tq_sql(req, &res,
                "INSERT INTO hello.notes (user_id, body) VALUES ($1, $2) "
                "RETURNING id, body, created_at",
                tq_user(req), body);
    if (rc)
        return tq_fail(req, rc);
    json_t *note = tq_row_json(res, 0);
    rc = tq_emit(req, "hello.note_added", NULL,
                 json_pack("{s:O}", "subject_id", json_object_get(note, "id")));
    if (rc) {
        json_decref(note);
        return tq_fail(req, rc);
    }
    return tq_json(req, 201, note);
}

/* GET /v1/hello/notes: the caller's notes, newest first. */
static int note_list(tq_req *req)
{
    tq_res *res;
    int rc = tq_sql(req, &res,
                    "SELECT id, body, created_at FROM hello.notes "
                    "WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100",
                    tq_user(req));
    if (rc)
        return tq_fail(req, rc);
    return tq_json(req, 200,
                   json_pack("{s:o, s:n}", "items", tq_res_json(res),
                             "next_cursor"));
}

static const tq_route routes[] = {
    {"GET", "/v1/hello", hello, TQ_ROUTE_PUBLIC, 0},
    {"POST", "/v1/hello/notes", note_create, 0, 0},
    {"GET", "/v1/hello/notes", note_list, 0, 0},
};

static int init(tq_plugin *p)
{
    (void)p;
    json_t *g = json_object_get(tq_config(), "greeting");
    if (json_is_string(g))
        greeting = json_string_value(g); /* borrowed until shutdown */
    int rc = tq_migration("0001_notes",
                          "CREATE TABLE hello.notes ("
                          " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                          " user_id uuid NOT NULL,"
                          " body text NOT NULL,"
                          " created_at timestamptz NOT NULL DEFAULT now());"
                          "CREATE INDEX ON hello.notes (user_id, created_at);");
    if (rc == TQ_OK)
        rc = tq_routes(routes, sizeof routes / sizeof routes[0]);
    return rc;
}

TQ_PLUGIN_DEFINE("hello", "1.0.0", NULL, init, NULL)
