/* Media types: the RFC 6838 shape every mediaType/artifactType field must
 * have, and the families (manifest, index, layer) callers branch on. */
#include <string.h>

#include <ociimg/cleanup.h>

#include "model_private.h"

/* RFC 6838 section 4.2 restricted-name: a first character from [A-Za-z0-9]
 * and up to 126 more from the restricted-name-chars; the image-spec schema
 * uses exactly this for type and subtype. */
static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&^_.+-", c));
}

static bool alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static const char *restricted_name(const char *s)
{
    if (!alnum(*s))
        return NULL;
    size_t n = 1;
    while (n < 128 && name_char(s[n]))
        n++;
    return n <= 127 ? s + n : NULL;
}

bool oimg_media_type_valid(const char *mt)
{
    if (!mt)
        return false;
    const char *p = restricted_name(mt);
    if (!p || *p != '/')
        return false;
    p = restricted_name(p + 1);
    return p && *p == '\0';
}

bool oimg_media_type_is_manifest(const char *mt)
{
    return mt &&
           (strcmp(mt, OIMG_MT_OCI_MANIFEST) == 0 || strcmp(mt, OIMG_MT_DOCKER_MANIFEST) == 0);
}

bool oimg_media_type_is_index(const char *mt)
{
    return mt && (strcmp(mt, OIMG_MT_OCI_INDEX) == 0 || strcmp(mt, OIMG_MT_DOCKER_LIST) == 0);
}

/* Layers we know how to apply (tar, possibly compressed).  Encrypted and
 * unknown types are not layers for this purpose. */
static const char *const layer_types[] = {
    OIMG_MT_OCI_LAYER,
    OIMG_MT_OCI_LAYER_GZIP,
    OIMG_MT_OCI_LAYER_ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    OIMG_MT_DOCKER_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

bool oimg_media_type_is_layer(const char *mt)
{
    if (!mt)
        return false;
    for (size_t i = 0; i < OCI_ARRAY_SIZE(layer_types); i++)
        if (strcmp(mt, layer_types[i]) == 0)
            return true;
    return false;
}

bool mv_media_type_is_schema1(const char *mt)
{
    return mt && (strcmp(mt, OIMG_MT_DOCKER_SCHEMA1) == 0 ||
                  strcmp(mt, OIMG_MT_DOCKER_SCHEMA1_SIGNED) == 0);
}
