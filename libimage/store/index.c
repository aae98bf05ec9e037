/* index.json: reading it, and tag/untag as read-modify-write under the
 * layout lock with an atomic replace, so concurrent writers never lose an
 * entry and readers (who take no lock) always see a whole file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

#define REF_NAME_MAX 1024

int oimg_layout_read_index(struct oimg_index **out, const struct oimg_layout *l,
                           struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = store_read_index_raw(&buf, &len, l, err);
    if (r >= 0)
        r = oimg_index_parse(out, buf, len, OIMG_MT_OCI_INDEX, err);
    if (r < 0)
        return store_wrap(r, err, "layout `%s`: index.json", l->path);
    return 0;
}

int store_parse_index_json(json_object **out, const char *buf, size_t len, struct oci_error **err)
{
    struct oimg_json_limits lim = {.max_size = STORE_INDEX_MAX};
    _cleanup_json_ json_object *root = NULL;
    int r = oimg_json_parse(&root, buf, len, &lim, err);
    if (r < 0)
        return store_wrap(r, err, "index.json");
    json_object *m = NULL;
    if (!json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "manifests", &m) ||
        !json_object_is_type(m, json_type_array))
        return oci_error_set(err, OCI_ERR_INVALID, "index.json: no manifests array");
    *out = TAKE_PTR(root);
    return 0;
}

int store_load_index_json(json_object **out, const struct oimg_layout *l, struct oci_error **err)
{
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = store_read_index_raw(&buf, &len, l, err);
    if (r < 0)
        return r;
    return store_parse_index_json(out, buf, len, err);
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* image-spec annotations.md, org.opencontainers.image.ref.name:
 *   ref       ::= component ("/" component)*
 *   component ::= alphanum (separator alphanum)*
 *   alphanum  ::= [A-Za-z0-9]+
 *   separator ::= [-._:@+] | "--" */
bool store_ref_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > REF_NAME_MAX)
        return false;
    const char *p = name;
    for (;;) {
        /* one component */
        if (!is_alnum(*p))
            return false;
        while (is_alnum(*p))
            p++;
        while (*p && *p != '/') {
            if (p[0] == '-' && p[1] == '-')
                p += 2;
            else if (strchr("-._:@+", *p))
                p++;
            else
                return false;
            if (!is_alnum(*p))
                return false;
            while (is_alnum(*p))
                p++;
        }
        if (!*p)
            return true;
        p++; /* '/' */
    }
}

static const char *entry_name(json_object *desc)
{
    json_object *a = NULL, *v = NULL;
    if (json_object_object_get_ex(desc, "annotations", &a) &&
        json_object_is_type(a, json_type_object) &&
        json_object_object_get_ex(a, OIMG_ANNOT_REF_NAME, &v) &&
        json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

/* Under the lock: read index.json, let edit() change the tree, write it
 * back atomically.  edit returns > 0 if something changed, 0 if not. */
static int index_update(struct oimg_layout *l,
                        int (*edit)(json_object *manifests, void *ud, struct oci_error **err),
                        void *ud, struct oci_error **err)
{
    _cleanup_close_ int lockfd = store_lock(l, err);
    if (lockfd < 0)
        return lockfd;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = store_read_index_raw(&buf, &len, l, err);
    if (r < 0)
        return r;
    /* Never rewrite an index.json we could not fully understand. */
    struct oimg_index *idx = NULL;
    r = oimg_index_parse(&idx, buf, len, OIMG_MT_OCI_INDEX, err);
    oimg_index_free(idx);
    if (r < 0)
        return store_wrap(r, err, "index.json is invalid, not modifying it");
    _cleanup_json_ json_object *root = NULL;
    if ((r = store_parse_index_json(&root, buf, len, err)) < 0)
        return r;
    json_object *manifests = json_object_object_get(root, "manifests");
    r = edit(manifests, ud, err);
    if (r <= 0)
        return r;
    _cleanup_free_ char *out = oimg_json_dump(root, false);
    if (!out)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return oimg_fs_write_atomic(l->dirfd, "index.json", out, strlen(out), 0644, err);
}

struct tag_edit {
    const char *name;
    json_object *entry; /* owned until inserted */
};

static int tag_edit(json_object *manifests, void *ud, struct oci_error **err)
{
    struct tag_edit *t = ud;
    size_t n = json_object_array_length(manifests), first = n;
    for (size_t i = 0; i < n && first == n; i++) {
        const char *name = entry_name(json_object_array_get_idx(manifests, i));
        if (name && strcmp(name, t->name) == 0)
            first = i;
    }
    /* Replace in place (order is kept), drop any duplicates after it. */
    for (size_t i = n; i-- > first + 1;) {
        const char *name = entry_name(json_object_array_get_idx(manifests, i));
        if (name && strcmp(name, t->name) == 0)
            json_object_array_del_idx(manifests, i, 1);
    }
    int r = first < n ? json_object_array_put_idx(manifests, first, t->entry)
                      : json_object_array_add(manifests, t->entry);
    if (r < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    t->entry = NULL;
    return 1;
}

int oimg_layout_tag(struct oimg_layout *l, const char *name, const struct oimg_descriptor *desc,
                    struct oci_error **err)
{
    int r = store_require_writable(l, "tag", err);
    if (r < 0)
        return r;
    if (!store_ref_name_valid(name))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "tag: invalid name \"%s\" (want components of letters and digits "
                             "joined by one of - . _ : @ + or --, separated by /)",
                             name);
    if (!desc->media_type || !oimg_media_type_valid(desc->media_type))
        return oci_error_set(err, OCI_ERR_INVALID, "tag %s: descriptor has no valid mediaType",
                             name);
    if (desc->size < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "tag %s: descriptor has a negative size", name);
    /* The layout must hold what it names (and gc must not race us: the
     * caller that wrote the blob holds the writers pin). */
    int64_t have = -1;
    if ((r = oimg_layout_blob_stat(l, &desc->digest, &have, err)) < 0)
        return store_wrap(r, err, "tag %s", name);
    if (r == 0)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "tag %s: blob %s is not in the layout", name,
                             desc->digest.str);
    if (have != desc->size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "tag %s: blob %s has %lld bytes, descriptor says %lld", name,
                             desc->digest.str, (long long)have, (long long)desc->size);

    struct tag_edit t = {.name = name, .entry = oimg_descriptor_to_json(desc)};
    if (!t.entry)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    json_object *annot = NULL;
    if (!json_object_object_get_ex(t.entry, "annotations", &annot) ||
        !json_object_is_type(annot, json_type_object)) {
        annot = json_object_new_object();
        if (!annot || json_object_object_add(t.entry, "annotations", annot) < 0) {
            json_object_put(annot);
            json_object_put(t.entry);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
    }
    json_object *v = json_object_new_string(name);
    if (!v || json_object_object_add(annot, OIMG_ANNOT_REF_NAME, v) < 0) {
        json_object_put(v);
        json_object_put(t.entry);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    r = index_update(l, tag_edit, &t, err);
    json_object_put(t.entry); /* NULL once inserted */
    if (r < 0)
        return store_wrap(r, err, "tag %s in `%s`", name, l->path);
    return 0;
}

static int untag_edit(json_object *manifests, void *ud, struct oci_error **err)
{
    const char *want = ud;
    size_t removed = 0;
    for (size_t i = json_object_array_length(manifests); i-- > 0;) {
        const char *name = entry_name(json_object_array_get_idx(manifests, i));
        if (name && strcmp(name, want) == 0) {
            json_object_array_del_idx(manifests, i, 1);
            removed++;
        }
    }
    if (!removed)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "no image named \"%s\"", want);
    return 1;
}

int oimg_layout_untag(struct oimg_layout *l, const char *name, struct oci_error **err)
{
    int r = store_require_writable(l, "untag", err);
    if (r < 0)
        return r;
    r = index_update(l, untag_edit, (void *)name, err);
    if (r < 0)
        return store_wrap(r, err, "untag %s in `%s`", name, l->path);
    return 0;
}
