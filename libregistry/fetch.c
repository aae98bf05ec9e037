/* Manifests and small blobs from a registry, verified before anyone sees
 * them:
 *   - manifests are asked for with all four media types we handle (OCI
 *     index and manifest, Docker list and schema2); Content-Type parameters
 *     are ignored; the body is capped at 4 MiB;
 *   - by digest the body must hash to it; by tag it must hash to
 *     Docker-Content-Digest when the registry sends one;
 *   - mirrors are tried in order, the registry itself last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "client_private.h"
#include "registry_private.h"

void oreg_remote_doc_free(struct oreg_remote_doc *d)
{
    if (!d)
        return;
    free(d->media_type);
    free(d->data);
    free(d->host);
    free(d);
}
OCI_DEFINE_CLEANUP(struct oreg_remote_doc *, oreg_remote_doc_free)
OCI_DEFINE_CLEANUP(struct oimg_index *, oimg_index_free)
OCI_DEFINE_CLEANUP(struct oimg_manifest *, oimg_manifest_free)

static bool known_manifest_type(const char *mt)
{
    return mt && (oimg_media_type_is_manifest(mt) || oimg_media_type_is_index(mt));
}

/* The document's own mediaType, or the kind's default (Docker types always
 * carry theirs). */
static char *doc_media_type(const char *buf, size_t len, struct oci_error **err)
{
    enum oimg_doc_type t = OIMG_DOC_UNKNOWN;
    int r = oimg_doc_detect(&t, buf, len, err);
    if (r < 0)
        return NULL;
    _cleanup_json_ json_object *o = NULL;
    if (oimg_json_parse(&o, buf, len, NULL, err) < 0)
        return NULL;
    json_object *v = NULL;
    if (json_object_object_get_ex(o, "mediaType", &v) && json_object_is_type(v, json_type_string) &&
        known_manifest_type(json_object_get_string(v)))
        return strdup(json_object_get_string(v));
    if (t == OIMG_DOC_MANIFEST)
        return strdup(OIMG_MT_OCI_MANIFEST);
    if (t == OIMG_DOC_INDEX)
        return strdup(OIMG_MT_OCI_INDEX);
    oci_error_set(err, OCI_ERR_INVALID, "not a manifest or an index");
    return NULL;
}

static int verify_body(struct oimg_digest *out, const char *buf, size_t len,
                       const struct oimg_digest *want, const char *header, const char *host,
                       const char *what, struct oci_error **err)
{
    struct oimg_digest got;
    int r;
    if (want) {
        if ((r = oimg_digest_buffer(&got, want->alg, buf, len, err)) < 0)
            return r;
        if (!oimg_digest_equal(&got, want))
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "%s: %s: the body does not match the requested digest (it "
                                 "hashes to %s): the registry or something between serves "
                                 "corrupt data",
                                 host, what, got.str);
        *out = got;
        return 0;
    }
    struct oimg_digest hd;
    if (header && oimg_digest_parse(&hd, header, NULL) == 0) {
        if ((r = oimg_digest_buffer(&got, hd.alg, buf, len, err)) < 0)
            return r;
        if (!oimg_digest_equal(&got, &hd))
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "%s: %s: the body does not match its Docker-Content-Digest %s "
                                 "(it hashes to %s)",
                                 host, what, hd.str, got.str);
        *out = got;
        return 0;
    }
    return oimg_digest_buffer(out, OIMG_DIGEST_SHA256, buf, len, err);
}

int fetch_manifest_at(struct oreg_remote_doc **out, struct oreg_client *c,
                      const struct endpoint *ep, const char *reference,
                      const struct oimg_digest *want, struct oci_error **err)
{
    if (want && want->alg == OIMG_DIGEST_UNKNOWN)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "cannot verify %s: only sha256 and sha512 digests are supported",
                             want->str);
    _cleanup_free_ char *path = NULL, *what = NULL;
    if (asprintf(&path, "/v2/%s/manifests/%s", ep->repo, reference) < 0 ||
        asprintf(&what, "%s %s of %s", want ? "manifest" : "tag", reference, ep->repo) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct call_spec s = {
        .host = ep->host,
        .repo = ep->repo,
        .path = path,
        .accept = ACCEPT_MANIFESTS,
        .body_max = OIMG_MAX_MANIFEST_SIZE,
        .what = what,
    };
    struct reg_call call;
    int r = call_do(&call, c, &s, err);
    if (r < 0)
        return r;
    struct http_req *q = call.req;
    _cleanup_free_ char *hp = http_url_hostport(call.url);
    _cleanup_(oreg_remote_doc_freep) struct oreg_remote_doc *d = calloc(1, sizeof(*d));
    if (!d || !(d->host = strdup(ep->host->host))) {
        call_clear(&call);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    d->len = q->body_len;
    d->data = q->body ? TAKE_PTR(q->body) : strdup("");
    _cleanup_free_ char *ct = http_media_type(q->h.content_type);
    r = verify_body(&d->digest, d->data, d->len, want, q->h.docker_digest, hp ? hp : "?", what,
                    err);
    call_clear(&call);
    if (r < 0)
        return r;
    if (ct &&
        (strcmp(ct, OIMG_MT_DOCKER_SCHEMA1) == 0 || strcmp(ct, OIMG_MT_DOCKER_SCHEMA1_SIGNED) == 0))
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "%s: %s is a Docker schema1 manifest, which is not supported",
                             ep->host->host, what);
    if (known_manifest_type(ct)) {
        d->media_type = TAKE_PTR(ct);
    } else {
        d->media_type = doc_media_type(d->data, d->len, err);
        if (!d->media_type)
            return oci_error_wrap(err, "%s: %s", ep->host->host, what);
    }
    *out = TAKE_PTR(d);
    return 0;
}

int fetch_manifest_any(struct oreg_remote_doc **out, size_t *ep_used, struct oreg_client *c,
                       const struct endpoint_list *eps, size_t first, const char *reference,
                       const struct oimg_digest *want, struct oci_error **err)
{
    struct oci_error *last = NULL;
    int r = -OCI_ERR_NOT_FOUND;
    for (size_t k = 0; k < eps->n; k++) {
        size_t i = k == 0 ? first : (k <= first ? k - 1 : k);
        const struct endpoint *ep = &eps->v[i];
        struct oci_error *e = NULL;
        r = fetch_manifest_at(out, c, ep, reference, want, &e);
        if (r >= 0) {
            oci_error_free(last);
            if (ep_used)
                *ep_used = i;
            return r;
        }
        if (r == -OCI_ERR_NOMEM || r == -OCI_ERR_UNSUPPORTED || k + 1 == eps->n) {
            oci_error_free(last);
            last = e;
            break;
        }
        client_note(c, ep->host->host, "%s %s: %s; trying %s", ep->mirror ? "mirror" : "registry",
                    ep->host->host, e->msg, "the next endpoint");
        oci_error_free(last);
        last = e;
    }
    if (err && !*err)
        *err = last;
    else
        oci_error_free(last);
    return r;
}

struct mem_sink {
    char *buf;
    size_t len, max;
};

int fetch_blob_mem(char **out, size_t *out_len, struct oreg_client *c,
                   const struct endpoint_list *eps, size_t first, const struct oimg_descriptor *d,
                   size_t max, struct oci_error **err)
{
    if (d->size < 0 || (uint64_t)d->size > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "blob %s: %lld bytes is over the limit of %zu",
                             d->digest.str, (long long)d->size, max);
    if (d->digest.alg == OIMG_DIGEST_UNKNOWN)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "cannot verify %s", d->digest.str);
    struct oci_error *last = NULL;
    int r = -OCI_ERR_NOT_FOUND;
    for (size_t k = 0; k < eps->n; k++) {
        size_t i = k == 0 ? first : (k <= first ? k - 1 : k);
        const struct endpoint *ep = &eps->v[i];
        _cleanup_free_ char *path = NULL, *what = NULL;
        if (asprintf(&path, "/v2/%s/blobs/%s", ep->repo, d->digest.str) < 0 ||
            asprintf(&what, "blob %s of %s", d->digest.str, ep->repo) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        struct call_spec s = {
            .host = ep->host,
            .repo = ep->repo,
            .path = path,
            .body_max = (size_t)d->size,
            .what = what,
        };
        struct reg_call call;
        struct oci_error *e = NULL;
        r = call_init(&call, c, &s, &e);
        if (r >= 0 && (r = call_run(&call, &e)) >= 0) {
            struct oimg_digest got;
            const char *body = call.req->body ? call.req->body : "";
            r = oimg_digest_buffer(&got, d->digest.alg, body, call.req->body_len, &e);
            if (r >= 0 &&
                (!oimg_digest_equal(&got, &d->digest) || call.req->body_len != (size_t)d->size))
                r = oci_error_set(&e, OCI_ERR_DIGEST_MISMATCH,
                                  "%s: %s: the content does not match its digest and size (got "
                                  "%s, %zu bytes)",
                                  ep->host->host, what, got.str, call.req->body_len);
            if (r >= 0) {
                *out = call.req->body ? TAKE_PTR(call.req->body) : strdup("");
                *out_len = call.req->body_len;
                call_clear(&call);
                oci_error_free(last);
                return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            }
        }
        call_clear(&call);
        oci_error_free(last);
        last = e;
        if (r == -OCI_ERR_NOMEM)
            break;
    }
    if (err && !*err)
        *err = last;
    else
        oci_error_free(last);
    return r;
}

int oreg_fetch_manifest(struct oreg_remote_doc **out, struct oreg_client *c,
                        const struct oreg_ref *ref, struct oci_error **err)
{
    struct endpoint_list eps = {0};
    int r = client_endpoints(&eps, c, ref, err);
    if (r >= 0)
        r = fetch_manifest_any(out, NULL, c, &eps, 0, oreg_ref_manifest_reference(ref),
                               ref->has_digest ? &ref->digest : NULL, err);
    endpoint_list_clear(&eps);
    return r;
}

void oreg_remote_image_free(struct oreg_remote_image *img)
{
    if (!img)
        return;
    oreg_remote_doc_free(img->top);
    oreg_remote_doc_free(img->manifest);
    oimg_descriptor_clear(&img->desc);
    free(img->config);
    free(img);
}
OCI_DEFINE_CLEANUP(struct oreg_remote_image *, oreg_remote_image_free)

static struct oreg_remote_doc *doc_copy(const struct oreg_remote_doc *d)
{
    struct oreg_remote_doc *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->media_type = strdup(d->media_type);
    n->data = malloc(d->len + 1);
    n->host = strdup(d->host);
    n->len = d->len;
    n->digest = d->digest;
    if (!n->media_type || !n->data || !n->host) {
        oreg_remote_doc_free(n);
        return NULL;
    }
    memcpy(n->data, d->data, d->len);
    n->data[d->len] = '\0';
    return n;
}

static int inspect_at(struct oreg_remote_image *img, struct oreg_client *c,
                      const struct endpoint_list *eps, size_t used,
                      const struct oimg_platform *platform, unsigned flags, struct oci_error **err)
{
    const struct oreg_remote_doc *top = img->top;
    int r;
    if (oimg_media_type_is_index(top->media_type)) {
        _cleanup_(oimg_index_freep) struct oimg_index *idx = NULL;
        r = oimg_index_parse(&idx, top->data, top->len, top->media_type, err);
        if (r < 0)
            return oci_error_wrap(err, "index %s", top->digest.str);
        size_t pick = 0;
        r = oimg_platform_select(&pick, idx, platform, err);
        if (r < 0)
            return oci_error_wrap(err, "index %s", top->digest.str);
        const struct oimg_descriptor *cd = &idx->manifests[pick];
        if ((r = oimg_descriptor_copy(&img->desc, cd, err)) < 0)
            return r;
        r = fetch_manifest_any(&img->manifest, &used, c, eps, used, cd->digest.str, &cd->digest,
                               err);
        if (r < 0)
            return r;
        if (cd->size >= 0 && img->manifest->len != (size_t)cd->size)
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "manifest %s is %zu bytes, the index says %lld", cd->digest.str,
                                 img->manifest->len, (long long)cd->size);
    } else {
        if (!(img->manifest = doc_copy(top)))
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        img->desc.media_type = strdup(top->media_type);
        img->desc.digest = top->digest;
        img->desc.size = (int64_t)top->len;
        if (!img->desc.media_type)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    if (flags & OREG_INSPECT_NO_CONFIG)
        return 0;
    _cleanup_(oimg_manifest_freep) struct oimg_manifest *m = NULL;
    r = oimg_manifest_parse(&m, img->manifest->data, img->manifest->len, img->manifest->media_type,
                            err);
    if (r < 0)
        return oci_error_wrap(err, "manifest %s", img->manifest->digest.str);
    const char *cmt = m->config.media_type;
    if (cmt && (strcmp(cmt, OIMG_MT_OCI_CONFIG) == 0 || strcmp(cmt, OIMG_MT_DOCKER_CONFIG) == 0))
        return fetch_blob_mem(&img->config, &img->config_len, c, eps, used, &m->config,
                              OIMG_MAX_CONFIG_SIZE, err);
    return 0;
}

int oreg_inspect(struct oreg_remote_image **out, struct oreg_client *c, const struct oreg_ref *ref,
                 const struct oimg_platform *platform, unsigned flags, struct oci_error **err)
{
    _cleanup_(oreg_remote_image_freep) struct oreg_remote_image *img = calloc(1, sizeof(*img));
    if (!img)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct endpoint_list eps = {0};
    size_t used = 0;
    int r = client_endpoints(&eps, c, ref, err);
    if (r >= 0)
        r = fetch_manifest_any(&img->top, &used, c, &eps, 0, oreg_ref_manifest_reference(ref),
                               ref->has_digest ? &ref->digest : NULL, err);
    if (r < 0)
        errors_top_hint(err, r, ref);
    if (r >= 0 && !(flags & OREG_INSPECT_TOP_ONLY)) {
        r = inspect_at(img, c, &eps, used, platform, flags, err);
        if (r == -OCI_ERR_PLATFORM)
            errors_hint(err, "choose one with --platform");
    }
    endpoint_list_clear(&eps);
    if (r < 0)
        return oci_error_wrap(err, "%s", ref->canonical);
    *out = TAKE_PTR(img);
    return 0;
}
