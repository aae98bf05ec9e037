/* Entry names: lexical cleaning, and the parent directory of an entry opened
 * inside the root.  Parents are resolved by oimg_fs_open_in_root (openat2
 * RESOLVE_IN_ROOT, or the O_NOFOLLOW walk), so a symlink swapped in by an
 * earlier entry (`a -> /etc`, then `a/passwd`) resolves to the root's own
 * etc/, never the host's.  The final component is always handled by the
 * caller with *at() calls that do not follow it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "apply_private.h"

int path_clean(char **out, const char *name, size_t max_path, struct oci_error **err)
{
    size_t n = strlen(name);
    /* A raw name may carry "./" and "//" noise, but not without bound. */
    if (n > 2 * max_path + 16)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "entry name of %zu bytes exceeds the limit",
                             n);
    char *buf = malloc(n + 1);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t len = 0;
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchrnul(p, '/');
        size_t cl = (size_t)(end - p);
        if (cl == 1 && p[0] == '.') {
            /* skip */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
            /* Climbing above the root is clamped at the root (umoci's
             * CleanPath and containerd do the same); the resolution in the
             * root would clamp it anyway. */
            while (len > 0 && buf[len - 1] != '/')
                len--;
            if (len > 0)
                len--;
        } else {
            if (cl > NAME_MAX) {
                free(buf);
                return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                     "entry `%.64s...`: a path component is longer than %d bytes",
                                     name, NAME_MAX);
            }
            if (len)
                buf[len++] = '/';
            memcpy(buf + len, p, cl);
            len += cl;
        }
        p = end;
    }
    buf[len] = '\0';
    if (len > max_path) {
        free(buf);
        return oci_error_set(err, OCI_ERR_TOO_LARGE,
                             "entry `%.64s...`: path of %zu bytes exceeds the limit of %zu", name,
                             len, max_path);
    }
    *out = buf;
    return 0;
}

const char *path_split(char *path, const char **parent)
{
    char *slash = strrchr(path, '/');
    if (!slash) {
        *parent = "";
        return path;
    }
    *slash = '\0';
    *parent = path;
    return slash + 1;
}

void path_cache_drop(struct oimg_applier *a)
{
    free(a->cache_path);
    a->cache_path = NULL;
    if (a->cache_fd >= 0)
        close(a->cache_fd);
    a->cache_fd = -1;
}

/* Opens a clean path inside the root as an O_PATH directory fd.  Returns the
 * fd, -ENOENT / -ENOTDIR (no error set) or another negative code. */
static int open_dir_in_root(struct oimg_applier *a, const char *path, struct oci_error **err)
{
    struct oci_error *e = NULL;
    int fd = oimg_fs_open_in_root(a->rootfd, *path ? path : ".", O_PATH | O_DIRECTORY, 0, &e);
    if (fd >= 0)
        return fd;
    int sys = e ? e->sys_errno : 0;
    if (sys == ENOENT || sys == ENOTDIR || sys == ELOOP) {
        oci_error_free(e);
        return -sys;
    }
    if (err && !*err)
        *err = e;
    else
        oci_error_free(e);
    return fd;
}

static int chown_root(struct oimg_applier *a, int dirfd, const char *name, struct oci_error **err)
{
    if (a->opts.rootless)
        return 0;
    uint32_t uid, gid;
    if (map_id(a->opts.uid_map, a->opts.n_uid_map, 0, &uid) < 0 ||
        map_id(a->opts.gid_map, a->opts.n_gid_map, 0, &gid) < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "container root is not in the id maps");
    if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "chown `%s`", name);
    return 0;
}

/* Creates the missing directories of `path` (mode 0755, container root).
 * Existing prefixes are resolved in the root; once one is missing, the rest
 * are fresh directories we just made, opened without following anything. */
static int create_parents(struct oimg_applier *a, const char *path, struct oci_error **err)
{
    _cleanup_free_ char *buf = strdup(path);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    _cleanup_close_ int cur = openat(a->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open root");
    bool fresh = false;
    size_t len = strlen(buf);
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && buf[j] != '/')
            j++;
        char saved = buf[j];
        buf[j] = '\0';
        const char *comp = buf + i;
        int fd = -ENOENT;
        if (!fresh)
            fd = open_dir_in_root(a, buf, err);
        if (fd == -ENOENT) {
            if (mkdirat(cur, comp, 0755) < 0) {
                int e = errno;
                if (e == EEXIST)
                    return oci_error_set(err, OCI_ERR_INVALID,
                                         "parent `%s` is a dangling symlink or not a directory",
                                         buf);
                return oci_error_setsys(err, OCI_ERR_IO, e, "create parent directory `%s`", buf);
            }
            struct stat pst;
            if (fstat(cur, &pst) < 0)
                return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", buf);
            if (keyset_add(a->created, pst.st_dev, pst.st_ino, comp) < 0)
                return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            int r = chown_root(a, cur, comp, err);
            if (r < 0)
                return r;
            fresh = true;
            fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", buf);
        } else if (fd < 0) {
            if (fd == -ENOTDIR || fd == -ELOOP)
                return oci_error_set(err, OCI_ERR_INVALID, "parent `%s` is not a directory", buf);
            return oci_error_wrap(err, "parent `%s`", buf);
        }
        close(cur);
        cur = fd;
        buf[j] = saved;
        i = j + 1;
    }
    return 0;
}

int path_parent_ex(struct oimg_applier *a, const char *parent, bool create, int *fd, dev_t *dev,
                   ino_t *ino, struct oci_error **err)
{
    if (a->cache_path && strcmp(a->cache_path, parent) == 0) {
        *fd = a->cache_fd;
        *dev = a->cache_dev;
        *ino = a->cache_ino;
        return 1;
    }
    path_cache_drop(a);
    int pfd = open_dir_in_root(a, parent, err);
    if (pfd == -ENOENT && create) {
        int r = create_parents(a, parent, err);
        if (r < 0)
            return r;
        pfd = open_dir_in_root(a, parent, err);
    }
    if (!create && (pfd == -ENOENT || pfd == -ENOTDIR || pfd == -ELOOP))
        return 0;
    if (pfd == -ENOTDIR || pfd == -ELOOP || pfd == -ENOENT)
        return oci_error_set(err, OCI_ERR_INVALID, "parent `%s` is not a directory", parent);
    if (pfd < 0)
        return oci_error_wrap(err, "open parent `%s`", parent);
    struct stat st;
    if (fstat(pfd, &st) < 0) {
        int e = errno;
        close(pfd);
        return oci_error_setsys(err, OCI_ERR_IO, e, "stat `%s`", parent);
    }
    a->cache_path = strdup(parent);
    if (!a->cache_path) {
        close(pfd);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    a->cache_fd = pfd;
    a->cache_dev = st.st_dev;
    a->cache_ino = st.st_ino;
    *fd = pfd;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 1;
}

int path_parent(struct oimg_applier *a, const char *parent, int *fd, dev_t *dev, ino_t *ino,
                struct oci_error **err)
{
    int r = path_parent_ex(a, parent, true, fd, dev, ino, err);
    return r < 0 ? r : 0;
}
