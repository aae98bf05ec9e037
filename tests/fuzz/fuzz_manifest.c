/* Image manifests (OCI and Docker schema2): the parser and the collecting
 * validator.  The media type the document was "fetched as" follows from the
 * input length, so the JSON bytes stay untouched. */
#include <ociimg/model.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {NULL, OIMG_MT_OCI_MANIFEST, OIMG_MT_DOCKER_MANIFEST};
    const char *buf = (const char *)data;
    struct oci_error *err = NULL;
    struct oimg_manifest *m = NULL;

    if (oimg_manifest_parse(&m, buf, size, types[size % 3], &err) == 0)
        oimg_manifest_free(m);
    fuzz_err_drop(&err);

    struct oimg_problems p = {0};
    if (oimg_validate_document(&p, OIMG_DOC_MANIFEST, buf, size, &err) < 0)
        fuzz_err_drop(&err);
    oimg_problems_clear(&p);
    return 0;
}
