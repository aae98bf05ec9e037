/* Reading back a blob that went to disk with O_DIRECT, the same way.
 *
 * The streamed unpack reads the blobs the downloader wrote (their partial
 * files, then the committed blobs) once, sequentially.  Through the page
 * cache that would take 150 MB of pages the rootfs needs, and on a VM that
 * hands freed memory back to its host every new page is a fault there.  So
 * reads go direct, into a small ring of aligned blocks: while the applier
 * takes bytes from one, the next ones are read (glibc's POSIX AIO: a helper
 * thread doing the preads of one fd in order).  One block ahead was not
 * enough where the applier is as fast as the disk (incompressible data):
 * each read started only when the previous block was taken, and the
 * applier waited for many of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ociimg/fs.h>

#include "bundle_private.h"

#define DIRECT_READ (512u * 1024)

void dread_init(struct dread *dr)
{
    memset(dr, 0, sizeof(*dr));
    dr->fd = -1;
}

static unsigned slot(const struct dread *dr, unsigned k)
{
    return (dr->cur + k) % DREAD_BLOCKS;
}

/* Waits for one read; its result, or -1 with errno. */
static ssize_t settle(struct aiocb *cb)
{
    const struct aiocb *list[1] = {cb};
    while (aio_error(cb) == EINPROGRESS)
        (void)aio_suspend(list, 1, NULL);
    ssize_t n = aio_return(cb);
    if (n < 0)
        errno = aio_error(cb);
    return n;
}

/* The oldest read ahead becomes the current block. */
static ssize_t settle_next(struct dread *dr)
{
    ssize_t n = settle(&dr->cb[slot(dr, 1)]);
    dr->cur = slot(dr, 1);
    dr->ahead--;
    return n;
}

/* Waits for every read ahead and forgets them; the current block stays. */
static void settle_all(struct dread *dr)
{
    for (unsigned k = 1; k <= dr->ahead; k++)
        (void)settle(&dr->cb[slot(dr, k)]);
    dr->ahead = 0;
}

void dread_stop(struct dread *dr)
{
    settle_all(dr);
    dr->fd = -1;
    dr->len = 0;
}

void dread_free(struct dread *dr)
{
    dread_stop(dr);
    for (unsigned i = 0; i < DREAD_BLOCKS; i++) {
        free(dr->buf[i]);
        dr->buf[i] = NULL;
    }
}

bool dread_start(struct dread *dr, int fd, uint64_t size)
{
    dread_stop(dr);
    size_t align = oimg_fs_direct_align();
    if (DIRECT_READ % align != 0)
        return false;
    for (unsigned i = 0; i < DREAD_BLOCKS; i++) {
        if (!dr->buf[i] && !(dr->buf[i] = oimg_fs_direct_alloc(DIRECT_READ)))
            return false;
    }
    if (oimg_fs_set_direct(fd, true) < 0)
        return false;
    dr->fd = fd;
    dr->size = size;
    return true;
}

/* Keeps the ring full behind a whole current block, up to the blob's end.
 * A block read past the download's front comes back short; it is taken as
 * it is and the reads after it are dropped (dread_pread). */
static void top_up(struct dread *dr)
{
    if (dr->len != DIRECT_READ)
        return;
    while (dr->ahead < DREAD_BLOCKS - 1) {
        uint64_t at = dr->off + (uint64_t)(dr->ahead + 1) * DIRECT_READ;
        if (at >= dr->size)
            return;
        unsigned i = slot(dr, dr->ahead + 1);
        struct aiocb *cb = &dr->cb[i];
        memset(cb, 0, sizeof(*cb));
        cb->aio_fildes = dr->fd;
        cb->aio_buf = dr->buf[i];
        cb->aio_nbytes = DIRECT_READ;
        cb->aio_offset = (off_t)at;
        cb->aio_sigevent.sigev_notify = SIGEV_NONE;
        if (aio_read(cb) != 0)
            return;
        dr->ahead++;
    }
}

ssize_t dread_pread(struct dread *dr, int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t n;
    if (dr->fd != fd) { /* not direct (dr->fd is -1), or another file */
        do
            n = pread(fd, buf, len, (off_t)off);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
    }
    if (off < dr->off || off >= dr->off + dr->len) {
        /* Whatever the file holds now, from the block off is in.  At the
         * download's front that may be short: the next call reads the
         * block again. */
        uint64_t at = off & ~(uint64_t)(oimg_fs_direct_align() - 1);
        n = -1;
        if (dr->ahead > 0 && (uint64_t)dr->cb[slot(dr, 1)].aio_offset == at)
            n = settle_next(dr);
        if (n < 0) { /* not read ahead, or that read failed: read it now */
            settle_all(dr);
            do
                n = pread(fd, dr->buf[dr->cur], DIRECT_READ, (off_t)at);
            while (n < 0 && errno == EINTR);
        }
        if (n < 0 && errno == EINVAL) {
            /* The flag was taken, the read was not: buffered from now on. */
            (void)oimg_fs_set_direct(fd, false);
            dread_stop(dr);
            return dread_pread(dr, fd, buf, len, off);
        }
        if (n < 0) {
            dr->len = 0;
            return -errno;
        }
        dr->off = at;
        dr->len = (size_t)n;
        if (dr->len < DIRECT_READ)
            settle_all(dr); /* read past the front: what follows is stale */
        else
            top_up(dr);
        if (off >= at + (uint64_t)n)
            return 0;
    }
    size_t have = (size_t)(dr->off + dr->len - off);
    if (len > have)
        len = have;
    memcpy(buf, dr->buf[dr->cur] + (off - dr->off), len);
    return (ssize_t)len;
}
