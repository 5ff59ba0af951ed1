/*
 * test_groups_rules.c - unit tests of the groups plugin's pure parts: the
 * role table (against the table in plugins/groups/README.md, cell by
 * cell), invite codes, and the currency list.  Compiled straight from
 * the plugin's sources; no host, no database.
 */
#include "groups_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef GROUPS_README
#error "GROUPS_README must name plugins/groups/README.md"
#endif

/* ------------------------------------------------------------- roles */

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static grp_verdict verdict_of(const char *cell)
{
    if (strcmp(cell, "yes") == 0)
        return GRP_ALLOW;
    if (strcmp(cell, "no") == 0)
        return GRP_FORBID;
    if (strcmp(cell, "409") == 0)
        return GRP_CONFLICT;
    fail_msg("README role table: cell \"%s\" is not yes, no or 409", cell);
    return GRP_FORBID;
}

/* The README's table, row by row, must be exactly rules.c's table: the
 * same actions in the same order and the same verdict in every cell. */
static void readme_table_is_the_code(void **state)
{
    (void)state;
    FILE *f = fopen(GROUPS_README, "r");
    assert_non_null(f);
    char line[512];
    int row = -2; /* header and separator lines come first */
    bool in_table = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "| action | owner | admin | member | landlord |",
                    46) == 0)
            in_table = true;
        if (!in_table)
            continue;
        if (line[0] != '|')
            break;
        if (row++ < 0)
            continue;
        char *cells[6], *save = NULL, *tok;
        int n = 0;
        for (tok = strtok_r(line, "|", &save); tok && n < 6;
             tok = strtok_r(NULL, "|", &save)) {
            char *t = trim(tok);
            if (*t)
                cells[n++] = t;
        }
        assert_int_equal(n, 5);
        assert_true(row - 1 < GRP_NACTIONS);
        grp_action a = (grp_action)(row - 1);
        assert_string_equal(cells[0], grp_action_label(a));
        for (int r = 0; r < GRP_NROLES; r++)
            if (verdict_of(cells[1 + r]) != grp_rule(a, (grp_role)r))
                fail_msg("README row \"%s\", role %s: README says %s, "
                         "rules.c disagrees",
                         cells[0], grp_role_name((grp_role)r), cells[1 + r]);
    }
    fclose(f);
    assert_true(in_table);
    assert_int_equal(row, GRP_NACTIONS);
}

static void role_names_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < GRP_NROLES; r++)
        assert_int_equal(grp_role_parse(grp_role_name((grp_role)r)), r);
    assert_int_equal(grp_role_parse("Owner"), GRP_NO_ROLE);
    assert_int_equal(grp_role_parse(""), GRP_NO_ROLE);
    assert_int_equal(grp_role_parse(NULL), GRP_NO_ROLE);
    assert_null(grp_role_name(GRP_NO_ROLE));
    assert_int_equal(grp_role_bit(GRP_OWNER), TQ_ROLE_OWNER);
    assert_int_equal(grp_role_bit(GRP_ADMIN), TQ_ROLE_ADMIN);
    assert_int_equal(grp_role_bit(GRP_MEMBER), TQ_ROLE_MEMBER);
    assert_int_equal(grp_role_bit(GRP_LANDLORD), TQ_ROLE_LANDLORD);
    assert_int_equal(grp_role_bit(GRP_NO_ROLE), 0);
}

static void requests_map_to_rows(void **state)
{
    (void)state;
    assert_int_equal(grp_role_change_action(GRP_MEMBER, GRP_LANDLORD),
                     GRP_A_SET_ROLE);
    assert_int_equal(grp_role_change_action(GRP_LANDLORD, GRP_MEMBER),
                     GRP_A_SET_ROLE);
    assert_int_equal(grp_role_change_action(GRP_MEMBER, GRP_MEMBER),
                     GRP_A_SET_ROLE);
    assert_int_equal(grp_role_change_action(GRP_MEMBER, GRP_ADMIN),
                     GRP_A_SET_ADMIN);
    assert_int_equal(grp_role_change_action(GRP_ADMIN, GRP_LANDLORD),
                     GRP_A_SET_ADMIN);
    assert_int_equal(grp_role_change_action(GRP_ADMIN, GRP_ADMIN),
                     GRP_A_SET_ADMIN);
    assert_int_equal(grp_role_change_action(GRP_OWNER, GRP_ADMIN),
                     GRP_A_SET_OWNER);
    assert_int_equal(grp_role_change_action(GRP_OWNER, GRP_MEMBER),
                     GRP_A_SET_OWNER);
    assert_int_equal(grp_remove_action(GRP_OWNER), GRP_A_REMOVE_OWNER);
    assert_int_equal(grp_remove_action(GRP_ADMIN), GRP_A_REMOVE_ADMIN);
    assert_int_equal(grp_remove_action(GRP_MEMBER), GRP_A_REMOVE_MEMBER);
    assert_int_equal(grp_remove_action(GRP_LANDLORD), GRP_A_REMOVE_MEMBER);
    /* Out-of-range input is refused, never read past the table. */
    assert_int_equal(grp_rule(GRP_NACTIONS, GRP_OWNER), GRP_FORBID);
    assert_int_equal(grp_rule(GRP_A_VIEW, GRP_NO_ROLE), GRP_FORBID);
    assert_null(grp_action_label(GRP_NACTIONS));
}

/* -------------------------------------------------------------- codes */

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void new_codes_are_well_formed(void **state)
{
    (void)state;
    char code[GRP_CODE_FORMATTED], canon[GRP_CODE_SYMBOLS + 1],
        again[GRP_CODE_FORMATTED];
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(grp_code_new(code), 0);
        assert_int_equal(strlen(code), 19);
        for (int k = 0; k < 19; k++) {
            if (k % 5 == 4)
                assert_int_equal(code[k], '-');
            else
                assert_non_null(strchr(alphabet, code[k]));
        }
        assert_true(grp_code_normalize(code, canon));
        assert_int_equal(strlen(canon), GRP_CODE_SYMBOLS);
        grp_code_format(canon, again);
        assert_string_equal(code, again);
    }
}

/* Every symbol value at every position turns up about equally often: a
 * bit-extraction bug (a stuck bit, a reused byte) would skew it. */
static void new_codes_use_all_bits(void **state)
{
    (void)state;
    enum { N = 32000 };
    static int count[GRP_CODE_SYMBOLS][32];
    char code[GRP_CODE_FORMATTED], canon[GRP_CODE_SYMBOLS + 1];
    memset(count, 0, sizeof count);
    for (int i = 0; i < N; i++) {
        assert_int_equal(grp_code_new(code), 0);
        assert_true(grp_code_normalize(code, canon));
        for (int k = 0; k < GRP_CODE_SYMBOLS; k++)
            count[k][strchr(alphabet, canon[k]) - alphabet]++;
    }
    /* Expected 1000 each; 6 standard deviations (~186) either side. */
    for (int k = 0; k < GRP_CODE_SYMBOLS; k++)
        for (int v = 0; v < 32; v++)
            if (count[k][v] < 800 || count[k][v] > 1200)
                fail_msg("position %d symbol %c seen %d times of %d", k,
                         alphabet[v], count[k][v], N);
}

static int cmp_code(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void new_codes_differ(void **state)
{
    (void)state;
    enum { N = 5000 };
    char(*codes)[GRP_CODE_FORMATTED] = calloc(N, GRP_CODE_FORMATTED);
    assert_non_null(codes);
    for (int i = 0; i < N; i++)
        assert_int_equal(grp_code_new(codes[i]), 0);
    qsort(codes, N, GRP_CODE_FORMATTED, cmp_code);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(codes[i - 1], codes[i]);
    free(codes);
}

static void typed_codes_normalize(void **state)
{
    (void)state;
    char canon[GRP_CODE_SYMBOLS + 1];
    assert_true(grp_code_normalize("7KQ2-M9XD-AR4T-0HZP", canon));
    assert_string_equal(canon, "7KQ2M9XDAR4T0HZP");
    assert_true(grp_code_normalize("7kq2m9xdar4t0hzp", canon));
    assert_string_equal(canon, "7KQ2M9XDAR4T0HZP");
    assert_true(grp_code_normalize(" 7KQ2 M9XD-ar4t - oHZP ", canon));
    assert_string_equal(canon, "7KQ2M9XDAR4T0HZP");
    /* Look-alikes fold: O->0, I/L->1. */
    assert_true(grp_code_normalize("OOOO-IIII-LLLL-iloO", canon));
    assert_string_equal(canon, "0000111111111100");
    /* Wrong lengths and foreign symbols are not codes. */
    assert_false(grp_code_normalize("7KQ2-M9XD-AR4T-0HZ", canon));
    assert_false(grp_code_normalize("7KQ2-M9XD-AR4T-0HZPP", canon));
    assert_false(grp_code_normalize("7KQ2-M9XD-AR4T-0HZU", canon));
    assert_false(grp_code_normalize("7KQ2-M9XD-AR4T-0HZ*", canon));
    assert_false(grp_code_normalize("7KQ2-M9XD-AR4T-0HZ\xc3\xa9", canon));
    assert_false(grp_code_normalize("", canon));
    assert_false(grp_code_normalize(NULL, canon));
    /* A very long input stops at the buffer, not past it. */
    char big[256];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(grp_code_normalize(big, canon));
}

/* ---------------------------------------------------------- currency */

static void currency_list_is_sorted_and_iso_shaped(void **state)
{
    (void)state;
    assert_true(grp_ncurrencies > 150);
    for (size_t i = 0; i < grp_ncurrencies; i++) {
        const char *c = grp_currencies[i];
        assert_int_equal(strlen(c), 3);
        for (int k = 0; k < 3; k++)
            assert_true(c[k] >= 'A' && c[k] <= 'Z');
        if (i)
            assert_true(strcmp(grp_currencies[i - 1], c) < 0);
        assert_true(grp_currency_valid(c));
    }
}

static void currency_validation(void **state)
{
    (void)state;
    const char *good[] = {"EUR", "USD", "GBP", "JPY", "CHF", "AED", "ZWL"};
    const char *bad[] = {"usd", "Eur", "EU", "EURO", "", "XXX", "XTS",
                         "XAU", "CHE", "ABC", "US1", "E\xc3\xa9"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(grp_currency_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (grp_currency_valid(bad[i]))
            fail_msg("currency \"%s\" was accepted", bad[i]);
    assert_false(grp_currency_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readme_table_is_the_code),
        cmocka_unit_test(role_names_round_trip),
        cmocka_unit_test(requests_map_to_rows),
        cmocka_unit_test(new_codes_are_well_formed),
        cmocka_unit_test(new_codes_use_all_bits),
        cmocka_unit_test(new_codes_differ),
        cmocka_unit_test(typed_codes_normalize),
        cmocka_unit_test(currency_list_is_sorted_and_iso_shaped),
        cmocka_unit_test(currency_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
