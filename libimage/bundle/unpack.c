/* `unpack`: an image's layers into a rootfs, and the rootfs plus config.json
 * into a bundle that appears at its destination only when complete.
 *
 * Each layer blob is hashed as the applier reads it (the blob's digest and
 * size against the manifest's descriptor), while the applier checks the
 * uncompressed digest against the config's diff_id: a blob is never read
 * twice and never trusted before both agree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>

#include "bundle_private.h"

#define READ_CHUNK (256 * 1024)

void oimg_unpack_opts_init(struct oimg_unpack_opts *o)
{
    memset(o, 0, sizeof(*o));
    oimg_bundle_opts_init(&o->bundle);
}

/* ---- the layers ---- */

/* A layer blob as stored, hashed and counted as the applier reads it. */
struct blob_reader {
    struct oimg_reader *raw;
    struct oimg_hasher *h;
    uint64_t n, size;
};

static ssize_t blob_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    struct blob_reader *b = ctx;
    /* One byte past the declared size is enough to know it is wrong. */
    uint64_t left = b->size - b->n + 1;
    if (len > left)
        len = (size_t)left;
    ssize_t r = b->raw->read(b->raw->ctx, buf, len, err);
    if (r <= 0)
        return r;
    b->n += (uint64_t)r;
    if (b->n > b->size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "layer blob is larger than the %llu bytes its descriptor declares",
                             (unsigned long long)b->size);
    if (b->h)
        oimg_hasher_update(b->h, buf, (size_t)r);
    return r;
}

static int check_layer(const struct oimg_descriptor *d, struct oci_error **err)
{
    if (!oimg_media_type_is_layer(d->media_type) ||
        oimg_apply_media_type_compression(d->media_type) < 0)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "media type `%s` is not a layer we can apply",
                             d->media_type ? d->media_type : "(none)");
    if (d->digest.alg != OIMG_DIGEST_SHA256 && d->digest.alg != OIMG_DIGEST_SHA512)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "digest `%s`: algorithm not supported",
                             d->digest.str);
    if (d->size < 0)
        return oci_error_set(err, OCI_ERR_INVALID, "negative size");
    return 0;
}

int bundle_apply_blob(struct oimg_applier *a, const struct oimg_descriptor *d,
                      struct oimg_reader *raw, const struct oimg_digest *diff_id, bool hash,
                      struct oimg_apply_stats *st, struct oci_error **err)
{
    int r = check_layer(d, err);
    if (r < 0)
        return r;
    struct blob_reader b = {.raw = raw, .size = (uint64_t)d->size};
    if (hash && (r = oimg_hasher_new(&b.h, d->digest.alg, err)) < 0)
        return r;
    struct oimg_reader rd = {blob_read, &b};
    r = oimg_applier_apply(a, d->media_type, &rd, diff_id, st, err);
    /* Whatever the decompressor left unread (trailing bytes) still counts. */
    _cleanup_free_ char *buf = r >= 0 ? malloc(READ_CHUNK) : NULL;
    if (r >= 0 && !buf)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    while (r >= 0) {
        ssize_t n = blob_read(&b, buf, READ_CHUNK, err);
        if (n <= 0) {
            r = (int)n;
            break;
        }
    }
    struct oimg_digest got;
    if (b.h)
        oimg_hasher_final(b.h, &got);
    oimg_hasher_free(b.h);
    if (r < 0)
        return r;
    if (b.n != b.size)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "layer blob has %llu bytes, its descriptor declares %llu",
                             (unsigned long long)b.n, (unsigned long long)b.size);
    if (hash && !oimg_digest_equal(&got, &d->digest))
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH, "layer blob hashes to %s", got.str);
    return 0;
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    int fd = *(int *)ctx;
    for (;;) {
        ssize_t r = read(fd, buf, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read layer blob");
        return r;
    }
}

static int apply_layer(struct oimg_applier *a, const struct oimg_layout *l,
                       const struct oimg_descriptor *d, const struct oimg_digest *diff_id,
                       struct oimg_apply_stats *st, struct oci_error **err)
{
    int r = check_layer(d, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = oimg_layout_blob_open(l, &d->digest, err);
    if (fd < 0)
        return fd;
    struct oimg_reader raw = {fd_read, &fd};
    return bundle_apply_blob(a, d, &raw, diff_id, true, st, err);
}

void bundle_apply_opts(struct oimg_apply_opts *ao, const struct oimg_unpack_opts *opts)
{
    oimg_apply_opts_init(ao);
    ao->rootless = opts->bundle.rootless;
    ao->uid_map = opts->bundle.uid_map;
    ao->n_uid_map = opts->bundle.n_uid_map;
    ao->gid_map = opts->bundle.gid_map;
    ao->n_gid_map = opts->bundle.n_gid_map;
    ao->no_sync = opts->no_sync;
    ao->warn = opts->bundle.warn;
    ao->warn_ctx = opts->bundle.warn_ctx;
}

int bundle_check_image(const struct oimg_manifest *m, const struct oimg_image_config *cfg,
                       const struct oimg_digest *manifest, const struct oimg_unpack_opts *opts,
                       struct oci_error **err)
{
    if (!m || !cfg)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s is not an image (no image config)",
                             manifest->str);
    if (cfg->rootfs.n_diff_ids != m->n_layers)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "the manifest has %zu layers but the config %zu diff_ids", m->n_layers,
                             cfg->rootfs.n_diff_ids);
    if (!opts->rootfs_only && cfg->os && strcmp(cfg->os, "linux") != 0)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "the image's os is `%s`; only linux images make bundles", cfg->os);
    return 0;
}

int oimg_unpack_layers(struct oimg_unpack_result *res, const struct oimg_layout *l,
                       const struct oimg_image *img, int rootfd,
                       const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    struct oimg_unpack_opts defaults;
    if (!opts) {
        oimg_unpack_opts_init(&defaults);
        opts = &defaults;
    }
    const struct oimg_manifest *m = img->manifest;
    const struct oimg_image_config *cfg = img->config;
    if (!m || !cfg)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s is not an image (no image config)",
                             img->desc.digest.str);
    if (cfg->rootfs.n_diff_ids != m->n_layers)
        return oci_error_set(err, OCI_ERR_INVALID,
                             "the manifest has %zu layers but the config %zu diff_ids", m->n_layers,
                             cfg->rootfs.n_diff_ids);

    struct oimg_apply_opts ao;
    bundle_apply_opts(&ao, opts);
    struct oimg_applier *a = NULL;
    int r = oimg_applier_new(&a, rootfd, &ao, err);
    if (r < 0)
        return r;
    struct oimg_unpack_result sum = {.manifest = img->desc.digest};
    for (size_t i = 0; i < m->n_layers && r >= 0; i++) {
        struct oimg_apply_stats st;
        r = apply_layer(a, l, &m->layers[i], &cfg->rootfs.diff_ids[i], &st, err);
        if (r < 0) {
            r = oci_error_wrap(err, "layer %zu (%s)", i, m->layers[i].digest.str);
            break;
        }
        sum.layers++;
        sum.compressed_bytes += st.compressed_bytes;
        sum.uncompressed_bytes += st.uncompressed_bytes;
        sum.entries += st.entries;
    }
    if (r >= 0)
        r = oimg_applier_finish(a, err);
    oimg_applier_free(a);
    if (r < 0)
        return r;
    if (res)
        *res = sum;
    return 0;
}

/* ---- placing the result ---- */

static void warn_error(const struct oimg_unpack_opts *o, struct oci_error **e, const char *what)
{
    oci_warnf(o->bundle.warn, o->bundle.warn_ctx, "%s: %s", what,
              *e && (*e)->msg ? (*e)->msg : "unknown error");
    oci_error_clear(e);
}

/* ---- temp dirs of killed unpacks ---- */

/* Entries of the parent read looking for leftovers, and leftovers removed,
 * per unpack: a parent full of them is cleaned over several runs. */
#define LEFTOVER_SCAN_MAX 65536
#define LEFTOVER_REMOVE_MAX 64

static int flock_retry(int fd, int op)
{
    int r;
    do
        r = flock(fd, op);
    while (r < 0 && errno == EINTR);
    return r;
}

/* An fd of the directory or regular file name in parentfd with LOCK_EX
 * taken, waiting for it only if wait (else -EWOULDBLOCK while another
 * holds it); another -errno if it cannot be opened (or is neither). */
static int lock_entry(int parentfd, const char *name, bool wait)
{
    _cleanup_close_ int fd =
        openat(parentfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return -EINVAL;
    if (flock_retry(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0)
        return -errno;
    return TAKE_FD(fd);
}

/* fd (what we locked) is still what parentfd/name is. */
static bool still_named(int parentfd, const char *name, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(parentfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static bool random_suffix(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= 6 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                        (s[i] >= '0' && s[i] <= '9')))
            return false;
    return i == 6;
}

/* The names bundle_dest_open and place give temp dirs for base:
 * "<prefix>XXXXXX" and "<prefix>old-XXXXXX". */
static bool leftover_name(const char *name, const char *prefix, size_t plen)
{
    if (strncmp(name, prefix, plen) != 0)
        return false;
    name += plen;
    if (strncmp(name, "old-", 4) == 0)
        name += 4;
    return random_suffix(name);
}

/* Removes the temp dirs of unpacks into base that no live unpack holds
 * (killed ones; a live one holds its lock until it is done).  Best effort:
 * what cannot be removed is a warning, never a failure of this unpack. */
static void remove_leftovers(int parentfd, const char *prefix, const struct oimg_unpack_opts *opts)
{
    _cleanup_close_ int fd = openat(parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    int dfd = TAKE_FD(fd);
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    size_t plen = strlen(prefix), seen = 0, removed = 0;
    struct dirent *de;
    while (removed < LEFTOVER_REMOVE_MAX && ++seen <= LEFTOVER_SCAN_MAX && (de = readdir(d))) {
        if (!leftover_name(de->d_name, prefix, plen))
            continue;
        _cleanup_close_ int lk = lock_entry(parentfd, de->d_name, false);
        /* Only what we hold is ours to remove, should the name be reused. */
        if (lk < 0 || !still_named(parentfd, de->d_name, lk))
            continue;
        struct oci_error *e = NULL;
        if (oimg_bundle_remove_tree(parentfd, de->d_name, &e) < 0)
            warn_error(opts, &e, "remove a temp directory left by an interrupted unpack");
        removed++;
    }
    closedir(d);
}

/* Makes the temp dir and takes its lock.  A concurrent remove_leftovers may
 * see the new directory before we lock it and remove it: we then find it
 * gone once we hold the lock, and make another. */
static int make_locked_tmp(struct bundle_dest *bd, const char *prefix, struct oci_error **err)
{
    for (int tries = 0; tries < 8; tries++) {
        _cleanup_free_ char *name = NULL;
        int r = bundle_mkdtemp(&name, bd->parentfd, prefix, 0700, err);
        if (r < 0)
            return r;
        _cleanup_close_ int fd =
            openat(bd->parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno != ENOENT)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", name);
        /* Blocks only while a remover holds it, i.e. while it removes this
         * (empty) directory. */
        if (fd >= 0 && flock_retry(fd, LOCK_EX) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "lock `%s`", name);
        if (fd >= 0 && still_named(bd->parentfd, name, fd)) {
            bd->tmp = TAKE_PTR(name);
            bd->lockfd = TAKE_FD(fd);
            return 0;
        }
    }
    return oci_error_set(err, OCI_ERR_STATE, "temp directories beside `%s` keep disappearing",
                         bd->dest);
}

/* ---- the destination ---- */

/* dest split into its parent directory and last component. */
static int split_dest(char **parent, char **base, const char *dest, struct oci_error **err)
{
    size_t n = strlen(dest);
    while (n > 1 && dest[n - 1] == '/')
        n--;
    const char *slash = memrchr(dest, '/', n);
    const char *b = slash ? slash + 1 : dest;
    size_t blen = (size_t)(dest + n - b);
    if (blen == 0 || (blen == 1 && b[0] == '.') || (blen == 2 && b[0] == '.' && b[1] == '.'))
        return oci_error_set(err, OCI_ERR_INVALID, "destination `%s` must name a new directory",
                             dest);
    *base = strndup(b, blen);
    if (!slash)
        *parent = strdup(".");
    else if (slash == dest)
        *parent = strdup("/");
    else
        *parent = strndup(dest, (size_t)(slash - dest));
    if (!*base || !*parent) {
        free(*base);
        free(*parent);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    return 0;
}

enum dest_state { DEST_NEW, DEST_EMPTY_DIR, DEST_OTHER };

static int dest_state(enum dest_state *out, int parentfd, const char *base, const char *dest,
                      bool force, struct oci_error **err)
{
    struct stat st;
    if (fstatat(parentfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "stat `%s`", dest);
        *out = DEST_NEW;
        return 0;
    }
    *out = DEST_OTHER;
    if (S_ISDIR(st.st_mode)) {
        _cleanup_close_ int fd =
            openat(parentfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", dest);
        int dfd = TAKE_FD(fd); /* the DIR owns it from here */
        DIR *d = fdopendir(dfd);
        if (!d) {
            int e = errno;
            close(dfd);
            return oci_error_setsys(err, OCI_ERR_IO, e, "read `%s`", dest);
        }
        bool empty = true;
        struct dirent *de;
        while (empty && (de = readdir(d)))
            empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
        closedir(d);
        if (empty) {
            *out = DEST_EMPTY_DIR;
            return 0;
        }
    }
    if (!force)
        return oci_error_set(err, OCI_ERR_EXISTS,
                             "`%s` exists and is not an empty directory "
                             "(--force replaces it)",
                             dest);
    return 0;
}

/* Moves tmp to base.  *old gets the temp name now holding what was at base
 * (to remove), or NULL; *oldlock an fd holding its lock when place already
 * took it, else -1. */
static int place(char **old, int *oldlock, int parentfd, const char *tmp, const char *base,
                 const char *dest, bool force, struct oci_error **err)
{
    *old = NULL;
    *oldlock = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        enum dest_state s;
        int r = dest_state(&s, parentfd, base, dest, force, err);
        if (r < 0)
            return r;
        if (s == DEST_NEW) {
            if (renameat2(parentfd, tmp, parentfd, base, RENAME_NOREPLACE) == 0)
                return 0;
            if (errno == EEXIST)
                continue; /* appeared meanwhile: look again */
            if (errno != EINVAL && errno != ENOSYS)
                return oci_error_setsys(err, OCI_ERR_IO, errno, "rename into `%s`", dest);
            /* No RENAME_NOREPLACE here: rename() still never replaces a
             * non-empty directory. */
        }
        if (s != DEST_OTHER) {
            /* rename() replaces an empty directory atomically, and fails
             * if it has been filled meanwhile, which EXCHANGE would not. */
            if (renameat(parentfd, tmp, parentfd, base) == 0)
                return 0;
            if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR || errno == EISDIR)
                continue;
            return oci_error_setsys(err, OCI_ERR_IO, errno, "rename into `%s`", dest);
        }
        /* --force over a non-empty directory or a non-directory. */
        if (renameat2(parentfd, tmp, parentfd, base, RENAME_EXCHANGE) == 0) {
            *old = strdup(tmp);
            return *old ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        if (errno == ENOENT)
            continue;
        if (errno != EINVAL && errno != ENOSYS)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "exchange with `%s`", dest);
        /* No RENAME_EXCHANGE: move the old one aside first. */
        _cleanup_free_ char *aside = NULL;
        char prefix[NAME_MAX + 1];
        snprintf(prefix, sizeof(prefix), ".%.200s.ociimg-old-", base);
        if (bundle_mkdtemp(&aside, parentfd, prefix, 0700, err) < 0)
            return -OCI_ERR_IO;
        unlinkat(parentfd, aside, AT_REMOVEDIR);
        /* Under a leftover's name it must not look abandoned to another
         * unpack while it may still have to come back. */
        _cleanup_close_ int hold = lock_entry(parentfd, base, false);
        if (renameat(parentfd, base, parentfd, aside) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "move `%s` aside", dest);
        if (renameat(parentfd, tmp, parentfd, base) < 0) {
            int e = errno;
            renameat(parentfd, aside, parentfd, base);
            return oci_error_setsys(err, OCI_ERR_IO, e, "rename into `%s`", dest);
        }
        *old = TAKE_PTR(aside);
        *oldlock = TAKE_FD(hold);
        return 0;
    }
    return oci_error_set(err, OCI_ERR_STATE, "`%s` keeps changing while we replace it", dest);
}

/* --force must never replace the layout it reads from, or a directory
 * holding it. */
static int not_above_layout(int parentfd, const char *base, const char *dest,
                            const struct oimg_layout *l, struct oci_error **err)
{
    struct stat d;
    if (fstatat(parentfd, base, &d, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(d.st_mode))
        return 0;
    _cleanup_close_ int fd = openat(oimg_layout_dirfd(l), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int depth = 0; fd >= 0 && depth < 4096; depth++) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            break;
        if (st.st_dev == d.st_dev && st.st_ino == d.st_ino)
            return oci_error_set(err, OCI_ERR_INVALID,
                                 "`%s` holds the layout being unpacked: refusing to replace it",
                                 dest);
        int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat ust;
        bool top =
            up < 0 || (fstat(up, &ust) == 0 && ust.st_dev == st.st_dev && ust.st_ino == st.st_ino);
        close(fd);
        fd = up;
        if (top)
            break;
    }
    return 0;
}

/* The host id of container id 0 in a map, or -1 if unmapped. */
static long long host_root(const struct oimg_idmap *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].container_id == 0)
            return m[i].host_id;
    return -1;
}

int bundle_dest_rootfs(int *rootfd, const struct bundle_dest *bd,
                       const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    /* With a user namespace made by root, the container's root is someone
     * else on the host: the bundle (still 0700) and the rootfs directory
     * (unless a layer says otherwise) are theirs, as they are root's
     * without maps. */
    const struct oimg_bundle_opts *b = &opts->bundle;
    int tmpfd = bd->tmpfd;
    uid_t hu = (uid_t)-1;
    gid_t hg = (gid_t)-1;
    if (!b->rootless && (b->n_uid_map || b->n_gid_map)) {
        long long u = host_root(b->uid_map, b->n_uid_map);
        long long g = host_root(b->gid_map, b->n_gid_map);
        hu = u >= 0 ? (uid_t)u : (uid_t)-1;
        hg = g >= 0 ? (gid_t)g : (gid_t)-1;
        if (fchown(tmpfd, hu, hg) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "chown the bundle to the mapped root");
    }
    _cleanup_close_ int fd = -1;
    if (opts->rootfs_only) {
        fd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* The rootfs is the destination: as readable as a rootfs is. */
        if (fd < 0 || fchmod(fd, 0755) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "prepare the rootfs");
    } else {
        if (mkdirat(tmpfd, "rootfs", 0755) < 0 || fchmodat(tmpfd, "rootfs", 0755, 0) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "create rootfs");
        fd = openat(tmpfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchown(fd, hu, hg) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "open rootfs");
    }
    *rootfd = TAKE_FD(fd);
    return 0;
}

int bundle_dest_config(const struct bundle_dest *bd, int rootfd,
                       const struct oimg_image_config *config, const struct oimg_unpack_opts *opts,
                       struct oci_error **err)
{
    _cleanup_json_ json_object *cfg = NULL;
    int r = oimg_bundle_config(&cfg, config, rootfd, &opts->bundle, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *txt = oimg_json_dump(cfg, true);
    if (!txt)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    size_t len = strlen(txt);
    txt[len] = '\n'; /* replaces the NUL: written with an explicit length */
    r = oimg_fs_write_atomic(bd->tmpfd, "config.json", txt, len + 1, 0644, err);
    txt[len] = '\0';
    if (r < 0)
        return oci_error_wrap(err, "write config.json");
    return 0;
}

int bundle_dest_open(struct bundle_dest *bd, const char *dest, const struct oimg_layout *l,
                     const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    *bd = (struct bundle_dest){.dest = dest, .parentfd = -1, .tmpfd = -1, .lockfd = -1};
    if (!dest || !*dest)
        return oci_error_set(err, OCI_ERR_INVALID, "no destination");
    int r = split_dest(&bd->parent, &bd->base, dest, err);
    if (r < 0)
        return r;
    bd->parentfd = open(bd->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bd->parentfd < 0)
        return oci_error_setsys(err, errno == ENOENT ? OCI_ERR_NOT_FOUND : OCI_ERR_IO, errno,
                                "open `%s`", bd->parent);
    /* Refuse early, before any work; checked again when renaming. */
    enum dest_state s;
    if ((r = dest_state(&s, bd->parentfd, bd->base, dest, opts->force, err)) < 0)
        return r;
    if (l && s == DEST_OTHER && (r = not_above_layout(bd->parentfd, bd->base, dest, l, err)) < 0)
        return r;
    char prefix[NAME_MAX + 1];
    snprintf(prefix, sizeof(prefix), ".%.200s.ociimg-", bd->base);
    remove_leftovers(bd->parentfd, prefix, opts);
    if ((r = make_locked_tmp(bd, prefix, err)) < 0)
        return r;
    bd->tmpfd = openat(bd->parentfd, bd->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bd->tmpfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open `%s`", bd->tmp);
    return 0;
}

void bundle_dest_discard(struct bundle_dest *bd, const struct oimg_unpack_opts *opts)
{
    if (bd->tmpfd >= 0)
        close(bd->tmpfd);
    if (bd->tmp && bd->parentfd >= 0) {
        struct oci_error *e = NULL;
        if (oimg_bundle_remove_tree(bd->parentfd, bd->tmp, &e) < 0)
            warn_error(opts, &e, "remove the temp directory");
    }
    /* Unlocked only once removed (or placed). */
    if (bd->lockfd >= 0)
        close(bd->lockfd);
    if (bd->parentfd >= 0)
        close(bd->parentfd);
    free(bd->tmp);
    free(bd->parent);
    free(bd->base);
    *bd = (struct bundle_dest){.parentfd = -1, .tmpfd = -1, .lockfd = -1};
}

int bundle_dest_commit(struct bundle_dest *bd, const struct oimg_unpack_opts *opts,
                       struct oci_error **err)
{
    if (bd->tmpfd >= 0) {
        close(bd->tmpfd);
        bd->tmpfd = -1;
    }
    _cleanup_free_ char *old = NULL;
    _cleanup_close_ int oldlock = -1;
    int r = place(&old, &oldlock, bd->parentfd, bd->tmp, bd->base, bd->dest, opts->force, err);
    if (r < 0)
        return r;
    /* In place: nothing left to discard. */
    free(bd->tmp);
    bd->tmp = NULL;
    /* The replaced tree now has a leftover's name, and may be held: by an
     * unpack removing it as a leftover (gone once we have the lock), or by
     * a concurrent unpack that placed it a moment before us and is still
     * committing (which never waits for us: no cycle). */
    if (old && oldlock < 0)
        oldlock = lock_entry(bd->parentfd, old, true);
    struct oci_error *e = NULL;
    if (old && (oldlock < 0 || still_named(bd->parentfd, old, oldlock)) &&
        oimg_bundle_remove_tree(bd->parentfd, old, &e) < 0)
        warn_error(opts, &e, "remove the replaced destination");
    if (!opts->no_sync && fsync(bd->parentfd) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "fsync `%s`", bd->parent);
    return 0;
}

int oimg_unpack(struct oimg_unpack_result *res, const struct oimg_layout *l,
                const struct oimg_descriptor *desc, const char *dest,
                const struct oimg_unpack_opts *opts, struct oci_error **err)
{
    struct oimg_unpack_opts defaults;
    if (!opts) {
        oimg_unpack_opts_init(&defaults);
        opts = &defaults;
    }
    struct bundle_dest bd;
    int r = bundle_dest_open(&bd, dest, l, opts, err);
    struct oimg_image *img = NULL;
    if (r >= 0)
        r = oimg_layout_load_image(&img, l, desc, opts->platform, err);
    if (r >= 0)
        r = bundle_check_image(img->manifest, img->config, &img->desc.digest, opts, err);
    /* Errors from here on name the destination. */
    bool building = r >= 0;
    _cleanup_close_ int rootfd = -1;
    if (r >= 0)
        r = bundle_dest_rootfs(&rootfd, &bd, opts, err);
    if (r >= 0)
        r = oimg_unpack_layers(res, l, img, rootfd, opts, err);
    if (r >= 0 && !opts->rootfs_only)
        r = bundle_dest_config(&bd, rootfd, img->config, opts, err);
    oimg_image_free(img);
    if (r >= 0)
        r = bundle_dest_commit(&bd, opts, err);
    bool placed = r >= 0 || !bd.tmp;
    bundle_dest_discard(&bd, opts);
    if (r < 0 && building && !placed)
        return oci_error_wrap(err, "`%s`", dest ? dest : "");
    return r;
}
