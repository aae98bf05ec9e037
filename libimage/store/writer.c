/* Writing blobs: stream into .ociimg/tmp while hashing, then verify, fsync
 * and rename into blobs/<alg>/ without ever replacing an existing blob. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ociimg/cleanup.h>
#include <ociimg/fs.h>
#include <ociimg/layout.h>

#include "store_private.h"

struct oimg_blob_writer {
    struct oimg_layout *l;
    int fd;
    char *tmpname; /* in .ociimg/tmp, or in .ociimg/partial when resumable */
    int dirfd;     /* the directory tmpname is in (borrowed, or partfd) */
    int partfd;    /* .ociimg/partial, owned; -1 unless resumable */
    bool resumable;
    struct oimg_hasher *h;
    enum oimg_digest_alg alg;
    struct oimg_digest expected;
    bool has_expected;
    int64_t expected_size;
    uint64_t size;      /* bytes written (hashed), buffered ones included */
    unsigned char *buf; /* small writes are gathered here (WRITE_BUFFER) */
    size_t buf_len;
    uint64_t on_disk, synced; /* bytes in the file; handed to writeback */
    bool direct;              /* O_DIRECT: buf is one of dbuf; on_disk stays aligned */
    bool durable;             /* synced, nothing written since */
    /* Direct mode: the caller fills one buffer while a thread writes the
     * other (a direct write waits for the device; hashing need not). */
    unsigned char *dbuf[2];
    pthread_t th;
    bool th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const unsigned char *job; /* the buffer the thread has (busy) or had */
    bool busy, stop;
    int th_err; /* 0; -errno; or 1: it wrote only th_done bytes of job */
    size_t th_done;
    bool failed;   /* a write failed: only free() is left */
    bool finished; /* committed or discarded */
};

/* Small writes (a network transfer hands over 16 KiB at a time) are
 * gathered into one write(2); every WRITEBACK_STEP bytes the kernel is told
 * to start writing them out, so the fsync at commit finds little left to
 * do instead of the whole blob. */
#define WRITE_BUFFER (256u * 1024)
#define WRITEBACK_STEP (8u * 1024 * 1024)
/* Direct mode writes whole buffers of this size, at offsets it keeps
 * aligned, and only the tail through the page cache. */
#define DIRECT_BUFFER (512u * 1024)

static int write_out(struct oimg_blob_writer *w, const void *buf, size_t len)
{
    w->durable = false;
    int r = oimg_fs_write_all(w->fd, buf, len);
    if (r < 0)
        return r;
    w->on_disk += len;
    if (!w->direct && w->on_disk - w->synced >= WRITEBACK_STEP) {
        /* Advisory: a failure only means the fsync does all the work. */
        (void)sync_file_range(w->fd, (off_t)w->synced, (off_t)(w->on_disk - w->synced),
                              SYNC_FILE_RANGE_WRITE);
        w->synced = w->on_disk;
    }
    return 0;
}

/* Back to the page cache: for a tail shorter than the alignment, or when a
 * write is refused.  Page-aligned direct writes never left a cached page
 * that straddles the end of the file, so buffered writes continue cleanly. */
static int leave_direct(struct oimg_blob_writer *w)
{
    int r = oimg_fs_set_direct(w->fd, false);
    if (r < 0)
        return r;
    w->direct = false;
    return 0;
}

static void *direct_main(void *ud)
{
    struct oimg_blob_writer *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        const unsigned char *b = w->job;
        pthread_mutex_unlock(&w->mu);
        ssize_t n;
        do
            n = write(w->fd, b, DIRECT_BUFFER);
        while (n < 0 && errno == EINTR);
        int e = errno;
        pthread_mutex_lock(&w->mu);
        if (n > 0)
            w->on_disk += (uint64_t)n;
        if (n < 0 && e != EINVAL)
            w->th_err = -e;
        else if ((size_t)(n > 0 ? n : 0) < DIRECT_BUFFER) {
            /* EINVAL or short: the caller goes on through the cache. */
            w->th_err = 1;
            w->th_done = n > 0 ? (size_t)n : 0;
        }
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until the thread's buffer is written.  Where it stopped short,
 * the rest of that buffer goes through the cache and direct mode ends. */
static int direct_wait(struct oimg_blob_writer *w)
{
    if (!w->th_started)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int e = w->th_err;
    size_t done = w->th_done;
    w->th_err = 0;
    pthread_mutex_unlock(&w->mu);
    if (e < 0)
        return e;
    if (e == 1) {
        int r = leave_direct(w);
        return r < 0 ? r : write_out(w, w->job + done, DIRECT_BUFFER - done);
    }
    return 0;
}

static void direct_stop(struct oimg_blob_writer *w)
{
    if (!w->th_started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    w->th_started = false;
}

/* A full buffer (DIRECT_BUFFER bytes) goes to the thread, and the caller
 * fills the other one meanwhile. */
static int direct_handoff(struct oimg_blob_writer *w)
{
    int r = direct_wait(w);
    if (r < 0)
        return r;
    if (!w->direct) { /* the last buffer fell back to the cache: so does this one */
        r = write_out(w, w->buf, w->buf_len);
        w->buf_len = 0;
        return r;
    }
    if (!w->th_started) {
        /* Signals stay with the caller's threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        w->th_started = pthread_create(&w->th, NULL, direct_main, w) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!w->th_started)
            return 1; /* no thread: the caller writes it itself */
    }
    pthread_mutex_lock(&w->mu);
    w->job = w->buf;
    w->busy = true;
    w->durable = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    w->buf = w->buf == w->dbuf[0] ? w->dbuf[1] : w->dbuf[0];
    w->buf_len = 0;
    return 0;
}

static int flush_buffer(struct oimg_blob_writer *w, struct oci_error **err)
{
    int r = w->direct ? direct_wait(w) : 0;
    if (r < 0) {
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, -r, "write blob into `%s`", w->l->path);
    }
    if (w->buf_len == 0)
        return 0;
    size_t done = 0;
    if (w->direct) {
        /* One write(2), so that whatever it did not take (a short write,
         * or EINVAL from a filesystem that took the flag but not the
         * write) goes on through the cache from exactly where it stopped. */
        size_t want = w->buf_len & ~(oimg_fs_direct_align() - 1);
        ssize_t n = 0;
        if (want > 0) {
            do
                n = write(w->fd, w->buf, want);
            while (n < 0 && errno == EINTR);
        }
        if (n > 0) {
            done = (size_t)n;
            w->on_disk += done;
            w->durable = false;
        }
        if (n < 0 && errno != EINVAL)
            r = -errno;
        else if (done < w->buf_len)
            r = leave_direct(w);
    }
    if (r >= 0 && done < w->buf_len)
        r = write_out(w, w->buf + done, w->buf_len - done);
    w->buf_len = 0;
    if (r < 0) {
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, -r, "write blob into `%s`", w->l->path);
    }
    return 0;
}

static void discard(struct oimg_blob_writer *w)
{
    if (w->tmpname && !w->finished)
        unlinkat(w->dirfd, w->tmpname, 0);
    w->finished = true;
}

void oimg_blob_writer_discard(struct oimg_blob_writer *w)
{
    if (w)
        discard(w);
}

void oimg_blob_writer_free(struct oimg_blob_writer *w)
{
    if (!w)
        return;
    /* A resumable writer keeps its partial file for the next attempt, unless
     * a write failed (the file may then hold bytes the hash has not seen). */
    if (!w->resumable || w->failed)
        discard(w);
    else if (!w->finished)
        flush_buffer(w, NULL); /* keep every byte for the next attempt */
    direct_stop(w);
    if (w->fd >= 0)
        close(w->fd); /* also drops the temp file's flock */
    if (w->partfd >= 0)
        close(w->partfd);
    oimg_hasher_free(w->h);
    free(w->tmpname);
    if (w->dbuf[0]) { /* buf is one of them */
        free(w->dbuf[0]);
        free(w->dbuf[1]);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    } else {
        free(w->buf);
    }
    free(w);
}

uint64_t oimg_blob_writer_size(const struct oimg_blob_writer *w)
{
    return w->size;
}

int oimg_layout_blob_begin(struct oimg_blob_writer **out, struct oimg_layout *l,
                           const struct oimg_digest *expected, int64_t expected_size,
                           struct oci_error **err)
{
    int r = store_require_writable(l, "write blob", err);
    if (r < 0)
        return r;
    struct oimg_blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    w->l = l;
    w->fd = -1;
    w->partfd = -1;
    w->expected_size = expected_size < 0 ? -1 : expected_size;
    w->alg = OIMG_DIGEST_SHA256;
    if (expected) {
        if ((r = oimg_digest_parse(&w->expected, expected->str, err)) < 0)
            goto fail;
        w->has_expected = true;
        w->alg = w->expected.alg;
    }
    /* Pin before the temp file exists: gc never sees it unlocked. */
    if ((r = store_pin(l, err)) < 0)
        goto fail;
    int tfd = store_tmp_dir(l, err);
    if (tfd < 0) {
        r = tfd;
        goto fail;
    }
    w->dirfd = tfd;
    if ((r = w->fd = oimg_fs_mktemp(&w->tmpname, tfd, "blob-", err)) < 0)
        goto fail;
    if (flock(w->fd, LOCK_SH) < 0) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "lock temp file");
        goto fail;
    }
    if ((r = oimg_hasher_new(&w->h, w->alg, err)) < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    oimg_blob_writer_free(w);
    return store_wrap(r, err, "write blob into `%s`", l->path);
}

/* .ociimg/partial, created if needed. */
static int open_partial_dir(struct oimg_layout *l, struct oci_error **err)
{
    int sfd = store_state_dir(l, err);
    if (sfd < 0)
        return sfd;
    if (mkdirat(sfd, STORE_PARTIAL_NAME, 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno,
                                "create " STORE_STATE_DIR "/" STORE_PARTIAL_NAME);
    int fd = openat(sfd, STORE_PARTIAL_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno,
                                "open " STORE_STATE_DIR "/" STORE_PARTIAL_NAME);
    return fd;
}

/* Opens and exclusively locks the partial file; loops (bounded) when the
 * name was renamed away (committed) between our open and our lock. */
static int open_partial(struct oimg_blob_writer *w, struct stat *st, struct oci_error **err)
{
    for (int tries = 0; tries < 8; tries++) {
        _cleanup_close_ int fd =
            openat(w->partfd, w->tmpname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "open partial download `%s`",
                                    w->tmpname);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno == EWOULDBLOCK)
                return oci_error_set(err, OCI_ERR_STATE,
                                     "blob %s is being downloaded by another process",
                                     w->expected.str);
            return oci_error_setsys(err, OCI_ERR_IO, errno, "lock partial download");
        }
        struct stat cur;
        if (fstat(fd, st) < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "stat partial download");
        if (!S_ISREG(st->st_mode))
            return oci_error_set(err, OCI_ERR_INVALID, "partial download `%s` is not a file",
                                 w->tmpname);
        if (fstatat(w->partfd, w->tmpname, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
            cur.st_ino == st->st_ino && cur.st_dev == st->st_dev)
            return TAKE_FD(fd);
    }
    return oci_error_set(err, OCI_ERR_STATE, "partial download `%s` keeps changing", w->tmpname);
}

static int reset_hasher(struct oimg_blob_writer *w, struct oci_error **err)
{
    oimg_hasher_free(w->h);
    w->h = NULL;
    return oimg_hasher_new(&w->h, w->alg, err);
}

int oimg_blob_writer_restart(struct oimg_blob_writer *w, struct oci_error **err)
{
    if (w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "restart blob: writer already finished");
    /* Nothing may land after the truncate: the thread finishes first. */
    int r = w->direct ? direct_wait(w) : 0;
    w->buf_len = 0;
    w->on_disk = w->synced = 0;
    w->durable = false;
    if (r < 0 || ftruncate(w->fd, 0) < 0 || lseek(w->fd, 0, SEEK_SET) < 0) {
        if (r < 0)
            errno = -r;
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, errno, "truncate download of %s",
                                w->has_expected ? w->expected.str : "blob");
    }
    w->size = 0;
    w->failed = false;
    return reset_hasher(w, err);
}

/* Feeds the bytes already in the partial file to the hasher.  They are
 * trusted only as far as the final digest check goes: a partial that does
 * not hash right is thrown away by commit. */
static int rehash_partial(struct oimg_blob_writer *w, uint64_t have, struct oci_error **err)
{
    if (w->expected_size >= 0 && have > (uint64_t)w->expected_size)
        return oimg_blob_writer_restart(w, err);
    _cleanup_free_ unsigned char *buf = malloc(1 << 20);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    uint64_t off = 0;
    while (off < have) {
        size_t want = have - off < (1 << 20) ? (size_t)(have - off) : (1 << 20);
        ssize_t n = pread(w->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return oci_error_setsys(err, OCI_ERR_IO, errno, "read partial download");
        if (n == 0)
            break; /* shrank under us: keep what we read */
        oimg_hasher_update(w->h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    w->size = w->on_disk = w->synced = off;
    if (ftruncate(w->fd, (off_t)off) < 0 || lseek(w->fd, (off_t)off, SEEK_SET) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "seek partial download");
    return 0;
}

int oimg_layout_blob_begin_resume(struct oimg_blob_writer **out, struct oimg_layout *l,
                                  const struct oimg_digest *expected, int64_t expected_size,
                                  uint64_t *offset_out, struct oci_error **err)
{
    int r = store_require_writable(l, "write blob", err);
    if (r < 0)
        return r;
    if (!expected)
        return oci_error_set(err, OCI_ERR_INVALID, "resumable blob write: no digest");
    struct oimg_blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    w->l = l;
    w->fd = w->partfd = w->dirfd = -1;
    w->resumable = true;
    w->expected_size = expected_size < 0 ? -1 : expected_size;
    if ((r = oimg_digest_parse(&w->expected, expected->str, err)) < 0)
        goto fail;
    w->has_expected = true;
    w->alg = w->expected.alg;
    /* Validated digest: "<alg>-<hex>" is a safe file name. */
    if (asprintf(&w->tmpname, "%s-%s", oimg_digest_alg_name(w->alg),
                 oimg_digest_encoded(&w->expected)) < 0) {
        w->tmpname = NULL;
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((r = store_pin(l, err)) < 0)
        goto fail;
    if ((r = w->partfd = open_partial_dir(l, err)) < 0)
        goto fail;
    w->dirfd = w->partfd;
    struct stat st;
    if ((r = w->fd = open_partial(w, &st, err)) < 0)
        goto fail;
    if ((r = oimg_hasher_new(&w->h, w->alg, err)) < 0)
        goto fail;
    if ((r = rehash_partial(w, (uint64_t)st.st_size, err)) < 0) {
        w->failed = true;
        goto fail;
    }
    *offset_out = w->size;
    *out = w;
    return 0;
fail:
    oimg_blob_writer_free(w);
    return store_wrap(r, err, "resume blob %s in `%s`", expected->str, l->path);
}

int oimg_blob_writer_replay(struct oimg_blob_writer *w,
                            int (*fn)(void *ud, const void *buf, size_t len), void *ud,
                            struct oci_error **err)
{
    int r = flush_buffer(w, err);
    if (r < 0)
        return r;
    /* Whole aligned blocks into an aligned buffer: the file may be open
     * with O_DIRECT. */
    _cleanup_free_ unsigned char *buf = oimg_fs_direct_alloc(DIRECT_BUFFER);
    if (!buf)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    uint64_t off = 0;
    while (off < w->size) {
        ssize_t n = pread(w->fd, buf, DIRECT_BUFFER, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return oci_error_setsys(err, OCI_ERR_IO, n < 0 ? errno : EIO,
                                    "read back partial download");
        if ((uint64_t)n > w->size - off)
            n = (ssize_t)(w->size - off);
        r = fn(ud, buf, (size_t)n);
        if (r < 0)
            return r;
        off += (uint64_t)n;
    }
    return 0;
}

/* The checks and the hashing every accepted byte goes through. */
static int accept_bytes(struct oimg_blob_writer *w, const void *buf, size_t len,
                        struct oci_error **err)
{
    if (w->failed || w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "write blob: writer already %s",
                             w->finished ? "finished" : "failed");
    if (w->expected_size >= 0 && w->size + len > (uint64_t)w->expected_size) {
        w->failed = true;
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "write blob %s: more than the expected %lld bytes",
                             w->has_expected ? w->expected.str : "", (long long)w->expected_size);
    }
    oimg_hasher_update(w->h, buf, len);
    w->size += len;
    return 0;
}

/* The direct buffer is full: to the thread (or written here without one). */
static int hand_off_full(struct oimg_blob_writer *w, struct oci_error **err)
{
    int r = direct_handoff(w);
    if (r < 0) {
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, -r, "write blob into `%s`", w->l->path);
    }
    return r > 0 ? flush_buffer(w, err) : 0;
}

size_t oimg_blob_writer_block_size(void)
{
    return DIRECT_BUFFER;
}

int oimg_blob_writer_write_block(struct oimg_blob_writer *w, unsigned char **buf, size_t len,
                                 struct oci_error **err)
{
    unsigned char *b = *buf;
    if (!w->direct || w->buf_len != 0 || len != DIRECT_BUFFER ||
        (uintptr_t)b % oimg_fs_direct_align() != 0)
        return oimg_blob_writer_write(w, b, len, err);
    int r = accept_bytes(w, b, len, err);
    if (r < 0)
        return r;
    /* The caller's block takes the place of the empty buffer, which the
     * caller gets instead: the bytes go to the disk without a copy. */
    unsigned char *empty = w->buf;
    w->dbuf[w->dbuf[0] == empty ? 0 : 1] = b;
    w->buf = b;
    w->buf_len = DIRECT_BUFFER;
    *buf = empty;
    return hand_off_full(w, err);
}

int oimg_blob_writer_write(struct oimg_blob_writer *w, const void *buf, size_t len,
                           struct oci_error **err)
{
    int r = accept_bytes(w, buf, len, err);
    if (r < 0)
        return r;
    while (w->direct && len > 0) {
        size_t n = DIRECT_BUFFER - w->buf_len < len ? DIRECT_BUFFER - w->buf_len : len;
        memcpy(w->buf + w->buf_len, buf, n);
        w->buf_len += n;
        buf = (const char *)buf + n;
        len -= n;
        if (w->buf_len == DIRECT_BUFFER && (r = hand_off_full(w, err)) < 0)
            return r;
    }
    if (len == 0)
        return 0;
    if (len < WRITE_BUFFER) {
        if (!w->buf && !(w->buf = malloc(WRITE_BUFFER))) {
            w->failed = true;
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        if (w->buf_len + len > WRITE_BUFFER && (r = flush_buffer(w, err)) < 0)
            return r;
        memcpy(w->buf + w->buf_len, buf, len);
        w->buf_len += len;
        return 0;
    }
    if ((r = flush_buffer(w, err)) < 0)
        return r;
    r = write_out(w, buf, len);
    if (r < 0) {
        w->failed = true;
        return oci_error_setsys(err, OCI_ERR_IO, -r, "write blob into `%s`", w->l->path);
    }
    return 0;
}

int oimg_blob_writer_set_direct(struct oimg_blob_writer *w)
{
    if (w->failed || w->finished)
        return -OCI_ERR_STATE;
    if (w->direct)
        return 1;
    /* Direct writes need aligned offsets: a resumed file that ends
     * mid-block stays in the page cache. */
    if (w->buf_len != 0 || w->on_disk % oimg_fs_direct_align() != 0)
        return 0;
    if (w->dbuf[0])
        return 0; /* it was on once and fell back: it stays off */
    void *b[2] = {oimg_fs_direct_alloc(DIRECT_BUFFER), oimg_fs_direct_alloc(DIRECT_BUFFER)};
    if (!b[0] || !b[1]) {
        free(b[0]);
        free(b[1]);
        return 0;
    }
    if (oimg_fs_set_direct(w->fd, true) < 0) {
        free(b[0]); /* e.g. a filesystem without direct I/O */
        free(b[1]);
        return 0;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    free(w->buf);
    w->dbuf[0] = w->buf = b[0];
    w->dbuf[1] = b[1];
    w->direct = true;
    return 1;
}

/* blobs/<alg>, created if needed; the new directory entry is made durable. */
static int open_alg_dir(struct oimg_layout *l, const char *alg, struct oci_error **err)
{
    if (mkdirat(l->dirfd, "blobs", 0755) < 0 && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create blobs");
    _cleanup_close_ int bfd =
        openat(l->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (bfd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs");
    bool created = mkdirat(bfd, alg, 0755) == 0;
    if (!created && errno != EEXIST)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create blobs/%s", alg);
    int afd = openat(bfd, alg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (afd < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "open blobs/%s", alg);
    if (created && fsync(bfd) < 0) {
        int e = errno;
        close(afd);
        return oci_error_setsys(err, OCI_ERR_IO, e, "fsync blobs");
    }
    return afd;
}

int oimg_blob_writer_commit(struct oimg_blob_writer *w, struct oimg_digest *out,
                            struct oci_error **err)
{
    if (w->failed || w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "commit blob: writer already %s",
                             w->finished ? "finished" : "failed");
    struct oimg_digest actual;
    oimg_hasher_final(w->h, &actual);
    bool bad_digest = w->has_expected && !oimg_digest_equal(&actual, &w->expected);
    bool bad_size = w->expected_size >= 0 && w->size != (uint64_t)w->expected_size;
    if (bad_digest || bad_size) {
        discard(w);
        char want_size[32] = "any size";
        if (w->expected_size >= 0)
            snprintf(want_size, sizeof(want_size), "%lld bytes", (long long)w->expected_size);
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                             "commit blob: expected %s (%s), got %s (%llu bytes)",
                             w->has_expected ? w->expected.str : "any digest", want_size,
                             actual.str, (unsigned long long)w->size);
    }
    int r = flush_buffer(w, err);
    if (r < 0) {
        discard(w);
        return r;
    }
    if (!w->durable && (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0)) {
        r = oci_error_setsys(err, OCI_ERR_IO, errno, "commit blob %s", actual.str);
        discard(w);
        return r;
    }
    _cleanup_close_ int afd = open_alg_dir(w->l, oimg_digest_alg_name(actual.alg), err);
    if (afd < 0) {
        discard(w);
        return store_wrap(afd, err, "commit blob %s", actual.str);
    }
    /* An existing blob stays as it is (store_publish then drops ours). */
    r = store_publish(w->dirfd, w->tmpname, afd, oimg_digest_encoded(&actual), err);
    if (r < 0) {
        discard(w);
        return store_wrap(r, err, "commit blob %s", actual.str);
    }
    w->finished = true;
    if ((r = oimg_fs_fsync_dir(afd, err)) < 0)
        return store_wrap(r, err, "commit blob %s", actual.str);
    if (out)
        *out = actual;
    return 0;
}

int oimg_blob_writer_sync(struct oimg_blob_writer *w, struct oci_error **err)
{
    if (w->failed || w->finished)
        return oci_error_set(err, OCI_ERR_STATE, "sync blob: writer already %s",
                             w->finished ? "finished" : "failed");
    int r = flush_buffer(w, err);
    if (r < 0)
        return r;
    /* The mode a committed blob has, made durable with the bytes. */
    if (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "sync blob into `%s`", w->l->path);
    w->durable = true;
    return 0;
}

int oimg_layout_blob_put(struct oimg_digest *out, struct oimg_layout *l, const void *buf,
                         size_t len, struct oci_error **err)
{
    struct oimg_digest d;
    int r = oimg_digest_buffer(&d, OIMG_DIGEST_SHA256, buf, len, err);
    if (r < 0)
        return r;
    r = store_require_writable(l, "write blob", err);
    if (r < 0)
        return r;
    /* Nothing to write when it is already there; pin anyway so that the
     * caller may reference it before a gc can sweep it. */
    if ((r = store_pin(l, err)) < 0)
        return r;
    r = oimg_layout_blob_stat(l, &d, NULL, err);
    if (r < 0)
        return r;
    if (r == 0) {
        struct oimg_blob_writer *w = NULL;
        if ((r = oimg_layout_blob_begin(&w, l, &d, (int64_t)len, err)) < 0)
            return r;
        r = oimg_blob_writer_write(w, buf, len, err);
        if (r >= 0)
            r = oimg_blob_writer_commit(w, NULL, err);
        oimg_blob_writer_free(w);
        if (r < 0)
            return r;
    }
    if (out)
        *out = d;
    return 0;
}
