/*
 * currency.c - which currencies a group may keep its books in: the
 * circulating currencies of ISO 4217 (list one, 2025 amendments
 * included), without the fund codes (BOV, CHE, ...), precious metals
 * (XAU, ...), the SDR and the testing codes (XTS, XXX): none of those is
 * money a household pays rent in.  Withdrawn codes that still circulate
 * beside their successor (SLL, ZWL, ANG) stay until they are gone.
 *
 * A static sorted table; no memory of its own.
 */
#include "groups_int.h"

#include <stdlib.h>
#include <string.h>

const char *const grp_currencies[] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
    "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL",
    "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY",
    "COP", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP",
    "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR",
    "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
};
const size_t grp_ncurrencies = sizeof grp_currencies / sizeof *grp_currencies;

static int cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

bool grp_currency_valid(const char *code)
{
    if (!code || strlen(code) != 3)
        return false;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    return bsearch(code, grp_currencies, grp_ncurrencies,
                   sizeof *grp_currencies, cmp) != NULL;
}
