/* Names ("DIR", "DIR:NAME", "DIR@alg:hex"), resolving them to a descriptor
 * and loading the image behind it (nested indexes, platform choice). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

#define LOAD_MAX_DEPTH 8

void oimg_layout_ref_clear(struct oimg_layout_ref *r)
{
    if (!r)
        return;
    free(r->dir);
    free(r->name);
    memset(r, 0, sizeof(*r));
}

/* "alg:" with the digest grammar's algorithm characters. */
static bool looks_like_digest(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+._-");
    return n > 0 && s[n] == ':';
}

int oimg_layout_ref_parse(struct oimg_layout_ref *out, const char *s, struct oci_error **err)
{
    if (!s || !*s)
        return oci_error_set(err, OCI_ERR_INVALID, "empty layout reference");
    struct oimg_layout_ref ref = {0};
    size_t dir_len = strlen(s);

    /* The last '@' followed by "alg:" means a digest, which must then be
     * valid; any other '@' is part of the directory's name. */
    const char *at = strrchr(s, '@');
    if (at && looks_like_digest(at + 1)) {
        int r = oimg_digest_parse(&ref.digest, at + 1, err);
        if (r < 0)
            return store_wrap(r, err, "layout reference \"%s\"", s);
        ref.has_digest = true;
        dir_len = (size_t)(at - s);
    }
    /* NAME follows the first ':' whose prefix is an existing directory, so
     * that names which themselves contain '/' and ':' (buildkit and containerd
     * write "example.com/app:1.0") work, and so does a DIR with a ':' in it.
     * With no such directory, the first ':' splits (as skopeo's oci: does). */
    const char *colon = NULL;
    _cleanup_free_ char *whole = strndup(s, dir_len);
    if (!whole)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(whole, &st) != 0 || !S_ISDIR(st.st_mode)) {
        const char *first = memchr(s, ':', dir_len);
        for (const char *c = first; c; c = memchr(c + 1, ':', (size_t)(s + dir_len - c - 1))) {
            whole[c - s] = '\0';
            bool is_dir = stat(whole, &st) == 0 && S_ISDIR(st.st_mode);
            whole[c - s] = ':';
            if (is_dir) {
                colon = c;
                break;
            }
        }
        if (!colon)
            colon = first;
    }
    if (colon) {
        size_t name_len = (size_t)(s + dir_len - colon - 1);
        if (name_len == 0)
            return oci_error_set(err, OCI_ERR_INVALID, "layout reference \"%s\": empty name", s);
        ref.name = strndup(colon + 1, name_len);
        dir_len = (size_t)(colon - s);
    }
    if (dir_len == 0) {
        free(ref.name);
        return oci_error_set(err, OCI_ERR_INVALID, "layout reference \"%s\": no directory", s);
    }
    ref.dir = strndup(s, dir_len);
    if (!ref.dir || (colon && !ref.name)) {
        oimg_layout_ref_clear(&ref);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    *out = ref;
    return 0;
}

/* ---- resolve ---- */

static const char *desc_name(const struct oimg_descriptor *d)
{
    return oimg_annotations_get(&d->annotations, OIMG_ANNOT_REF_NAME);
}

static int resolve_name(struct oimg_descriptor *out, const struct oimg_index *idx, const char *name,
                        const struct oimg_digest *digest, struct oci_error **err)
{
    const struct oimg_descriptor *found = NULL;
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct oimg_descriptor *d = &idx->manifests[i];
        const char *n = desc_name(d);
        if (!n || strcmp(n, name) != 0)
            continue;
        if (found && !oimg_digest_equal(&found->digest, &d->digest))
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "name \"%s\" is ambiguous: index.json lists it for %s and %s",
                                 name, found->digest.str, d->digest.str);
        if (!found)
            found = d;
    }
    if (!found)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "no image named \"%s\"", name);
    if (digest && !oimg_digest_equal(&found->digest, digest))
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "\"%s\" is %s, not %s", name,
                             found->digest.str, digest->str);
    return oimg_descriptor_copy(out, found, err);
}

/* A manifest or index blob that index.json does not list: describe it
 * from the document itself. */
static int synthesize(struct oimg_descriptor *out, const struct oimg_layout *l,
                      const struct oimg_digest *digest, struct oci_error **err)
{
    int64_t size = -1;
    int r = oimg_layout_blob_stat(l, digest, &size, err);
    if (r < 0)
        return r;
    if (r == 0)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "no image %s in the layout", digest->str);
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if ((r = oimg_layout_blob_read(&buf, &len, l, digest, size, OIMG_MAX_MANIFEST_SIZE, err)) < 0)
        return r;
    enum oimg_doc_type type = OIMG_DOC_UNKNOWN;
    _cleanup_error_ struct oci_error *e = NULL;
    if ((r = oimg_doc_detect(&type, buf, len, &e)) == -OCI_ERR_UNSUPPORTED)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s: %s", digest->str, e->msg);
    if (r < 0 || (type != OIMG_DOC_MANIFEST && type != OIMG_DOC_INDEX))
        return oci_error_set(err, OCI_ERR_INVALID, "%s is not a manifest or an index", digest->str);
    const char *mt = NULL;
    _cleanup_json_ json_object *doc = NULL;
    if (oimg_json_parse(&doc, buf, len, NULL, NULL) == 0)
        oimg_json_get_string(&mt, doc, "mediaType", false, "document", NULL);
    if (!mt)
        mt = type == OIMG_DOC_INDEX ? OIMG_MT_OCI_INDEX : OIMG_MT_OCI_MANIFEST;
    struct oimg_descriptor d = {.digest = *digest, .size = size, .media_type = strdup(mt)};
    if (!d.media_type)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    *out = d;
    return 0;
}

static int resolve_only(struct oimg_descriptor *out, const struct oimg_index *idx,
                        struct oci_error **err)
{
    if (idx->n_manifests == 0)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "index.json lists no manifests");
    bool one = true;
    for (size_t i = 1; i < idx->n_manifests; i++)
        if (!oimg_digest_equal(&idx->manifests[i].digest, &idx->manifests[0].digest))
            one = false;
    if (one)
        return oimg_descriptor_copy(out, &idx->manifests[0], err);
    /* List what the user could have named. */
    _cleanup_free_ char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < idx->n_manifests && i < 20; i++) {
        const char *n = desc_name(&idx->manifests[i]);
        fprintf(f, "%s%s", i ? ", " : "", n ? n : idx->manifests[i].digest.str);
    }
    if (idx->n_manifests > 20)
        fprintf(f, ", ...");
    fclose(f);
    return oci_error_set(err, OCI_ERR_INVALID, "the layout holds %zu images, name one: %s",
                         idx->n_manifests, list ? list : "");
}

int oimg_layout_resolve(struct oimg_descriptor *out, const struct oimg_layout *l, const char *name,
                        const struct oimg_digest *digest, struct oci_error **err)
{
    struct oimg_index *idx = NULL;
    int r = oimg_layout_read_index(&idx, l, err);
    if (r < 0)
        return r;
    if (name) {
        r = resolve_name(out, idx, name, digest, err);
    } else if (digest) {
        r = 1;
        for (size_t i = 0; i < idx->n_manifests; i++)
            if (oimg_digest_equal(&idx->manifests[i].digest, digest)) {
                r = oimg_descriptor_copy(out, &idx->manifests[i], err);
                break;
            }
        if (r > 0)
            r = synthesize(out, l, digest, err);
    } else {
        r = resolve_only(out, idx, err);
    }
    oimg_index_free(idx);
    if (r < 0)
        return store_wrap(r, err, "layout `%s`", l->path);
    return 0;
}

/* ---- load_image ---- */

void oimg_image_free(struct oimg_image *img)
{
    if (!img)
        return;
    oimg_descriptor_clear(&img->desc);
    oimg_manifest_free(img->manifest);
    free(img->manifest_raw);
    oimg_config_free(img->config);
    free(img->config_raw);
    free(img);
}

/* What the blob is: the descriptor's mediaType when it names a manifest or
 * an index, else what the document says it is. */
static int doc_kind(enum oimg_doc_type *out, const struct oimg_descriptor *d, const char *buf,
                    size_t len, struct oci_error **err)
{
    enum oimg_doc_type have = OIMG_DOC_UNKNOWN;
    int r = oimg_doc_detect(&have, buf, len, err);
    if (r < 0)
        return r;
    if (have != OIMG_DOC_MANIFEST && have != OIMG_DOC_INDEX)
        return oci_error_set(err, OCI_ERR_INVALID, "not a manifest or an index");
    bool says_m = d->media_type && oimg_media_type_is_manifest(d->media_type);
    bool says_i = d->media_type && oimg_media_type_is_index(d->media_type);
    if ((says_m && have != OIMG_DOC_MANIFEST) || (says_i && have != OIMG_DOC_INDEX))
        return oci_error_set(err, OCI_ERR_INVALID, "descriptor says %s but the document is %s",
                             d->media_type, have == OIMG_DOC_INDEX ? "an index" : "a manifest");
    *out = have;
    return 0;
}

static void pass_error(struct oci_error **err, struct oci_error **e)
{
    if (err && !*err)
        *err = TAKE_PTR(*e);
}

struct load_state {
    const struct oimg_layout *l;
    const struct oimg_platform *want;
    struct oimg_digest path[LOAD_MAX_DEPTH + 2]; /* indexes being descended */
};

static bool on_path(const struct load_state *st, int depth, const struct oimg_digest *d)
{
    for (int i = 0; i < depth; i++)
        if (oimg_digest_equal(&st->path[i], d))
            return true;
    return false;
}

/* Artifacts sometimes borrow the image config type for a "{}" config; a
 * manifest none of whose layers is an image layer is not an image. */
static bool is_artifact(const struct oimg_manifest *m)
{
    if (m->artifact_type)
        return true;
    for (size_t i = 0; i < m->n_layers; i++)
        if (oimg_media_type_is_layer(m->layers[i].media_type))
            return false;
    return true;
}

/* The config when it is an image config (an artifact's is not ours to
 * interpret). */
static int load_config(struct oimg_image *img, const struct oimg_layout *l, struct oci_error **err)
{
    const struct oimg_descriptor *c = &img->manifest->config;
    if (!store_mt_is_image_config(c->media_type))
        return 0;
    int r = oimg_layout_blob_read(&img->config_raw, &img->config_raw_len, l, &c->digest, c->size,
                                  OIMG_MAX_CONFIG_SIZE, err);
    if (r < 0)
        return store_wrap(r, err, "config %s", c->digest.str);
    _cleanup_error_ struct oci_error *e = NULL;
    r = oimg_config_parse(&img->config, img->config_raw, img->config_raw_len, &e);
    if (r < 0 && is_artifact(img->manifest))
        return 0; /* config stays NULL, config_raw holds the verified bytes */
    if (r < 0) {
        pass_error(err, &e);
        return store_wrap(r, err, "config %s", c->digest.str);
    }
    return 0;
}

static int load_desc(struct oimg_image *out, struct load_state *st, const struct oimg_descriptor *d,
                     int depth, struct oci_error **err);

/* No entry matches: an entry without a platform may be a nested index
 * (which has its own), so try those. */
static int load_nested_fallback(struct oimg_image *out, struct load_state *st,
                                const struct oimg_index *idx, int depth, struct oci_error **err)
{
    for (size_t i = 0; i < idx->n_manifests; i++) {
        const struct oimg_descriptor *d = &idx->manifests[i];
        if (d->platform || !oimg_media_type_is_index(d->media_type))
            continue;
        _cleanup_error_ struct oci_error *e = NULL;
        int r = load_desc(out, st, d, depth + 1, &e);
        if (r >= 0)
            return r;
        if (r != -OCI_ERR_PLATFORM) {
            pass_error(err, &e);
            return r;
        }
    }
    return -OCI_ERR_PLATFORM;
}

static int load_desc(struct oimg_image *out, struct load_state *st, const struct oimg_descriptor *d,
                     int depth, struct oci_error **err)
{
    if (on_path(st, depth, &d->digest))
        return oci_error_set(err, OCI_ERR_INVALID, "index %s contains itself", d->digest.str);
    if (depth > LOAD_MAX_DEPTH)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "indexes nested more than %d deep",
                             LOAD_MAX_DEPTH);
    st->path[depth] = d->digest;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    enum oimg_doc_type type = OIMG_DOC_UNKNOWN;
    int r =
        oimg_layout_blob_read(&buf, &len, st->l, &d->digest, d->size, OIMG_MAX_MANIFEST_SIZE, err);
    if (r >= 0)
        r = doc_kind(&type, d, buf, len, err);
    if (r < 0)
        return store_wrap(r, err, "%s", d->digest.str);

    if (type == OIMG_DOC_MANIFEST) {
        struct oimg_image img = {0};
        /* The descriptor's mediaType may be a sibling type (layouts list
         * Docker manifests as OCI ones): the document decides. */
        r = oimg_manifest_parse(&img.manifest, buf, len, NULL, err);
        if (r < 0)
            return store_wrap(r, err, "manifest %s", d->digest.str);
        img.manifest_raw = TAKE_PTR(buf);
        img.manifest_raw_len = len;
        if ((r = load_config(&img, st->l, err)) >= 0)
            r = oimg_descriptor_copy(&img.desc, d, err);
        if (r < 0) {
            oimg_manifest_free(img.manifest);
            free(img.manifest_raw);
            oimg_config_free(img.config);
            free(img.config_raw);
            return r;
        }
        *out = img;
        return 0;
    }

    struct oimg_index *idx = NULL;
    size_t pick = 0;
    if ((r = oimg_index_parse(&idx, buf, len, NULL, err)) < 0)
        return store_wrap(r, err, "index %s", d->digest.str);
    _cleanup_error_ struct oci_error *e = NULL;
    r = oimg_platform_select(&pick, idx, st->want, &e);
    if (r >= 0) {
        r = load_desc(out, st, &idx->manifests[pick], depth + 1, err);
    } else if (r == -OCI_ERR_PLATFORM) {
        r = load_nested_fallback(out, st, idx, depth, err);
        if (r == -OCI_ERR_PLATFORM)
            pass_error(err, &e);
    } else {
        pass_error(err, &e);
    }
    oimg_index_free(idx);
    if (r < 0)
        return store_wrap(r, err, "index %s", d->digest.str);
    return r;
}

int oimg_layout_load_image(struct oimg_image **out, const struct oimg_layout *l,
                           const struct oimg_descriptor *desc, const struct oimg_platform *platform,
                           struct oci_error **err)
{
    int r = 0;
    struct load_state st = {.l = l, .want = platform};
    struct oimg_image *img = calloc(1, sizeof(*img));
    if (!img)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    else
        r = load_desc(img, &st, desc, 0, err);
    if (r < 0) {
        oimg_image_free(img);
        return store_wrap(r, err, "layout `%s`", l->path);
    }
    *out = img;
    return 0;
}
