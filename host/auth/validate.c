/*
 * validate.c - the account fields every auth route reads: email, new
 * password, display name.  Each sets a 400 validation_failed naming the
 * field when the value is wrong, so every route words it the same way.
 *
 * Emails: at most 254 bytes (RFC 5321's path limit), one '@', a local
 * part of 1-64 bytes and a dotted domain; no spaces, controls or the
 * characters that need quoting.  Quoted local parts and IP literals are
 * refused: no mailbox a household app meets needs them.  Case is kept as
 * typed; comparison and uniqueness ignore it (lower(email) in SQL).
 *
 * Memory: returned strings are the body's (borrowed) or the arena's.
 */
#include "host.h"
#include "auth.h"

#include <string.h>

static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || strchr(at + 1, '@'))
        return false;
    size_t local = (size_t)(at - s), len = strlen(s);
    const char *dom = at + 1;
    size_t dlen = len - local - 1;
    if (local < 1 || local > 64 || dlen < 3 || len > 254)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || strchr("\"(),:;<>[\\]", c))
            return false;
    }
    if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") ||
        dom[0] == '.' || dom[0] == '-' || dom[dlen - 1] == '.' ||
        dom[dlen - 1] == '-' || !strchr(dom, '.'))
        return false;
    return true;
}

int host_auth_get_email(tq_req *req, const char *field, const char **out)
{
    int st = tq_get_str(req, field, 1, 3, 254, out);
    if (st)
        return st;
    if (!email_ok(*out))
        return tq_error(req, 400, "validation_failed", field,
                        "%s must be an address such as name@example.com",
                        field);
    return 0;
}

int host_auth_get_new_password(tq_req *req, const char *field,
                               const char **out)
{
    /* Length only (NIST SP 800-63B): composition rules make passwords
     * weaker in practice.  Characters, not bytes, so a passphrase in any
     * script gets the same room. */
    return tq_get_str(req, field, 1, 10, 1024, out);
}

int host_auth_get_display_name(tq_req *req, const char *field, int required,
                               const char **out)
{
    const char *s;
    int st = tq_get_str(req, field, required, 1, 80, &s);
    *out = NULL;
    if (st)
        return st;
    if (!s) {
        if (tq_has(req, field))
            return tq_error(req, 400, "validation_failed", field,
                            "%s cannot be null", field);
        return 0;
    }
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return tq_error(req, 400, "validation_failed", field,
                            "%s must not contain control characters",
                            field);
    }
    size_t b = strspn(s, " "), e = strlen(s);
    while (e > b && s[e - 1] == ' ')
        e--;
    if (e == b)
        return tq_error(req, 400, "validation_failed", field,
                        "%s must not be blank", field);
    *out = tq_printf(req, "%.*s", (int)(e - b), s + b);
    return 0;
}
