/* Helpers for the layout store's tests: temp layouts under /tmp and small
 * images (config, layer, manifest, index) built in them. */
#ifndef OCIIMG_LAYOUT_T_H
#define OCIIMG_LAYOUT_T_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/layout.h>

#include "t.h"

static int t_rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)st;
    (void)type;
    (void)f;
    remove(p);
    return 0;
}

static inline void t_rm_rf(const char *path)
{
    nftw(path, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under /tmp (malloc'd path). */
static inline char *t_tmpdir(void)
{
    char *p = strdup("/tmp/oimg-layout-XXXXXX");
    if (!p || !mkdtemp(p)) {
        perror("mkdtemp");
        exit(1);
    }
    return p;
}

/* A new layout at <tmpdir>/layout; *top receives the tmpdir to remove. */
static inline struct oimg_layout *t_new_layout(char **top)
{
    *top = t_tmpdir();
    char *path = NULL;
    if (asprintf(&path, "%s/layout", *top) < 0)
        exit(1);
    struct oimg_layout *l = NULL;
    struct oci_error *e = NULL;
    if (oimg_layout_open(&l, path, OIMG_LAYOUT_CREATE, &e) < 0) {
        fprintf(stderr, "create layout: %s\n", e ? e->msg : "?");
        exit(1);
    }
    free(path);
    return l;
}

static inline char *t_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *t_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        exit(1);
    va_end(ap);
    return s;
}

/* Puts a buffer as a blob; exits on failure (tests build on it). */
static inline struct oimg_digest t_put(struct oimg_layout *l, const void *buf, size_t len)
{
    struct oimg_digest d;
    struct oci_error *e = NULL;
    if (oimg_layout_blob_put(&d, l, buf, len, &e) < 0) {
        fprintf(stderr, "blob put: %s\n", e ? e->msg : "?");
        exit(1);
    }
    return d;
}

static inline struct oimg_digest t_put_str(struct oimg_layout *l, const char *s)
{
    return t_put(l, s, strlen(s));
}

/* A descriptor (media_type strdup'ed; clear with oimg_descriptor_clear). */
static inline struct oimg_descriptor t_desc(const char *mt, struct oimg_digest d, int64_t size)
{
    struct oimg_descriptor desc = {0};
    desc.media_type = strdup(mt);
    desc.digest = d;
    desc.size = size;
    return desc;
}

struct t_image {
    struct oimg_digest manifest, config, layer;
    int64_t manifest_size, config_size, layer_size;
    char *manifest_json; /* as stored */
};

static inline void t_image_clear(struct t_image *im)
{
    free(im->manifest_json);
    memset(im, 0, sizeof(*im));
}

static inline char *t_desc_json(const char *mt, struct oimg_digest d, int64_t size)
{
    return t_fmt("{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}", mt, d.str,
                 (long long)size);
}

/* An image: one uncompressed "layer" (arbitrary bytes: nothing here reads
 * it as a tar), its config for os/arch, the manifest.  extra (may be NULL
 * or "") is spliced into the manifest's top level, e.g. an annotations or
 * subject member with a leading comma. */
static inline struct t_image t_make_image(struct oimg_layout *l, const char *arch, const char *seed,
                                          const char *extra)
{
    struct t_image im = {0};
    char *layer = t_fmt("layer contents for %s %s\n", arch, seed);
    im.layer = t_put_str(l, layer);
    im.layer_size = (int64_t)strlen(layer);
    char *config =
        t_fmt("{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"SEED=%s\"]},"
              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
              arch, seed, im.layer.str);
    im.config = t_put_str(l, config);
    im.config_size = (int64_t)strlen(config);
    char *cd = t_desc_json(OIMG_MT_OCI_CONFIG, im.config, im.config_size);
    char *ld = t_desc_json(OIMG_MT_OCI_LAYER, im.layer, im.layer_size);
    im.manifest_json = t_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":%s,"
                             "\"layers\":[%s]%s}",
                             OIMG_MT_OCI_MANIFEST, cd, ld, extra ? extra : "");
    im.manifest = t_put_str(l, im.manifest_json);
    im.manifest_size = (int64_t)strlen(im.manifest_json);
    free(layer);
    free(config);
    free(cd);
    free(ld);
    return im;
}

static inline struct oimg_descriptor t_image_desc(const struct t_image *im)
{
    return t_desc(OIMG_MT_OCI_MANIFEST, im->manifest, im->manifest_size);
}

/* An index over n manifests (platform i = "linux/" archs[i], or no
 * platform when archs is NULL); *size_out gets its size. */
static inline struct oimg_digest t_make_index(struct oimg_layout *l,
                                              const struct oimg_descriptor *m,
                                              const char *const *archs, size_t n, int64_t *size_out)
{
    char *body = strdup("");
    for (size_t i = 0; i < n; i++) {
        char *plat =
            archs ? t_fmt(",\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}", archs[i])
                  : strdup("");
        char *nb =
            t_fmt("%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld%s}", body,
                  i ? "," : "", m[i].media_type, m[i].digest.str, (long long)m[i].size, plat);
        free(body);
        free(plat);
        body = nb;
    }
    char *idx = t_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[%s]}",
                      OIMG_MT_OCI_INDEX, body);
    struct oimg_digest d = t_put_str(l, idx);
    *size_out = (int64_t)strlen(idx);
    free(idx);
    free(body);
    return d;
}

/* Tags (exits on failure). */
static inline void t_tag(struct oimg_layout *l, const char *name, const struct oimg_descriptor *d)
{
    struct oci_error *e = NULL;
    if (oimg_layout_tag(l, name, d, &e) < 0) {
        fprintf(stderr, "tag %s: %s\n", name, e ? e->msg : "?");
        exit(1);
    }
}

/* Writes a file relative to the layout (for planting broken content). */
static inline void t_write_at(struct oimg_layout *l, const char *rel, const void *buf, size_t len)
{
    int fd = openat(oimg_layout_dirfd(l), rel, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror(rel);
        exit(1);
    }
    if (write(fd, buf, len) != (ssize_t)len)
        exit(1);
    close(fd);
}

static inline char *t_blob_rel(const struct oimg_digest *d)
{
    char *colon = strchr(d->str, ':');
    return t_fmt("blobs/%.*s/%s", (int)(colon - d->str), d->str, colon + 1);
}

/* Runs verify and returns the problem count; prints problems when
 * show is set. */
static inline size_t t_verify(const struct oimg_layout *l, unsigned flags, bool show)
{
    struct oimg_verify_report rep = {0};
    struct oci_error *e = NULL;
    if (oimg_layout_verify(&rep, l, flags, &e) < 0) {
        fprintf(stderr, "verify: %s\n", e ? e->msg : "?");
        oci_error_free(e);
        return (size_t)-1;
    }
    if (show)
        for (size_t i = 0; i < rep.n_problems; i++)
            fprintf(stderr, "    problem: %s\n", rep.problems[i]);
    size_t n = rep.n_problems;
    oimg_verify_report_clear(&rep);
    return n;
}

/* True if some problem line contains all of the given substrings. */
static inline bool t_has_problem(const struct oimg_verify_report *rep, const char *a, const char *b)
{
    for (size_t i = 0; i < rep->n_problems; i++)
        if (strstr(rep->problems[i], a) && (!b || strstr(rep->problems[i], b)))
            return true;
    return false;
}

/* gc reported item (a digest or a path) among what it removed. */
static inline bool t_gc_removed(const struct oimg_gc_report *rep, const char *item)
{
    for (size_t i = 0; i < rep->n_removed; i++)
        if (strcmp(rep->removed[i], item) == 0)
            return true;
    return false;
}

static inline size_t t_count_dir(struct oimg_layout *l, const char *rel)
{
    char *p = t_fmt("%s/%s", oimg_layout_path(l), rel);
    DIR *d = opendir(p);
    free(p);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

#endif
