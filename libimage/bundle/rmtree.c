/* Removing a tree we built (a failed or replaced bundle) and creating the
 * temp directories it is built in.
 *
 * Removal never follows a symlink (every open is O_NOFOLLOW below a
 * directory fd), never crosses into another filesystem (a mount point below
 * the tree is an error and is left alone), makes directories writable when
 * a rootless unpack left them read-only, and holds a bounded number of fds
 * however deep the tree is (deep levels reopen their parent through "..",
 * checked against the inode remembered on the way down). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>

#include "bundle_private.h"

/* Levels that keep their directory fd open while a child is removed. */
#define KEEP_FD_DEPTH 64
/* Subdirectories removed per pass over a directory, and passes (each pass
 * removes at least one entry or fails). */
#define SUBDIR_BATCH 4096
#define MAX_PASSES 1000000

struct rm {
    dev_t dev;
    struct oci_error **err;
    int ret;
};

static int rm_fail(struct rm *s, int code, int errnum, const char *what, const char *name)
{
    if (s->ret == 0)
        s->ret = oci_error_setsys(s->err, code, errnum, "remove tree: %s `%s`", what, name);
    return s->ret;
}

static int rm_contents(struct rm *s, int *fdp, unsigned depth);

/* Removes the directory `name` in *fdp (whose fd may be replaced). */
static int rm_subdir(struct rm *s, int *fdp, const char *name, unsigned depth)
{
    struct stat pst;
    if (fstat(*fdp, &pst) < 0)
        return rm_fail(s, OCI_ERR_IO, errno, "stat", name);
    int cfd = openat(*fdp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0 && errno == EACCES) {
        /* Rootless trees can hold directories without x or r for us. */
        if (fchmodat(*fdp, name, 0700, 0) == 0)
            cfd = openat(*fdp, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (cfd < 0)
        return rm_fail(s, OCI_ERR_IO, errno, "open directory", name);
    struct stat st;
    if (fstat(cfd, &st) < 0) {
        close(cfd);
        return rm_fail(s, OCI_ERR_IO, errno, "stat", name);
    }
    struct statx stx;
    bool mount_root = statx(cfd, "", AT_EMPTY_PATH, STATX_INO, &stx) == 0 &&
                      (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
                      (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    if (st.st_dev != s->dev || mount_root) {
        close(cfd);
        return rm_fail(s, OCI_ERR_STATE, EXDEV, "a mount point is in the way:", name);
    }
    if (depth >= KEEP_FD_DEPTH) {
        /* Let go of ours while the child works; take it back through "..". */
        close(*fdp);
        *fdp = -1;
    }
    int r = rm_contents(s, &cfd, depth + 1);
    if (r == 0 && *fdp < 0) {
        *fdp = openat(cfd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat again;
        if (*fdp < 0 || fstat(*fdp, &again) < 0 || again.st_dev != pst.st_dev ||
            again.st_ino != pst.st_ino)
            r = rm_fail(s, OCI_ERR_STATE, *fdp < 0 ? errno : 0, "reopen the parent of", name);
    }
    close(cfd);
    if (r < 0)
        return r;
    if (unlinkat(*fdp, name, AT_REMOVEDIR) < 0)
        return rm_fail(s, OCI_ERR_IO, errno, "rmdir", name);
    return 0;
}

static int rm_contents(struct rm *s, int *fdp, unsigned depth)
{
    /* Our own rootless trees: the directory must be writable to empty it. */
    struct stat st;
    if (fstat(*fdp, &st) == 0 && (st.st_mode & 0700) != 0700 && st.st_uid == geteuid())
        (void)fchmod(*fdp, (st.st_mode & 07777) | 0700);
    for (unsigned pass = 0; pass < MAX_PASSES; pass++) {
        int dfd = openat(*fdp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return rm_fail(s, OCI_ERR_IO, errno, "read directory", ".");
        DIR *d = fdopendir(dfd);
        if (!d) {
            close(dfd);
            return rm_fail(s, OCI_ERR_IO, errno, "read directory", ".");
        }
        /* Files go at once; subdirectories are collected (a batch at a
         * time) and removed with the stream closed: one DIR per level. */
        char **subs = NULL;
        size_t nsubs = 0;
        bool any = false;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
            const char *n = de->d_name;
            if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
                continue;
            any = true;
            bool dir = de->d_type == DT_DIR;
            if (de->d_type == DT_UNKNOWN) {
                struct stat cst;
                dir = fstatat(*fdp, n, &cst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(cst.st_mode);
            }
            if (dir) {
                if (nsubs >= SUBDIR_BATCH)
                    continue;
                char *dup_name = strdup(n);
                char **ns = dup_name ? realloc(subs, (nsubs + 1) * sizeof(*subs)) : NULL;
                if (!ns) {
                    free(dup_name);
                    r = rm_fail(s, OCI_ERR_NOMEM, ENOMEM, "remember", n);
                    break;
                }
                subs = ns;
                subs[nsubs++] = dup_name;
                continue;
            }
            if (unlinkat(*fdp, n, 0) < 0 && errno != ENOENT)
                r = rm_fail(s, OCI_ERR_IO, errno, "unlink", n);
        }
        closedir(d);
        for (size_t i = 0; i < nsubs; i++) {
            if (r == 0)
                r = rm_subdir(s, fdp, subs[i], depth);
            free(subs[i]);
        }
        free(subs);
        if (r < 0)
            return r;
        if (!any)
            return 0;
    }
    return rm_fail(s, OCI_ERR_TOO_LARGE, 0, "too many passes over", ".");
}

int oimg_bundle_remove_tree(int dirfd, const char *name, struct oci_error **err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "remove tree `%s`", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "remove `%s`", name);
        return 0;
    }
    struct rm s = {.dev = st.st_dev, .err = err};
    _cleanup_close_ int fd = dup(dirfd);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "remove tree `%s`", name);
    int r = rm_subdir(&s, &fd, name, 0);
    if (r < 0)
        return oci_error_wrap(err, "`%s`", name);
    return 0;
}

int bundle_mkdtemp(char **name, int dirfd, const char *prefix, mode_t mode, struct oci_error **err)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t plen = strlen(prefix);
    if (plen + 6 > NAME_MAX)
        return oci_error_set(err, OCI_ERR_INVALID, "temp directory name too long");
    _cleanup_free_ char *n = malloc(plen + 7);
    if (!n)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    memcpy(n, prefix, plen);
    for (int tries = 0; tries < 100; tries++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            if (errno == EINTR)
                continue;
            return oci_error_setsys(err, OCI_ERR_IO, errno, "getrandom");
        }
        for (size_t i = 0; i < 6; i++)
            n[plen + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        n[plen + 6] = '\0';
        if (mkdirat(dirfd, n, mode) == 0) {
            /* The umask must not widen or narrow what we asked for. */
            if (fchmodat(dirfd, n, mode, 0) == 0) {
                *name = TAKE_PTR(n);
                return 0;
            }
            int e = errno;
            /* Gone already: a concurrent unpack into the same place took the
             * new name for an abandoned temp dir and removed it.  Another
             * name will do. */
            if (e == ENOENT)
                continue;
            unlinkat(dirfd, n, AT_REMOVEDIR);
            return oci_error_setsys(err, OCI_ERR_IO, e, "chmod `%s`", n);
        }
        if (errno != EEXIST)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create directory `%s`", n);
    }
    return oci_error_set(err, OCI_ERR_EXISTS, "create directory `%sXXXXXX`: names taken", prefix);
}
