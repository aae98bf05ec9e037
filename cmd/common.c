/* Helpers the layout commands share: opening the layout behind a name and
 * resolving the name to a descriptor. */
#include <ociimg/cleanup.h>

#include "cmd_layout.h"

void cmd_image_ref_clear(struct cmd_image_ref *r)
{
    oimg_descriptor_clear(&r->desc);
    oimg_layout_free(r->layout);
    oimg_layout_ref_clear(&r->ref);
    *r = (struct cmd_image_ref){0};
}

int cmd_image_ref_open(struct cmd_image_ref *out, const char *spec, unsigned flags, bool resolve,
                       struct oci_error **err)
{
    struct cmd_image_ref r = {0};
    int ret = oimg_layout_ref_parse(&r.ref, spec, err);
    if (ret < 0)
        return ret;
    ret = oimg_layout_open(&r.layout, r.ref.dir, flags, err);
    if (ret >= 0 && resolve)
        ret = oimg_layout_resolve(&r.desc, r.layout, r.ref.name,
                                  r.ref.has_digest ? &r.ref.digest : NULL, err);
    if (ret < 0) {
        cmd_image_ref_clear(&r);
        return ret;
    }
    *out = r;
    return 0;
}
