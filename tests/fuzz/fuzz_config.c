/*
 * fuzz_config.c - libFuzzer target for the manifest parser: any bytes in,
 * a config or an error out, nothing leaked, nothing undefined.  On error
 * the config must come back zeroed and the message must be a terminated
 * string that fits the buffer.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    host_config c;
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = host_config_parse(&c, "fuzz.yaml", (const char *)data, size, err,
                               sizeof(err));
    if (memchr(err, '\0', sizeof(err)) == NULL)
        abort();
    if (rc != TQ_OK) {
        static const host_config zero;
        if (memcmp(&c, &zero, sizeof(c)) != 0 || err[0] == '\0')
            abort();
    } else if (!c.listen || !c.var_dir || c.workers < 1 || c.db_pool < 1) {
        abort();
    }
    host_config_free(&c);
    return 0;
}
