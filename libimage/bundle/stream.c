/* The streamed unpack (`pull --unpack`): an image's layers applied while
 * their blobs download.
 *
 * The downloader pushes bytes (begin/data/end per blob, blobs interleaved,
 * from its own thread); one apply thread pulls them layer after layer.  The
 * downloader never waits for us: bytes of any blob go into that blob's spool
 * (64 KiB chunks in memory while the shared budget lasts), and the apply
 * thread reads the spool of the layer whose turn it is, waiting when it has
 * caught up.  Past the budget a blob's bytes are not copied again: with a
 * layout they are read back from the file the downloader writes them into
 * (its partial file, which becomes the blob at commit); without one they go
 * to an unnamed file in the bundle's temp dir.  A blob that
 * completes before its turn is read from the layout instead (its spool is
 * dropped), as is any blob the downloader never sent (already present, a
 * repeated layer, or a race with another pull): those are read once the
 * source says it is done.  Memory stays at the budget plus the applier's.
 *
 * The applier checks every layer's size and diff_id, exactly as `unpack`
 * does, and its blob digest too unless the downloader verifies the same
 * bytes on their way into the layout (layer_source); the bundle is built in
 * a temp dir beside the destination and renamed into place only when
 * complete, and only once every layer's blob is verified. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ociimg/bundle.h>
#include <ociimg/cleanup.h>

#include "bundle_private.h"

#define CHUNK (64 * 1024)
/* Shared by every blob's spool.  With a layout it only has to carry the
 * applier until the downloader's bytes reach the partial file, and more
 * only added to the peak RSS (4 MiB measured no faster); without one, a
 * spool past it goes to an unnamed file. */
#define MEM_BUDGET (1u * 1024 * 1024)
#define LAYERS_MAX 4096

struct chunk {
    struct chunk *next;
    size_t len, off; /* bytes in data, bytes already read */
    char data[];
};

/* B_DONE: end(0), so the downloader verified the blob into the layout. */
enum blob_state { B_WAIT, B_DONE, B_FAILED };

/* One distinct blob (the config, or a layer digest). */
struct blob {
    const struct oimg_descriptor *d;
    enum blob_state state;
    bool is_config;
    bool use_layout;  /* read it from the layout, ignore what is pushed */
    bool started;     /* the apply thread has read from the spool */
    bool tried;       /* the config: its bytes were all there once, but wrong */
    bool via_partial; /* past the budget: bytes from w on are in the layout's partial file */
    bool unhashed;    /* applied from the download's bytes, trusting its digest check */
    bool present;     /* in the layout before the stream began */
    uint64_t w;       /* bytes accepted into the spool, in blob order */
    uint64_t skip;    /* after a restart of a started blob: replayed bytes to drop */
    uint64_t seen;    /* bytes pushed in the current attempt */
    struct chunk *head, *tail;
    size_t mem; /* bytes of chunks held */
    int fd;     /* the spill file, -1 until used */
    uint64_t file_w, file_r;
    uint64_t r; /* bytes the apply thread took */
    struct oci_error *err;
    int code;
};

struct oimg_unpack_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct oimg_unpack_opts opts;
    const struct oimg_layout *l;
    struct bundle_dest bd;
    int rootfd;

    struct oimg_manifest *m;
    struct oimg_digest manifest_digest;
    struct blob *blobs; /* [0] is the config */
    size_t n_blobs;
    size_t *layer_blob; /* layer i -> blobs[] */
    bool *layer_dup;    /* a repeated digest: read from the layout */
    size_t mem_used;

    bool source_done, aborted;
    bool restarted; /* a blob started over after the applier read from it */
    pthread_t thread;
    bool thread_started, apply_done;
    int apply_code;
    struct oci_error *apply_err;
    struct oimg_unpack_result res;
    bool finished;
};

/* ---- spools (called with mu held) ---- */

static void spool_clear(struct oimg_unpack_stream *s, struct blob *b)
{
    while (b->head) {
        struct chunk *c = b->head;
        b->head = c->next;
        free(c);
    }
    b->tail = NULL;
    s->mem_used -= b->mem;
    b->mem = 0;
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
    b->file_w = b->file_r = 0;
    b->w = b->r = 0;
    b->tried = false;
    b->via_partial = false;
}

static int spill_file(struct oimg_unpack_stream *s, struct oci_error **err)
{
    int fd = openat(s->bd.tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
        return oci_error_setsys(err, OCI_ERR_IO, errno, "create a spool file");
    /* No O_TMPFILE here: a named file, unlinked at once. */
    for (int i = 0; i < 100; i++) {
        unsigned char rnd[6];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            break;
        char name[32];
        snprintf(name, sizeof(name), ".spool-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                 rnd[3], rnd[4], rnd[5]);
        fd = openat(s->bd.tmpfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            unlinkat(s->bd.tmpfd, name, 0);
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    return oci_error_setsys(err, OCI_ERR_IO, errno, "create a spool file");
}

static int spool_write(struct oimg_unpack_stream *s, struct blob *b, const char *buf, size_t len,
                       struct oci_error **err)
{
    /* Whatever the source: the spool never outgrows the descriptor, and
     * the config (always in memory) stays within its cap. */
    if (b->d->size < 0 || len > (uint64_t)b->d->size - b->w)
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH, "blob %s: more than its %lld bytes",
                             b->d->digest.str, (long long)b->d->size);
    if (b->via_partial) {
        b->w += len;
        return 0;
    }
    while (len > 0 && b->fd < 0) {
        if (b->tail && b->tail->len < CHUNK) {
            size_t n = CHUNK - b->tail->len;
            if (n > len)
                n = len;
            memcpy(b->tail->data + b->tail->len, buf, n);
            b->tail->len += n;
            b->w += n;
            buf += n;
            len -= n;
            continue;
        }
        /* The config stays in memory whatever the budget (it is capped). */
        if (!b->is_config && s->mem_used + CHUNK > MEM_BUDGET) {
            if (s->l) {
                /* The downloader is writing these bytes into the layout
                 * anyway: the apply thread reads them there. */
                b->via_partial = true;
                b->w += len;
                return 0;
            }
            int fd = spill_file(s, err);
            if (fd < 0)
                return fd;
            b->fd = fd;
            break;
        }
        struct chunk *c = malloc(sizeof(*c) + CHUNK);
        if (!c)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        c->next = NULL;
        c->len = c->off = 0;
        if (b->tail)
            b->tail->next = c;
        else
            b->head = c;
        b->tail = c;
        b->mem += CHUNK;
        s->mem_used += CHUNK;
    }
    while (len > 0) {
        ssize_t n = pwrite(b->fd, buf, len, (off_t)b->file_w);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return oci_error_setsys(err, OCI_ERR_IO, n < 0 ? errno : ENOSPC,
                                    "write the spool file");
        b->file_w += (uint64_t)n;
        b->w += (uint64_t)n;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void blob_fail(struct blob *b, int code, struct oci_error *e)
{
    if (b->state == B_FAILED) {
        oci_error_free(e);
        return;
    }
    b->state = B_FAILED;
    b->code = code < 0 ? code : -OCI_ERR_INTERNAL;
    b->err = e;
}

/* ---- the push side (the downloader's thread) ---- */

static struct blob *find_blob(struct oimg_unpack_stream *s, const struct oimg_descriptor *d)
{
    for (size_t i = 0; i < s->n_blobs; i++)
        if (oimg_digest_equal(&s->blobs[i].d->digest, &d->digest))
            return &s->blobs[i];
    return NULL;
}

/* Nothing to do with this blob's bytes: unknown to the image, read from
 * the layout, or no one will read them any more. */
static struct blob *live_blob(struct oimg_unpack_stream *s, const struct oimg_descriptor *d)
{
    if (s->apply_done || s->aborted)
        return NULL;
    struct blob *b = find_blob(s, d);
    if (!b || b->use_layout || b->state != B_WAIT)
        return NULL;
    return b;
}

int oimg_unpack_stream_blob_begin(void *ud, const struct oimg_descriptor *d, struct oci_error **err)
{
    struct oimg_unpack_stream *s = ud;
    if (!s->m)
        return oci_error_set(err, OCI_ERR_STATE, "streamed unpack: a blob before the manifest");
    pthread_mutex_lock(&s->mu);
    struct blob *any = find_blob(s, d);
    if (any && any->started)
        s->restarted = true;
    struct blob *b = live_blob(s, d);
    if (b) {
        b->seen = 0;
        if (b->started) {
            /* The applier already has a prefix: the replay's copy of it
             * is dropped, and the digest over everything it reads still
             * proves the whole is the blob. */
            b->skip = b->w;
        } else {
            spool_clear(s, b);
            b->skip = 0;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int oimg_unpack_stream_blob_data(void *ud, const struct oimg_descriptor *d, const void *buf,
                                 size_t len, struct oci_error **err)
{
    struct oimg_unpack_stream *s = ud;
    if (!s->m)
        return oci_error_set(err, OCI_ERR_STATE, "streamed unpack: a blob before the manifest");
    pthread_mutex_lock(&s->mu);
    struct blob *b = live_blob(s, d);
    if (b) {
        const char *p = buf;
        if (b->seen < b->skip) {
            uint64_t drop = b->skip - b->seen;
            if (drop > len)
                drop = len;
            b->seen += drop;
            p += drop;
            len -= (size_t)drop;
        }
        b->seen += len;
        struct oci_error *e = NULL;
        int r = len ? spool_write(s, b, p, len, &e) : 0;
        if (r < 0)
            blob_fail(b, r, e);
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int oimg_unpack_stream_blob_end(void *ud, const struct oimg_descriptor *d, int status,
                                struct oci_error **err)
{
    struct oimg_unpack_stream *s = ud;
    if (!s->m)
        return oci_error_set(err, OCI_ERR_STATE, "streamed unpack: a blob before the manifest");
    pthread_mutex_lock(&s->mu);
    struct blob *b = live_blob(s, d);
    if (!b) {
        /* Applied already, from the download's bytes: finish wants the
         * verdict all the same. */
        struct blob *any = find_blob(s, d);
        if (any && any->unhashed && any->state == B_WAIT)
            b = any;
    }
    if (b && status < 0) {
        struct oci_error *e = NULL;
        oci_error_set(&e, -status, "blob %s: the download failed", d->digest.str);
        blob_fail(b, status, e);
    } else if (b) {
        b->state = B_DONE;
        /* Verified and in the layout: read it from there when its turn
         * comes, and give the spool's memory to the others now. */
        if (!b->started && s->l && !b->is_config) {
            spool_clear(s, b);
            b->use_layout = true;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- the pull side (the apply thread) ---- */

/* A big blob that came through the downloader went to disk with O_DIRECT
 * (libregistry/blobs.c): it is read back the same way (directread.c).  One
 * that was in the layout before is read buffered: it may well be cached. */
#define DIRECT_MIN (4u * 1024 * 1024)

static void direct_start(struct dread *dr, int fd, const struct blob *b)
{
    if (!b->present && b->d->size >= (int64_t)DIRECT_MIN)
        (void)dread_start(dr, fd, (uint64_t)b->d->size);
}

struct layer_reader {
    struct oimg_unpack_stream *s;
    struct blob *b;
    bool dup, from_layout;
    int fd;       /* the layout's blob, when read from there */
    uint64_t off; /* where in it */
    int pfd;      /* via_partial: the download's file, or the committed blob */
    bool reopened;
    uint64_t dropped; /* via_partial: cached pages before this offset were let go */
    struct dread dr;
};

static bool has_bytes(const struct blob *b)
{
    return (b->head && (b->head->off < b->head->len || b->head->next)) || b->file_r < b->file_w;
}

static bool readable(struct oimg_unpack_stream *s, struct blob *b, bool dup)
{
    if (s->aborted || s->source_done || b->use_layout || b->state != B_WAIT)
        return true;
    return !dup && (has_bytes(b) || b->via_partial || (b->started && b->r >= (uint64_t)b->d->size));
}

/* Waits (mu held) until b can be read; 1 = from the layout, 0 = from the
 * spool (or its end). */
static int wait_blob(struct oimg_unpack_stream *s, struct blob *b, bool dup, struct oci_error **err)
{
    while (!readable(s, b, dup))
        pthread_cond_wait(&s->cv, &s->mu);
    if (s->aborted)
        return oci_error_set(err, OCI_ERR_STATE, "cancelled");
    if (b->state == B_FAILED)
        return oci_error_set(err, -b->code, "%s", b->err && b->err->msg ? b->err->msg : "failed");
    if (dup && !s->l)
        return oci_error_set(err, OCI_ERR_STATE, "no layout for a repeated layer");
    if (b->use_layout || (dup && b->state == B_DONE))
        return 1;
    if (s->source_done && b->state == B_WAIT && !b->started && s->l) {
        /* The source is done and never finished this blob here (it was
         * in the layout already, or another pull fetched it): the layout
         * has it. */
        spool_clear(s, b);
        b->use_layout = true;
        return 1;
    }
    return dup ? 1 : 0;
}

/* Copies spooled memory bytes out (mu held); 0 when none are there. */
static size_t take_mem(struct oimg_unpack_stream *s, struct blob *b, void *buf, size_t len)
{
    while (b->head) {
        struct chunk *c = b->head;
        if (c->off < c->len) {
            size_t n = c->len - c->off;
            if (n > len)
                n = len;
            memcpy(buf, c->data + c->off, n);
            c->off += n;
            return n;
        }
        /* A partial last chunk still receives bytes, unless the spool
         * went on in the file. */
        if (c == b->tail && c->len < CHUNK && b->fd < 0 && !b->via_partial)
            return 0;
        b->head = c->next;
        if (!b->head)
            b->tail = NULL;
        free(c);
        b->mem -= CHUNK;
        s->mem_used -= CHUNK;
    }
    return 0;
}

static ssize_t layout_read(struct layer_reader *lr, void *buf, size_t len, struct oci_error **err)
{
    if (lr->fd < 0) {
        lr->fd = oimg_layout_blob_open(lr->s->l, &lr->b->d->digest, err);
        if (lr->fd < 0)
            return lr->fd;
        direct_start(&lr->dr, lr->fd, lr->b);
    }
    ssize_t n = dread_pread(&lr->dr, lr->fd, buf, len, lr->off);
    if (n < 0)
        return oci_error_setsys(err, OCI_ERR_IO, (int)-n, "read layer blob");
    lr->off += (uint64_t)n;
    return n;
}

/* A blob past the memory budget, once its spooled memory is read: the rest
 * from the file the downloader writes into.  Its writer thread signals no
 * one when bytes land, so while the download is behind this polls, every
 * PARTIAL_POLL_MS.  After the commit the blob itself holds every byte; a
 * file that still comes up short (a discarded attempt's) is swapped for it
 * once, and the applier's digest and size checks judge what was read. */
#define PARTIAL_POLL_MS 2
#define DROP_STEP (2u * 1024 * 1024)

static ssize_t partial_read(struct layer_reader *lr, void *buf, size_t len, struct oci_error **err)
{
    struct oimg_unpack_stream *s = lr->s;
    struct blob *b = lr->b;
    const uint64_t size = (uint64_t)b->d->size;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->aborted || b->state == B_FAILED) {
            int r = s->aborted ? oci_error_set(err, OCI_ERR_STATE, "cancelled")
                               : oci_error_set(err, -b->code, "%s",
                                               b->err && b->err->msg ? b->err->msg : "failed");
            pthread_mutex_unlock(&s->mu);
            return r;
        }
        bool final = b->state == B_DONE || s->source_done;
        uint64_t off = b->r;
        pthread_mutex_unlock(&s->mu);
        if (off >= size)
            return 0;
        if (lr->pfd < 0) {
            struct oci_error *e = NULL;
            lr->pfd = final ? oimg_layout_blob_open(s->l, &b->d->digest, &e)
                            : oimg_layout_blob_open_partial(s->l, &b->d->digest, &e);
            if (lr->pfd < 0 && (final || lr->pfd != -OCI_ERR_NOT_FOUND)) {
                *err = e;
                return lr->pfd;
            }
            oci_error_free(e);
            if (lr->pfd >= 0)
                direct_start(&lr->dr, lr->pfd, b);
        }
        ssize_t n = 0;
        if (lr->pfd >= 0) {
            size_t want = len < size - off ? len : (size_t)(size - off);
            n = dread_pread(&lr->dr, lr->pfd, buf, want, off);
            if (n < 0)
                return oci_error_setsys(err, OCI_ERR_IO, (int)-n, "read layer blob");
        }
        /* Read buffered, what was read here is not read again: letting its
         * cached pages go (the downloader made them, so they are clean by
         * now or soon) lets the rootfs's new files reuse them, instead of
         * every byte of the download and of the rootfs taking a page of
         * its own. */
        if (n > 0 && lr->dr.fd < 0 && off + (uint64_t)n - lr->dropped >= DROP_STEP) {
            (void)posix_fadvise(lr->pfd, (off_t)lr->dropped,
                                (off_t)(off + (uint64_t)n - lr->dropped), POSIX_FADV_DONTNEED);
            lr->dropped = off + (uint64_t)n;
        }
        pthread_mutex_lock(&s->mu);
        if (n > 0) {
            b->r += (uint64_t)n;
            pthread_mutex_unlock(&s->mu);
            return n;
        }
        if (final) {
            if (lr->reopened) {
                pthread_mutex_unlock(&s->mu);
                return 0;
            }
            /* Not under mu: the read-ahead may still be on the disk. */
            pthread_mutex_unlock(&s->mu);
            dread_stop(&lr->dr);
            close(lr->pfd);
            pthread_mutex_lock(&s->mu);
            lr->pfd = -1;
            lr->reopened = true;
            continue;
        }
        if (b->state != B_WAIT || s->source_done || s->aborted)
            continue; /* it changed while we read: look again */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PARTIAL_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &until);
    }
}

/* Before a layer's first byte: where it comes from.  Bytes read from the
 * layout are hashed like `unpack` hashes them, unless this pull's
 * downloader verified them into it; bytes the downloader pushes (or writes
 * into its partial file) are the ones it hashes on their way into the
 * layout.  So with a layout the applier does not hash a downloaded blob a
 * second time (a tenth of a CPU-second per 150 MB, on the streamed path's
 * busiest stretch): the diff_id still decides the rootfs, and finish holds
 * the bundle back until the downloader has committed each such blob. */
static int layer_source(struct layer_reader *lr, bool *hash, struct oci_error **err)
{
    struct oimg_unpack_stream *s = lr->s;
    pthread_mutex_lock(&s->mu);
    int r = wait_blob(s, lr->b, lr->dup, err);
    if (r == 0)
        lr->b->started = true; /* from now on it stays with the spool */
    /* Decided for this read alone: an earlier layer with the same digest
     * may have trusted the download, this one may be reading a copy that
     * another pull put in the layout. */
    bool trusted = s->l && (r == 0 || (r == 1 && lr->b->state == B_DONE));
    if (trusted)
        lr->b->unhashed = true;
    *hash = !trusted;
    pthread_mutex_unlock(&s->mu);
    if (r < 0)
        return r;
    lr->from_layout = r == 1;
    return 0;
}

static ssize_t layer_read(void *ctx, void *buf, size_t len, struct oci_error **err)
{
    struct layer_reader *lr = ctx;
    struct oimg_unpack_stream *s = lr->s;
    struct blob *b = lr->b;
    if (lr->from_layout)
        return layout_read(lr, buf, len, err);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int r = wait_blob(s, b, lr->dup, err);
        if (r != 0) {
            pthread_mutex_unlock(&s->mu);
            if (r < 0)
                return r;
            lr->from_layout = true;
            return layout_read(lr, buf, len, err);
        }
        b->started = true;
        if (b->r >= (uint64_t)b->d->size && !has_bytes(b)) {
            /* All the bytes the descriptor declares: the digest over them
             * decides, no need to wait until the downloader has committed
             * the blob (an fsync away). */
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        size_t n = take_mem(s, b, buf, len);
        if (n > 0) {
            b->r += n;
            pthread_mutex_unlock(&s->mu);
            return (ssize_t)n;
        }
        if (b->via_partial) {
            pthread_mutex_unlock(&s->mu);
            return partial_read(lr, buf, len, err);
        }
        if (b->file_r < b->file_w) {
            uint64_t off = b->file_r;
            n = len;
            if (n > b->file_w - off)
                n = (size_t)(b->file_w - off);
            int fd = b->fd;
            pthread_mutex_unlock(&s->mu);
            /* The writer only appends past file_w, and only this thread
             * clears a started spool: the range is stable unlocked. */
            ssize_t got;
            do
                got = pread(fd, buf, n, (off_t)off);
            while (got < 0 && errno == EINTR);
            if (got <= 0)
                return oci_error_setsys(err, OCI_ERR_IO, got < 0 ? errno : EIO,
                                        "read the spool file");
            pthread_mutex_lock(&s->mu);
            b->file_r += (uint64_t)got;
            b->r += (uint64_t)got;
            pthread_mutex_unlock(&s->mu);
            return got;
        }
        if (b->state == B_DONE || s->source_done) {
            /* The end of what came; the size check judges it. */
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
    }
}

/* The config: streamed into memory, or from the layout. */
static int load_config(struct oimg_image_config **cfg, struct oimg_unpack_stream *s,
                       struct oci_error **err)
{
    struct blob *b = &s->blobs[0];
    const struct oimg_descriptor *d = b->d;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->aborted && !s->source_done && !b->use_layout && b->state == B_WAIT &&
               (b->tried || b->w != (uint64_t)d->size))
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->aborted || s->source_done || b->use_layout || b->state != B_WAIT)
            break;
        /* Every byte is there: no need to wait for the commit (an fsync)
         * when they hash right; if they do not, a restart will come. */
        b->tried = true;
        len = 0;
        buf = malloc(b->w ? b->w : 1);
        for (struct chunk *c = b->head; buf && c; c = c->next) {
            memcpy(buf + len, c->data, c->len);
            len += c->len;
        }
        pthread_mutex_unlock(&s->mu);
        struct oimg_digest got;
        if (buf && oimg_digest_buffer(&got, d->digest.alg, buf, len, NULL) == 0 &&
            (int64_t)len == d->size && oimg_digest_equal(&got, &d->digest))
            goto parse;
        free(buf);
        buf = NULL;
        pthread_mutex_lock(&s->mu);
    }
    if (s->aborted)
        r = oci_error_set(err, OCI_ERR_STATE, "cancelled");
    else if (b->state == B_FAILED)
        r = oci_error_set(err, -b->code, "%s", b->err && b->err->msg ? b->err->msg : "failed");
    else if (b->state == B_DONE && !b->use_layout) {
        if (b->w > OIMG_MAX_CONFIG_SIZE || b->fd >= 0) {
            r = oci_error_set(err, OCI_ERR_TOO_LARGE, "config %s is too large", d->digest.str);
        } else if (!(buf = malloc(b->w ? b->w : 1))) {
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        } else {
            for (struct chunk *c = b->head; c; c = c->next) {
                memcpy(buf + len, c->data, c->len);
                len += c->len;
            }
        }
        spool_clear(s, b);
    } else {
        b->use_layout = true;
        r = 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (r < 0)
        return r;
    if (r == 1) {
        if (!s->l)
            return oci_error_set(err, OCI_ERR_NOT_FOUND, "config %s never arrived", d->digest.str);
        r = oimg_layout_blob_read(&buf, &len, s->l, &d->digest, d->size, OIMG_MAX_CONFIG_SIZE, err);
        if (r < 0)
            return r;
    } else {
        struct oimg_digest got;
        if ((r = oimg_digest_buffer(&got, d->digest.alg, buf, len, err)) < 0)
            return r;
        if ((int64_t)len != d->size || !oimg_digest_equal(&got, &d->digest))
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "config has %zu bytes hashing to %s; its descriptor says %lld "
                                 "bytes, %s",
                                 len, got.str, (long long)d->size, d->digest.str);
    }
parse:
    r = oimg_config_parse(cfg, buf, len, err);
    return r < 0 ? oci_error_wrap(err, "config %s", d->digest.str) : 0;
}

static int apply_all(struct oimg_unpack_stream *s, struct oci_error **err)
{
    struct oimg_image_config *cfg = NULL;
    int r = load_config(&cfg, s, err);
    if (r >= 0)
        r = bundle_check_image(s->m, cfg, &s->manifest_digest, &s->opts, err);
    struct oimg_apply_opts ao;
    bundle_apply_opts(&ao, &s->opts);
    struct oimg_applier *a = NULL;
    if (r >= 0)
        r = oimg_applier_new(&a, s->rootfd, &ao, err);
    struct oimg_unpack_result sum = {.manifest = s->manifest_digest};
    for (size_t i = 0; r >= 0 && i < s->m->n_layers; i++) {
        struct blob *b = &s->blobs[s->layer_blob[i]];
        struct layer_reader lr = {.s = s, .b = b, .dup = s->layer_dup[i], .fd = -1, .pfd = -1};
        dread_init(&lr.dr);
        struct oimg_reader rd = {layer_read, &lr};
        struct oimg_apply_stats st;
        bool hash = true;
        r = layer_source(&lr, &hash, err);
        if (r >= 0)
            r = bundle_apply_blob(a, &s->m->layers[i], &rd, &cfg->rootfs.diff_ids[i], hash, &st,
                                  err);
        dread_free(&lr.dr);
        if (lr.fd >= 0)
            close(lr.fd);
        if (lr.pfd >= 0)
            close(lr.pfd);
        if (r < 0) {
            r = oci_error_wrap(err, "layer %zu (%s)", i, s->m->layers[i].digest.str);
            break;
        }
        if (!lr.dup) {
            /* Its spool is read: give the space back. */
            pthread_mutex_lock(&s->mu);
            spool_clear(s, b);
            b->use_layout = s->l != NULL;
            pthread_mutex_unlock(&s->mu);
        }
        sum.layers++;
        sum.compressed_bytes += st.compressed_bytes;
        sum.uncompressed_bytes += st.uncompressed_bytes;
        sum.entries += st.entries;
    }
    if (r >= 0)
        r = oimg_applier_finish(a, err);
    oimg_applier_free(a);
    if (r >= 0 && !s->opts.rootfs_only)
        r = bundle_dest_config(&s->bd, s->rootfd, cfg, &s->opts, err);
    oimg_config_free(cfg);
    if (r >= 0)
        s->res = sum;
    return r;
}

static void *apply_thread(void *arg)
{
    struct oimg_unpack_stream *s = arg;
    struct oci_error *e = NULL;
    int r = apply_all(s, &e);
    pthread_mutex_lock(&s->mu);
    s->apply_done = true;
    s->apply_code = r;
    s->apply_err = e;
    /* Nobody reads the spools any more. */
    for (size_t i = 0; i < s->n_blobs; i++)
        spool_clear(s, &s->blobs[i]);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the object ---- */

int oimg_unpack_stream_new(struct oimg_unpack_stream **out, const char *dest,
                           const struct oimg_layout *l, const struct oimg_unpack_opts *opts,
                           struct oci_error **err)
{
    struct oimg_unpack_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->rootfd = -1;
    s->l = l;
    if (opts)
        s->opts = *opts;
    else
        oimg_unpack_opts_init(&s->opts);
    int r = bundle_dest_open(&s->bd, dest, l, &s->opts, err);
    if (r >= 0)
        r = bundle_dest_rootfs(&s->rootfd, &s->bd, &s->opts, err);
    if (r < 0) {
        oimg_unpack_stream_free(s);
        return r;
    }
    *out = s;
    return 0;
}

static int add_blob(struct oimg_unpack_stream *s, const struct oimg_descriptor *d, bool cfg)
{
    struct blob *b = &s->blobs[s->n_blobs++];
    *b = (struct blob){.d = d, .is_config = cfg, .fd = -1};
    if (!s->l)
        return 0;
    /* Already in the layout: the downloader will not send it. */
    struct oci_error *e = NULL;
    int r = oimg_layout_blob_stat(s->l, &d->digest, NULL, &e);
    oci_error_free(e);
    if (r > 0)
        b->use_layout = b->present = true;
    return 0;
}

int oimg_unpack_stream_set_manifest(void *ud, const struct oimg_descriptor *desc, const void *data,
                                    size_t len, struct oci_error **err)
{
    struct oimg_unpack_stream *s = ud;
    if (s->m)
        return oci_error_set(err, OCI_ERR_STATE, "the manifest is already set");
    if (!oimg_media_type_is_manifest(desc->media_type))
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s is not an image manifest (%s)",
                             desc->digest.str, desc->media_type ? desc->media_type : "no type");
    struct oimg_digest got;
    int r = oimg_digest_buffer(&got, desc->digest.alg, data, len, err);
    if (r < 0)
        return r;
    if (!oimg_digest_equal(&got, &desc->digest) || (desc->size >= 0 && (size_t)desc->size != len))
        return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH, "manifest %s: the bytes hash to %s",
                             desc->digest.str, got.str);
    struct oimg_manifest *m = NULL;
    if (oimg_manifest_parse(&m, data, len, desc->media_type, err) < 0)
        return oci_error_wrap(err, "manifest %s", desc->digest.str);
    if (m->n_layers > LAYERS_MAX) {
        oimg_manifest_free(m);
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "more than %d layers", LAYERS_MAX);
    }
    if (!m->config.media_type || (strcmp(m->config.media_type, OIMG_MT_OCI_CONFIG) != 0 &&
                                  strcmp(m->config.media_type, OIMG_MT_DOCKER_CONFIG) != 0)) {
        r = oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s is not an image (no image config)",
                          desc->digest.str);
        oimg_manifest_free(m);
        return r;
    }
    if (m->config.size < 0 || m->config.size > (int64_t)OIMG_MAX_CONFIG_SIZE) {
        r = oci_error_set(err, OCI_ERR_TOO_LARGE, "config %s: %lld bytes (at most %u)",
                          m->config.digest.str, (long long)m->config.size,
                          (unsigned)OIMG_MAX_CONFIG_SIZE);
        oimg_manifest_free(m);
        return r;
    }
    size_t n = m->n_layers;
    for (size_t i = 0; i < n; i++) {
        if (oimg_digest_equal(&m->layers[i].digest, &m->config.digest)) {
            oimg_manifest_free(m);
            return oci_error_set(err, OCI_ERR_UNSUPPORTED, "a layer is also the config");
        }
    }
    s->blobs = calloc(n + 1, sizeof(*s->blobs));
    s->layer_blob = calloc(n ? n : 1, sizeof(*s->layer_blob));
    s->layer_dup = calloc(n ? n : 1, sizeof(*s->layer_dup));
    if (!s->blobs || !s->layer_blob || !s->layer_dup) {
        oimg_manifest_free(m);
        free(s->blobs);
        free(s->layer_blob);
        free(s->layer_dup);
        s->blobs = NULL;
        s->layer_blob = NULL;
        s->layer_dup = NULL;
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    s->manifest_digest = desc->digest;
    add_blob(s, &m->config, true);
    for (size_t i = 0; i < n; i++) {
        const struct oimg_descriptor *d = &m->layers[i];
        size_t k = 1;
        while (k < s->n_blobs && !oimg_digest_equal(&s->blobs[k].d->digest, &d->digest))
            k++;
        s->layer_dup[i] = k < s->n_blobs;
        if (k == s->n_blobs)
            add_blob(s, d, false);
        s->layer_blob[i] = k;
    }
    s->m = m;
    r = pthread_create(&s->thread, NULL, apply_thread, s);
    if (r != 0) {
        /* Nothing will be applied: the blob calls ignore everything and
         * finish fails. */
        s->apply_done = true;
        s->apply_code = oci_error_setsys(&s->apply_err, OCI_ERR_IO, r, "start the apply thread");
        return oci_error_setsys(err, OCI_ERR_IO, r, "start the apply thread");
    }
    s->thread_started = true;
    return 0;
}

static void stop_thread(struct oimg_unpack_stream *s, bool abort)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    if (abort)
        s->aborted = true;
    s->source_done = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

/* Once the source is done: every layer applied without the applier's own
 * digest was committed to the layout by its downloader, which verified it
 * (or, where another pull won the race, is there anyway). */
static int check_committed(struct oimg_unpack_stream *s, struct oci_error **err)
{
    for (size_t i = 1; i < s->n_blobs; i++) {
        struct blob *b = &s->blobs[i];
        if (!b->unhashed || b->state == B_DONE)
            continue;
        if (b->state == B_FAILED)
            return oci_error_set(err, -b->code, "%s",
                                 b->err && b->err->msg ? b->err->msg : "a layer download failed");
        struct oci_error *e = NULL;
        int r = oimg_layout_blob_stat(s->l, &b->d->digest, NULL, &e);
        oci_error_free(e);
        if (r <= 0)
            return oci_error_set(err, OCI_ERR_DIGEST_MISMATCH,
                                 "layer %s: its download never completed (nothing verified the "
                                 "bytes applied)",
                                 b->d->digest.str);
    }
    return 0;
}

int oimg_unpack_stream_finish(struct oimg_unpack_stream *s, struct oimg_unpack_result *res,
                              struct oci_error **err)
{
    if (!s->m || s->finished)
        return oci_error_set(err, OCI_ERR_STATE, "streamed unpack: %s",
                             s->finished ? "already finished" : "no manifest");
    s->finished = true;
    stop_thread(s, false);
    if (s->rootfd >= 0)
        close(s->rootfd);
    s->rootfd = -1;
    int r = s->apply_code;
    if (r < 0) {
        *err = TAKE_PTR(s->apply_err);
        if (!*err)
            oci_error_set(err, -r, "streamed unpack failed");
    }
    if (r >= 0) {
        pthread_mutex_lock(&s->mu);
        r = check_committed(s, err);
        pthread_mutex_unlock(&s->mu);
    }
    if (r >= 0)
        r = bundle_dest_commit(&s->bd, &s->opts, err);
    if (r < 0 && s->bd.tmp)
        return oci_error_wrap(err, "`%s`", s->bd.dest);
    if (r >= 0 && res)
        *res = s->res;
    return r;
}

bool oimg_unpack_stream_restarted(struct oimg_unpack_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool r = s->restarted;
    pthread_mutex_unlock(&s->mu);
    return r;
}

void oimg_unpack_stream_free(struct oimg_unpack_stream *s)
{
    if (!s)
        return;
    stop_thread(s, true);
    if (s->rootfd >= 0)
        close(s->rootfd);
    for (size_t i = 0; i < s->n_blobs; i++) {
        spool_clear(s, &s->blobs[i]);
        oci_error_free(s->blobs[i].err);
    }
    bundle_dest_discard(&s->bd, &s->opts);
    oci_error_free(s->apply_err);
    oimg_manifest_free(s->m);
    free(s->blobs);
    free(s->layer_blob);
    free(s->layer_dup);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
