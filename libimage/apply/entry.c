/* One tar entry onto the root: regular files, directories, symlinks,
 * hardlinks, devices and FIFOs.  Creation is exclusive (O_EXCL, mkdirat,
 * symlinkat, mknodat never follow or reuse the final name); when the name is
 * taken the old object is removed first (a directory over a directory is
 * merged instead), as layer.md "Changeset over existing files" says. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "apply_private.h"
#include "archive_dl.h"

/* The name is taken: remove what is there unless both are directories.
 * Returns 1 when an existing directory should be merged, 0 when the name is
 * free now. */
static int make_room(struct oimg_applier *a, int pfd, const char *base, const char *path,
                     bool want_dir, struct oci_error **err)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", path);
    }
    if (S_ISDIR(st.st_mode)) {
        if (want_dir)
            return 1;
        int r = tree_remove(a, pfd, base, false, err);
        if (r < 0)
            return oci_error_wrap(err, "replace directory `%s`", path);
        return 0;
    }
    if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "replace `%s`", path);
    return 0;
}

static int write_data(struct oimg_applier *a, struct archive *ar, int fd, const char *path,
                      la_int64_t size, struct oci_error **err)
{
    if (size < 0 || (uint64_t)size > a->opts.max_total_bytes)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "`%s`: file size %lld exceeds the limit", path,
                             (long long)size);
    int64_t end = 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = sym_archive_read_data_block(ar, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return oci_error_set(err, OCI_ERR_INVALID, "`%s`: read data: %s", path,
                                 sym_archive_error_string(ar));
        if (off < 0 || (uint64_t)off + len > (uint64_t)size)
            return oci_error_set(err, OCI_ERR_INVALID, "`%s`: data beyond the file size", path);
        const char *p = buf;
        while (len > 0) {
            ssize_t n = pwrite(fd, p, len, off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return oci_error_setsys(err, OCI_ERR_IO, errno, "write `%s`", path);
            }
            p += n;
            len -= (size_t)n;
            off += n;
        }
        if (off > end)
            end = off;
    }
    /* Sparse files end in a hole that no block covers. */
    if (end < size && ftruncate(fd, size) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "truncate `%s`", path);
    return 0;
}

static int do_file(struct oimg_applier *a, struct archive *ar, struct archive_entry *e, int pfd,
                   const char *base, const char *path, bool as_device, struct oci_error **err)
{
    _cleanup_close_ int fd = -1;
    for (int tries = 0; tries < 2 && fd < 0; tries++) {
        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create `%s`", path);
        if (fd < 0) {
            int r = make_room(a, pfd, base, path, false, err);
            if (r < 0)
                return r;
        }
    }
    if (fd < 0)
        return oci_error_set(err, OCI_ERR_IO, "create `%s`: name keeps reappearing", path);
    if (!as_device) {
        int r = write_data(a, ar, fd, path, sym_archive_entry_size(e), err);
        if (r < 0)
            return r;
    }
    struct meta_target t = {.fd = fd, .dirfd = pfd, .name = base, .path = path, .type = AE_IFREG};
    return meta_apply(a, &t, e, err);
}

static int do_dir(struct oimg_applier *a, struct archive_entry *e, int pfd, const char *base,
                  const char *path, struct oci_error **err)
{
    bool merged = false;
    if (mkdirat(pfd, base, 0700) < 0) {
        if (errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "mkdir `%s`", path);
        int r = make_room(a, pfd, base, path, true, err);
        if (r < 0)
            return r;
        merged = r == 1;
        if (!merged && mkdirat(pfd, base, 0700) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "mkdir `%s`", path);
    }
    _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && a->opts.rootless && fchmodat(pfd, base, 0700, 0) == 0)
        fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open directory `%s`", path);
    struct meta_target t = {
        .fd = fd, .dirfd = pfd, .name = base, .path = path, .type = AE_IFDIR, .merged = merged};
    int r = meta_apply(a, &t, e, err);
    if (r < 0)
        return r;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", path);
    struct timespec mt = {sym_archive_entry_mtime(e), sym_archive_entry_mtime_nsec(e)};
    if (dirmap_put(a->dirs, st.st_dev, st.st_ino, path, mt, sym_archive_entry_perm(e) & 07777) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return 0;
}

/* Creates a node that is not opened (symlink, device, FIFO) with retry
 * after making room. */
static int make_node(struct oimg_applier *a, struct archive_entry *e, int pfd, const char *base,
                     const char *path, mode_t type, struct oci_error **err)
{
    for (int tries = 0; tries < 2; tries++) {
        int r;
        if (type == AE_IFLNK)
            r = symlinkat(sym_archive_entry_symlink(e), pfd, base);
        else if (type == AE_IFIFO)
            r = mknodat(pfd, base, S_IFIFO | 0600, 0);
        else
            r = mknodat(pfd, base, (type == AE_IFCHR ? S_IFCHR : S_IFBLK) | 0600,
                        makedev(sym_archive_entry_rdevmajor(e), sym_archive_entry_rdevminor(e)));
        if (r == 0) {
            struct meta_target t = {
                .fd = -1, .dirfd = pfd, .name = base, .path = path, .type = type};
            return meta_apply(a, &t, e, err);
        }
        if (errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create `%s`", path);
        r = make_room(a, pfd, base, path, false, err);
        if (r < 0)
            return r;
    }
    return oci_error_set(err, OCI_ERR_IO, "create `%s`: name keeps reappearing", path);
}

static int do_hardlink(struct oimg_applier *a, struct archive_entry *e, int pfd, const char *base,
                       const char *path, struct oci_error **err)
{
    _cleanup_free_ char *target = NULL;
    int r = path_clean(&target, sym_archive_entry_hardlink(e), a->opts.max_path, err);
    if (r < 0)
        return oci_error_wrap(err, "hardlink `%s`", path);
    if (!*target)
        return oci_error_set(err, OCI_ERR_INVALID, "hardlink `%s` to the root directory", path);
    _cleanup_free_ char *tshow = strdup(target);
    if (!tshow)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    const char *tparent;
    const char *tbase = path_split(target, &tparent);
    struct oci_error *e2 = NULL;
    _cleanup_close_ int tfd =
        oimg_fs_open_in_root(a->rootfd, *tparent ? tparent : ".", O_PATH | O_DIRECTORY, 0, &e2);
    if (tfd < 0) {
        oci_error_free(e2);
        return oci_error_set(err, OCI_ERR_INVALID, "hardlink `%s`: target `%s` not found", path,
                             tshow);
    }
    struct stat tst;
    if (fstatat(tfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_error_setsys(err, OCI_ERR_INVALID, errno, "hardlink `%s`: target `%s`", path,
                                tshow);
    if (S_ISDIR(tst.st_mode))
        return oci_error_set(err, OCI_ERR_INVALID, "hardlink `%s`: target `%s` is a directory",
                             path, tshow);
    struct stat cur;
    if (fstatat(pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == tst.st_dev &&
        cur.st_ino == tst.st_ino)
        return 0; /* already this file (a link to itself, or a repeat) */
    for (int tries = 0; tries < 2; tries++) {
        if (linkat(tfd, tbase, pfd, base, 0) == 0)
            return 0;
        if (errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "hardlink `%s` to `%s`", path, tshow);
        r = make_room(a, pfd, base, path, false, err);
        if (r < 0)
            return r;
    }
    return oci_error_set(err, OCI_ERR_IO, "hardlink `%s`: name keeps reappearing", path);
}

static int do_root(struct oimg_applier *a, struct archive_entry *e, struct oci_error **err)
{
    if (sym_archive_entry_hardlink(e) || sym_archive_entry_filetype(e) != AE_IFDIR)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "entry `%s` would replace the root directory with a non-directory",
                             sym_archive_entry_pathname(e));
    _cleanup_close_ int fd = openat(a->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open root");
    struct meta_target t = {
        .fd = fd, .dirfd = -1, .name = ".", .path = "/", .type = AE_IFDIR, .merged = true};
    int r = meta_apply(a, &t, e, err);
    if (r < 0)
        return r;
    struct timespec mt = {sym_archive_entry_mtime(e), sym_archive_entry_mtime_nsec(e)};
    if (dirmap_put(a->dirs, a->root_dev, a->root_ino, "", mt, sym_archive_entry_perm(e) & 07777) <
        0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return 0;
}

int entry_apply(struct oimg_applier *a, struct archive *ar, struct archive_entry *e,
                const char *clean, struct oci_error **err)
{
    if (!*clean)
        return do_root(a, e, err);
    _cleanup_free_ char *buf = strdup(clean);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    const char *parent;
    const char *base = path_split(buf, &parent);
    int pfd;
    dev_t pdev;
    ino_t pino;
    int r = path_parent(a, parent, &pfd, &pdev, &pino, err);
    if (r < 0)
        return oci_error_wrap(err, "`%s`", clean);

    mode_t type = sym_archive_entry_filetype(e);
    struct oimg_apply_stats *st = a->st;
    if (sym_archive_entry_hardlink(e)) {
        r = do_hardlink(a, e, pfd, base, clean, err);
        st->hardlinks++;
    } else {
        switch (type) {
        case AE_IFREG:
            r = do_file(a, ar, e, pfd, base, clean, false, err);
            st->files++;
            break;
        case AE_IFDIR:
            r = do_dir(a, e, pfd, base, clean, err);
            st->dirs++;
            break;
        case AE_IFLNK: {
            const char *target = sym_archive_entry_symlink(e);
            if (!target)
                return oci_error_set(err, OCI_ERR_INVALID, "symlink `%s` has no target", clean);
            if (strlen(target) > a->opts.max_path)
                return oci_error_set(err, OCI_ERR_TOO_LARGE,
                                     "symlink `%s`: target longer than %zu bytes", clean,
                                     a->opts.max_path);
            r = make_node(a, e, pfd, base, clean, type, err);
            st->symlinks++;
            break;
        }
        case AE_IFCHR:
        case AE_IFBLK:
            if (a->opts.rootless) {
                apply_warn(a, "`%s`: device %u:%u created as an empty file (rootless)", clean,
                           (unsigned)sym_archive_entry_rdevmajor(e),
                           (unsigned)sym_archive_entry_rdevminor(e));
                r = do_file(a, ar, e, pfd, base, clean, true, err);
            } else {
                r = make_node(a, e, pfd, base, clean, type, err);
            }
            st->devices++;
            break;
        case AE_IFIFO:
            r = make_node(a, e, pfd, base, clean, type, err);
            st->fifos++;
            break;
        case AE_IFSOCK:
            /* A socket is only meaningful to the process that bound it. */
            apply_warn(a, "`%s`: socket skipped", clean);
            return 0;
        default:
            return oci_error_set(err, OCI_ERR_UNSUPPORTED, "`%s`: unsupported entry type 0%o",
                                 clean, (unsigned)type);
        }
    }
    if (r < 0)
        return r;
    if (keyset_add(a->created, pdev, pino, base) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return 0;
}
