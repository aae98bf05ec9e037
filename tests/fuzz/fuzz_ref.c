/* Image references and registry names as users and config files spell them. */
#include <ociimg/registry.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    struct oci_error *err = NULL;
    struct oreg_ref *ref = NULL;

    if (oreg_ref_parse(&ref, s, &err) == 0) {
        /* Accessors on a parsed reference must hold up too. */
        char *name = oreg_ref_name(ref);
        if (!name || !oreg_ref_manifest_reference(ref))
            abort();
        free(name);
        (void)oreg_host_is_docker_hub(ref->registry);
        oreg_ref_free(ref);
    }
    fuzz_err_drop(&err);

    char *norm = NULL;
    if (oreg_registry_normalize(&norm, s, &err) == 0) {
        (void)oreg_creds_key(norm);
        free(norm);
    }
    fuzz_err_drop(&err);
    free(s);
    return 0;
}
