/* Annotations (annotations.md "Rules"): a map of non-empty string keys to
 * string values.  Labels in image configs follow the same shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_private.h"

const char *oimg_annotations_get(const struct oimg_annotations *a, const char *key)
{
    if (!a || !key)
        return NULL;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, key) == 0)
            return a->items[i].value;
    return NULL;
}

void oimg_annotations_clear(struct oimg_annotations *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->items[i].key);
        free(a->items[i].value);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}

int mv_annotations_copy(struct oimg_annotations *dst, const struct oimg_annotations *src)
{
    dst->items = NULL;
    dst->n = 0;
    if (!src || src->n == 0)
        return 0;
    struct oimg_kv *items = calloc(src->n, sizeof(*items));
    if (!items)
        return -OCI_ERR_NOMEM;
    dst->items = items;
    for (size_t i = 0; i < src->n; i++) {
        items[i].key = strdup(src->items[i].key);
        items[i].value = strdup(src->items[i].value);
        dst->n = i + 1;
        if (!items[i].key || !items[i].value) {
            oimg_annotations_clear(dst);
            return -OCI_ERR_NOMEM;
        }
    }
    return 0;
}

void mv_annotations(struct mv *v, json_object *o, const char *path, struct oimg_annotations *out)
{
    char kpath[MV_PATH_MAX];
    if (!json_object_is_type(o, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be an object of string values, not %s", mv_jtype(o));
        return;
    }
    size_t n = (size_t)json_object_object_length(o);
    if (n > MV_MAX_ITEMS) {
        mv_add(v, OCI_ERR_TOO_LARGE, path, "has %zu entries, more than the limit of %u", n,
               MV_MAX_ITEMS);
        return;
    }
    oimg_annotations_clear(out);
    if (n == 0)
        return;
    out->items = calloc(n, sizeof(*out->items));
    if (!out->items) {
        mv_oom(v);
        return;
    }
    json_object_object_foreach(o, key, val)
    {
        if (!*key) {
            mv_add(v, OCI_ERR_INVALID, path, "keys must not be empty");
            continue;
        }
        if (!json_object_is_type(val, json_type_string)) {
            mv_add(v, OCI_ERR_INVALID, mv_keyq(kpath, path, key), "must be a string, not %s",
                   mv_jtype(val));
            continue;
        }
        if (out->n >= n)
            break; /* cannot happen: json-c reports its own length */
        struct oimg_kv *kv = &out->items[out->n];
        kv->key = strdup(key);
        kv->value = strdup(json_object_get_string(val));
        if (!kv->key || !kv->value) {
            free(kv->key);
            free(kv->value);
            kv->key = kv->value = NULL;
            mv_oom(v);
            return;
        }
        out->n++;
    }
}
