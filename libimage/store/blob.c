/* Reading blobs: blobs/<alg>/<encoded>, the path formed only from a digest
 * that passed strict validation. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/layout.h>

#include "store_private.h"

/* The struct may have been filled by hand: re-validate the string itself
 * rather than trusting alg. */
int store_blob_path(char *buf, size_t bufsz, const struct oimg_digest *d,
                    struct oimg_digest *valid_out, struct oci_error **err)
{
    struct oimg_digest v;
    int r = oimg_digest_parse(&v, d->str, err);
    if (r < 0)
        return r;
    if (valid_out)
        *valid_out = v;
    return oimg_digest_blob_path(buf, bufsz, &v, err);
}

int oimg_layout_blob_stat(const struct oimg_layout *l, const struct oimg_digest *d,
                          int64_t *size_out, struct oci_error **err)
{
    char path[STORE_BLOB_PATH_MAX];
    int r = store_blob_path(path, sizeof(path), d, NULL, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = store_open_beneath(l->dirfd, path, O_PATH);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, -fd, "stat %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a regular file", path);
    if (size_out)
        *size_out = (int64_t)st.st_size;
    return 1;
}

int oimg_layout_blob_open(const struct oimg_layout *l, const struct oimg_digest *d,
                          struct oci_error **err)
{
    char path[STORE_BLOB_PATH_MAX];
    int r = store_blob_path(path, sizeof(path), d, NULL, err);
    if (r < 0)
        return r;
    struct stat st;
    return store_open_regular(&st, l->dirfd, path, err);
}

int oimg_layout_blob_open_partial(const struct oimg_layout *l, const struct oimg_digest *d,
                                  struct oci_error **err)
{
    /* Parsed again: only a valid digest becomes "<alg>-<hex>", a plain name. */
    struct oimg_digest v;
    int r = oimg_digest_parse(&v, d->str, err);
    if (r < 0)
        return r;
    char path[OIMG_DIGEST_MAX + 32];
    if (snprintf(path, sizeof(path), STORE_STATE_DIR "/" STORE_PARTIAL_NAME "/%s-%s",
                 oimg_digest_alg_name(v.alg), oimg_digest_encoded(&v)) >= (int)sizeof(path))
        return oci_error_set(err, OCI_ERR_INVALID, "digest too long");
    struct stat st;
    return store_open_regular(&st, l->dirfd, path, err);
}

int oimg_layout_blob_read(char **out, size_t *out_len, const struct oimg_layout *l,
                          const struct oimg_digest *d, int64_t expected_size, size_t max,
                          struct oci_error **err)
{
    char path[STORE_BLOB_PATH_MAX];
    struct oimg_digest v;
    int r = store_blob_path(path, sizeof(path), d, &v, err);
    if (r < 0)
        return r;
    struct stat st;
    _cleanup_close_ int fd = store_open_regular(&st, l->dirfd, path, err);
    if (fd < 0)
        return fd;
    if (expected_size >= 0 && st.st_size != expected_size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH, "%s: size %lld, expected %lld", path,
                             (long long)st.st_size, (long long)expected_size);
    if ((uint64_t)st.st_size > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: %lld bytes, more than the limit of %zu",
                             path, (long long)st.st_size, max);
    _cleanup_free_ char *buf = NULL;
    size_t len = (size_t)st.st_size;
    if ((r = store_read_fd(&buf, fd, len, path, err)) < 0)
        return r;
    struct oimg_digest actual;
    if ((r = oimg_digest_buffer(&actual, v.alg, buf, len, err)) < 0)
        return r;
    if (!oimg_digest_equal(&actual, &v))
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH, "%s: content has digest %s", path,
                             actual.str);
    *out = TAKE_PTR(buf);
    *out_len = len;
    return 0;
}
