/* Safe filesystem helpers: resolution confined to a root directory fd, and
 * atomic publication of files by rename of a complete, fsynced temp file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "base_private.h"

/* Like the kernel's MAXSYMLINKS: more links than this in one resolution is a loop. */
#define MAX_SYMLINKS 40
/* A path being resolved never grows beyond this, however links expand it. */
#define MAX_WALK_PATH (8 * PATH_MAX)
/* openat2 fails with EAGAIN when a concurrent rename may have raced the
 * resolution; it is safe to retry a few times. */
#define OPENAT2_RETRIES 16
#define MKTEMP_TRIES 100
#define MKTEMP_SUFFIX 6

int oimg_fs_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t oimg_fs_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* ---- confined open: the component walk used where openat2 is missing ---- */

struct walk {
    int rootfd;
    int cur;     /* O_PATH fd of the directory reached so far (owned) */
    char *canon; /* the real directories from root to cur, "a/b/c" */
    size_t canon_len;
};

static int walk_reset(struct walk *w)
{
    int fd = openat(w->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (w->cur >= 0)
        close(w->cur);
    w->cur = fd;
    w->canon_len = 0;
    w->canon[0] = '\0';
    return 0;
}

static int walk_push(struct walk *w, const char *name, int fd)
{
    size_t n = strlen(name);
    if (w->canon_len + n + 2 > MAX_WALK_PATH) {
        close(fd);
        return -ENAMETOOLONG;
    }
    if (w->canon_len)
        w->canon[w->canon_len++] = '/';
    memcpy(w->canon + w->canon_len, name, n + 1);
    w->canon_len += n;
    close(w->cur);
    w->cur = fd;
    return 0;
}

/* ".." never opens ".." (the directory may have been moved outside the
 * root meanwhile): it drops the last real directory and re-walks the rest
 * from the root with O_NOFOLLOW, so it clamps at the root by construction. */
static int walk_up(struct walk *w)
{
    char *slash = strrchr(w->canon, '/');
    size_t keep = slash ? (size_t)(slash - w->canon) : 0;
    _cleanup_free_ char *path = strndup(w->canon, keep);
    if (!path)
        return -ENOMEM;
    int r = walk_reset(w);
    if (r < 0)
        return r;
    char *save = NULL;
    for (char *c = strtok_r(path, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        int fd = openat(w->cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        r = walk_push(w, c, fd);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Splits the next component off *rest; returns false when none is left.
 * Empty components and "." are skipped. */
static bool next_component(char **rest, char **comp)
{
    char *p = *rest;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            return false;
        char *end = strchrnul(p, '/');
        char *next = *end ? end + 1 : end;
        *end = '\0';
        if (strcmp(p, ".") != 0) {
            *comp = p;
            *rest = next;
            return true;
        }
        p = next;
    }
}

static bool only_slashes_and_dots(const char *s)
{
    /* True when what is left names no further component ("", "/", "./."). */
    char *copy = strdup(s);
    if (!copy)
        return false;
    char *rest = copy, *c;
    bool none = !next_component(&rest, &c);
    free(copy);
    return none;
}

static int open_final(int dirfd, const char *name, int flags, mode_t mode)
{
    int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
}

static int walk_open(int rootfd, const char *path, int flags, mode_t mode)
{
    _cleanup_free_ char *canon = malloc(MAX_WALK_PATH);
    _cleanup_free_ char *buf = strdup(path);
    _cleanup_free_ char *link = malloc(PATH_MAX);
    if (!canon || !buf || !link)
        return -ENOMEM;
    struct walk w = {.rootfd = rootfd, .cur = -1, .canon = canon};
    int r = walk_reset(&w);
    if (r < 0)
        return r;

    unsigned nlinks = 0;
    char *rest = buf, *comp;
    /* Every iteration consumes a component or replaces one by a symlink
     * target, and targets are counted, so the loop is bounded. */
    for (;;) {
        if (!next_component(&rest, &comp)) {
            /* The path names the directory reached so far. */
            r = open_final(w.cur, ".", flags & ~O_NOFOLLOW, mode);
            break;
        }
        bool last = only_slashes_and_dots(rest);
        if (strcmp(comp, "..") == 0) {
            r = walk_up(&w);
            if (r < 0)
                break;
            if (last) {
                r = open_final(w.cur, ".", flags & ~O_NOFOLLOW, mode);
                break;
            }
            continue;
        }

        ssize_t n = readlinkat(w.cur, comp, link, PATH_MAX);
        if (n < 0 && errno != EINVAL && errno != ENOENT) {
            r = -errno;
            break;
        }
        if (n < 0) {
            /* Not a symlink (or absent). */
            if (last) {
                r = open_final(w.cur, comp, flags, mode);
                break;
            }
            int fd = openat(w.cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                r = -errno;
                break;
            }
            r = walk_push(&w, comp, fd);
            if (r < 0)
                break;
            continue;
        }
        if (last && (flags & O_NOFOLLOW)) {
            /* The caller asked not to follow a final symlink: ELOOP, or the
             * link itself with O_PATH, exactly as openat would. */
            r = open_final(w.cur, comp, flags, mode);
            break;
        }
        if ((size_t)n >= PATH_MAX) {
            r = -ENAMETOOLONG;
            break;
        }
        if (++nlinks > MAX_SYMLINKS) {
            r = -ELOOP;
            break;
        }
        link[n] = '\0';
        size_t restlen = strlen(rest);
        if ((size_t)n + restlen + 2 > MAX_WALK_PATH) {
            r = -ENAMETOOLONG;
            break;
        }
        /* The target replaces the component in front of what is left. */
        char *nbuf = malloc((size_t)n + restlen + 2);
        if (!nbuf) {
            r = -ENOMEM;
            break;
        }
        memcpy(nbuf, link, (size_t)n);
        nbuf[n] = '/';
        memcpy(nbuf + n + 1, rest, restlen + 1);
        free(buf);
        buf = rest = nbuf;
        if (link[0] == '/') {
            r = walk_reset(&w);
            if (r < 0)
                break;
        }
    }
    close(w.cur);
    return r;
}

/* OCIIMG_NO_OPENAT2=1 in the environment forces the component walk even
 * where openat2 works, so tests can exercise the fallback on any kernel.
 * Read on every call so a test can flip it with setenv. */
static bool openat2_disabled(void)
{
    const char *v = getenv("OCIIMG_NO_OPENAT2");
    return v && strcmp(v, "1") == 0;
}

/* Returns the fd, a negative errno, or -ENOSYS when openat2 cannot be used. */
static int try_openat2(int rootfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    /* RESOLVE_IN_ROOT treats an absolute path as relative to the root
     * anyway; an empty path would need AT_EMPTY_PATH semantics, so use ".". */
    if (!*path)
        path = ".";
    for (int i = 0; i < OPENAT2_RETRIES; i++) {
        long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == EAGAIN || errno == EINTR)
            continue;
        /* ENOSYS: kernel before 5.6; EPERM: a seccomp filter that blocks
         * syscalls it does not know (some container runtimes). */
        if (errno == ENOSYS || errno == EPERM)
            return -ENOSYS;
        return -errno;
    }
    return -EAGAIN;
}

int oimg_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                         struct oci_error **err)
{
    if (!path)
        return oci_error_set(err, OCI_ERR_INVALID, "open in root: no path");
    if (strlen(path) >= PATH_MAX)
        return oci_error_set(err, OCI_ERR_INVALID, "open in root: path too long");
    int r = -ENOSYS;
    if (!openat2_disabled())
        r = try_openat2(rootfd, path, flags, mode);
    if (r == -ENOSYS)
        r = walk_open(rootfd, path, flags, mode);
    if (r >= 0)
        return r;
    return oci_error_setsys(err, oimg_errno_code(-r), -r, "open `%s` in root", path);
}

/* ---- temp files and atomic writes ---- */

int oimg_fs_mktemp(char **name_out, int dirfd, const char *prefix, struct oci_error **err)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (!prefix)
        prefix = OIMG_FS_TMP_PREFIX;
    size_t plen = strlen(prefix);
    if (strchr(prefix, '/') || plen + MKTEMP_SUFFIX > NAME_MAX)
        return oci_error_set(err, OCI_ERR_INVALID, "bad temp file prefix");
    _cleanup_free_ char *name = malloc(plen + MKTEMP_SUFFIX + 1);
    if (!name)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    memcpy(name, prefix, plen);

    for (int i = 0; i < MKTEMP_TRIES; i++) {
        unsigned char rnd[MKTEMP_SUFFIX];
        ssize_t got = getrandom(rnd, sizeof(rnd), 0);
        if (got != (ssize_t)sizeof(rnd)) {
            if (got < 0 && errno == EINTR)
                continue;
            return oci_error_setsys(err, OCI_ERR_IO, got < 0 ? errno : EIO, "getrandom");
        }
        for (size_t j = 0; j < MKTEMP_SUFFIX; j++)
            name[plen + j] = alphabet[rnd[j] % (sizeof(alphabet) - 1)];
        name[plen + MKTEMP_SUFFIX] = '\0';
        int fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            *name_out = TAKE_PTR(name);
            return fd;
        }
        if (errno != EEXIST)
            return oci_error_setsys(err, oimg_errno_code(errno), errno, "create temp file `%s`",
                                    name);
    }
    return oci_error_set(err, OCI_ERR_EXISTS, "create temp file `%sXXXXXX`: %d names taken", prefix,
                         MKTEMP_TRIES);
}

static int write_replace(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                         bool sync, struct oci_error **err)
{
    _cleanup_free_ char *tmp = NULL;
    _cleanup_close_ int fd = oimg_fs_mktemp(&tmp, dirfd, OIMG_FS_TMP_PREFIX, err);
    if (fd < 0)
        return oci_error_wrap(err, "write `%s`", name);

    int r = oimg_fs_write_all(fd, buf, len);
    if (r < 0) {
        r = oci_error_setsys(err, oimg_errno_code(-r), -r, "write `%s`", name);
        goto fail;
    }
    if (fchmod(fd, mode) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "chmod `%s`", name);
        goto fail;
    }
    if (sync && fsync(fd) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "fsync `%s`", name);
        goto fail;
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        r = oci_error_setsys(err, oimg_errno_code(errno), errno, "rename into `%s`", name);
        goto fail;
    }
    r = sync ? oimg_fs_fsync_dir(dirfd, err) : 0;
    if (r < 0)
        return oci_error_wrap(err, "write `%s`", name);
    return 0;

fail:
    unlinkat(dirfd, tmp, 0);
    return r;
}

int oimg_fs_write_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                         struct oci_error **err)
{
    return write_replace(dirfd, name, buf, len, mode, true, err);
}

int oimg_fs_write_volatile(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                           struct oci_error **err)
{
    return write_replace(dirfd, name, buf, len, mode, false, err);
}

/* ---- directories ---- */

int oimg_fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct oci_error **err)
{
    if (!path || path[0] == '/')
        return oci_error_set(err, OCI_ERR_INVALID, "mkdir `%s`: path must be relative",
                             path ? path : "(null)");
    if (strlen(path) >= PATH_MAX)
        return oci_error_set(err, OCI_ERR_INVALID, "mkdir: path too long");
    _cleanup_free_ char *copy = strdup(path);
    if (!copy)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");

    _cleanup_close_ int cur = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "mkdir `%s`: open start directory", path);
    char *rest = copy, *comp;
    while (next_component(&rest, &comp)) {
        if (strcmp(comp, "..") == 0)
            return oci_error_set(err, OCI_ERR_INVALID, "mkdir `%s`: \"..\" is not allowed", path);
        if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST)
            return oci_error_setsys(err, oimg_errno_code(errno), errno, "mkdir `%s` in `%s`", comp,
                                    path);
        int fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == ELOOP || e == ENOTDIR)
                return oci_error_setsys(err, OCI_ERR_INVALID, e,
                                        "mkdir `%s`: `%s` is not a directory (or is a symlink)",
                                        path, comp);
            return oci_error_setsys(err, oimg_errno_code(e), e, "mkdir `%s`: open `%s`", path,
                                    comp);
        }
        close(cur);
        cur = fd;
    }
    return TAKE_FD(cur);
}

int oimg_fs_open_dir(int dirfd, const char *path, struct oci_error **err)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return oci_error_setsys(err, OCI_ERR_INVALID, e, "open directory `%s` (a symlink?)",
                                    path);
        if (e == ENOTDIR)
            return oci_error_setsys(err, OCI_ERR_INVALID, e, "open directory `%s`", path);
        return oci_error_setsys(err, oimg_errno_code(e), e, "open directory `%s`", path);
    }
    return fd;
}

int oimg_fs_set_direct(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) < 0)
        return -errno;
    return 0;
}

size_t oimg_fs_direct_align(void)
{
    /* The logical block size is at most a page on the filesystems we meet;
     * 4096 covers 512-byte and 4K devices alike. */
    long pg = sysconf(_SC_PAGESIZE);
    return pg > 4096 ? (size_t)pg : 4096;
}

void *oimg_fs_direct_alloc(size_t size)
{
    void *p = NULL;
    return posix_memalign(&p, oimg_fs_direct_align(), size) == 0 ? p : NULL;
}

int oimg_fs_fsync_dir(int dirfd, struct oci_error **err)
{
    /* Some filesystems cannot sync a directory (EINVAL); the rename is then
     * as durable as that filesystem makes it. */
    if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "fsync directory");
    return 0;
}
