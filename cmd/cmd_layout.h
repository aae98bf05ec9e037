#ifndef OCIIMG_CMD_LAYOUT_H
#define OCIIMG_CMD_LAYOUT_H

#include <stdbool.h>

#include <ociimg/layout.h>

/* A CLI name (DIR, DIR:NAME, DIR@DIGEST) opened and, optionally, resolved. */
struct cmd_image_ref {
    struct oimg_layout_ref ref;
    struct oimg_layout *layout;
    struct oimg_descriptor desc; /* valid when resolved */
};

int cmd_image_ref_open(struct cmd_image_ref *out, const char *spec, unsigned flags, bool resolve,
                       struct oci_error **err);
void cmd_image_ref_clear(struct cmd_image_ref *r);

#endif
