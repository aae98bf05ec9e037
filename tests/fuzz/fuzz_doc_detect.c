/* Document classification, then validation as whatever it was taken for. */
#include <ociimg/model.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct oci_error *err = NULL;
    enum oimg_doc_type t = OIMG_DOC_UNKNOWN;

    if (oimg_doc_detect(&t, buf, size, &err) == 0 && t != OIMG_DOC_UNKNOWN) {
        struct oimg_problems p = {0};
        if (oimg_validate_document(&p, t, buf, size, &err) < 0)
            fuzz_err_drop(&err);
        oimg_problems_clear(&p);
    }
    fuzz_err_drop(&err);
    return 0;
}
