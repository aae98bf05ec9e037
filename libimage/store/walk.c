/* A walk over everything reachable from index.json, shared by verify, gc
 * and ls.  Documents are read as plain JSON (not through the validating
 * model parsers) so that one odd field never hides what a document
 * references: gc must keep every blob a document names, and verify
 * reports validation problems separately.
 *
 * Entries of index.json and of nested indexes are manifests by the spec,
 * whatever mediaType their descriptor claims (layouts in the wild use e.g.
 * application/vnd.oci.descriptor.v1+json), so such blobs are read and
 * followed when they turn out to be manifests or indexes.  Configs and
 * layers are never followed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "store_private.h"

enum {
    WALK_READ_AS_PARENT = 1 << 0,
    WALK_READ_AS_LEAF = 1 << 1,
};

void store_walker_init(struct store_walker *w, const struct oimg_layout *l,
                       const struct store_walk_ops *ops, void *ud)
{
    memset(w, 0, sizeof(*w));
    w->l = l;
    w->ops = ops;
    w->ud = ud;
}

void store_walker_clear(struct store_walker *w)
{
    store_dmap_clear(&w->seen);
}

static void fill_ref(struct store_ref *ref, json_object *desc)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(desc, "mediaType", &v) &&
        json_object_is_type(v, json_type_string))
        ref->media_type = json_object_get_string(v);
    if (json_object_object_get_ex(desc, "digest", &v) && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (oimg_digest_parse_any(&ref->digest, s, NULL) == 0) {
            ref->digest_ok = true;
            /* Only a strictly valid digest may later become a path. */
            if (oimg_digest_parse(&ref->digest, s, NULL) < 0)
                ref->digest.alg = OIMG_DIGEST_UNKNOWN;
        }
    }
    ref->size = -1;
    if (json_object_object_get_ex(desc, "size", &v) && json_object_is_type(v, json_type_int))
        ref->size = json_object_get_int64(v);
    if (json_object_object_get_ex(desc, "urls", &v) && json_object_is_type(v, json_type_array))
        ref->has_urls = json_object_array_length(v) > 0;
}

static bool says_document(const char *mt)
{
    return mt && (oimg_media_type_is_manifest(mt) || oimg_media_type_is_index(mt));
}

static int walk_array(struct store_walker *w, json_object *doc, const char *key,
                      enum store_ref_kind kind, const char *from, int depth, struct oci_error **err)
{
    json_object *a = NULL;
    if (!json_object_object_get_ex(doc, key, &a) || !json_object_is_type(a, json_type_array))
        return 0;
    size_t n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        int r = store_walk_desc(w, json_object_array_get_idx(a, i), kind, from, depth, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int walk_children(struct store_walker *w, const struct store_ref *ref, json_object *doc,
                         struct oci_error **err)
{
    json_object *v = NULL;
    bool is_index =
        json_object_object_get_ex(doc, "manifests", &v) && json_object_is_type(v, json_type_array);
    char from[OIMG_DIGEST_MAX + 16];
    snprintf(from, sizeof(from), "%s %s", is_index ? "index" : "manifest", ref->digest.str);
    int depth = ref->depth + 1, r;
    if ((r = walk_array(w, doc, "manifests", STORE_REF_CHILD, from, depth, err)) < 0)
        return r;
    if (json_object_object_get_ex(doc, "config", &v) &&
        (r = store_walk_desc(w, v, STORE_REF_CONFIG, from, depth, err)) < 0)
        return r;
    if ((r = walk_array(w, doc, "layers", STORE_REF_LAYER, from, depth, err)) < 0)
        return r;
    /* "blobs": the artifact manifest of image-spec 1.1 release candidates. */
    if ((r = walk_array(w, doc, "blobs", STORE_REF_LAYER, from, depth, err)) < 0)
        return r;
    if (w->ops->follow_subjects && json_object_object_get_ex(doc, "subject", &v) &&
        (r = store_walk_desc(w, v, STORE_REF_SUBJECT, from, depth, err)) < 0)
        return r;
    return 0;
}

static int unreadable(struct store_walker *w, const struct store_ref *ref, const char *why,
                      struct oci_error **err)
{
    return w->ops->unreadable ? w->ops->unreadable(w->ud, ref, why, err) : 0;
}

int store_walk_desc(struct store_walker *w, json_object *desc, enum store_ref_kind kind,
                    const char *from, int depth, struct oci_error **err)
{
    if (++w->n_refs > STORE_WALK_MAX_REFS)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %u references to walk",
                             STORE_WALK_MAX_REFS);
    /* A malformed entry: document validation reports it. */
    if (!json_object_is_type(desc, json_type_object))
        return 0;
    struct store_ref ref = {.kind = kind, .obj = desc, .from = from, .depth = depth};
    fill_ref(&ref, desc);
    bool first = true;
    if (ref.digest_ok && !store_dmap_put(&w->seen, ref.digest.str, &first))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = w->ops->visit(w->ud, &ref, first, err);
    if (r <= 0 || ref.digest.alg == OIMG_DIGEST_UNKNOWN)
        return r < 0 ? r : 0;

    /* A blob may be reached in several roles (a layer here, an index.json
     * entry there): it is read once per role that needs it, so what it
     * references is walked even if it was first met as a leaf. */
    bool parent = kind == STORE_REF_ROOT || kind == STORE_REF_CHILD || kind == STORE_REF_SUBJECT;
    bool known = parent ? says_document(ref.media_type) : store_mt_is_image_config(ref.media_type);
    if (parent && depth >= STORE_WALK_MAX_DEPTH) {
        char why[64];
        snprintf(why, sizeof(why), "nested more than %d levels deep", STORE_WALK_MAX_DEPTH);
        return unreadable(w, &ref, why, err);
    }
    unsigned role = parent ? WALK_READ_AS_PARENT : WALK_READ_AS_LEAF;
    struct store_dmap_entry *ent = store_dmap_get(&w->seen, ref.digest.str);
    if (ent->flags & role)
        return 0;
    ent->flags |= role; /* before recursing: the map may grow and move */
    size_t max = kind == STORE_REF_CONFIG ? OIMG_MAX_CONFIG_SIZE : OIMG_MAX_MANIFEST_SIZE;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    _cleanup_error_ struct oci_error *e = NULL;
    r = store_read_blob_raw(&buf, &len, w->l, &ref.digest, max, &e);
    if (r == -OCI_ERR_NOT_FOUND)
        return 0; /* visit() saw that already */
    if (r < 0)
        return known ? unreadable(w, &ref, e && e->msg ? e->msg : "unreadable", err) : 0;
    struct oimg_json_limits lim = {.max_size = max};
    _cleanup_json_ json_object *doc = NULL;
    if (oimg_json_parse(&doc, buf, len, &lim, NULL) < 0 ||
        !json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        doc = NULL;
    }
    if (w->ops->document && (r = w->ops->document(w->ud, &ref, buf, len, doc, err)) < 0)
        return r;
    if (!doc || !parent)
        return 0;
    free(TAKE_PTR(buf));
    return walk_children(w, &ref, doc, err);
}

int store_walk_index_json(struct store_walker *w, json_object *root, struct oci_error **err)
{
    json_object *m = json_object_object_get(root, "manifests");
    size_t n = json_object_array_length(m);
    for (size_t i = 0; i < n; i++) {
        int r = store_walk_desc(w, json_object_array_get_idx(m, i), STORE_REF_ROOT, "index.json", 0,
                                err);
        if (r < 0)
            return r;
    }
    return 0;
}
