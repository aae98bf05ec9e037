/* Small helpers of the store: confined opens, no-replace publishing,
 * capped reads. */
#define OCIIMG_STORE_UTIL_IMPL /* defines store_wrap: no analyzer wrapper */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "store_private.h"

int store_wrap(int r, struct oci_error **err, const char *fmt, ...)
{
    _cleanup_free_ char *ctx = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&ctx, fmt, ap);
    va_end(ap);
    if (n >= 0)
        oci_error_wrap(err, "%s", ctx);
    return r;
}

/* Fallback where openat2 is unavailable (old kernel, seccomp): every
 * component opened with O_NOFOLLOW, so no symlink is followed at all. */
static int open_walk(int dirfd, const char *path, int flags)
{
    _cleanup_free_ char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int cur = dirfd;
    _cleanup_close_ int owned = -1;
    char *save = NULL;
    char *comp = strtok_r(p, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, "..") == 0)
            return -EXDEV;
        if (!next) {
            int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, 0644);
            return fd >= 0 ? fd : -errno;
        }
        int fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        if (owned >= 0)
            close(owned);
        owned = cur = fd;
        comp = next;
    }
    return -EINVAL;
}

int store_open_beneath(int dirfd, const char *path, int flags)
{
    if (!*path || path[0] == '/')
        return -EINVAL;
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC),
        .mode = (flags & O_CREAT) ? 0644 : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0; tries < 8; tries++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == EAGAIN || errno == EINTR)
            continue;
        if (errno == ENOSYS || errno == EPERM)
            return open_walk(dirfd, path, flags);
        return -errno;
    }
    return -EAGAIN;
}

int store_publish(int fromdir, const char *from, int todir, const char *to, struct oci_error **err)
{
    if (renameat2(fromdir, from, todir, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno == EEXIST) {
        unlinkat(fromdir, from, 0);
        return 1;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "rename into `%s`", to);
    /* Filesystem without RENAME_NOREPLACE: a hard link fails the same way. */
    if (linkat(fromdir, from, todir, to, 0) == 0) {
        unlinkat(fromdir, from, 0);
        return 0;
    }
    if (errno == EEXIST) {
        unlinkat(fromdir, from, 0);
        return 1;
    }
    if (errno != EPERM && errno != ENOTSUP)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "link into `%s`", to);
    /* No hard links either: check-then-rename.  The race only lets a
     * concurrent writer of the same content replace it by identical bytes. */
    struct stat st;
    if (fstatat(todir, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        unlinkat(fromdir, from, 0);
        return 1;
    }
    if (renameat(fromdir, from, todir, to) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "rename into `%s`", to);
    return 0;
}

int store_open_regular(struct stat *st, int dirfd, const char *path, struct oci_error **err)
{
    /* O_NONBLOCK: a FIFO planted under a blob's name must not hang us. */
    _cleanup_close_ int fd = store_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK);
    if (fd == -ENOENT)
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "%s: no such file", path);
    if (fd == -ELOOP)
        return oci_error_set(err, OCI_ERR_INVALID, "%s: is a symlink", path);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, -fd, "open %s", path);
    if (fstat(fd, st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat %s", path);
    if (!S_ISREG(st->st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not a regular file", path);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", path);
    return TAKE_FD(fd);
}

int store_read_fd(char **out, int fd, size_t size, const char *shown, struct oci_error **err)
{
    _cleanup_free_ char *buf = malloc(size + 1);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "%s: out of memory for %zu bytes", shown, size);
    ssize_t n = oimg_fs_read_all(fd, buf, size);
    if (n < 0)
        return oci_error_setsys(err, OCI_ERR_IO, (int)-n, "read %s", shown);
    if ((size_t)n != size)
        return oci_error_set(err, OCI_ERR_IO, "read %s: file shrank while reading", shown);
    buf[size] = '\0';
    *out = TAKE_PTR(buf);
    return 0;
}

int store_read_blob_raw(char **out, size_t *out_len, const struct oimg_layout *l,
                        const struct oimg_digest *d, size_t max, struct oci_error **err)
{
    char path[STORE_BLOB_PATH_MAX];
    int r = store_blob_path(path, sizeof(path), d, NULL, err);
    if (r < 0)
        return r;
    struct stat st;
    _cleanup_close_ int fd = store_open_regular(&st, l->dirfd, path, err);
    if (fd < 0)
        return fd;
    if ((uint64_t)st.st_size > max)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "%s: %lld bytes, more than the limit of %zu",
                             path, (long long)st.st_size, max);
    r = store_read_fd(out, fd, (size_t)st.st_size, path, err);
    if (r < 0)
        return r;
    *out_len = (size_t)st.st_size;
    return 0;
}

int store_read_index_raw(char **out, size_t *out_len, const struct oimg_layout *l,
                         struct oci_error **err)
{
    struct stat st;
    _cleanup_close_ int fd = store_open_regular(&st, l->dirfd, "index.json", err);
    if (fd < 0)
        return fd;
    /* Checked before allocating: a 100 MB index.json costs nothing. */
    if ((uint64_t)st.st_size > STORE_INDEX_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "index.json: %lld bytes, more than the limit of %u",
                             (long long)st.st_size, (unsigned)STORE_INDEX_MAX);
    int r = store_read_fd(out, fd, (size_t)st.st_size, "index.json", err);
    if (r < 0)
        return r;
    *out_len = (size_t)st.st_size;
    return 0;
}

bool store_mt_is_image_config(const char *mt)
{
    return mt && (strcmp(mt, OIMG_MT_OCI_CONFIG) == 0 || strcmp(mt, OIMG_MT_DOCKER_CONFIG) == 0);
}

bool store_json_digest(struct oimg_digest *out, json_object *desc)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(desc, "digest", &v) || !json_object_is_type(v, json_type_string))
        return false;
    return oimg_digest_parse(out, json_object_get_string(v), NULL) == 0;
}

bool store_digest_from_name(struct oimg_digest *out, const char *alg, const char *name)
{
    char ds[OIMG_DIGEST_MAX + 1];
    size_t la = strlen(alg), ln = strlen(name);
    if (la + 1 + ln > OIMG_DIGEST_MAX)
        return false;
    memcpy(ds, alg, la);
    ds[la] = ':';
    memcpy(ds + la + 1, name, ln + 1);
    return oimg_digest_parse(out, ds, NULL) == 0;
}

int store_strv_push(char ***v, size_t *n, char *s)
{
    if (!s)
        return -OCI_ERR_NOMEM;
    char **nv = realloc(*v, (*n + 2) * sizeof(**v));
    if (!nv) {
        free(s);
        return -OCI_ERR_NOMEM;
    }
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}
