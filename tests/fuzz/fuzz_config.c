/* Image configs: the parser and the validator. */
#include <ociimg/model.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct oci_error *err = NULL;
    struct oimg_image_config *c = NULL;

    if (oimg_config_parse(&c, buf, size, &err) == 0)
        oimg_config_free(c);
    fuzz_err_drop(&err);

    struct oimg_problems p = {0};
    if (oimg_validate_document(&p, OIMG_DOC_CONFIG, buf, size, &err) < 0)
        fuzz_err_drop(&err);
    oimg_problems_clear(&p);
    return 0;
}
