/* Whole-tree helpers for the store: disk usage, and the copy a container
 * gets when overlayfs is not available (rootless, or a filesystem overlayfs
 * cannot stack on). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "cmd_store.h"

/* Deeper trees are refused: each level holds a directory fd. */
#define TREE_MAX_DEPTH 256
#define XATTR_LIST_MAX_BYTES (64 * 1024)
#define XATTR_VALUE_MAX_BYTES (64 * 1024)

struct walk_budget {
    size_t entries;
};

static uint64_t usage_at(int dirfd, struct walk_budget *b, int depth)
{
    if (depth > TREE_MAX_DEPTH)
        return 0;
    int fd = dup(dirfd);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) && b->entries < 10 * CMD_STORE_MAX_ENTRIES) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        b->entries++;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        sum += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int sub =
                openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                sum += usage_at(sub, b, depth + 1);
        }
    }
    closedir(d);
    return sum;
}

uint64_t cmd_tree_usage(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    uint64_t sum = (uint64_t)st.st_blocks * 512;
    if (!S_ISDIR(st.st_mode))
        return sum;
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return sum;
    struct walk_budget b = {0};
    return sum + usage_at(fd, &b, 0);
}

/* ---- copy ---- */

struct link_seen {
    dev_t dev;
    ino_t ino;
    char *path; /* relative to the destination root */
};

struct copy_ctx {
    int dst_root;
    bool as_root;
    /* Open-addressed hash of the multiply-linked files copied so far: an
     * image decides how many there are, a list search would be quadratic. */
    struct link_seen *links;
    size_t n_links, cap_links; /* cap_links: 0 or a power of two */
    size_t entries;
    struct oci_error **err;
};

static size_t link_slot(const struct link_seen *v, size_t cap, dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32)) * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 16) & (cap - 1);
    while (v[i].path && !(v[i].dev == dev && v[i].ino == ino))
        i = (i + 1) & (cap - 1);
    return i;
}

static int copy_xattrs(int src, int dst, const char *what, struct oci_error **err)
{
    char list[XATTR_LIST_MAX_BYTES];
    ssize_t n = flistxattr(src, list, sizeof(list));
    if (n < 0) {
        if (errno == ENOTSUP || errno == ENODATA)
            return 0;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "list xattrs of %s", what);
    }
    _cleanup_free_ char *val = malloc(XATTR_VALUE_MAX_BYTES);
    if (!val)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
        const char *k = list + off;
        ssize_t vl = fgetxattr(src, k, val, XATTR_VALUE_MAX_BYTES);
        if (vl < 0)
            continue;
        if (fsetxattr(dst, k, val, (size_t)vl, 0) < 0 && errno != ENOTSUP && errno != EPERM)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "set xattr %s on %s", k, what);
    }
    return 0;
}

/* Owner, then mode (a chown clears set-id bits), then xattrs (a chown also
 * drops security.capability), then times. */
static int copy_meta(struct copy_ctx *c, int dst, const struct stat *st, int src, const char *what)
{
    if (c->as_root && fchown(dst, st->st_uid, st->st_gid) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "chown %s", what);
    if (fchmod(dst, st->st_mode & 07777) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "chmod %s", what);
    int ret = copy_xattrs(src, dst, what, c->err);
    if (ret < 0)
        return ret;
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (futimens(dst, ts) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "set times of %s", what);
    return 0;
}

static int copy_data(int src, int dst, off_t size, const char *what, struct oci_error **err)
{
    if (ioctl(dst, FICLONE, src) == 0)
        return 0;
    off_t left = size;
    while (left > 0) {
        ssize_t n = copy_file_range(src, NULL, dst, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        left -= n;
    }
    if (left == 0)
        return 0;
    /* copy_file_range refused (cross-device on old kernels, ...): plain
     * read/write from where it stopped. */
    char buf[128 * 1024];
    off_t off = size - left;
    while (left > 0) {
        ssize_t n = pread(src, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read %s", what);
        if (n == 0)
            break; /* shrank meanwhile: the store is read-only, but be safe */
        if (pwrite(dst, buf, (size_t)n, off) != n)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "write %s", what);
        off += n;
        left -= n;
    }
    return 0;
}

static int remember_link(struct copy_ctx *c, const struct stat *st, const char *path)
{
    if (2 * (c->n_links + 1) > c->cap_links) {
        size_t cap = c->cap_links ? c->cap_links * 2 : 64;
        struct link_seen *v = calloc(cap, sizeof(*v));
        if (!v)
            return oci_error_set(c->err, OCI_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < c->cap_links; i++)
            if (c->links[i].path)
                v[link_slot(v, cap, c->links[i].dev, c->links[i].ino)] = c->links[i];
        free(c->links);
        c->links = v;
        c->cap_links = cap;
    }
    char *p = strdup(path);
    if (!p)
        return oci_error_set(c->err, OCI_ERR_NOMEM, "out of memory");
    c->links[link_slot(c->links, c->cap_links, st->st_dev, st->st_ino)] =
        (struct link_seen){.dev = st->st_dev, .ino = st->st_ino, .path = p};
    c->n_links++;
    return 0;
}

static const char *seen_link(const struct copy_ctx *c, const struct stat *st)
{
    if (!c->cap_links)
        return NULL;
    return c->links[link_slot(c->links, c->cap_links, st->st_dev, st->st_ino)].path;
}

static int copy_dir(struct copy_ctx *c, int src, int dst, const char *rel, int depth);

static int copy_entry(struct copy_ctx *c, int srcdir, int dstdir, const char *name, const char *rel,
                      int depth)
{
    struct stat st;
    if (fstatat(srcdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "stat %s", rel);
    if (++c->entries > 100 * (size_t)CMD_STORE_MAX_ENTRIES)
        return oci_error_set(c->err, OCI_ERR_TOO_LARGE, "too many files to copy");
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        const char *first = seen_link(c, &st);
        if (first) {
            if (linkat(c->dst_root, first, dstdir, name, 0) < 0)
                return oci_error_setsys(c->err, OCI_ERR_IO, errno, "link %s", rel);
            return 0;
        }
        int ret = remember_link(c, &st, rel);
        if (ret < 0)
            return ret;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth >= TREE_MAX_DEPTH)
            return oci_error_set(c->err, OCI_ERR_TOO_LARGE, "%s: deeper than %d levels", rel,
                                 TREE_MAX_DEPTH);
        if (mkdirat(dstdir, name, 0700) < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "create %s", rel);
        _cleanup_close_ int s =
            openat(srcdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int d =
            openat(dstdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0 || d < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "open %s", rel);
        int ret = copy_dir(c, s, d, rel, depth + 1);
        if (ret < 0)
            return ret;
        return copy_meta(c, d, &st, s, rel);
    }
    if (S_ISREG(st.st_mode)) {
        _cleanup_close_ int s = openat(srcdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "open %s", rel);
        _cleanup_close_ int d =
            openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (d < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "create %s", rel);
        int ret = copy_data(s, d, st.st_size, rel, c->err);
        if (ret < 0)
            return ret;
        return copy_meta(c, d, &st, s, rel);
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(srcdir, name, target, sizeof(target) - 1);
        if (n < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "read link %s", rel);
        target[n] = '\0';
        if (symlinkat(target, dstdir, name) < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "create link %s", rel);
        if (c->as_root && fchownat(dstdir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return oci_error_setsys(c->err, OCI_ERR_IO, errno, "chown %s", rel);
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        utimensat(dstdir, name, ts, AT_SYMLINK_NOFOLLOW);
        return 0;
    }
    if (S_ISSOCK(st.st_mode))
        return 0; /* a socket cannot be copied and means nothing unbound */
    /* Devices and fifos: only root can make devices (a rootless unpack has
     * none: it records them as empty files). */
    if (mknodat(dstdir, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "create %s", rel);
    _cleanup_close_ int d = openat(dstdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "open %s", rel);
    if (c->as_root && fchownat(dstdir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "chown %s", rel);
    fchmodat(dstdir, name, st.st_mode & 07777, 0);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    utimensat(dstdir, name, ts, AT_SYMLINK_NOFOLLOW);
    return 0;
}

static int copy_dir(struct copy_ctx *c, int src, int dst, const char *rel, int depth)
{
    int fd = dup(src);
    if (fd < 0)
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "dup");
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return oci_error_setsys(c->err, OCI_ERR_IO, errno, "read %s", rel);
    }
    int ret = 0;
    struct dirent *e;
    /* readdir says "end" and "failed" alike, but for errno: a failure
     * must not pass for a complete copy. */
    while (ret >= 0 && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = NULL;
        if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) < 0)
            ret = oci_error_set(c->err, OCI_ERR_NOMEM, "out of memory");
        else
            ret = copy_entry(c, src, dst, e->d_name, sub, depth);
    }
    if (ret >= 0 && errno != 0)
        ret = oci_error_setsys(c->err, OCI_ERR_IO, errno, "read %s", *rel ? rel : ".");
    closedir(d);
    return ret;
}

int cmd_tree_copy(int src_dirfd, const char *src, int dst_dirfd, const char *dst,
                  struct oci_error **err)
{
    _cleanup_close_ int s = openat(src_dirfd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", src);
    struct stat st;
    if (fstat(s, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat %s", src);
    if (mkdirat(dst_dirfd, dst, 0700) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create %s", dst);
    _cleanup_close_ int d = openat(dst_dirfd, dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", dst);
    struct copy_ctx c = {.dst_root = d, .as_root = geteuid() == 0, .err = err};
    int ret = copy_dir(&c, s, d, "", 0);
    if (ret >= 0)
        ret = copy_meta(&c, d, &st, s, dst);
    for (size_t i = 0; i < c.cap_links; i++)
        free(c.links[i].path);
    free(c.links);
    return ret < 0 ? ret : 0;
}
