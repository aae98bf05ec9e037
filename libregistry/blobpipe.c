/* A blob's hashing and writing on a thread of its own.
 *
 * The transfer loop is one thread; hashing (~1.4 GB/s with SHA-NI) and the
 * copy into the page cache cost more CPU than receiving does, so with them
 * in the loop one big layer at a time gets one core's worth of throughput
 * while the other core idles (or serves a local registry).  Here the loop
 * only copies the bytes into a chunk and queues it; the pipe's thread feeds
 * the chunks, in order, to the store writer.  The queue is short
 * (PIPE_SLOTS chunks), so a slow disk slows the transfer instead of
 * growing memory.  A chunk is one block of the writer's direct mode,
 * aligned for it: a full one goes to the disk as it is, and the writer
 * hands back an empty block for the slot instead of the thread copying
 * every byte into the writer's own buffer.
 *
 * The writer is the thread's alone between blob_pipe_sync calls: every
 * other use of it (commit, restart, replay, discard, free) comes after a
 * sync, which waits until every queued byte is written and returns the
 * first error of the thread.  blob_pipe_finish has the thread also fsync
 * the file after the last chunk, and wake the loop when that is done: the
 * loop keeps receiving other blobs meanwhile, and the commit that follows
 * has no data left to flush. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/fs.h>

#include "client_private.h"

#define PIPE_SLOTS 2

struct blob_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change of count, stop or code */
    pthread_t th;
    struct oimg_blob_writer *w;
    unsigned char *slot[PIPE_SLOTS];
    size_t len[PIPE_SLOTS];
    size_t head, count; /* queued slots; the thread pops one after writing it */
    size_t fill;        /* bytes in the slot after the queue (the loop's) */
    bool stop;
    bool finish;    /* fsync once the queue is empty */
    bool syncing;   /* the thread is in that fsync */
    bool want_room; /* the loop paused a transfer for lack of room: wake it */
    void (*wake)(void *ud);
    void *wake_ud;
    int code; /* the thread's first error, kept until a sync takes it */
    struct oci_error *err;
};

/* Called with the lock held: a sync reports the first error only. */
static void keep_first_error(struct blob_pipe *p, int r, struct oci_error *e)
{
    if (r < 0 && p->code >= 0) {
        p->code = r;
        p->err = e;
    } else {
        oci_error_free(e);
    }
}

static void *pipe_main(void *ud)
{
    struct blob_pipe *p = ud;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->finish && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->count == 0 && p->finish) {
            p->finish = false;
            p->syncing = true;
            bool skip_sync = p->code < 0 || !p->w;
            pthread_mutex_unlock(&p->mu);
            struct oci_error *e = NULL;
            int r = skip_sync ? 0 : oimg_blob_writer_sync(p->w, &e);
            pthread_mutex_lock(&p->mu);
            keep_first_error(p, r, e);
            p->syncing = false;
            pthread_cond_broadcast(&p->cv);
            if (p->wake)
                p->wake(p->wake_ud); /* p lives until free() has joined us */
            continue;
        }
        if (p->count == 0)
            break;
        size_t i = p->head;
        bool skip = p->code < 0; /* after an error nothing more is written */
        pthread_mutex_unlock(&p->mu);
        struct oci_error *e = NULL;
        int r = skip || !p->w ? 0 : oimg_blob_writer_write_block(p->w, &p->slot[i], p->len[i], &e);
        pthread_mutex_lock(&p->mu);
        keep_first_error(p, r, e);
        p->head = (p->head + 1) % PIPE_SLOTS;
        p->count--;
        pthread_cond_broadcast(&p->cv);
        if (p->want_room && p->wake) {
            p->want_room = false;
            p->wake(p->wake_ud);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int blob_pipe_new(struct blob_pipe **out, struct oimg_blob_writer *w, void (*wake)(void *ud),
                  void *wake_ud)
{
    struct blob_pipe *p = calloc(1, sizeof(*p));
    if (!p)
        return -OCI_ERR_NOMEM;
    p->w = w;
    p->wake = wake;
    p->wake_ud = wake_ud;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* Signals stay with the thread that runs the loop (its handlers,
     * EINTR): the pipe's thread starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->th, NULL, pipe_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return -OCI_ERR_NOMEM;
    }
    *out = p;
    return 0;
}

/* Queues the slot the loop has been filling; the caller holds mu and has
 * made sure there is room (count < PIPE_SLOTS). */
static void push_locked(struct blob_pipe *p)
{
    size_t t = (p->head + p->count) % PIPE_SLOTS;
    p->len[t] = p->fill;
    p->count++;
    p->fill = 0;
    pthread_cond_broadcast(&p->cv);
}

static int take_error_locked(struct blob_pipe *p, struct oci_error **err)
{
    int r = p->code;
    if (p->err) {
        *err = p->err;
        p->err = NULL;
    } else {
        oci_error_set(err, OCI_ERR_IO, "write blob: an earlier write failed");
    }
    return r;
}

int blob_pipe_write(struct blob_pipe *p, const void *buf, size_t len, struct oci_error **err)
{
    const unsigned char *b = buf;
    const size_t chunk = oimg_blob_writer_block_size();
    while (len > 0) {
        pthread_mutex_lock(&p->mu);
        /* The loop's slot is the one after the queue: wait for it to be free. */
        while (p->count == PIPE_SLOTS && p->code >= 0)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->code < 0) {
            int r = take_error_locked(p, err);
            pthread_mutex_unlock(&p->mu);
            return r;
        }
        size_t t = (p->head + p->count) % PIPE_SLOTS;
        pthread_mutex_unlock(&p->mu);
        if (!p->slot[t] && !(p->slot[t] = oimg_fs_direct_alloc(chunk)))
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        size_t n = chunk - p->fill < len ? chunk - p->fill : len;
        memcpy(p->slot[t] + p->fill, b, n);
        p->fill += n;
        b += n;
        len -= n;
        if (p->fill == chunk) {
            pthread_mutex_lock(&p->mu);
            push_locked(p);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return 0;
}

bool blob_pipe_room(struct blob_pipe *p, size_t len)
{
    const size_t chunk = oimg_blob_writer_block_size(), cap = PIPE_SLOTS * chunk;
    pthread_mutex_lock(&p->mu);
    /* The loop's slot, then the ones still free behind it; after an error
     * there is room: write reports it. */
    size_t room = p->code < 0             ? cap
                  : p->count < PIPE_SLOTS ? (chunk - p->fill) + (PIPE_SLOTS - p->count - 1) * chunk
                                          : 0;
    bool ok = room >= (len < cap ? len : cap);
    if (!ok)
        p->want_room = true;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

int blob_pipe_sync(struct blob_pipe *p, struct oci_error **err)
{
    pthread_mutex_lock(&p->mu);
    if (p->fill > 0) /* the loop's slot is never queued, so there is room */
        push_locked(p);
    while (p->count > 0 || p->finish || p->syncing)
        pthread_cond_wait(&p->cv, &p->mu);
    int r = 0;
    if (p->code < 0) {
        r = take_error_locked(p, err);
        p->code = 0; /* reported; the caller decides what follows */
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

void blob_pipe_finish(struct blob_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    if (p->fill > 0)
        push_locked(p);
    p->finish = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool blob_pipe_busy(struct blob_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    bool busy = p->count > 0 || p->finish || p->syncing;
    pthread_mutex_unlock(&p->mu);
    return busy;
}

void blob_pipe_set_writer(struct blob_pipe *p, struct oimg_blob_writer *w)
{
    pthread_mutex_lock(&p->mu);
    p->w = w;
    pthread_mutex_unlock(&p->mu);
}

void blob_pipe_free(struct blob_pipe *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->fill > 0)
        push_locked(p); /* a resumable partial keeps every byte received */
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    oci_error_free(p->err);
    for (size_t i = 0; i < PIPE_SLOTS; i++)
        free(p->slot[i]);
    free(p);
}
