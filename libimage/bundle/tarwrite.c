/* A tree as one POSIX.1-2001 (pax) tar stream, written by hand (libarchive
 * is a reader only in this project).
 *
 * Every entry is a ustar header, preceded by a pax extended header ('x')
 * when ustar cannot hold it: a name or link target over 100 bytes, a size
 * of 8 GiB or more, ids of 2^21 or more, an mtime with nanoseconds or out of
 * range, xattrs (SCHILY.xattr.NAME, values as raw bytes, as GNU tar and
 * libarchive write and read them).  Output is deterministic for a given
 * tree: names sorted bytewise per directory, pre-order; uname/gname empty;
 * pax header names derived from the entry; no atime/ctime; the archive
 * padded to 20-block records as tar does.
 *
 * The tree is our own private temp dir, but the walk is still careful:
 * nothing is followed (O_NOFOLLOW below directory fds), devices and FIFOs
 * are never opened for reading, and deep trees hold a bounded number of fds
 * (levels below KEEP_FD_DEPTH reopen their directory by path). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>

#include "bundle_private.h"

#define BLOCK 512
#define RECORD (20 * BLOCK)
#define OUTBUF (1024 * 1024)
#define KEEP_FD_DEPTH 64
#define MAX_XATTR_LIST (64 * 1024)
#define MAX_XATTR_VALUE (64 * 1024)
#define ROOTLESS_XATTR "user.rootlesscontainers"

struct link {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct tw {
    int rootfd, out;
    char *buf;
    size_t used;
    uint64_t written;
    bool rootless;
    oimg_apply_warn_fn warn;
    void *warn_ctx;
    bool warned_xattr;
    struct link *links;
    size_t n_links, cap_links;
    struct oci_error **err;
};

struct sbuf {
    char *p;
    size_t len, cap;
};

static int sbuf_add(struct sbuf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* ---- output ---- */

static int flush(struct tw *t)
{
    if (t->used && oimg_fs_write_all(t->out, t->buf, t->used) < 0)
        return oci_error_setsys(t->err, OCI_ERR_IO, errno, "write the tar stream");
    t->written += t->used;
    t->used = 0;
    return 0;
}

static int emit(struct tw *t, const void *d, size_t n)
{
    while (n) {
        if (t->used == OUTBUF && flush(t) < 0)
            return -OCI_ERR_IO;
        size_t k = OUTBUF - t->used;
        if (k > n)
            k = n;
        memcpy(t->buf + t->used, d, k);
        t->used += k;
        d = (const char *)d + k;
        n -= k;
    }
    return 0;
}

static int pad(struct tw *t, uint64_t n)
{
    static const char zero[BLOCK];
    size_t rem = (size_t)(n % BLOCK);
    return rem ? emit(t, zero, BLOCK - rem) : 0;
}

/* ---- headers ---- */

/* width-1 octal digits and a NUL; false if v does not fit. */
static bool octal(char *field, size_t width, uint64_t v)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
    return v == 0;
}

static bool fits(uint64_t v, size_t width)
{
    return v < (1ull << (3 * (width - 1)));
}

static int pax_record(struct sbuf *b, const char *key, const void *val, size_t vlen)
{
    /* "<len> <key>=<value>\n", where len counts itself. */
    size_t body = strlen(key) + vlen + 3;
    size_t len = body + 1;
    for (;;) {
        char tmp[32];
        size_t d = (size_t)snprintf(tmp, sizeof(tmp), "%zu", len);
        if (body + d == len)
            break;
        len = body + d;
    }
    char num[32];
    int d = snprintf(num, sizeof(num), "%zu ", len);
    if (sbuf_add(b, num, (size_t)d) < 0 || sbuf_add(b, key, strlen(key)) < 0 ||
        sbuf_add(b, "=", 1) < 0 || sbuf_add(b, val, vlen) < 0 || sbuf_add(b, "\n", 1) < 0)
        return -1;
    return 0;
}

static void checksum(unsigned char *h)
{
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

struct hdr {
    const char *name; /* full name (dirs end in '/') */
    const char *link; /* symlink or hardlink target, or NULL */
    char type;
    mode_t mode;
    uint64_t uid, gid, size;
    struct timespec mtime;
    dev_t rdev;
    struct sbuf *xattrs; /* pax records already formatted, or NULL */
};

static void ustar(unsigned char *h, const struct hdr *e, const char *name, size_t nlen, char type,
                  uint64_t size, bool *need_size, bool *need_uid, bool *need_gid, bool *need_mtime)
{
    memset(h, 0, BLOCK);
    memcpy(h, name, nlen > 100 ? 100 : nlen);
    octal((char *)h + 100, 8, e->mode & 07777);
    *need_uid = !fits(e->uid, 8);
    *need_gid = !fits(e->gid, 8);
    octal((char *)h + 108, 8, *need_uid ? 0 : e->uid);
    octal((char *)h + 116, 8, *need_gid ? 0 : e->gid);
    *need_size = !fits(size, 12);
    octal((char *)h + 124, 12, *need_size ? 0 : size);
    bool mt_ok = e->mtime.tv_sec >= 0 && fits((uint64_t)e->mtime.tv_sec, 12);
    *need_mtime = !mt_ok || e->mtime.tv_nsec != 0;
    octal((char *)h + 136, 12, mt_ok ? (uint64_t)e->mtime.tv_sec : 0);
    h[156] = (unsigned char)type;
    /* A tar name field is NUL-padded, not NUL-terminated when full. */
    if (e->link)
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
        memcpy(h + 157, e->link, strlen(e->link) > 100 ? 100 : strlen(e->link));
    memcpy(h + 257, "ustar", 6);
    h[263] = h[264] = '0'; /* version "00", unterminated */
    octal((char *)h + 329, 8, e->type == '3' || e->type == '4' ? major(e->rdev) : 0);
    octal((char *)h + 337, 8, e->type == '3' || e->type == '4' ? minor(e->rdev) : 0);
}

static int write_header(struct tw *t, const struct hdr *e)
{
    size_t nlen = strlen(e->name);
    unsigned char h[BLOCK];
    bool nsize, nuid, ngid, nmtime;
    ustar(h, e, e->name, nlen, e->type, e->size, &nsize, &nuid, &ngid, &nmtime);

    struct sbuf pax = {0};
    char num[64];
    int r = 0;
    if (nlen > 100)
        r |= pax_record(&pax, "path", e->name, nlen);
    if (e->link && strlen(e->link) > 100)
        r |= pax_record(&pax, "linkpath", e->link, strlen(e->link));
    if (nsize) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)e->size);
        r |= pax_record(&pax, "size", num, strlen(num));
    }
    if (nuid) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)e->uid);
        r |= pax_record(&pax, "uid", num, strlen(num));
    }
    if (ngid) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)e->gid);
        r |= pax_record(&pax, "gid", num, strlen(num));
    }
    if (nmtime) {
        long long s = e->mtime.tv_sec;
        long ns = e->mtime.tv_nsec;
        if (s < 0 && ns) { /* -1.25 s is sec -2 + 0.75 */
            s = -(s + 1);
            ns = 1000000000L - ns;
            snprintf(num, sizeof(num), "-%lld.%09ld", s, ns);
        } else {
            snprintf(num, sizeof(num), "%lld.%09ld", s, ns);
        }
        r |= pax_record(&pax, "mtime", num, strlen(num));
    }
    if (e->xattrs && e->xattrs->len)
        r |= sbuf_add(&pax, e->xattrs->p, e->xattrs->len);
    if (r) {
        free(pax.p);
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    }
    if (pax.len) {
        /* A deterministic name for the extended header itself. */
        const char *base = strrchr(e->name, '/');
        base = base && base[1] ? base + 1 : e->name;
        char pname[101];
        snprintf(pname, sizeof(pname), "PaxHeaders/%.88s", base);
        for (char *p = pname + 11; *p; p++)
            if (*p == '/')
                *p = '_';
        struct hdr x = {.name = pname, .type = 'x', .mode = 0644, .mtime = e->mtime};
        if (x.mtime.tv_sec < 0)
            x.mtime.tv_sec = 0;
        x.mtime.tv_nsec = 0;
        unsigned char xh[BLOCK];
        bool a, b, c, d;
        ustar(xh, &x, pname, strlen(pname), 'x', pax.len, &a, &b, &c, &d);
        checksum(xh);
        if (emit(t, xh, BLOCK) < 0 || emit(t, pax.p, pax.len) < 0 || pad(t, pax.len) < 0) {
            free(pax.p);
            return -OCI_ERR_IO;
        }
    }
    free(pax.p);
    checksum(h);
    return emit(t, h, BLOCK);
}

/* ---- xattrs ---- */

/* user.rootlesscontainers: protobuf {uint32 uid = 1; uint32 gid = 2;},
 * 0xFFFFFFFF meaning "unchanged" (0). */
static void rootless_owner(const unsigned char *v, size_t n, uint64_t *uid, uint64_t *gid)
{
    size_t i = 0;
    while (i < n) {
        unsigned key = v[i++];
        uint64_t val = 0;
        unsigned shift = 0;
        while (i < n && shift < 64) {
            unsigned char b = v[i++];
            val |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            if (!(b & 0x80))
                break;
        }
        if ((key & 7) != 0)
            return; /* not a varint: not ours to understand */
        if (val == 0xFFFFFFFFull)
            val = 0;
        if ((key >> 3) == 1)
            *uid = val;
        else if ((key >> 3) == 2)
            *gid = val;
    }
}

static bool xattr_skipped(const char *name)
{
    /* The host's label, and what the applier never writes either. */
    return strcmp(name, "security.selinux") == 0 || strncmp(name, "trusted.", 8) == 0;
}

/* Collects the xattrs of dirfd/name as pax records (and the rootless owner).
 * Through the O_PATH fd's /proc link, which lands on the object itself
 * without opening it for reading. */
static int read_xattrs(struct tw *t, int dirfd, const char *name, const char *path,
                       struct sbuf *out, struct hdr *e)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(t->err, OCI_ERR_IO, errno, "open `/%s`", path);
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    _cleanup_free_ char *list = malloc(MAX_XATTR_LIST);
    _cleanup_free_ char *val = malloc(MAX_XATTR_VALUE);
    if (!list || !val)
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    ssize_t n = listxattr(proc, list, MAX_XATTR_LIST);
    if (n < 0) {
        if (errno == ENOTSUP || errno == ENOENT) {
            if (errno == ENOENT && !t->warned_xattr) {
                oci_warnf(t->warn, t->warn_ctx,
                          "no /proc: xattrs of non-regular files are not "
                          "exported");
                t->warned_xattr = true;
            }
            return 0;
        }
        return oci_error_setsys(t->err, OCI_ERR_IO, errno, "list xattrs of `/%s`", path);
    }
    /* Sorted names: the same archive every time. */
    size_t count = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
        count++;
    _cleanup_free_ const char **names = calloc(count ? count : 1, sizeof(*names));
    if (!names)
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    count = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
        names[count++] = list + i;
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }
    for (size_t i = 0; i < count; i++) {
        const char *k = names[i];
        if (!*k || xattr_skipped(k))
            continue;
        ssize_t vl = getxattr(proc, k, val, MAX_XATTR_VALUE);
        if (vl < 0) {
            if (errno == ENODATA)
                continue;
            return oci_error_setsys(t->err, OCI_ERR_IO, errno, "read xattr %s of `/%s`", k, path);
        }
        if (strcmp(k, ROOTLESS_XATTR) == 0) {
            rootless_owner((const unsigned char *)val, (size_t)vl, &e->uid, &e->gid);
            continue;
        }
        if (strchr(k, '=')) {
            oci_warnf(t->warn, t->warn_ctx, "`%s`: xattr `%s` cannot be written to a pax header",
                      path, k);
            continue;
        }
        char key[320];
        snprintf(key, sizeof(key), "SCHILY.xattr.%s", k);
        if (pax_record(out, key, val, (size_t)vl) < 0)
            return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* ---- the walk ---- */

/* Hard links: (dev, ino) -> the first name, in an open-addressing table. */
static size_t link_slot(const struct tw *t, dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
    size_t i = (size_t)(h ^ (h >> 29)) & (t->cap_links - 1);
    while (t->links[i].path && (t->links[i].dev != dev || t->links[i].ino != ino))
        i = (i + 1) & (t->cap_links - 1);
    return i;
}

static const char *link_find(struct tw *t, const struct stat *st)
{
    if (!t->cap_links)
        return NULL;
    return t->links[link_slot(t, st->st_dev, st->st_ino)].path;
}

static int link_add(struct tw *t, const struct stat *st, const char *path)
{
    if ((t->n_links + 1) * 2 > t->cap_links) {
        struct tw old = *t;
        t->cap_links = old.cap_links ? old.cap_links * 2 : 64;
        t->links = calloc(t->cap_links, sizeof(*t->links));
        if (!t->links) {
            *t = old;
            return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < old.cap_links; i++)
            if (old.links[i].path)
                t->links[link_slot(t, old.links[i].dev, old.links[i].ino)] = old.links[i];
        free(old.links);
    }
    char *p = strdup(path);
    if (!p)
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    t->links[link_slot(t, st->st_dev, st->st_ino)] = (struct link){st->st_dev, st->st_ino, p};
    t->n_links++;
    return 0;
}

static int copy_data(struct tw *t, int dirfd, const char *name, const char *path, uint64_t size)
{
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(t->err, OCI_ERR_IO, errno, "open `/%s`", path);
    uint64_t left = size;
    while (left) {
        if (t->used == OUTBUF && flush(t) < 0)
            return -OCI_ERR_IO;
        size_t k = OUTBUF - t->used;
        if (k > left)
            k = (size_t)left;
        ssize_t n = read(fd, t->buf + t->used, k);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return oci_error_setsys(t->err, OCI_ERR_IO, errno, "read `/%s`", path);
        if (n == 0)
            return oci_error_set(t->err, OCI_ERR_IO, "`/%s` shrank while being read", path);
        t->used += (size_t)n;
        left -= (uint64_t)n;
    }
    return pad(t, size);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct tw *t, const char *dirpath, unsigned depth);

static int one(struct tw *t, int *dfd, const char *dirpath, const char *name, unsigned depth)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s%s%s", dirpath, *dirpath ? "/" : "", name) < 0)
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    if (*dfd < 0) {
        *dfd = *dirpath ? oimg_fs_open_in_root(t->rootfd, dirpath,
                                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, t->err)
                        : openat(t->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (*dfd < 0)
            return t->err && *t->err ? -(*t->err)->code
                                     : oci_error_setsys(t->err, OCI_ERR_IO, errno,
                                                        "open "
                                                        "the root");
    }
    struct stat st;
    if (fstatat(*dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return oci_error_setsys(t->err, OCI_ERR_IO, errno, "stat `/%s`", path);
    struct hdr e = {.mode = st.st_mode, .uid = st.st_uid, .gid = st.st_gid, .mtime = st.st_mtim};
    if (t->rootless) /* the caller owns everything; the xattr says otherwise */
        e.uid = e.gid = 0;
    _cleanup_free_ char *tname = NULL, *target = NULL;
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        e.type = '0';
        e.size = (uint64_t)st.st_size;
        break;
    case S_IFDIR:
        e.type = '5';
        break;
    case S_IFLNK:
        e.type = '2';
        break;
    case S_IFCHR:
        e.type = '3';
        e.rdev = st.st_rdev;
        break;
    case S_IFBLK:
        e.type = '4';
        e.rdev = st.st_rdev;
        break;
    case S_IFIFO:
        e.type = '6';
        break;
    default:
        oci_warnf(t->warn, t->warn_ctx, "`/%s`: sockets cannot be archived; left out", path);
        return 0;
    }
    if (asprintf(&tname, "%s%s", path, e.type == '5' ? "/" : "") < 0)
        return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
    e.name = tname;
    if (e.type == '2') {
        size_t cap = (size_t)st.st_size + 1;
        if (cap < 2 || cap > 65536)
            cap = 65536;
        target = malloc(cap);
        if (!target)
            return oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
        ssize_t n = readlinkat(*dfd, name, target, cap);
        if (n < 0 || (size_t)n >= cap)
            return oci_error_setsys(t->err, OCI_ERR_IO, n < 0 ? errno : ENAMETOOLONG,
                                    "readlink `/%s`", path);
        target[n] = '\0';
        e.link = target;
    }
    const char *first = NULL;
    if (e.type != '5' && st.st_nlink > 1) {
        first = link_find(t, &st);
        if (!first && link_add(t, &st, path) < 0)
            return -OCI_ERR_NOMEM;
    }
    struct sbuf xa = {0};
    int r = read_xattrs(t, *dfd, name, path, &xa, &e);
    if (r < 0) {
        free(xa.p);
        return r;
    }
    e.xattrs = &xa;
    if (first) {
        e.type = '1';
        e.link = first;
        e.size = 0;
    }
    r = write_header(t, &e);
    free(xa.p);
    if (r < 0)
        return r;
    if (e.type == '0')
        return copy_data(t, *dfd, name, path, e.size);
    if (e.type != '5')
        return 0;
    if (depth + 1 >= KEEP_FD_DEPTH) {
        close(*dfd);
        *dfd = -1;
    }
    return walk(t, path, depth + 1);
}

static int walk(struct tw *t, const char *dirpath, unsigned depth)
{
    _cleanup_close_ int dfd =
        *dirpath ? oimg_fs_open_in_root(t->rootfd, dirpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
                                        t->err)
                 : openat(t->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return t->err && *t->err ? -(*t->err)->code
                                 : oci_error_setsys(t->err, OCI_ERR_IO, errno,
                                                    "open the "
                                                    "root");
    int lfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (!d) {
        int e = errno;
        if (lfd >= 0)
            close(lfd);
        return oci_error_setsys(t->err, OCI_ERR_IO, e, "read `/%s`", dirpath);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                r = oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(nm))) {
            r = oci_error_set(t->err, OCI_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (r == 0 && n)
        qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = one(t, &dfd, dirpath, names[i], depth);
        free(names[i]);
    }
    free(names);
    return r;
}

int oimg_export_tar(int rootfd, int out_fd, bool rootless, oimg_apply_warn_fn warn, void *warn_ctx,
                    struct oci_error **err)
{
    struct tw t = {.rootfd = rootfd,
                   .out = out_fd,
                   .rootless = rootless,
                   .warn = warn,
                   .warn_ctx = warn_ctx,
                   .err = err};
    t.buf = malloc(OUTBUF);
    if (!t.buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = walk(&t, "", 0);
    if (r >= 0) {
        /* Two zero blocks end the archive; tar pads to whole records. */
        static const char zero[2 * BLOCK];
        r = emit(&t, zero, sizeof(zero));
        uint64_t total = t.written + t.used;
        if (r >= 0 && total % RECORD) {
            static const char zrec[RECORD];
            r = emit(&t, zrec, RECORD - (size_t)(total % RECORD));
        }
        if (r >= 0)
            r = flush(&t);
    }
    for (size_t i = 0; i < t.cap_links; i++)
        free(t.links[i].path);
    free(t.links);
    free(t.buf);
    if (r < 0 && err && !*err)
        return oci_error_set(err, OCI_ERR_IO, "write the tar: failed");
    return r < 0 ? oci_error_wrap(err, "write the tar") : 0;
}
