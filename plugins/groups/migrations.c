/*
 * migrations.c - the groups plugin's schema, as ordered migrations.  The
 * host creates schema "groups" before running them, checksums each one
 * and refuses to start when an applied one was edited: add a new
 * migration, never change one that shipped.
 *
 * Users belong to the host (tasqly.users); there is deliberately no
 * foreign key into the host's schema, so the host may reshape its tables
 * without touching ours.  User ids here always come from an authenticated
 * request, and display names are read through tasqly.user_public.
 *
 * Static strings only; the host copies them.
 */
#include "groups_int.h"

static const char m001_init[] =
    "CREATE TABLE groups.groups (\n"
    "    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
    "    name        text NOT NULL\n"
    "                CHECK (char_length(name) BETWEEN 1 AND 100),\n"
    "    timezone    text NOT NULL DEFAULT 'UTC',\n"
    "    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),\n"
    "    created_by  uuid NOT NULL,\n"
    "    created_at  timestamptz NOT NULL DEFAULT now(),\n"
    "    updated_at  timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "\n"
    "CREATE TABLE groups.members (\n"
    "    group_id   uuid NOT NULL\n"
    "               REFERENCES groups.groups (id) ON DELETE CASCADE,\n"
    "    user_id    uuid NOT NULL,\n"
    "    role       text NOT NULL\n"
    "               CHECK (role IN ('owner', 'admin', 'member', 'landlord')),\n"
    "    joined_at  timestamptz NOT NULL DEFAULT now(),\n"
    "    PRIMARY KEY (group_id, user_id)\n"
    ");\n"
    /* At most one owner by this index; at least one because the owner
     * leaves only by handing ownership over. */
    "CREATE UNIQUE INDEX members_one_owner ON groups.members (group_id)\n"
    "    WHERE role = 'owner';\n"
    /* GET /v1/groups pages by (joined_at, group_id) per user, and
     * share_group() joins on user_id. */
    "CREATE INDEX members_by_user\n"
    "    ON groups.members (user_id, joined_at DESC, group_id DESC);\n"
    "\n"
    /* Codes are bearer secrets, so only their SHA-256 is stored (like
     * refresh tokens): a leaked table admits nobody.  80 random bits need
     * no salt or slow hash.  The hash is the key, so a lookup is one
     * index probe and a duplicate code cannot exist. */
    "CREATE TABLE groups.invites (\n"
    "    code_hash   bytea PRIMARY KEY,\n"
    "    group_id    uuid NOT NULL\n"
    "                REFERENCES groups.groups (id) ON DELETE CASCADE,\n"
    "    role        text NOT NULL CHECK (role IN ('member', 'landlord')),\n"
    "    created_by  uuid NOT NULL,\n"
    "    created_at  timestamptz NOT NULL DEFAULT now(),\n"
    "    expires_at  timestamptz NOT NULL,\n"
    "    max_uses    integer NOT NULL CHECK (max_uses >= 1),\n"
    "    uses        integer NOT NULL DEFAULT 0\n"
    "                CHECK (uses >= 0 AND uses <= max_uses),\n"
    "    revoked_at  timestamptz\n"
    ");\n"
    "CREATE INDEX invites_by_group ON groups.invites (group_id);\n";

int grp_register_migrations(void)
{
    return tq_migration("001_init", m001_init);
}
