/*
 * dbpriv.h - what db.c shares with migrate.c, events.c and jobs.c only.
 *
 * The rest of the host sees host_db as opaque (host.h); the dispatcher
 * needs the raw connection for LISTEN and its socket, and everyone needs
 * the same error mapping.
 */
#ifndef TASQLY_DBPRIV_H
#define TASQLY_DBPRIV_H

#include "host.h"

#include <libpq-fe.h>

/* The live connection, or NULL while down.  Borrowed. */
PGconn *host_db_conn(host_db *db);
/* Changes on every (re)connect: session state such as LISTEN is gone. */
unsigned host_db_generation(host_db *db);
/* TQ_E_* for a failed PGresult (NULL: a client-side failure) on conn. */
int host_db_map_error(PGconn *conn, const PGresult *r);
/* "TQ_E_UNIQUE" for TQ_E_UNIQUE: for messages. */
const char *host_rc_name(int rc);
/* Route libpq notices into the JSON log instead of raw stderr lines. */
void host_db_quiet_notices(PGconn *conn);
/* Connect to url with the session settings every host connection uses
 * (UTC, ISO dates, application_name); statement_timeout_ms 0 = none.
 * NULL with the reason in err when it cannot. */
PGconn *host_db_connect(const char *url, const char *app,
                        int statement_timeout_ms, char *err, size_t errlen);
/* PQclear and free every result handed out on db so far. */
void host_db_clear_results(host_db *db);
/* Milliseconds on the monotonic clock. */
long long host_now_ms(void);

#endif
