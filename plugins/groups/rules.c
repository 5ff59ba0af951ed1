/*
 * rules.c - who may do what in a group: the role table of README.md as
 * data.  Handlers ask grp_rule() and nothing else decides; a unit test
 * reads the table out of README.md and compares it with this one cell by
 * cell, so the documentation and the code cannot drift apart.
 *
 * Pure C, no host calls, no memory of its own.
 */
#include "groups_int.h"

#include <string.h>

static const char *const role_names[GRP_NROLES] = {
    [GRP_OWNER] = "owner",
    [GRP_ADMIN] = "admin",
    [GRP_MEMBER] = "member",
    [GRP_LANDLORD] = "landlord",
};

grp_role grp_role_parse(const char *s)
{
    if (s)
        for (int r = 0; r < GRP_NROLES; r++)
            if (strcmp(s, role_names[r]) == 0)
                return (grp_role)r;
    return GRP_NO_ROLE;
}

const char *grp_role_name(grp_role r)
{
    return r >= 0 && r < GRP_NROLES ? role_names[r] : NULL;
}

unsigned grp_role_bit(grp_role r)
{
    static const unsigned bits[GRP_NROLES] = {
        [GRP_OWNER] = TQ_ROLE_OWNER,
        [GRP_ADMIN] = TQ_ROLE_ADMIN,
        [GRP_MEMBER] = TQ_ROLE_MEMBER,
        [GRP_LANDLORD] = TQ_ROLE_LANDLORD,
    };
    return r >= 0 && r < GRP_NROLES ? bits[r] : 0;
}

#define Y GRP_ALLOW
#define N GRP_FORBID
#define C GRP_CONFLICT

static const struct {
    const char *label; /* the first column of the README table */
    grp_verdict by[GRP_NROLES]; /* owner, admin, member, landlord */
} table[GRP_NACTIONS] = {
    [GRP_A_VIEW] = {"view the group and its members", {Y, Y, Y, Y}},
    [GRP_A_EDIT] = {"edit name, timezone, currency", {Y, Y, N, N}},
    [GRP_A_DELETE] = {"delete the group", {Y, N, N, N}},
    [GRP_A_INVITE] = {"create an invite", {Y, Y, N, N}},
    [GRP_A_REVOKE] = {"revoke an invite", {Y, Y, N, N}},
    [GRP_A_SET_ROLE] = {"change a role between member and landlord",
                        {Y, Y, N, N}},
    [GRP_A_SET_ADMIN] = {"promote to admin, or demote an admin",
                         {Y, N, N, N}},
    [GRP_A_SET_OWNER] = {"change the owner's role", {N, N, N, N}},
    [GRP_A_REMOVE_MEMBER] = {"remove a member or a landlord", {Y, Y, N, N}},
    [GRP_A_REMOVE_ADMIN] = {"remove an admin", {Y, N, N, N}},
    /* The owner "removing the owner" is leaving, hence 409 as below. */
    [GRP_A_REMOVE_OWNER] = {"remove the owner", {C, N, N, N}},
    [GRP_A_LEAVE] = {"leave the group", {C, Y, Y, Y}},
    [GRP_A_TRANSFER] = {"transfer ownership", {Y, N, N, N}},
};

#undef Y
#undef N
#undef C

grp_verdict grp_rule(grp_action a, grp_role actor)
{
    if (a < 0 || a >= GRP_NACTIONS || actor < 0 || actor >= GRP_NROLES)
        return GRP_FORBID;
    return table[a].by[actor];
}

const char *grp_action_label(grp_action a)
{
    return a >= 0 && a < GRP_NACTIONS ? table[a].label : NULL;
}

grp_action grp_role_change_action(grp_role old, grp_role new_role)
{
    if (old == GRP_OWNER || new_role == GRP_OWNER)
        return GRP_A_SET_OWNER;
    if (old == GRP_ADMIN || new_role == GRP_ADMIN)
        return GRP_A_SET_ADMIN;
    return GRP_A_SET_ROLE;
}

grp_action grp_remove_action(grp_role target)
{
    switch (target) {
    case GRP_OWNER:
        return GRP_A_REMOVE_OWNER;
    case GRP_ADMIN:
        return GRP_A_REMOVE_ADMIN;
    default:
        return GRP_A_REMOVE_MEMBER;
    }
}
