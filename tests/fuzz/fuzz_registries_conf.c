/* The registries config (mirrors, insecure, blocked) and lookups in it. */
#include <ociimg/registry.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const registries[] = {"docker.io", "localhost:5000", "registry.lan:5000",
                                             "quay.io"};
    struct oci_error *err = NULL;
    struct oreg_registries_conf *conf = NULL;

    if (oreg_registries_conf_parse(&conf, (const char *)data, size, "fuzz.json", &err) == 0) {
        for (size_t i = 0; i < sizeof(registries) / sizeof(registries[0]); i++) {
            struct oreg_endpoints *eps = NULL;
            if (oreg_registries_lookup(&eps, conf, registries[i], &err) == 0)
                oreg_endpoints_free(eps);
            fuzz_err_drop(&err);
        }
        oreg_registries_conf_free(conf);
    }
    fuzz_err_drop(&err);
    return 0;
}
