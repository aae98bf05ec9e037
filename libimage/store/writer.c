/* Writing blobs: stream into .ociimg/tmp while hashing, then verify, fsync
 * and rename into blobs/<alg>/ without ever replacing an existing blob. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/layout.h>

#include "store_private.h"

struct oimg_blob_writer {
    struct oimg_layout *l;
    int fd;
    char *tmpname; /* in .ociimg/tmp */
    struct oimg_hasher *h;
    enum oimg_digest_alg alg;
    struct oimg_digest expected;
    bool has_expected;
    int64_t expected_size;
    uint64_t size;
    bool failed;   /* a write failed: only free() is left */
    bool finished; /* committed or discarded */
};

static void discard(struct oimg_blob_writer *w)
{
    if (w->tmpname && !w->finished)
        unlinkat(w->l->tmpfd, w->tmpname, 0);
    w->finished = true;
}

void oimg_blob_writer_free(struct oimg_blob_writer *w)
{
    if (!w)
        return;
    discard(w);
    if (w->fd >= 0)
        close(w->fd); /* also drops the temp file's flock */
    oimg_hasher_free(w->h);
    free(w->tmpname);
    free(w);
}

uint64_t oimg_blob_writer_size(const struct oimg_blob_writer *w)
{
    return w->size;
}

int oimg_layout_blob_begin(struct oimg_blob_writer **out, struct oimg_layout *l,
                           const struct oimg_digest *expected, int64_t expected_size,
                           struct oci_error **err)
{
    int r = store_require_writable(l, "write blob", err);
    if (r < 0)
        return r;
    struct oimg_blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    w->l = l;
    w->fd = -1;
    w->expected_size = expected_size < 0 ? -1 : expected_size;
    w->alg = OIMG_DIGEST_SHA256;
    if (expected) {
        if ((r = oimg_digest_parse(&w->expected, expected->str, err)) < 0)
            goto fail;
        w->has_expected = true;
        w->alg = w->expected.alg;
    }
    /* Pin before the temp file exists: gc never sees it unlocked. */
    if ((r = store_pin(l, err)) < 0)
        goto fail;
    int tfd = store_tmp_dir(l, err);
    if (tfd < 0) {
        r = tfd;
        goto fail;
    }
    if ((r = w->fd = oimg_fs_mktemp(&w->tmpname, tfd, "blob-", err)) < 0)
        goto fail;
    if (flock(w->fd, LOCK_SH) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "lock temp file");
        goto fail;
    }
    if ((r = oimg_hasher_new(&w->h, w->alg, err)) < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    oimg_blob_writer_free(w);
    return store_wrap(r, err, "write blob into `%s`", l->path);
}

int oimg_blob_writer_write(struct oimg_blob_writer *w, const void *buf, size_t len,
                           struct oci_error **err)
{
    if (w->failed || w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "write blob: writer already %s",
                             w->finished ? "finished" : "failed");
    if (w->expected_size >= 0 && w->size + len > (uint64_t)w->expected_size) {
        w->failed = true;
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "write blob %s: more than the expected %lld bytes",
                             w->has_expected ? w->expected.str : "", (long long)w->expected_size);
    }
    int r = oimg_fs_write_all(w->fd, buf, len);
    if (r < 0) {
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, -r, "write blob into `%s`", w->l->path);
    }
    oimg_hasher_update(w->h, buf, len);
    w->size += len;
    return 0;
}

/* blobs/<alg>, created if needed; the new directory entry is made durable. */
static int open_alg_dir(struct oimg_layout *l, const char *alg, struct oci_error **err)
{
    if (mkdirat(l->dirfd, "blobs", 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create blobs");
    _cleanup_close_ int bfd =
        openat(l->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs");
    bool created = mkdirat(bfd, alg, 0755) == 0;
    if (!created && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create blobs/%s", alg);
    int afd = openat(bfd, alg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (afd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs/%s", alg);
    if (created && fsync(bfd) < 0) {
        int e = errno;
        close(afd);
        return oci_error_setsys(err, OCI_ERR_IO, e, "fsync blobs");
    }
    return afd;
}

int oimg_blob_writer_commit(struct oimg_blob_writer *w, struct oimg_digest *out,
                            struct oci_error **err)
{
    if (w->failed || w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "commit blob: writer already %s",
                             w->finished ? "finished" : "failed");
    struct oimg_digest actual;
    oimg_hasher_final(w->h, &actual);
    bool bad_digest = w->has_expected && !oimg_digest_equal(&actual, &w->expected);
    bool bad_size = w->expected_size >= 0 && w->size != (uint64_t)w->expected_size;
    if (bad_digest || bad_size) {
        discard(w);
        char want_size[32] = "any size";
        if (w->expected_size >= 0)
            snprintf(want_size, sizeof(want_size), "%lld bytes", (long long)w->expected_size);
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "commit blob: expected %s (%s), got %s (%llu bytes)",
                             w->has_expected ? w->expected.str : "any digest", want_size,
                             actual.str, (unsigned long long)w->size);
    }
    int r;
    if (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "commit blob %s", actual.str);
        discard(w);
        return r;
    }
    _cleanup_close_ int afd = open_alg_dir(w->l, oimg_digest_alg_name(actual.alg), err);
    if (afd < 0) {
        discard(w);
        return store_wrap(afd, err, "commit blob %s", actual.str);
    }
    /* An existing blob stays as it is (store_publish then drops ours). */
    r = store_publish(w->l->tmpfd, w->tmpname, afd, oimg_digest_encoded(&actual), err);
    if (r < 0) {
        discard(w);
        return store_wrap(r, err, "commit blob %s", actual.str);
    }
    w->finished = true;
    if ((r = oimg_fs_fsync_dir(afd, err)) < 0)
        return store_wrap(r, err, "commit blob %s", actual.str);
    if (out)
        *out = actual;
    return 0;
}

int oimg_layout_blob_put(struct oimg_digest *out, struct oimg_layout *l, const void *buf,
                         size_t len, struct oci_error **err)
{
    struct oimg_digest d;
    int r = oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, buf, len, err);
    if (r < 0)
        return r;
    r = store_require_writable(l, "write blob", err);
    if (r < 0)
        return r;
    /* Nothing to write when it is already there; pin anyway so that the
     * caller may reference it before a gc can sweep it. */
    if ((r = store_pin(l, err)) < 0)
        return r;
    r = oimg_layout_blob_stat(l, &d, NULL, err);
    if (r < 0)
        return r;
    if (r == 0) {
        struct oimg_blob_writer *w = NULL;
        if ((r = oimg_layout_blob_begin(&w, l, &d, (int64_t)len, err)) < 0)
            return r;
        r = oimg_blob_writer_write(w, buf, len, err);
        if (r >= 0)
            r = oimg_blob_writer_commit(w, NULL, err);
        oimg_blob_writer_free(w);
        if (r < 0)
            return r;
    }
    if (out)
        *out = d;
    return 0;
}
