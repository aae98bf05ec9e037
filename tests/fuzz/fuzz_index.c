/* Image indexes and Docker manifest lists: the parser, the validator and
 * platform selection over whatever parsed. */
#include <ociimg/model.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {NULL, OIMG_MT_OCI_INDEX, OIMG_MT_DOCKER_LIST};
    const char *buf = (const char *)data;
    struct oci_error *err = NULL;
    struct oimg_index *idx = NULL;

    if (oimg_index_parse(&idx, buf, size, types[size % 3], &err) == 0) {
        struct oimg_platform want = {0};
        if (oimg_platform_parse(&want, "linux/arm/v7", &err) == 0) {
            size_t pick;
            if (oimg_platform_select(&pick, idx, &want, &err) < 0)
                fuzz_err_drop(&err);
            oimg_platform_clear(&want);
        }
        fuzz_err_drop(&err);
        oimg_index_free(idx);
    }
    fuzz_err_drop(&err);

    struct oimg_problems p = {0};
    if (oimg_validate_document(&p, OIMG_DOC_INDEX, buf, size, &err) < 0)
        fuzz_err_drop(&err);
    oimg_problems_clear(&p);
    return 0;
}
