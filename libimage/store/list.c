/* ls: one summary per index.json entry (platforms, total size, blobs
 * missing from sparse layouts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

struct list_ctx {
    const struct oimg_layout *l;
    struct oimg_image_summary *s;
    bool want_config_platform; /* the manifest just read has no platform field */
    bool nomem;
};

static const char *str_field(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

/* From a descriptor's "platform" or a config (same field names). */
static void add_platform(struct list_ctx *c, json_object *p)
{
    const char *os = str_field(p, "os"), *arch = str_field(p, "architecture");
    const char *variant = str_field(p, "variant");
    if (!os || !arch)
        return;
    /* Attestation manifests of BuildKit: not a platform anyone runs. */
    if (strcmp(os, "unknown") == 0 && strcmp(arch, "unknown") == 0)
        return;
    char *s = NULL;
    if (asprintf(&s, "%s/%s%s%s", os, arch, variant ? "/" : "", variant ? variant : "") < 0) {
        c->nomem = true;
        return;
    }
    for (size_t i = 0; i < c->s->n_platforms; i++)
        if (strcmp(c->s->platforms[i], s) == 0) {
            free(s);
            return;
        }
    if (store_strv_push(&c->s->platforms, &c->s->n_platforms, s) < 0)
        c->nomem = true;
}

static int visit(void *ud, const struct store_ref *ref, bool first, struct oci_error **err)
{
    struct list_ctx *c = ud;
    if (first && ref->size > 0)
        c->s->total_size += (uint64_t)ref->size;
    if (ref->digest.alg == OIMG_DIGEST_UNKNOWN)
        return 0;
    if (first) {
        _cleanup_error_ struct oci_error *e = NULL;
        if (oimg_layout_blob_stat(c->l, &ref->digest, NULL, &e) <= 0) {
            c->s->missing_blobs++;
            return 0;
        }
    }
    if (ref->kind == STORE_REF_ROOT || ref->kind == STORE_REF_CHILD)
        return 1;
    return ref->kind == STORE_REF_CONFIG && c->want_config_platform &&
           store_mt_is_image_config(ref->media_type);
}

static int document(void *ud, const struct store_ref *ref, const char *buf, size_t len,
                    json_object *doc, struct oci_error **err)
{
    struct list_ctx *c = ud;
    if (ref->kind == STORE_REF_CONFIG) {
        add_platform(c, doc);
        c->want_config_platform = false;
        return 0;
    }
    json_object *v = NULL;
    if (!doc || json_object_object_get_ex(doc, "manifests", &v))
        return 0; /* an index: its entries carry the platforms */
    json_object *p = NULL;
    c->want_config_platform = !json_object_object_get_ex(ref->obj, "platform", &p);
    if (p)
        add_platform(c, p);
    return 0;
}

void oimg_image_summaries_free(struct oimg_image_summary *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].name);
        oimg_descriptor_clear(&s[i].desc);
        for (size_t j = 0; j < s[i].n_platforms; j++)
            free(s[i].platforms[j]);
        free(s[i].platforms);
    }
    free(s);
}

static int summarize(struct oimg_image_summary *s, const struct oimg_layout *l,
                     const struct oimg_descriptor *d, json_object *entry, struct oci_error **err)
{
    static const struct store_walk_ops ops = {.visit = visit, .document = document};
    const char *name = oimg_annotations_get(&d->annotations, OIMG_ANNOT_REF_NAME);
    if (name && !(s->name = strdup(name)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = oimg_descriptor_copy(&s->desc, d, err);
    if (r < 0)
        return r;
    struct list_ctx c = {.l = l, .s = s};
    struct store_walker w;
    store_walker_init(&w, l, &ops, &c);
    r = store_walk_desc(&w, entry, STORE_REF_ROOT, "index.json", 0, err);
    store_walker_clear(&w);
    if (r >= 0 && c.nomem)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return r;
}

int oimg_layout_list_images(struct oimg_image_summary **out, size_t *n_out,
                            const struct oimg_layout *l, struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    struct oimg_index *idx = NULL;
    _cleanup_json_ json_object *root = NULL;
    int r = store_read_index_raw(&buf, &len, l, err);
    if (r >= 0)
        r = oimg_index_parse(&idx, buf, len, OIMG_MT_OCI_INDEX, err);
    if (r >= 0)
        r = store_parse_index_json(&root, buf, len, err);
    if (r < 0) {
        oimg_index_free(idx);
        return store_wrap(r, err, "layout `%s`: index.json", l->path);
    }
    json_object *entries = json_object_object_get(root, "manifests");
    size_t n = idx->n_manifests;
    struct oimg_image_summary *s = calloc(n ? n : 1, sizeof(*s));
    if (!s)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = summarize(&s[i], l, &idx->manifests[i], json_object_array_get_idx(entries, i), err);
    oimg_index_free(idx);
    if (r < 0) {
        oimg_image_summaries_free(s, n);
        return store_wrap(r, err, "layout `%s`", l->path);
    }
    *out = s;
    *n_out = n;
    return 0;
}
