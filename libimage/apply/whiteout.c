/* Whiteouts (layer.md "Whiteouts"): `.wh.<name>` removes <name> of lower
 * layers, `.wh..wh..opq` hides every lower child of its directory.  Both
 * must spare what the current layer itself wrote, whichever order the tar
 * has, so the applier records every directory entry the layer creates (a
 * keyset of parent inode + name) and a removal walks the tree, removing only
 * objects that are not in that set — a late opaque marker then gives the same
 * tree as one applied first.
 *
 * Tree removal never follows a symlink (each step is openat O_NOFOLLOW or
 * unlinkat of the name itself), never crosses into another filesystem, and
 * keeps at most two fds open however deep the tree: it goes back up by
 * "..", checked against the inode it came from. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "apply_private.h"

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"

struct frame {
    char **names;
    size_t n, i;
    dev_t dev;
    ino_t ino;
    char *self;     /* name in the parent frame's directory */
    bool keep_self; /* created by this layer: stays even when emptied */
};

static void frame_clear(struct frame *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->self);
}

static int list_dir(int dirfd, char ***names, size_t *n)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(de->d_name))) {
            r = -ENOMEM;
            break;
        }
        cnt++;
    }
    if (!r && errno)
        r = -errno;
    closedir(d);
    if (r < 0) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return r;
    }
    *names = v;
    *n = cnt;
    return 0;
}

static int open_subdir(struct oimg_applier *a, int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 || !a->opts.rootless || errno != EACCES)
        return fd;
    /* Rootless: a lower layer's unreadable directory is still ours. */
    if (fchmodat(dirfd, name, 0700, 0) < 0)
        return -1;
    return openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Removes the lower-layer objects below the directory topfd (or all of them
 * when !keep).  topfd stays open and untouched; the walk uses its own fds. */
static int remove_below(struct oimg_applier *a, int topfd, bool keep, struct oci_error **err)
{
    struct frame *st = NULL;
    size_t depth = 0, cap = 0;
    int r = 0;
    int cur = fcntl(topfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "remove: dup");

    struct stat s;
    if (fstat(cur, &s) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove: stat");
        goto out;
    }
    cap = 16;
    st = calloc(cap, sizeof(*st));
    if (!st) {
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto out;
    }
    st[0].dev = s.st_dev;
    st[0].ino = s.st_ino;
    depth = 1;
    if ((r = list_dir(cur, &st[0].names, &st[0].n)) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, -r, "remove: list directory");
        goto out;
    }

    /* Every step consumes one name of a listing or pops a frame; listings
     * are finite and each directory is entered once, so this ends. */
    while (depth > 0) {
        struct frame *f = &st[depth - 1];
        if (f->i == f->n) {
            if (depth == 1)
                break;
            int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
            struct stat us;
            if (up < 0 || fstat(up, &us) < 0 || us.st_dev != st[depth - 2].dev ||
                us.st_ino != st[depth - 2].ino) {
                if (up >= 0)
                    close(up);
                r = oci_error_set(err, OCI_ERR_IO, "remove: a directory moved during removal");
                goto out;
            }
            close(cur);
            cur = up;
            char *self = TAKE_PTR(f->self);
            bool keep_self = f->keep_self;
            frame_clear(f);
            memset(f, 0, sizeof(*f));
            depth--;
            if (!keep_self && unlinkat(cur, self, AT_REMOVEDIR) < 0 &&
                !(keep && errno == ENOTEMPTY)) {
                r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove directory `%s`", self);
                free(self);
                goto out;
            }
            free(self);
            continue;
        }
        const char *name = f->names[f->i++];
        bool ours = keep && keyset_has(a->created, f->dev, f->ino, name);
        struct stat cs;
        if (fstatat(cur, name, &cs, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove: stat `%s`", name);
            goto out;
        }
        if (!S_ISDIR(cs.st_mode)) {
            if (!ours && unlinkat(cur, name, 0) < 0 && errno != ENOENT) {
                r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove `%s`", name);
                goto out;
            }
            continue;
        }
        if (cs.st_dev != a->root_dev) {
            r = oci_error_set(err, OCI_ERR_INVALID, "refusing to remove `%s`: another filesystem",
                              name);
            goto out;
        }
        int child = open_subdir(a, cur, name);
        if (child < 0) {
            r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove: open `%s`", name);
            goto out;
        }
        if (depth == cap) {
            struct frame *ns = realloc(st, 2 * cap * sizeof(*st));
            if (!ns) {
                close(child);
                r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
                goto out;
            }
            memset(ns + cap, 0, cap * sizeof(*ns));
            st = ns;
            cap *= 2;
            /* f points into the old array: not used again this iteration. */
        }
        struct frame *c = &st[depth];
        c->dev = cs.st_dev;
        c->ino = cs.st_ino;
        c->keep_self = ours;
        c->self = strdup(name);
        depth++;
        close(cur);
        cur = child;
        if (!c->self) {
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
            goto out;
        }
        if ((r = list_dir(cur, &c->names, &c->n)) < 0) {
            r = oci_error_setsys(err, OCI_ERR_IO, -r, "remove: list `%s`", c->self);
            goto out;
        }
    }
out:
    for (size_t i = 0; i < depth; i++)
        frame_clear(&st[i]);
    free(st);
    close(cur);
    return r;
}

int tree_remove(struct oimg_applier *a, int dirfd, const char *name, bool keep,
                struct oci_error **err)
{
    struct stat ds, s;
    if (fstat(dirfd, &ds) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat");
    if (fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", name);
    }
    bool ours = keep && keyset_has(a->created, ds.st_dev, ds.st_ino, name);
    if (!S_ISDIR(s.st_mode)) {
        if (!ours && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "remove `%s`", name);
        return 0;
    }
    if (s.st_dev != a->root_dev)
        return oci_error_set(err, OCI_ERR_INVALID, "refusing to remove `%s`: another filesystem",
                             name);
    _cleanup_close_ int fd = open_subdir(a, dirfd, name);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", name);
    int r = remove_below(a, fd, keep, err);
    if (r < 0)
        return r;
    if (!ours && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !(keep && errno == ENOTEMPTY))
        return oci_error_setsys(err, OCI_ERR_IO, errno, "remove directory `%s`", name);
    return 0;
}

int tree_remove_lower_children(struct oimg_applier *a, int dirfd, struct oci_error **err)
{
    return remove_below(a, dirfd, true, err);
}

static bool is_dot_name(const char *s)
{
    return !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

int whiteout_apply(struct oimg_applier *a, const char *clean, struct oci_error **err)
{
    /* A whiteout name in the middle of a path would create a directory
     * named `.wh.*`, which layer.md says cannot exist; aufs' own metadata
     * directories (.wh..wh.plnk, ...) are skipped with their contents. */
    for (const char *p = clean; *p;) {
        const char *end = strchrnul(p, '/');
        if (!*end)
            break;
        if (strncmp(p, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0) {
            apply_warn(a, "`%s`: aufs metadata skipped", clean);
            return 1;
        }
        if (strncmp(p, WH_PREFIX, strlen(WH_PREFIX)) == 0)
            return oci_error_set(err, OCI_ERR_INVALID, "`%s`: a whiteout name used as a directory",
                                 clean);
        p = end + 1;
    }
    const char *slash = strrchr(clean, '/');
    const char *base = slash ? slash + 1 : clean;
    if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) != 0)
        return 0;

    _cleanup_free_ char *buf = strdup(clean);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    const char *parent;
    path_split(buf, &parent);
    if (strcmp(base, WH_OPAQUE) == 0) {
        int pfd;
        dev_t pdev;
        ino_t pino;
        int r = path_parent(a, parent, &pfd, &pdev, &pino, err);
        if (r < 0)
            return oci_error_wrap(err, "opaque whiteout `%s`", clean);
        r = tree_remove_lower_children(a, pfd, err);
        path_cache_drop(a);
        if (r < 0)
            return oci_error_wrap(err, "opaque whiteout `%s`", clean);
        a->st->opaques++;
        return 1;
    }
    if (strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0) {
        apply_warn(a, "`%s`: aufs metadata skipped", clean);
        return 1;
    }
    const char *victim = base + strlen(WH_PREFIX);
    if (is_dot_name(victim))
        return oci_error_set(err, OCI_ERR_INVALID, "`%s`: whiteout without a valid name", clean);

    int pfd;
    dev_t pdev;
    ino_t pino;
    int r = path_parent_ex(a, parent, false, &pfd, &pdev, &pino, err);
    if (r < 0)
        return oci_error_wrap(err, "whiteout `%s`", clean);
    a->st->whiteouts++;
    if (r == 0)
        return 1; /* nothing there to hide */
    struct stat s;
    if (fstatat(pfd, victim, &s, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 1;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "whiteout `%s`", clean);
    }
    if (keyset_has(a->created, pdev, pino, victim)) {
        /* This layer's own entry survives; a directory it merged into still
         * loses its lower contents, as if the whiteout had come first. */
        if (S_ISDIR(s.st_mode)) {
            _cleanup_close_ int fd = open_subdir(a, pfd, victim);
            if (fd < 0)
                return oci_error_setsys(err, OCI_ERR_IO, errno, "whiteout `%s`", clean);
            r = remove_below(a, fd, true, err);
        }
    } else {
        r = tree_remove(a, pfd, victim, true, err);
    }
    path_cache_drop(a);
    if (r < 0)
        return oci_error_wrap(err, "whiteout `%s`", clean);
    return 1;
}
