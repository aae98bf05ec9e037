/* Image manifests (manifest.md) and Docker schema2 manifests, which share
 * the shape and map onto the same struct. */
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

const char mv_schema1_msg[] = "Docker schema1 manifests are not supported (deprecated); re-push "
                              "the image with a current client";

bool mv_is_schema1(json_object *root)
{
    json_object *f;
    bool has_version = mv_get(root, "schemaVersion", &f);
    if (has_version && json_object_is_type(f, json_type_int) && json_object_get_int64(f) == 1)
        return true;
    if (mv_get(root, "mediaType", &f) && json_object_is_type(f, json_type_string) &&
        mv_media_type_is_schema1(json_object_get_string(f)))
        return true;
    /* Without a version, schema1's own fields give it away. */
    return !has_version && (mv_get(root, "fsLayers", &f) || mv_get(root, "signatures", &f));
}

/* Layer types under the OCI's own namespace are only those the spec
 * defines (plus ocicrypt's "+encrypted" suffix); anything else there is a
 * mistake, not a vendor extension, and would be skipped or misapplied. */
static bool oci_layer_type_ok(const char *mt)
{
    static const char prefix[] = "application/vnd.oci.image.layer.";
    static const char *const defined[] = {
        "v1.tar",
        "v1.tar+gzip",
        "v1.tar+zstd",
        "nondistributable.v1.tar",
        "nondistributable.v1.tar+gzip",
        "nondistributable.v1.tar+zstd",
    };
    if (strncmp(mt, prefix, sizeof(prefix) - 1) != 0)
        return true;
    const char *rest = mt + sizeof(prefix) - 1;
    size_t n = strlen(rest);
    if (n > 10 && strcmp(rest + n - 10, "+encrypted") == 0)
        n -= 10;
    for (size_t i = 0; i < OCI_ARRAY_SIZE(defined); i++)
        if (strlen(defined[i]) == n && strncmp(rest, defined[i], n) == 0)
            return true;
    return false;
}

static void check_media_type_arg(struct mv *v, json_object *root, const char *doc_mt,
                                 const char *arg, const char *default_mt)
{
    char q1[MV_QUOTE_MAX], q2[MV_QUOTE_MAX];
    json_object *f;
    if (!arg)
        return;
    if (doc_mt) {
        if (strcmp(doc_mt, arg) != 0)
            mv_add(v, OCI_ERR_INVALID, "mediaType", "is %s, but the document was referenced as %s",
                   mv_q(q1, doc_mt), mv_q(q2, arg));
    } else if (!mv_get(root, "mediaType", &f) && strcmp(arg, default_mt) != 0) {
        mv_add(v, OCI_ERR_INVALID, "mediaType",
               "absent (which means %s), but the document was referenced as %s", default_mt,
               mv_q(q2, arg));
    }
}

static void manifest_layers(struct mv *v, json_object *root, struct oimg_manifest *m)
{
    char path[MV_PATH_MAX], mpath[MV_PATH_MAX], q[MV_QUOTE_MAX];
    json_object *f;
    if (!mv_get(root, "layers", &f)) {
        mv_add(v, OCI_ERR_INVALID, "layers", "required");
        return;
    }
    if (!json_object_is_type(f, json_type_array)) {
        mv_add(v, OCI_ERR_INVALID, "layers", "must be an array of descriptors, not %s",
               mv_jtype(f));
        return;
    }
    size_t n = json_object_array_length(f);
    if (n > MV_MAX_LAYERS) {
        mv_add(v, OCI_ERR_TOO_LARGE, "layers", "has %zu entries, more than the limit of %u", n,
               MV_MAX_LAYERS);
        return;
    }
    /* The schema's minItems; Docker schema2 never required a layer. */
    if (n == 0 && !m->docker)
        mv_add(v, OCI_ERR_INVALID, "layers",
               "must have at least one entry (an artifact without content uses the empty "
               "descriptor)");
    if (n == 0)
        return;
    m->layers = calloc(n, sizeof(*m->layers));
    if (!m->layers) {
        mv_oom(v);
        return;
    }
    m->n_layers = n;
    for (size_t i = 0; i < n; i++) {
        struct oimg_descriptor *d = &m->layers[i];
        mv_descriptor(v, json_object_array_get_idx(f, i), mv_idx(path, "layers", i), d);
        if (d->media_type && !oci_layer_type_ok(d->media_type))
            mv_add(v, OCI_ERR_INVALID, mv_key(mpath, path, "mediaType"),
                   "%s is not a layer type the OCI image spec defines", mv_q(q, d->media_type));
    }
}

void mv_manifest(struct mv *v, json_object *root, const char *arg, struct oimg_manifest *m)
{
    char q[MV_QUOTE_MAX];
    json_object *f;
    if (mv_is_schema1(root) || mv_media_type_is_schema1(arg)) {
        mv_add(v, OCI_ERR_UNSUPPORTED, NULL, "%s", mv_schema1_msg);
        return;
    }
    m->schema_version = mv_schema_version(v, root);
    if (mv_media_type(v, root, "mediaType", false, "", &m->media_type)) {
        if (strcmp(m->media_type, OIMG_MT_DOCKER_MANIFEST) == 0)
            m->docker = true;
        else if (strcmp(m->media_type, OIMG_MT_OCI_MANIFEST) != 0)
            mv_add(v, OCI_ERR_INVALID, "mediaType", "must be %s (or Docker's %s), not %s%s",
                   OIMG_MT_OCI_MANIFEST, OIMG_MT_DOCKER_MANIFEST, mv_q(q, m->media_type),
                   oimg_media_type_is_index(m->media_type) ? " (an image index type)" : "");
    }
    check_media_type_arg(v, root, m->media_type, arg, OIMG_MT_OCI_MANIFEST);
    if (mv_get(root, "manifests", &f))
        mv_add(v, OCI_ERR_INVALID, "manifests",
               "not allowed in an image manifest (the document would also read as an index)");

    bool has_artifact_type = mv_media_type(v, root, "artifactType", false, "", &m->artifact_type);
    if (mv_get(root, "config", &f))
        mv_descriptor(v, f, "config", &m->config);
    else
        mv_add(v, OCI_ERR_INVALID, "config", "required");
    if (!m->docker && !has_artifact_type && !mv_get(root, "artifactType", &f) &&
        m->config.media_type && strcmp(m->config.media_type, OIMG_MT_OCI_EMPTY) == 0)
        mv_add(v, OCI_ERR_INVALID, "artifactType", "required when config.mediaType is %s",
               OIMG_MT_OCI_EMPTY);

    manifest_layers(v, root, m);

    if (mv_get(root, "subject", &f)) {
        m->subject = calloc(1, sizeof(*m->subject));
        if (!m->subject)
            mv_oom(v);
        else
            mv_descriptor(v, f, "subject", m->subject);
    }
    if (mv_get(root, "annotations", &f))
        mv_annotations(v, f, "annotations", &m->annotations);
}

void oimg_manifest_free(struct oimg_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->artifact_type);
    oimg_descriptor_clear(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        oimg_descriptor_clear(&m->layers[i]);
    free(m->layers);
    if (m->subject) {
        oimg_descriptor_clear(m->subject);
        free(m->subject);
    }
    oimg_annotations_clear(&m->annotations);
    free(m);
}

int oimg_manifest_parse(struct oimg_manifest **out, const char *buf, size_t len,
                        const char *media_type, struct oci_error **err)
{
    struct oimg_problems p = {0};
    struct mv v = {.p = &p};
    struct oimg_manifest *m = calloc(1, sizeof(*m));
    if (!m)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    json_object *root = mv_parse_json(&v, buf, len, OIMG_MAX_MANIFEST_SIZE);
    if (root)
        mv_manifest(&v, root, media_type, m);
    json_object_put(root);
    int r = mv_finish(&v, "image manifest", err);
    oimg_problems_clear(&p);
    if (r < 0) {
        oimg_manifest_free(m);
        return r;
    }
    *out = m;
    return 0;
}
