/* `pull`: what a reference names, resolved to manifests and blobs, fetched
 * into an OCI image layout.
 *
 * Order of writes keeps the layout valid at every moment: blobs (configs
 * and layers) first, then manifests, then indexes, and the index.json entry
 * last (oimg_layout_tag, under the layout lock).  From an index we keep the
 * manifest chosen by platform (its index.json entry carries the platform),
 * or with all_platforms the whole index and everything it references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define PULL_MANIFESTS_MAX 1024
#define PULL_BLOBS_MAX 100000
#define PULL_INDEX_DEPTH_MAX 4

OCI_DEFINE_CLEANUP(struct oimg_index *, oimg_index_free)
OCI_DEFINE_CLEANUP(struct oimg_manifest *, oimg_manifest_free)

struct plan {
    struct oreg_remote_doc **docs; /* children before parents */
    size_t n_docs;
    struct oimg_descriptor *blobs; /* unique by digest */
    size_t n_blobs;
    char **platforms;
    size_t n_platforms;
};

static void plan_clear(struct plan *p)
{
    for (size_t i = 0; i < p->n_docs; i++)
        oreg_remote_doc_free(p->docs[i]);
    free(p->docs);
    for (size_t i = 0; i < p->n_blobs; i++)
        oimg_descriptor_clear(&p->blobs[i]);
    free(p->blobs);
    for (size_t i = 0; i < p->n_platforms; i++)
        free(p->platforms[i]);
    free(p->platforms);
}

void oreg_pull_result_free(struct oreg_pull_result *r)
{
    if (!r)
        return;
    free(r->reference);
    free(r->name);
    free(r->host);
    oimg_descriptor_clear(&r->desc);
    free(r->top_media_type);
    for (size_t i = 0; i < r->n_platforms; i++)
        free(r->platforms[i]);
    free(r->platforms);
    free(r->ratelimit_remaining);
    free(r);
}
OCI_DEFINE_CLEANUP(struct oreg_pull_result *, oreg_pull_result_free)

static int add_doc(struct plan *p, struct oreg_remote_doc *d, struct oci_error **err)
{
    for (size_t i = 0; i < p->n_docs; i++) {
        if (oimg_digest_equal(&p->docs[i]->digest, &d->digest)) {
            oreg_remote_doc_free(d);
            return 0;
        }
    }
    if (p->n_docs >= PULL_MANIFESTS_MAX) {
        oreg_remote_doc_free(d);
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d manifests", PULL_MANIFESTS_MAX);
    }
    struct oreg_remote_doc **nv = realloc(p->docs, (p->n_docs + 1) * sizeof(*nv));
    if (!nv) {
        oreg_remote_doc_free(d);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    p->docs = nv;
    p->docs[p->n_docs++] = d;
    return 0;
}

static int add_blob(struct plan *p, const struct oimg_descriptor *d, struct oci_error **err)
{
    for (size_t i = 0; i < p->n_blobs; i++)
        if (oimg_digest_equal(&p->blobs[i].digest, &d->digest))
            return 0;
    if (p->n_blobs >= PULL_BLOBS_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d blobs", PULL_BLOBS_MAX);
    struct oimg_descriptor *nv = realloc(p->blobs, (p->n_blobs + 1) * sizeof(*nv));
    if (!nv)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    p->blobs = nv;
    int r = oimg_descriptor_copy(&p->blobs[p->n_blobs], d, err);
    if (r < 0)
        return r;
    p->n_blobs++;
    return 0;
}

static int add_platform(struct plan *p, const struct oimg_platform *pl)
{
    if (!pl || !pl->os || !pl->architecture)
        return 0;
    char *s = oimg_platform_format(pl);
    if (!s)
        return -1;
    for (size_t i = 0; i < p->n_platforms; i++) {
        if (strcmp(p->platforms[i], s) == 0) {
            free(s);
            return 0;
        }
    }
    char **nv = realloc(p->platforms, (p->n_platforms + 1) * sizeof(*nv));
    if (!nv) {
        free(s);
        return -1;
    }
    p->platforms = nv;
    p->platforms[p->n_platforms++] = s;
    return 0;
}

struct pull_ctx {
    struct oreg_client *c;
    const struct oreg_ref *ref;
    struct endpoint_list eps;
    size_t used; /* the endpoint that served the top manifest */
    struct plan plan;
};

static void emit_manifest(struct pull_ctx *pc, const struct oreg_remote_doc *d)
{
    char msg[OIMG_DIGEST_MAX + 200];
    snprintf(msg, sizeof(msg), "%s %s", d->digest.str, d->media_type);
    struct oreg_event ev = {.kind = OREG_EV_MANIFEST, .host = d->host, .msg = msg};
    client_emit(pc->c, &ev);
}

/* A manifest's config and layers go into the plan, the manifest after them. */
static int plan_manifest(struct pull_ctx *pc, struct oreg_remote_doc *d, struct oci_error **err)
{
    _cleanup_(oimg_manifest_freep) struct oimg_manifest *m = NULL;
    int r = oimg_manifest_parse(&m, d->data, d->len, d->media_type, err);
    if (r < 0) {
        oci_error_wrap(err, "manifest %s", d->digest.str);
        oreg_remote_doc_free(d);
        return r;
    }
    r = add_blob(&pc->plan, &m->config, err);
    for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
        r = add_blob(&pc->plan, &m->layers[i], err);
    if (r < 0) {
        oreg_remote_doc_free(d);
        return r;
    }
    return add_doc(&pc->plan, d, err);
}

static int fetch_child(struct oreg_remote_doc **out, struct pull_ctx *pc,
                       const struct oimg_descriptor *cd, struct oci_error **err)
{
    int r =
        fetch_manifest_any(out, NULL, pc->c, &pc->eps, pc->used, cd->digest.str, &cd->digest, err);
    if (r < 0)
        return r;
    if (cd->size >= 0 && (*out)->len != (size_t)cd->size) {
        size_t got = (*out)->len;
        oreg_remote_doc_free(*out);
        *out = NULL;
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "manifest %s has %zu bytes, its descriptor says %lld", cd->digest.str,
                             got, (long long)cd->size);
    }
    emit_manifest(pc, *out);
    return 0;
}

static int plan_index_all(struct pull_ctx *pc, struct oreg_remote_doc *d, int depth,
                          struct oci_error **err)
{
    _cleanup_(oimg_index_freep) struct oimg_index *idx = NULL;
    int r = oimg_index_parse(&idx, d->data, d->len, d->media_type, err);
    if (r < 0) {
        oci_error_wrap(err, "index %s", d->digest.str);
        oreg_remote_doc_free(d);
        return r;
    }
    for (size_t i = 0; r >= 0 && i < idx->n_manifests; i++) {
        const struct oimg_descriptor *cd = &idx->manifests[i];
        if (!oimg_media_type_is_manifest(cd->media_type) &&
            !oimg_media_type_is_index(cd->media_type)) {
            /* Something else listed as a manifest: keep it as a blob. */
            r = add_blob(&pc->plan, cd, err);
            continue;
        }
        if (oimg_media_type_is_index(cd->media_type) && depth + 1 > PULL_INDEX_DEPTH_MAX) {
            r = oci_error_set(err, OCI_ERR_TOO_LARGE, "indexes nested deeper than %d",
                              PULL_INDEX_DEPTH_MAX);
            break;
        }
        struct oreg_remote_doc *child = NULL;
        if ((r = fetch_child(&child, pc, cd, err)) < 0)
            break;
        if (oimg_media_type_is_index(child->media_type)) {
            r = plan_index_all(pc, child, depth + 1, err);
        } else {
            if (add_platform(&pc->plan, cd->platform) < 0)
                r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            else
                r = plan_manifest(pc, child, err);
        }
    }
    if (r < 0) {
        oreg_remote_doc_free(d);
        return r;
    }
    return add_doc(&pc->plan, d, err);
}

/* Chooses the manifest for platform; *desc gets its index entry. */
static int plan_index_one(struct pull_ctx *pc, const struct oreg_remote_doc *d,
                          const struct oimg_platform *platform, struct oimg_descriptor *desc,
                          struct oci_error **err)
{
    _cleanup_(oimg_index_freep) struct oimg_index *idx = NULL;
    int r = oimg_index_parse(&idx, d->data, d->len, d->media_type, err);
    if (r < 0)
        return oci_error_wrap(err, "index %s", d->digest.str);
    size_t pick = 0;
    r = oimg_platform_select(&pick, idx, platform, err);
    if (r < 0)
        return r;
    const struct oimg_descriptor *cd = &idx->manifests[pick];
    if ((r = oimg_descriptor_copy(desc, cd, err)) < 0)
        return r;
    struct oreg_remote_doc *child = NULL;
    if ((r = fetch_child(&child, pc, cd, err)) < 0)
        return r;
    if (!oimg_media_type_is_manifest(child->media_type)) {
        oreg_remote_doc_free(child);
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "%s chosen from the index is not an image "
                             "manifest",
                             cd->digest.str);
    }
    if (add_platform(&pc->plan, cd->platform) < 0) {
        oreg_remote_doc_free(child);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    return plan_manifest(pc, child, err);
}

/* Writes a manifest or index through the store (digest and size checked). */
static int put_doc(struct oimg_layout *l, const struct oreg_remote_doc *d, struct oci_error **err)
{
    int r = oimg_layout_blob_stat(l, &d->digest, NULL, err);
    if (r != 0)
        return r < 0 ? r : 0;
    struct oimg_blob_writer *w = NULL;
    if ((r = oimg_layout_blob_begin(&w, l, &d->digest, (int64_t)d->len, err)) < 0)
        return r;
    r = oimg_blob_writer_write(w, d->data, d->len, err);
    if (r >= 0)
        r = oimg_blob_writer_commit(w, NULL, err);
    oimg_blob_writer_free(w);
    return r;
}

/* The platform of a single image, from its config (already in the layout). */
static void platform_from_config(struct plan *p, struct oimg_layout *l,
                                 const struct oreg_remote_doc *m)
{
    _cleanup_(oimg_manifest_freep) struct oimg_manifest *man = NULL;
    if (oimg_manifest_parse(&man, m->data, m->len, m->media_type, NULL) < 0)
        return;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if (oimg_layout_blob_read(&buf, &len, l, &man->config.digest, man->config.size,
                              OIMG_MAX_CONFIG_SIZE, NULL) < 0)
        return;
    struct oimg_image_config *cfg = NULL;
    if (oimg_config_parse(&cfg, buf, len, NULL) < 0)
        return;
    struct oimg_platform pl = {
        .os = cfg->os, .architecture = cfg->architecture, .variant = cfg->variant};
    add_platform(p, &pl);
    oimg_config_free(cfg);
}

static char *default_name(const struct oreg_ref *ref, const struct oreg_pull_opts *o)
{
    if (o && o->name)
        return strdup(o->name);
    /* By digest only: the digest string is itself a valid ref.name
     * ("sha256:..." has no character the image-layout grammar forbids), so
     * `DIR:sha256:...` and `DIR@sha256:...` both find it. */
    return strdup(ref->tag ? ref->tag : ref->digest.str);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int observe_manifest(struct pull_ctx *pc, const struct oreg_blob_observer *obs,
                            const struct oimg_descriptor *desc, struct oci_error **err)
{
    for (size_t i = 0; i < pc->plan.n_docs; i++) {
        const struct oreg_remote_doc *d = pc->plan.docs[i];
        if (oimg_digest_equal(&d->digest, &desc->digest))
            return obs->manifest(obs->ud, desc, d->data, d->len, err);
    }
    return oci_error_set(err, OCI_ERR_STATE, "manifest %s is not in the plan", desc->digest.str);
}

static int pull_run(struct oreg_pull_result *res, struct pull_ctx *pc, struct oimg_layout *l,
                    const struct oreg_pull_opts *o, struct oci_error **err)
{
    struct oreg_client *c = pc->c;
    const struct oreg_ref *ref = pc->ref;
    int r = client_endpoints(&pc->eps, c, ref, err);
    if (r < 0)
        return r;
    struct oreg_remote_doc *top = NULL;
    r = fetch_manifest_any(&top, &pc->used, c, &pc->eps, 0, oreg_ref_manifest_reference(ref),
                           ref->has_digest ? &ref->digest : NULL, err);
    if (r < 0)
        return errors_top_hint(err, r, ref);
    emit_manifest(pc, top);
    res->top_digest = top->digest;
    if (!(res->top_media_type = strdup(top->media_type)) || !(res->host = strdup(top->host))) {
        oreg_remote_doc_free(top);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    bool is_index = oimg_media_type_is_index(top->media_type);
    if (!is_index || (o && o->all_platforms)) {
        res->desc.media_type = strdup(top->media_type);
        res->desc.digest = top->digest;
        res->desc.size = (int64_t)top->len;
        if (!res->desc.media_type) {
            oreg_remote_doc_free(top);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        r = is_index ? plan_index_all(pc, top, 0, err) : plan_manifest(pc, top, err);
    } else {
        r = plan_index_one(pc, top, o ? o->platform : NULL, &res->desc, err);
        oreg_remote_doc_free(top);
        if (r == -OCI_ERR_PLATFORM)
            return errors_top_hint(err, r, ref);
    }
    if (r < 0)
        return r;

    const struct oreg_blob_observer *obs = o ? o->observer : NULL;
    if (obs && obs->manifest && (r = observe_manifest(pc, obs, &res->desc, err)) < 0)
        return r;
    struct blob_stats st = {0};
    r = blobs_fetch(&st, c, l, &pc->eps, pc->used, pc->plan.blobs, pc->plan.n_blobs,
                    o ? o->observer : NULL, err);
    res->blobs = pc->plan.n_blobs;
    res->blobs_present = st.present;
    res->blobs_fetched = st.fetched;
    res->bytes_fetched = st.bytes_fetched;
    res->bytes_resumed = st.bytes_resumed;
    for (size_t i = 0; i < pc->plan.n_blobs; i++)
        res->bytes_total += (uint64_t)pc->plan.blobs[i].size;
    if (r < 0)
        return r;
    for (size_t i = 0; i < pc->plan.n_docs; i++)
        if (put_doc(l, pc->plan.docs[i], err) < 0)
            return oci_error_wrap(err, "store %s", pc->plan.docs[i]->digest.str);
    res->manifests = pc->plan.n_docs;
    if (pc->plan.n_platforms == 0 && pc->plan.n_docs == 1)
        platform_from_config(&pc->plan, l, pc->plan.docs[0]);
    if (!(res->name = default_name(ref, o)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    r = oimg_layout_tag(l, res->name, &res->desc, err);
    if (r < 0)
        return r;
    res->platforms = TAKE_PTR(pc->plan.platforms);
    res->n_platforms = pc->plan.n_platforms;
    pc->plan.n_platforms = 0;
    return 0;
}

int oreg_pull(struct oreg_pull_result **out, struct oreg_client *c, const struct oreg_ref *ref,
              struct oimg_layout *l, const struct oreg_pull_opts *opts, struct oci_error **err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    _cleanup_(oreg_pull_result_freep) struct oreg_pull_result *res = calloc(1, sizeof(*res));
    if (!res || !(res->reference = strdup(ref->canonical)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    struct pull_ctx pc = {.c = c, .ref = ref};
    unsigned retries0 = c->retries_done;
    int r = pull_run(res, &pc, l, opts, err);
    plan_clear(&pc.plan);
    endpoint_list_clear(&pc.eps);
    if (r < 0)
        return oci_error_wrap(err, "%s", ref->canonical);
    res->retries = c->retries_done - retries0;
    if (c->rl_remaining)
        res->ratelimit_remaining = strdup(c->rl_remaining);
    res->seconds = seconds_since(&t0);
    *out = TAKE_PTR(res);
    return 0;
}
