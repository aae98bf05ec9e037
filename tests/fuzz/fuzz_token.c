/* Token server responses (docker token auth and OAuth2), and the RFC 3339
 * timestamps inside them. */
#include <ociimg/registry.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oci_error *err = NULL;
    struct oreg_token *t = NULL;

    if (oreg_token_parse(&t, (const char *)data, size, &err) == 0) {
        (void)oreg_token_expiry(t, 1700000000);
        oreg_token_free(t);
    }
    fuzz_err_drop(&err);

    if (size < 128) {
        char *s = fuzz_strndup(data, size);
        time_t when;
        if (oreg_parse_rfc3339(&when, s, &err) < 0)
            fuzz_err_drop(&err);
        free(s);
    }
    return 0;
}
