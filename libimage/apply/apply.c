/* The applier object and the per-layer loop: libarchive reads the tar
 * (tar formats only, fed by our own decompressing stream), every entry is
 * checked against the limits, cleaned, and handed to the whiteout or entry
 * code; at the end the stream is drained so the diff_id covers every byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/apply.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "apply_private.h"
#include "archive_dl.h"

#define TAR_BLOCK 512

static const struct {
    const char *type;
    int comp;
} media_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", OIMG_LAYER_TAR},
    {"application/vnd.oci.image.layer.v1.tar+gzip", OIMG_LAYER_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", OIMG_LAYER_ZSTD},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", OIMG_LAYER_TAR},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", OIMG_LAYER_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", OIMG_LAYER_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar", OIMG_LAYER_TAR},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", OIMG_LAYER_GZIP},
    {"application/vnd.docker.image.rootfs.diff.tar.zstd", OIMG_LAYER_ZSTD},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar", OIMG_LAYER_TAR},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", OIMG_LAYER_GZIP},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.zstd", OIMG_LAYER_ZSTD},
};

int oimg_apply_media_type_compression(const char *media_type)
{
    if (media_type)
        for (size_t i = 0; i < OCI_ARRAY_SIZE(media_types); i++)
            if (strcmp(media_types[i].type, media_type) == 0)
                return media_types[i].comp;
    return -OCI_ERR_UNSUPPORTED;
}

void oimg_apply_opts_init(struct oimg_apply_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_path = OIMG_APPLY_DEFAULT_MAX_PATH;
    o->max_entries = OIMG_APPLY_DEFAULT_MAX_ENTRIES;
    o->max_xattr_size = OIMG_APPLY_DEFAULT_MAX_XATTR_SIZE;
    o->max_pax_header = OIMG_APPLY_DEFAULT_MAX_PAX_HEADER;
    o->max_total_bytes = OIMG_APPLY_DEFAULT_MAX_TOTAL_BYTES;
}

void apply_warn(struct oimg_applier *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oci_vwarnf(a->opts.warn, a->opts.warn_ctx, fmt, ap);
    va_end(ap);
}

static int copy_map(const struct oimg_idmap **dst, size_t *n, const struct oimg_idmap *src,
                    size_t count, const char *what, struct oci_error **err)
{
    *dst = NULL;
    *n = 0;
    if (!count)
        return 0;
    if (!src || count > 1024)
        return oci_error_set(err, OCI_ERR_INVALID, "%s map: bad range count", what);
    for (size_t i = 0; i < count; i++)
        if (src[i].size == 0 || (uint64_t)src[i].container_id + src[i].size > 0xFFFFFFFFull ||
            (uint64_t)src[i].host_id + src[i].size > 0xFFFFFFFFull)
            return oci_error_set(err, OCI_ERR_INVALID, "%s map: range %zu is out of bounds", what,
                                 i);
    struct oimg_idmap *m = malloc(count * sizeof(*m));
    if (!m)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    memcpy(m, src, count * sizeof(*m));
    *dst = m;
    *n = count;
    return 0;
}

int oimg_applier_new(struct oimg_applier **out, int rootfd, const struct oimg_apply_opts *opts,
                     struct oci_error **err)
{
    struct oimg_apply_opts defaults;
    if (!opts) {
        oimg_apply_opts_init(&defaults);
        opts = &defaults;
    }
    struct oimg_applier *a = calloc(1, sizeof(*a));
    if (!a)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    a->rootfd = -1;
    a->cache_fd = -1;
    a->opts = *opts;
    a->opts.uid_map = a->opts.gid_map = NULL;
    int r;
    if ((r = copy_map(&a->opts.uid_map, &a->opts.n_uid_map, opts->uid_map, opts->n_uid_map, "uid",
                      err)) < 0 ||
        (r = copy_map(&a->opts.gid_map, &a->opts.n_gid_map, opts->gid_map, opts->n_gid_map, "gid",
                      err)) < 0)
        goto fail;
    if (!a->opts.max_path)
        a->opts.max_path = OIMG_APPLY_DEFAULT_MAX_PATH;
    if (!a->opts.max_entries)
        a->opts.max_entries = OIMG_APPLY_DEFAULT_MAX_ENTRIES;
    if (!a->opts.max_xattr_size)
        a->opts.max_xattr_size = OIMG_APPLY_DEFAULT_MAX_XATTR_SIZE;
    if (!a->opts.max_pax_header)
        a->opts.max_pax_header = OIMG_APPLY_DEFAULT_MAX_PAX_HEADER;
    if (!a->opts.max_total_bytes)
        a->opts.max_total_bytes = OIMG_APPLY_DEFAULT_MAX_TOTAL_BYTES;

    a->rootfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a->rootfd < 0) {
        r = oci_error_setsys(err, OCI_ERR_INVALID, errno, "open root directory");
        goto fail;
    }
    struct stat st;
    if (fstat(a->rootfd, &st) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "stat root directory");
        goto fail;
    }
    a->root_dev = st.st_dev;
    a->root_ino = st.st_ino;
    if (keyset_new(&a->created) < 0 || dirmap_new(&a->dirs) < 0) {
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = a;
    return 0;
fail:
    oimg_applier_free(a);
    return r;
}

void oimg_applier_free(struct oimg_applier *a)
{
    if (!a)
        return;
    path_cache_drop(a);
    if (a->rootfd >= 0)
        close(a->rootfd);
    keyset_free(a->created);
    dirmap_free(a->dirs);
    free((void *)a->opts.uid_map);
    free((void *)a->opts.gid_map);
    free(a);
}

/* ---- one layer ---- */

struct read_ctx {
    struct layer_stream *s;
    struct oci_error *serr; /* the stream's error, which explains libarchive's */
};

static la_ssize_t ar_read(struct archive *ar, void *ctx, const void **buf)
{
    struct read_ctx *c = ctx;
    ssize_t n = stream_next(c->s, buf, &c->serr);
    if (n < 0) {
        sym_archive_set_error(ar, EIO, "layer stream failed");
        return -1;
    }
    return n;
}

/* The stream's error explains a libarchive failure better than libarchive. */
static int fail_ar(struct read_ctx *c, struct archive *ar, struct oci_error **err, const char *what)
{
    if (c->serr) {
        oci_error_clear(err);
        if (err)
            *err = TAKE_PTR(c->serr);
        return oci_error_wrap(err, "%s", what);
    }
    if (err && *err)
        return -(*err)->code;
    const char *m = sym_archive_error_string(ar);
    return oci_error_set(err, OCI_ERR_INVALID, "%s: %s", what, m ? m : "unknown tar error");
}

static int check_header_size(struct oimg_applier *a, struct archive *ar, struct archive_entry *e,
                             struct oci_error **err)
{
    /* Everything libarchive consumed for this entry besides its own 512-byte
     * header is extension headers (PAX, GNU long names).  libarchive itself
     * refuses any single one over 1 MiB before reading it. */
    la_int64_t start = sym_archive_read_header_position(ar);
    la_int64_t now = sym_archive_filter_bytes(ar, 0);
    if (start < 0 || now < start)
        return 0;
    uint64_t ext = (uint64_t)(now - start);
    ext = ext > TAR_BLOCK ? ext - TAR_BLOCK : 0;
    if (ext > a->opts.max_pax_header)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "entry `%.64s`: %llu bytes of PAX/GNU extension headers exceed the "
                             "limit of %zu",
                             sym_archive_entry_pathname(e) ? sym_archive_entry_pathname(e) : "?",
                             (unsigned long long)ext, a->opts.max_pax_header);
    return 0;
}

static int apply_entries(struct oimg_applier *a, struct archive *ar, struct read_ctx *c,
                         struct oimg_apply_stats *st, struct oci_error **err)
{
    for (;;) {
        struct archive_entry *e;
        int rc = sym_archive_read_next_header(ar, &e);
        if (rc == ARCHIVE_EOF)
            return 0;
        /* ARCHIVE_RETRY (a damaged header) is as fatal to us as FATAL. */
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return fail_ar(c, ar, err, "read tar header");
        if (++st->entries > a->opts.max_entries)
            return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                 "layer has more than %llu entries (the limit)",
                                 (unsigned long long)a->opts.max_entries);
        /* Names are bytes to us: libarchive's failure to convert UTF-8 to
         * the C locale still leaves the raw name, which is what we want. */
        const char *wmsg = sym_archive_error_string(ar);
        if (rc == ARCHIVE_WARN && !(wmsg && strstr(wmsg, "converted from")))
            apply_warn(a, "tar: %s", wmsg ? wmsg : "warning");
        int r = check_header_size(a, ar, e, err);
        if (r < 0)
            return r;
        const char *name = sym_archive_entry_pathname(e);
        if (!name)
            return oci_error_set(err, OCI_ERR_INVALID, "tar entry without a name");
        _cleanup_free_ char *clean = NULL;
        r = path_clean(&clean, name, a->opts.max_path, err);
        if (r < 0)
            return r;
        r = whiteout_apply(a, clean, err);
        if (r == 0)
            r = entry_apply(a, ar, e, clean, err);
        if (r < 0) {
            if (c->serr)
                return fail_ar(c, ar, err, "read tar data");
            return r;
        }
    }
}

int oimg_applier_apply(struct oimg_applier *a, const char *media_type, struct oimg_reader *r,
                       const struct oimg_digest *diff_id, struct oimg_apply_stats *st,
                       struct oci_error **err)
{
    if (a->failed || a->finished)
        return oci_error_set(err, OCI_ERR_STATE, "apply layer: the applier is %s",
                             a->failed ? "in a failed state" : "finished");
    if (!r || !r->read)
        return oci_error_set(err, OCI_ERR_INVALID, "apply layer: no reader");
    int comp = -1;
    if (media_type) {
        comp = oimg_apply_media_type_compression(media_type);
        if (comp < 0)
            return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                                 "apply layer: unsupported media type `%s`", media_type);
    }
    enum oimg_digest_alg alg = diff_id ? diff_id->alg : OIMG_DIGEST_SHA256;
    if (alg != OIMG_DIGEST_SHA256 && alg != OIMG_DIGEST_SHA512)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "apply layer: diff_id algorithm");

    struct oimg_apply_stats stats = {0};
    /* Reset to NULL at `out:` before this frame ends. */
    // cppcheck-suppress autoVariables
    a->st = &stats;
    a->failed = true; /* until the layer is complete */
    keyset_clear(a->created);
    path_cache_drop(a);

    struct read_ctx c = {0};
    struct archive *ar = NULL;
    int ret = stream_open(&c.s, r, comp, alg, &a->total_bytes, a->opts.max_total_bytes, err);
    if (ret < 0)
        goto out;
    if ((ret = oimg_archive_open(err)) < 0)
        goto out;
    ar = sym_archive_read_new();
    if (!ar) {
        ret = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto out;
    }
    sym_archive_read_support_format_tar(ar);
    sym_archive_read_support_format_empty(ar);
    if (sym_archive_read_open(ar, &c, NULL, ar_read, NULL) != ARCHIVE_OK) {
        ret = fail_ar(&c, ar, err, "open tar stream");
        goto out;
    }
    ret = apply_entries(a, ar, &c, &stats, err);
    if (ret < 0)
        goto out;
    /* libarchive shrugs off a failed read past the end marker; we do not. */
    if (c.serr) {
        ret = fail_ar(&c, ar, err, "read layer");
        goto out;
    }
    ret = stream_drain(c.s, err);
    if (ret < 0)
        goto out;
    stream_result(c.s, &stats.diff_id, &stats.compressed_bytes, &stats.uncompressed_bytes);
    if (diff_id && !oimg_digest_equal(diff_id, &stats.diff_id)) {
        ret = oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                            "layer content is %s, but the config's diff_id is %s",
                            stats.diff_id.str, diff_id->str);
        goto out;
    }
    a->failed = false;
out:
    if (ar)
        sym_archive_read_free(ar);
    stream_free(c.s);
    oci_error_free(c.serr);
    path_cache_drop(a);
    keyset_clear(a->created);
    a->st = NULL;
    if (st)
        *st = stats;
    if (ret < 0)
        return oci_error_wrap(err, "apply layer");
    return 0;
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read");
    }
}

int oimg_applier_apply_fd(struct oimg_applier *a, const char *media_type, int fd,
                          const struct oimg_digest *diff_id, struct oimg_apply_stats *st,
                          struct oci_error **err)
{
    struct oimg_reader r = {fd_read, &fd};
    return oimg_applier_apply(a, media_type, &r, diff_id, st, err);
}

/* ---- the end ---- */

int oimg_applier_finish(struct oimg_applier *a, struct oci_error **err)
{
    if (a->failed || a->finished)
        return oci_error_set(err, OCI_ERR_STATE, "finish: the applier is %s",
                             a->failed ? "in a failed state" : "finished");
    a->finished = true;
    size_t n;
    struct dirrec **recs = dirmap_sorted(a->dirs, &n);
    for (size_t i = 0; i < n; i++) {
        struct dirrec *d = recs[i];
        struct oci_error *e = NULL;
        _cleanup_close_ int fd = oimg_fs_open_in_root(a->rootfd, *d->path ? d->path : ".",
                                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &e);
        if (fd < 0) {
            /* Removed or replaced by a later layer: nothing to restore. */
            oci_error_free(e);
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_dev != d->dev || st.st_ino != d->ino)
            continue;
        if (a->opts.rootless && fchmod(fd, d->mode) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "finish: chmod `/%s`", d->path);
        struct timespec ts[2] = {d->mtime, d->mtime};
        if (futimens(fd, ts) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "finish: set times of `/%s`", d->path);
    }
    if (!a->opts.no_sync && syncfs(a->rootfd) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "finish: syncfs");
    return 0;
}
