/* Reading back a blob that went to disk with O_DIRECT, the same way.
 *
 * The streamed unpack reads the blobs the downloader wrote (their partial
 * files, then the committed blobs) once, sequentially.  Through the page
 * cache that would take 150 MB of pages the rootfs needs, and on a VM that
 * hands freed memory back to its host every new page is a fault there.  So
 * reads go direct, into one of two aligned buffers, and while the applier
 * takes bytes from one the next block is read into the other (glibc's
 * POSIX AIO: a helper thread doing the pread), so that the disk's latency
 * stays off the applier's path. */
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

/* Waits for the read-ahead, if any; its result, or -1 with errno. */
static ssize_t settle(struct dread *dr)
{
    if (!dr->pending)
        return -1;
    const struct aiocb *list[1] = {&dr->cb};
    while (aio_error(&dr->cb) == EINPROGRESS)
        (void)aio_suspend(list, 1, NULL);
    dr->pending = false;
    ssize_t n = aio_return(&dr->cb);
    if (n < 0)
        errno = aio_error(&dr->cb);
    return n;
}

void dread_stop(struct dread *dr)
{
    settle(dr);
    dr->fd = -1;
    dr->len = 0;
}

void dread_free(struct dread *dr)
{
    dread_stop(dr);
    free(dr->buf[0]);
    free(dr->buf[1]);
    dr->buf[0] = dr->buf[1] = NULL;
}

bool dread_start(struct dread *dr, int fd, uint64_t size)
{
    dread_stop(dr);
    size_t align = oimg_fs_direct_align();
    if (DIRECT_READ % align != 0)
        return false;
    for (int i = 0; i < 2; i++) {
        if (!dr->buf[i] && posix_memalign((void **)&dr->buf[i], align, DIRECT_READ) != 0) {
            dr->buf[i] = NULL;
            return false;
        }
    }
    if (oimg_fs_set_direct(fd, true) < 0)
        return false;
    dr->fd = fd;
    dr->size = size;
    return true;
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
        bool ahead = dr->pending && (uint64_t)dr->cb.aio_offset == at;
        n = settle(dr);
        if (ahead && n >= 0) {
            dr->cur ^= 1;
        } else {
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
        if (n < 0)
            return -errno;
        dr->off = at;
        dr->len = (size_t)n;
        if (dr->len == DIRECT_READ && at + DIRECT_READ < dr->size) {
            /* A whole block: the file goes on, read the next meanwhile. */
            memset(&dr->cb, 0, sizeof(dr->cb));
            dr->cb.aio_fildes = fd;
            dr->cb.aio_buf = dr->buf[dr->cur ^ 1];
            dr->cb.aio_nbytes = DIRECT_READ;
            dr->cb.aio_offset = (off_t)(at + DIRECT_READ);
            dr->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
            dr->pending = aio_read(&dr->cb) == 0;
        }
        if (off >= at + (uint64_t)n)
            return 0;
    }
    size_t have = (size_t)(dr->off + dr->len - off);
    if (len > have)
        len = have;
    memcpy(buf, dr->buf[dr->cur] + (off - dr->off), len);
    return (ssize_t)len;
}
