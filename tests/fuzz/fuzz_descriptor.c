/* Bare descriptors: from JSON, back to JSON, copied; and the validator for
 * descriptors and the oci-layout file. */
#include <ociimg/json.h>
#include <ociimg/model.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct oci_error *err = NULL;
    json_object *obj = NULL;

    if (oimg_json_parse(&obj, buf, size, NULL, &err) == 0) {
        struct oimg_descriptor d = {0};
        if (oimg_descriptor_from_json(&d, obj, "fuzz", &err) == 0) {
            json_object *back = oimg_descriptor_to_json(&d);
            if (!back)
                abort();
            json_object_put(back);
            struct oimg_descriptor copy = {0};
            if (oimg_descriptor_copy(&copy, &d, &err) == 0)
                oimg_descriptor_clear(&copy);
            oimg_descriptor_clear(&d);
        }
        fuzz_err_drop(&err);
        json_object_put(obj);
    }
    fuzz_err_drop(&err);

    struct oimg_problems p = {0};
    enum oimg_doc_type t = size % 2 ? OIMG_DOC_DESCRIPTOR : OIMG_DOC_LAYOUT;
    if (oimg_validate_document(&p, t, buf, size, &err) < 0)
        fuzz_err_drop(&err);
    oimg_problems_clear(&p);
    return 0;
}
