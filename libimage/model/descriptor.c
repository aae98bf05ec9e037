/* Content descriptors (descriptor.md): the rules, conversion back to JSON,
 * copying and freeing.  Unknown fields are ignored, as the spec requires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/base64.h>
#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "model_private.h"

static bool uri_scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
}

static bool hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 URI (not a relative reference): a scheme, then only characters a
 * URI may contain, with well-formed %-escapes and at most one fragment. */
static const char *uri_problem(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return "must be an absolute URI (scheme:...)";
    size_t i = 1;
    while (uri_scheme_char(s[i]))
        i++;
    if (s[i] != ':')
        return "must be an absolute URI (scheme:...)";
    bool fragment = false;
    for (i++; s[i]; i++) {
        char c = s[i];
        if (c == '%') {
            if (!hexdig(s[i + 1]) || !hexdig(s[i + 2]))
                return "has a malformed %-escape";
            i += 2;
            continue;
        }
        if (c == '#') {
            if (fragment)
                return "has more than one '#'";
            fragment = true;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && strchr("-._~:/?[]@!$&'()*+,;=", c));
        if (!ok)
            return "contains a character not allowed in a URI";
    }
    return NULL;
}

void oimg_platform_clear(struct oimg_platform *p)
{
    if (!p)
        return;
    free(p->os);
    free(p->architecture);
    free(p->variant);
    free(p->os_version);
    mv_strv_free(p->os_features, p->n_os_features);
    memset(p, 0, sizeof(*p));
}

void oimg_descriptor_clear(struct oimg_descriptor *d)
{
    if (!d)
        return;
    free(d->media_type);
    mv_strv_free(d->urls, d->n_urls);
    oimg_annotations_clear(&d->annotations);
    free(d->data);
    if (d->platform) {
        oimg_platform_clear(d->platform);
        free(d->platform);
    }
    free(d->artifact_type);
    memset(d, 0, sizeof(*d));
}

/* The embedded copy must be the blob the descriptor names. */
static void check_data(struct mv *v, const char *path, const char *b64, bool have_size,
                       bool have_digest, struct oimg_descriptor *d)
{
    char fpath[MV_PATH_MAX];
    mv_key(fpath, path, "data");
    unsigned char *bytes = NULL;
    size_t n = 0;
    int r = oimg_base64_decode(&bytes, &n, b64, strlen(b64), 0);
    if (r == -OCI_ERR_NOMEM) {
        mv_oom(v);
        return;
    }
    if (r < 0) {
        mv_add(v, OCI_ERR_INVALID, fpath,
               "not valid base64 (RFC 4648 standard alphabet, padded, no whitespace)");
        return;
    }
    if (have_size && (uint64_t)n != (uint64_t)d->size)
        mv_add(v, OCI_ERR_INVALID, fpath, "decodes to %zu bytes, but size is %lld", n,
               (long long)d->size);
    if (have_digest && d->digest.alg != OIMG_DIGEST_UNKNOWN) {
        struct oimg_digest got;
        struct oci_error *e = NULL;
        r = oimg_digest_buffer(&got, d->digest.alg, bytes, n, &e);
        if (r == -OCI_ERR_NOMEM)
            mv_oom(v);
        else if (r < 0)
            mv_add(v, r, fpath, "%s", e && e->msg ? e->msg : "cannot hash");
        else if (!oimg_digest_equal(&got, &d->digest))
            mv_add(v, OCI_ERR_DIGEST_MISMATCH, fpath, "content has digest %s, not %s", got.str,
                   d->digest.str);
        oci_error_free(e);
    }
    free(d->data);
    d->data = bytes;
    d->data_len = n;
}

void mv_descriptor(struct mv *v, json_object *o, const char *path, struct oimg_descriptor *d)
{
    char fpath[MV_PATH_MAX];
    if (!json_object_is_type(o, json_type_object)) {
        mv_add(v, OCI_ERR_INVALID, path, "must be a descriptor object, not %s", mv_jtype(o));
        return;
    }
    mv_media_type(v, o, "mediaType", true, path, &d->media_type);
    bool have_digest = mv_digest(v, o, "digest", path, &d->digest);
    bool have_size = mv_size(v, o, "size", path, &d->size);
    mv_string_array(v, o, "urls", false, false, path, &d->urls, &d->n_urls, uri_problem);

    json_object *f;
    if (mv_get(o, "annotations", &f))
        mv_annotations(v, f, mv_key(fpath, path, "annotations"), &d->annotations);
    const char *b64;
    if (mv_string(v, o, "data", false, path, &b64))
        check_data(v, path, b64, have_size, have_digest, d);
    if (mv_get(o, "platform", &f))
        mv_platform(v, f, mv_key(fpath, path, "platform"), &d->platform);
    mv_media_type(v, o, "artifactType", false, path, &d->artifact_type);
}

int oimg_descriptor_from_json(struct oimg_descriptor *out, json_object *obj, const char *where,
                              struct oci_error **err)
{
    struct oimg_problems p = {0};
    struct mv v = {.p = &p};
    struct oimg_descriptor d = {0};
    mv_descriptor(&v, obj, where ? where : "", &d);
    int r = mv_finish(&v, "descriptor", err);
    oimg_problems_clear(&p);
    if (r < 0) {
        oimg_descriptor_clear(&d);
        return r;
    }
    *out = d;
    return 0;
}

static int add_string(json_object *o, const char *key, const char *val)
{
    if (!val)
        return 0;
    json_object *s = json_object_new_string(val);
    if (!s || json_object_object_add(o, key, s) < 0) {
        json_object_put(s);
        return -1;
    }
    return 0;
}

static int add_strv(json_object *o, const char *key, char *const *v, size_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    if (!a)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_new_string(v[i]);
        if (!s || json_object_array_add(a, s) < 0) {
            json_object_put(s);
            json_object_put(a);
            return -1;
        }
    }
    if (json_object_object_add(o, key, a) < 0) {
        json_object_put(a);
        return -1;
    }
    return 0;
}

static json_object *platform_to_json(const struct oimg_platform *p)
{
    _cleanup_json_ json_object *o = json_object_new_object();
    if (!o || add_string(o, "architecture", p->architecture ? p->architecture : "") < 0 ||
        add_string(o, "os", p->os ? p->os : "") < 0 ||
        add_string(o, "os.version", p->os_version) < 0 ||
        (p->n_os_features && add_strv(o, "os.features", p->os_features, p->n_os_features) < 0) ||
        add_string(o, "variant", p->variant) < 0)
        return NULL;
    return TAKE_PTR(o);
}

json_object *oimg_descriptor_to_json(const struct oimg_descriptor *d)
{
    if (!d)
        return NULL;
    _cleanup_json_ json_object *o = json_object_new_object();
    if (!o || add_string(o, "mediaType", d->media_type ? d->media_type : "") < 0 ||
        add_string(o, "artifactType", d->artifact_type) < 0 ||
        add_string(o, "digest", d->digest.str) < 0)
        return NULL;
    json_object *size = json_object_new_int64(d->size);
    if (!size || json_object_object_add(o, "size", size) < 0) {
        json_object_put(size);
        return NULL;
    }
    if (d->n_urls && add_strv(o, "urls", d->urls, d->n_urls) < 0)
        return NULL;
    if (d->annotations.n) {
        json_object *a = json_object_new_object();
        if (!a || json_object_object_add(o, "annotations", a) < 0) {
            json_object_put(a);
            return NULL;
        }
        for (size_t i = 0; i < d->annotations.n; i++)
            if (add_string(a, d->annotations.items[i].key, d->annotations.items[i].value) < 0)
                return NULL;
    }
    if (d->data) {
        _cleanup_free_ char *b64 = oimg_base64_encode(d->data, d->data_len);
        if (!b64 || add_string(o, "data", b64) < 0)
            return NULL;
    }
    if (d->platform) {
        json_object *p = platform_to_json(d->platform);
        if (!p || json_object_object_add(o, "platform", p) < 0) {
            json_object_put(p);
            return NULL;
        }
    }
    return TAKE_PTR(o);
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

int mv_platform_copy(struct oimg_platform **dst, const struct oimg_platform *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    struct oimg_platform *p = calloc(1, sizeof(*p));
    if (!p)
        return -OCI_ERR_NOMEM;
    bool fail = false;
    p->os = dup_or_null(src->os, &fail);
    p->architecture = dup_or_null(src->architecture, &fail);
    p->variant = dup_or_null(src->variant, &fail);
    p->os_version = dup_or_null(src->os_version, &fail);
    if (!fail && mv_strv_copy(&p->os_features, src->os_features, src->n_os_features) == 0)
        p->n_os_features = p->os_features ? src->n_os_features : 0;
    else
        fail = true;
    if (fail) {
        oimg_platform_clear(p);
        free(p);
        return -OCI_ERR_NOMEM;
    }
    *dst = p;
    return 0;
}

int oimg_descriptor_copy(struct oimg_descriptor *dst, const struct oimg_descriptor *src,
                         struct oci_error **err)
{
    struct oimg_descriptor d = {0};
    bool fail = false;
    d.media_type = dup_or_null(src->media_type, &fail);
    d.artifact_type = dup_or_null(src->artifact_type, &fail);
    d.digest = src->digest;
    d.size = src->size;
    if (!fail && mv_strv_copy(&d.urls, src->urls, src->n_urls) == 0)
        d.n_urls = d.urls ? src->n_urls : 0;
    else
        fail = true;
    if (!fail && mv_annotations_copy(&d.annotations, &src->annotations) < 0)
        fail = true;
    if (!fail && src->data) {
        d.data = malloc(src->data_len ? src->data_len : 1);
        if (d.data) {
            memcpy(d.data, src->data, src->data_len);
            d.data_len = src->data_len;
        } else {
            fail = true;
        }
    }
    if (!fail && mv_platform_copy(&d.platform, src->platform) < 0)
        fail = true;
    if (fail) {
        oimg_descriptor_clear(&d);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory copying a descriptor");
    }
    *dst = d;
    return 0;
}
