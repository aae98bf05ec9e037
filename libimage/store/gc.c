/* gc: mark everything reachable from index.json (subjects included), sweep
 * the rest of blobs/<alg>/ and stale temp files.
 *
 * Safety against concurrent writers: gc holds the layout lock (so
 * index.json cannot change under it, and a temp file of an index.json
 * update in the layout root is a leftover) and the writers pin exclusively (so no
 * handle that may hold committed-but-untagged blobs or open temp files is
 * alive).  Temp files are additionally removed only when older than an hour
 * and not flock'ed by a writer (each writer holds LOCK_SH on its temp file),
 * which keeps gc safe even against a writer that predates the pin.
 *
 * Waiting for writers polls: the layout lock is taken and the pin tried
 * without blocking, and both are let go between tries, since a writer
 * holding the pin may need the layout lock to tag what it wrote before it
 * ends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/json.h>
#include <ociimg/layout.h>

#include "store_private.h"

/* Polling while waiting for writers: quick at first (a tag takes
 * milliseconds), then no busier than this. */
#define GC_POLL_MIN_MS 10
#define GC_POLL_MAX_MS 200

struct gc_ctx {
    struct oimg_gc_report *rep;
    bool dry_run;
};

static bool parent_kind(enum store_ref_kind k)
{
    return k == STORE_REF_ROOT || k == STORE_REF_CHILD || k == STORE_REF_SUBJECT;
}

static int mark(void *ud, const struct store_ref *ref, bool first, struct oci_error **err)
{
    /* Being in the walker's seen set is the mark. */
    return parent_kind(ref->kind);
}

static int document(void *ud, const struct store_ref *ref, const char *buf, size_t len,
                    json_object *doc, struct oci_error **err)
{
    const char *mt = ref->media_type;
    if (!doc && mt && (oimg_media_type_is_manifest(mt) || oimg_media_type_is_index(mt)))
        return oci_error_set(err, OCI_ERR_INVALID,
                             "%s (referenced from %s) is not valid JSON, so what it references "
                             "is unknown; run verify",
                             ref->digest.str, ref->from);
    return 0;
}

static int unreadable(void *ud, const struct store_ref *ref, const char *why,
                      struct oci_error **err)
{
    return oci_error_set(err, OCI_ERR_INVALID,
                         "%s (referenced from %s), so what it references is unknown; run verify",
                         why, ref->from);
}

static int report_add(struct gc_ctx *c, const char *item, uint64_t bytes, struct oci_error **err)
{
    if (store_strv_push(&c->rep->removed, &c->rep->n_removed, strdup(item)) < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->rep->bytes_freed += bytes;
    return 0;
}

static DIR *open_dir_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d)
        close(fd);
    return d;
}

static int sweep_alg(struct gc_ctx *c, int blobsfd, const char *alg,
                     const struct store_dmap *marked, struct oci_error **err)
{
    DIR *d = open_dir_at(blobsfd, alg);
    if (!d)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs/%s", alg);
    int afd = dirfd(d), r = 0;
    bool removed = false;
    size_t seen = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (++seen > STORE_DIR_MAX_ENTRIES) {
            r = oci_error_set(err, OCI_ERR_TOO_LARGE, "blobs/%s: too many entries", alg);
            break;
        }
        struct oimg_digest dg;
        /* Only well-named regular files are ours to judge; verify reports
         * anything else. */
        if (!store_digest_from_name(&dg, alg, de->d_name) || store_dmap_get(marked, dg.str))
            continue;
        struct stat st;
        if (fstatat(afd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (!c->dry_run) {
            if (unlinkat(afd, de->d_name, 0) < 0) {
                if (errno == ENOENT)
                    continue;
                r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove blobs/%s/%s", alg, de->d_name);
                break;
            }
            removed = true;
        }
        if ((r = report_add(c, dg.str, (uint64_t)st.st_size, err)) < 0)
            break;
    }
    if (removed && fsync(afd) < 0 && r >= 0)
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "fsync blobs/%s", alg);
    closedir(d);
    return r;
}

static int sweep_blobs(struct gc_ctx *c, const struct oimg_layout *l,
                       const struct store_dmap *marked, struct oci_error **err)
{
    _cleanup_close_ int bfd =
        openat(l->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0)
        return errno == ENOENT ? 0 : oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs");
    static const char *const algs[] = {"sha256", "sha512"};
    for (size_t i = 0; i < OCI_ARRAY_SIZE(algs); i++) {
        struct stat st;
        if (fstatat(bfd, algs[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        int r = sweep_alg(c, bfd, algs[i], marked, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* A temp file is stale when old and no live writer holds its flock. */
static bool tmp_is_stale(int tfd, const char *name, const struct stat *st, time_t now,
                         time_t max_age)
{
    if (!S_ISREG(st->st_mode) || now - st->st_mtime < max_age)
        return false;
    _cleanup_close_ int fd = openat(tfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    /* Held (and released with fd) until after the unlink. */
    return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/* Stale temp files in one directory: all of .ociimg/tmp, or in the layout
 * root those with the prefix of oimg_fs_write_atomic (index.json updates
 * killed half-way). */
static int sweep_tmp_in(struct gc_ctx *c, int parent, const char *name, const char *prefix,
                        const char *shown, time_t max_age, struct oci_error **err)
{
    DIR *d = open_dir_at(parent, name);
    if (!d)
        return errno == ENOENT ? 0 : oci_error_setsys(err, OCI_ERR_IO, errno, "open %s", shown);
    int tfd = dirfd(d), r = 0;
    time_t now = time(NULL);
    size_t seen = 0;
    struct dirent *de;
    while ((de = readdir(d)) && ++seen <= STORE_DIR_MAX_ENTRIES) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (prefix && strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        struct stat st;
        if (fstatat(tfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !tmp_is_stale(tfd, de->d_name, &st, now, max_age))
            continue;
        if (!c->dry_run && unlinkat(tfd, de->d_name, 0) < 0 && errno != ENOENT) {
            r = oci_error_setsys(err, OCI_ERR_IO, errno, "remove %s%s", shown, de->d_name);
            break;
        }
        char item[512];
        snprintf(item, sizeof(item), "%s%s", shown, de->d_name);
        if ((r = report_add(c, item, (uint64_t)st.st_size, err)) < 0)
            break;
    }
    closedir(d);
    return r;
}

static int sweep_tmp(struct gc_ctx *c, struct oimg_layout *l, struct oci_error **err)
{
    int r = sweep_tmp_in(c, l->statefd, STORE_TMP_NAME, NULL,
                         STORE_STATE_DIR "/" STORE_TMP_NAME "/", STORE_TMP_STALE_SECS, err);
    if (r >= 0)
        r = sweep_tmp_in(c, l->dirfd, ".", OIMG_FS_TMP_PREFIX, "", STORE_TMP_STALE_SECS, err);
    /* Partial downloads are worth more than temp files (a pull may be
     * rerun hours later to continue), so they are kept for a day. */
    if (r >= 0)
        r = sweep_tmp_in(c, l->statefd, STORE_PARTIAL_NAME, NULL,
                         STORE_STATE_DIR "/" STORE_PARTIAL_NAME "/", STORE_PARTIAL_STALE_SECS, err);
    return r;
}

void oimg_gc_report_clear(struct oimg_gc_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_removed; i++)
        free(r->removed[i]);
    free(r->removed);
    memset(r, 0, sizeof(*r));
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Takes the layout lock (*lockfd) and the writers pin exclusively (*pinfd),
 * trying for up to wait_ms while other handles write. */
static int lock_out_writers(int *lockfd, int *pinfd, struct oimg_layout *l, unsigned wait_ms,
                            struct oci_error **err)
{
    /* This handle's own pin would block us: what it committed and did not
     * tag is garbage by the caller's own choice. */
    store_unpin(l);
    _cleanup_close_ int pin = store_open_state_file(l, STORE_PIN_NAME, err);
    if (pin < 0)
        return pin;
    uint64_t deadline = now_ms() + wait_ms;
    unsigned delay_ms = GC_POLL_MIN_MS;
    for (;;) {
        _cleanup_close_ int lock = store_lock(l, err);
        if (lock < 0)
            return lock;
        int r;
        do
            r = flock(pin, LOCK_EX | LOCK_NB);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            *lockfd = TAKE_FD(lock);
            *pinfd = TAKE_FD(pin);
            return 0;
        }
        if (errno != EWOULDBLOCK)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "lock writers");
        uint64_t now = now_ms();
        if (now >= deadline) {
            if (wait_ms == 0)
                return oci_error_set(err, OCI_ERR_STATE,
                                     "another process is writing blobs into the layout; "
                                     "try again when it is done");
            return oci_error_set(err, OCI_ERR_STATE,
                                 "another process is writing blobs into the layout; "
                                 "still writing after %u.%03u s, try again when it is done",
                                 wait_ms / 1000, wait_ms % 1000);
        }
        uint64_t left = deadline - now;
        unsigned nap = left < delay_ms ? (unsigned)left : delay_ms;
        /* Writers may need the layout lock to finish: not held asleep. */
        close(TAKE_FD(lock));
        struct timespec ts = {nap / 1000, (long)(nap % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        if (delay_ms < GC_POLL_MAX_MS)
            delay_ms = delay_ms * 2 > GC_POLL_MAX_MS ? GC_POLL_MAX_MS : delay_ms * 2;
    }
}

static int gc_locked(struct gc_ctx *c, struct oimg_layout *l, struct oci_error **err)
{
    _cleanup_json_ json_object *root = NULL;
    int r = store_load_index_json(&root, l, err);
    if (r < 0)
        return store_wrap(r, err, "cannot mark");
    static const struct store_walk_ops ops = {
        .visit = mark,
        .document = document,
        .unreadable = unreadable,
        .follow_subjects = true,
    };
    struct store_walker w;
    store_walker_init(&w, l, &ops, c);
    r = store_walk_index_json(&w, root, err);
    if (r < 0)
        r = store_wrap(r, err, "cannot mark");
    if (r >= 0)
        r = sweep_blobs(c, l, &w.seen, err);
    store_walker_clear(&w);
    if (r >= 0)
        r = sweep_tmp(c, l, err);
    return r;
}

int oimg_layout_gc_wait(struct oimg_gc_report *report, struct oimg_layout *l, bool dry_run,
                        unsigned wait_ms, struct oci_error **err)
{
    int r = store_require_writable(l, "gc", err);
    if (r < 0)
        return r;
    struct oimg_gc_report rep = {0};
    struct gc_ctx c = {.rep = &rep, .dry_run = dry_run};
    _cleanup_close_ int lockfd = -1;
    _cleanup_close_ int pinfd = -1;
    r = lock_out_writers(&lockfd, &pinfd, l, wait_ms, err);
    if (r >= 0)
        r = gc_locked(&c, l, err);
    if (r < 0) {
        /* What was removed is gone either way; the error says why we stopped. */
        oimg_gc_report_clear(&rep);
        return store_wrap(r, err, "gc `%s`", l->path);
    }
    *report = rep;
    return 0;
}

int oimg_layout_gc(struct oimg_gc_report *report, struct oimg_layout *l, bool dry_run,
                   struct oci_error **err)
{
    return oimg_layout_gc_wait(report, l, dry_run, 0, err);
}
