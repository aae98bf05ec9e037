/* The runtime-spec config.json of a bundle: parse and host check. */
/* fuzz_common.h first: runtime.h uses struct oci_error without including
 * error.h. */
#include "fuzz_common.h"

#include <ociimg/runtime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oci_error *err = NULL;
    struct ort_config *c = NULL;

    if (ort_config_parse(&c, (const char *)data, size, &err) == 0) {
        if (ort_config_check(c, &err) < 0)
            fuzz_err_drop(&err);
        ort_config_free(c);
    }
    fuzz_err_drop(&err);
    return 0;
}
