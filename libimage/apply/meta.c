/* Entry metadata: owner (id maps, or the rootless xattr), xattrs, mode and
 * times, in the order that keeps them: data, chown (which clears setuid
 * bits and file capabilities), xattrs (security.capability included),
 * chmod, then times. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "apply_private.h"
#include "archive_dl.h"

#define ROOTLESS_XATTR "user.rootlesscontainers"
#define NOOP_ID 0xFFFFFFFFu

#if !defined(__NR_setxattrat) && (defined(__x86_64__) || defined(__aarch64__))
#define __NR_setxattrat 463
#endif

int map_id(const struct oimg_idmap *map, size_t n, uint32_t id, uint32_t *out)
{
    if (n == 0) {
        *out = id;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t off = (uint64_t)id - map[i].container_id;
        if (id >= map[i].container_id && off < map[i].size) {
            uint64_t h = map[i].host_id + off;
            if (h >= NOOP_ID)
                return -OCI_ERR_INVALID;
            *out = (uint32_t)h;
            return 0;
        }
    }
    return -OCI_ERR_INVALID;
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t oimg_apply_rootless_encode(uint8_t buf[12], uint32_t uid, uint32_t gid)
{
    /* umoci's convention: a 0 id is written as "no change", and an owner
     * of 0:0 needs no xattr at all. */
    if (uid == 0 && gid == 0)
        return 0;
    size_t n = 0;
    buf[n++] = 0x08; /* field 1, varint */
    n += put_varint(buf + n, uid ? uid : NOOP_ID);
    buf[n++] = 0x10; /* field 2, varint */
    n += put_varint(buf + n, gid ? gid : NOOP_ID);
    return n;
}

/* Sets an xattr on dirfd/name without following it and without opening it
 * (opening a device or FIFO has side effects). */
static int xattr_set_at(int dirfd, const char *name, const char *key, const void *val, size_t size)
{
#ifdef __NR_setxattrat
    struct {
        uint64_t value;
        uint32_t size;
        uint32_t flags;
    } args = {(uint64_t)(uintptr_t)val, (uint32_t)size, 0};
    if (syscall(__NR_setxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, key, &args, sizeof(args)) == 0)
        return 0;
    if (errno != ENOSYS)
        return -errno;
#endif
    /* Older kernels: through the O_PATH fd's /proc link, which lands on the
     * object itself (a symlink included) and is never followed further. */
    _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (setxattr(proc, key, val, size, 0) < 0)
        return -errno;
    return 0;
}

static int set_one_xattr(const struct meta_target *t, const char *key, const void *val, size_t size)
{
    if (t->fd >= 0)
        return fsetxattr(t->fd, key, val, size, 0) < 0 ? -errno : 0;
    return xattr_set_at(t->dirfd, t->name, key, val, size);
}

static bool xattr_dropped(const char *key)
{
    /* trusted.* would need privileges a container must not hand out;
     * security.selinux labels belong to the host's policy. */
    return strncmp(key, "trusted.", 8) == 0 || strcmp(key, "security.selinux") == 0;
}

static int xattr_failed(struct oimg_applier *a, const struct meta_target *t, const char *key, int r,
                        struct oci_error **err)
{
    int e = -r;
    bool special = t->type != AE_IFREG && t->type != AE_IFDIR;
    if (e == EOPNOTSUPP || e == ENOTSUP || (e == EPERM && (a->opts.rootless || special))) {
        apply_warn(a, "`%s`: xattr %s not set: %s", t->path, key, strerror(e));
        return 0;
    }
    return oci_error_setsys(err, OCI_ERR_IO, e, "`%s`: set xattr %s", t->path, key);
}

/* For a merged directory the newer entry's xattrs replace the old set. */
static int drop_stale_xattrs(struct oimg_applier *a, const struct meta_target *t,
                             struct archive_entry *e, bool want_rootless, struct oci_error **err)
{
    ssize_t n = flistxattr(t->fd, NULL, 0);
    if (n <= 0)
        return 0;
    _cleanup_free_ char *list = malloc((size_t)n);
    if (!list)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    n = flistxattr(t->fd, list, (size_t)n);
    if (n <= 0)
        return 0;
    for (char *k = list; k < list + n; k += strlen(k) + 1) {
        if (xattr_dropped(k) || strncmp(k, "system.", 7) == 0)
            continue;
        if (want_rootless && strcmp(k, ROOTLESS_XATTR) == 0)
            continue;
        bool wanted = false;
        const char *name;
        const void *val;
        size_t size;
        sym_archive_entry_xattr_reset(e);
        while (!wanted && sym_archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
            wanted =
                strcmp(name, k) == 0 && !(a->opts.rootless && strcmp(name, ROOTLESS_XATTR) == 0);
        if (!wanted && fremovexattr(t->fd, k) < 0 && errno != ENODATA)
            apply_warn(a, "`%s`: remove xattr %s: %s", t->path, k, strerror(errno));
    }
    return 0;
}

static int id_of(struct oci_error **err, const char *path, const char *what, la_int64_t v,
                 uint32_t *out)
{
    /* 0xFFFFFFFF means "unchanged" to chown: never a real owner. */
    if (v < 0 || v >= (la_int64_t)NOOP_ID)
        return oci_error_set(err, OCI_ERR_INVALID, "`%s`: %s %lld out of range", path, what,
                             (long long)v);
    *out = (uint32_t)v;
    return 0;
}

static int set_owner(struct oimg_applier *a, const struct meta_target *t, uint32_t uid,
                     uint32_t gid, struct oci_error **err)
{
    uint32_t hu, hg;
    if (map_id(a->opts.uid_map, a->opts.n_uid_map, uid, &hu) < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "`%s`: uid %u is not in the uid map", t->path,
                             uid);
    if (map_id(a->opts.gid_map, a->opts.n_gid_map, gid, &hg) < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "`%s`: gid %u is not in the gid map", t->path,
                             gid);
    int r = t->fd >= 0 ? fchown(t->fd, hu, hg)
                       : fchownat(t->dirfd, t->name, hu, hg, AT_SYMLINK_NOFOLLOW);
    if (r < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "`%s`: chown %u:%u", t->path, hu, hg);
    return 0;
}

int meta_apply(struct oimg_applier *a, const struct meta_target *t, struct archive_entry *e,
               struct oci_error **err)
{
    uint32_t uid = 0, gid = 0;
    int r = id_of(err, t->path, "uid", sym_archive_entry_uid(e), &uid);
    if (r < 0)
        return r;
    r = id_of(err, t->path, "gid", sym_archive_entry_gid(e), &gid);
    if (r < 0)
        return r;
    bool is_link = t->type == AE_IFLNK;

    if (!a->opts.rootless) {
        r = set_owner(a, t, uid, gid, err);
        if (r < 0)
            return r;
    }

    uint8_t rl[12];
    size_t rl_len = a->opts.rootless ? oimg_apply_rootless_encode(rl, uid, gid) : 0;
    if (t->merged && t->fd >= 0) {
        r = drop_stale_xattrs(a, t, e, rl_len > 0, err);
        if (r < 0)
            return r;
    }

    const char *key;
    const void *val;
    size_t size;
    sym_archive_entry_xattr_reset(e);
    /* Bounded by the entry's PAX header, itself capped. */
    while (sym_archive_entry_xattr_next(e, &key, &val, &size) == ARCHIVE_OK) {
        if (!key || !*key || xattr_dropped(key))
            continue;
        if (strcmp(key, ROOTLESS_XATTR) == 0) {
            if (a->opts.rootless)
                continue; /* ours, computed from the real owner, wins */
            apply_warn(a, "`%s`: layer carries the %s xattr in a rootful unpack", t->path,
                       ROOTLESS_XATTR);
        }
        if (size > a->opts.max_xattr_size)
            return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                 "`%s`: xattr %s of %zu bytes exceeds the limit of %zu", t->path,
                                 key, size, a->opts.max_xattr_size);
        r = set_one_xattr(t, key, val, size);
        if (r < 0) {
            r = xattr_failed(a, t, key, r, err);
            if (r < 0)
                return r;
        }
    }
    if (rl_len && (t->type == AE_IFREG || t->type == AE_IFDIR)) {
        r = set_one_xattr(t, ROOTLESS_XATTR, rl, rl_len);
        if (r < 0) {
            r = xattr_failed(a, t, ROOTLESS_XATTR, r, err);
            if (r < 0)
                return r;
        }
    }

    if (!is_link) {
        mode_t mode = sym_archive_entry_perm(e) & 07777;
        if (t->type == AE_IFDIR && a->opts.rootless)
            mode |= 0700; /* the real mode comes back in finish() */
        r = t->fd >= 0 ? fchmod(t->fd, mode) : fchmodat(t->dirfd, t->name, mode, 0);
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "`%s`: chmod %04o", t->path, mode);
    }

    if (t->type != AE_IFDIR) {
        struct timespec ts[2];
        ts[1].tv_sec = sym_archive_entry_mtime(e);
        ts[1].tv_nsec = sym_archive_entry_mtime_nsec(e);
        if (sym_archive_entry_atime_is_set(e)) {
            ts[0].tv_sec = sym_archive_entry_atime(e);
            ts[0].tv_nsec = sym_archive_entry_atime_nsec(e);
        } else {
            ts[0] = ts[1];
        }
        r = t->fd >= 0 ? futimens(t->fd, ts)
                       : utimensat(t->dirfd, t->name, ts, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "`%s`: set times", t->path);
    }
    return 0;
}
