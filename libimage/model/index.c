/* Image indexes (image-index.md) and Docker manifest lists, which map onto
 * the same struct. */
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

static void index_media_type(struct mv *v, json_object *root, const char *arg,
                             struct oimg_index *idx)
{
    char q1[MV_QUOTE_MAX], q2[MV_QUOTE_MAX];
    json_object *f;
    if (mv_media_type(v, root, "mediaType", false, "", &idx->media_type)) {
        if (strcmp(idx->media_type, OIMG_MT_DOCKER_LIST) == 0)
            idx->docker = true;
        else if (strcmp(idx->media_type, OIMG_MT_OCI_INDEX) != 0)
            mv_add(v, OCI_ERR_INVALID, "mediaType", "must be %s (or Docker's %s), not %s%s",
                   OIMG_MT_OCI_INDEX, OIMG_MT_DOCKER_LIST, mv_q(q1, idx->media_type),
                   oimg_media_type_is_manifest(idx->media_type) ? " (a manifest type)" : "");
    }
    if (!arg)
        return;
    if (idx->media_type) {
        if (strcmp(idx->media_type, arg) != 0)
            mv_add(v, OCI_ERR_INVALID, "mediaType", "is %s, but the document was referenced as %s",
                   mv_q(q1, idx->media_type), mv_q(q2, arg));
    } else if (!mv_get(root, "mediaType", &f) && strcmp(arg, OIMG_MT_OCI_INDEX) != 0) {
        mv_add(v, OCI_ERR_INVALID, "mediaType",
               "absent (which means %s), but the document was referenced as %s", OIMG_MT_OCI_INDEX,
               mv_q(q2, arg));
    }
}

void mv_index(struct mv *v, json_object *root, const char *arg, struct oimg_index *idx)
{
    char path[MV_PATH_MAX];
    json_object *f;
    if (mv_is_schema1(root) || mv_media_type_is_schema1(arg)) {
        mv_add(v, OCI_ERR_UNSUPPORTED, NULL, "%s", mv_schema1_msg);
        return;
    }
    idx->schema_version = mv_schema_version(v, root);
    index_media_type(v, root, arg, idx);
    static const char *const foreign[] = {"config", "layers"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(foreign); i++)
        if (mv_get(root, foreign[i], &f))
            mv_add(v, OCI_ERR_INVALID, foreign[i],
                   "not allowed in an image index (the document would also read as a manifest)");
    mv_media_type(v, root, "artifactType", false, "", &idx->artifact_type);

    if (!mv_get(root, "manifests", &f)) {
        mv_add(v, OCI_ERR_INVALID, "manifests", "required");
    } else if (!json_object_is_type(f, json_type_array)) {
        mv_add(v, OCI_ERR_INVALID, "manifests", "must be an array of descriptors, not %s",
               mv_jtype(f));
    } else {
        size_t n = json_object_array_length(f);
        if (n > MV_MAX_ITEMS) {
            mv_add(v, OCI_ERR_TOO_LARGE, "manifests", "has %zu entries, more than the limit of %u",
                   n, MV_MAX_ITEMS);
        } else if (n) {
            idx->manifests = calloc(n, sizeof(*idx->manifests));
            if (!idx->manifests) {
                mv_oom(v);
            } else {
                idx->n_manifests = n;
                for (size_t i = 0; i < n; i++)
                    mv_descriptor(v, json_object_array_get_idx(f, i), mv_idx(path, "manifests", i),
                                  &idx->manifests[i]);
            }
        }
    }

    if (mv_get(root, "subject", &f)) {
        idx->subject = calloc(1, sizeof(*idx->subject));
        if (!idx->subject)
            mv_oom(v);
        else
            mv_descriptor(v, f, "subject", idx->subject);
    }
    if (mv_get(root, "annotations", &f))
        mv_annotations(v, f, "annotations", &idx->annotations);
}

void oimg_index_free(struct oimg_index *idx)
{
    if (!idx)
        return;
    free(idx->media_type);
    free(idx->artifact_type);
    for (size_t i = 0; i < idx->n_manifests; i++)
        oimg_descriptor_clear(&idx->manifests[i]);
    free(idx->manifests);
    if (idx->subject) {
        oimg_descriptor_clear(idx->subject);
        free(idx->subject);
    }
    oimg_annotations_clear(&idx->annotations);
    free(idx);
}

int oimg_index_parse(struct oimg_index **out, const char *buf, size_t len, const char *media_type,
                     struct oci_error **err)
{
    struct oimg_problems p = {0};
    struct mv v = {.p = &p};
    struct oimg_index *idx = calloc(1, sizeof(*idx));
    if (!idx)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    json_object *root = mv_parse_json(&v, buf, len, OIMG_MAX_MANIFEST_SIZE);
    if (root)
        mv_index(&v, root, media_type, idx);
    json_object_put(root);
    int r = mv_finish(&v, "image index", err);
    oimg_problems_clear(&p);
    if (r < 0) {
        oimg_index_free(idx);
        return r;
    }
    *out = idx;
    return 0;
}
