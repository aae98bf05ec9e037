/* What kind of document is this?  The mediaType field decides when it names
 * a kind we know; otherwise the fields that only one kind has. */
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

enum oimg_doc_type mv_detect(json_object *root, bool *schema1)
{
    json_object *f;
    *schema1 = false;
    if (mv_is_schema1(root)) {
        *schema1 = true;
        return OIMG_DOC_UNKNOWN;
    }
    bool has_version = mv_get(root, "schemaVersion", &f);
    bool has_manifests = mv_get(root, "manifests", &f);
    bool has_config = mv_get(root, "config", &f);
    bool has_layers = mv_get(root, "layers", &f);

    /* A bare descriptor's mediaType names what it points at, not itself, so
     * its shape (digest + size, none of the document fields) goes first. */
    if (mv_get(root, "digest", &f) && mv_get(root, "size", &f) && !has_version && !has_manifests &&
        !has_layers && !mv_get(root, "rootfs", &f))
        return OIMG_DOC_DESCRIPTOR;

    const char *mt = NULL;
    if (mv_get(root, "mediaType", &f) && json_object_is_type(f, json_type_string))
        mt = json_object_get_string(f);
    if (oimg_media_type_is_manifest(mt))
        return OIMG_DOC_MANIFEST;
    if (oimg_media_type_is_index(mt))
        return OIMG_DOC_INDEX;
    if (mt && (strcmp(mt, OIMG_MT_OCI_CONFIG) == 0 || strcmp(mt, OIMG_MT_DOCKER_CONFIG) == 0))
        return OIMG_DOC_CONFIG;
    if (mt && strcmp(mt, OIMG_MT_OCI_LAYOUT_HEADER) == 0)
        return OIMG_DOC_LAYOUT;

    if (has_manifests)
        return OIMG_DOC_INDEX;
    if (has_layers || (has_config && has_version))
        return OIMG_DOC_MANIFEST;
    if (mv_get(root, "imageLayoutVersion", &f))
        return OIMG_DOC_LAYOUT;
    if (mv_get(root, "rootfs", &f) || mv_get(root, "architecture", &f) || mv_get(root, "os", &f))
        return OIMG_DOC_CONFIG;
    return OIMG_DOC_UNKNOWN;
}

int oimg_doc_detect(enum oimg_doc_type *out, const char *buf, size_t len, struct oci_error **err)
{
    struct oci_error *e = NULL;
    _cleanup_json_ json_object *root = NULL;
    struct oimg_json_limits lim = {.max_size = OIMG_MAX_CONFIG_SIZE};
    int r = oimg_json_parse(&root, buf, len, &lim, &e);
    if (r < 0) {
        if (err && !*err)
            *err = e;
        else
            oci_error_free(e);
        return r;
    }
    if (!json_object_is_type(root, json_type_object))
        return oci_error_set(err, OCI_ERR_INVALID, "document must be a JSON object, not %s",
                             mv_jtype(root));
    bool schema1;
    enum oimg_doc_type t = mv_detect(root, &schema1);
    if (schema1) {
        *out = OIMG_DOC_UNKNOWN;
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s", mv_schema1_msg);
    }
    *out = t;
    return 0;
}
