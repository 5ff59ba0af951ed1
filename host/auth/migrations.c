/*
 * migrations.c - the core's account tables, in schema tasqly.
 *
 * Applied migrations are checksummed: never edit one that has shipped;
 * append a new one.  Names start with "auth_" because the core plugin
 * shares one migration namespace with the event tables.
 *
 * users.email keeps the case the user typed; uniqueness and look-ups go
 * through lower(email) (an expression index, not citext: no extension to
 * install, and the same folding as the rate-limit keys).  Tokens are kept
 * only as SHA-256 digests (bytea).  Two read-only views are the plugin
 * contract (docs/auth.md): user_public for any plugin, user_contact for
 * the notify plugin; plugins never read tasqly.users itself.
 */
#include "host.h"
#include "auth.h"

static const char m001_users[] =
    "CREATE TABLE tasqly.users (\n"
    "  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "  email text NOT NULL CHECK (octet_length(email) BETWEEN 3 AND 254),\n"
    "  display_name text NOT NULL\n"
    "    CHECK (char_length(display_name) BETWEEN 1 AND 80),\n"
    "  avatar_media_id uuid NULL,\n"
    "  password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%'),\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  updated_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE UNIQUE INDEX users_email_lower_key ON tasqly.users (lower(email));\n"
    "\n"
    "CREATE VIEW tasqly.user_public AS\n"
    "  SELECT id, display_name, avatar_media_id FROM tasqly.users;\n"
    "CREATE VIEW tasqly.user_contact AS\n"
    "  SELECT id, email, display_name FROM tasqly.users;\n";

static const char m002_tokens[] =
    "CREATE TABLE tasqly.refresh_tokens (\n"
    "  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),\n"
    "  user_id uuid NOT NULL REFERENCES tasqly.users (id) ON DELETE CASCADE,\n"
    "  family_id uuid NOT NULL,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  expires_at timestamptz NOT NULL,\n"
    "  used_at timestamptz NULL,    -- rotated: spent, kept to catch reuse\n"
    "  revoked_at timestamptz NULL  -- logout, reuse, password reset\n"
    ");\n"
    "CREATE INDEX refresh_tokens_family ON tasqly.refresh_tokens (family_id);\n"
    "CREATE INDEX refresh_tokens_user ON tasqly.refresh_tokens (user_id);\n"
    "CREATE INDEX refresh_tokens_expires ON tasqly.refresh_tokens (expires_at);\n"
    "\n"
    "CREATE TABLE tasqly.password_reset_tokens (\n"
    "  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),\n"
    "  user_id uuid NOT NULL REFERENCES tasqly.users (id) ON DELETE CASCADE,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  expires_at timestamptz NOT NULL,\n"
    "  used_at timestamptz NULL\n"
    ");\n"
    "CREATE INDEX password_reset_tokens_user\n"
    "  ON tasqly.password_reset_tokens (user_id);\n"
    "\n"
    "CREATE TABLE tasqly.rate_limits (\n"
    "  key text PRIMARY KEY,\n"
    "  window_start timestamptz NOT NULL,\n"
    "  hits integer NOT NULL CHECK (hits > 0)\n"
    ");\n"
    "CREATE INDEX rate_limits_window ON tasqly.rate_limits (window_start);\n";

int host_auth_migrations(tq_plugin *core)
{
    int rc = tq__api->migration(core, "auth_001_users", m001_users);
    if (rc == TQ_OK)
        rc = tq__api->migration(core, "auth_002_tokens", m002_tokens);
    return rc;
}
