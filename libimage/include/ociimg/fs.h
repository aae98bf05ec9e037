/* Safe filesystem helpers.  Paths that come from an image are always resolved
 * against an open directory fd of their root (openat2 RESOLVE_IN_ROOT, or an
 * O_NOFOLLOW component walk where openat2 is unavailable); files we publish
 * appear by rename of a complete, fsynced temp file. */
#ifndef OCIIMG_FS_H
#define OCIIMG_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* The prefix oimg_fs_write_atomic gives its temp files (and oimg_fs_mktemp
 * uses when prefix is NULL), so a cleaner can recognise stale ones. */
#define OIMG_FS_TMP_PREFIX ".ociimg-tmp-"

/* Opens `path` (relative or absolute, treated as relative to the root) inside
 * the tree rooted at rootfd, so that no symlink or ".." can leave it.
 * Returns an fd (>= 0, O_CLOEXEC added) or a negative code. */
int oimg_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode,
                         struct oci_error **err);

/* Writes buf to dirfd/name atomically: temp file in dirfd, write, fsync,
 * rename over name, fsync dirfd. */
int oimg_fs_write_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                         struct oci_error **err);
/* The same without the fsyncs: readers never see a partial file, but a
 * crash may lose it.  For files that go with their directory (a --rm
 * container's), where the syncs are most of the cost. */
int oimg_fs_write_volatile(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
                           struct oci_error **err);

/* Creates a unique temp file "<prefix>XXXXXX" in dirfd (O_RDWR|O_CLOEXEC|O_EXCL,
 * mode 0600 before umask is applied by the caller's fchmod).  *name_out gets the
 * malloc'd basename. */
int oimg_fs_mktemp(char **name_out, int dirfd, const char *prefix, struct oci_error **err);

/* Full write/read loops that retry on EINTR and short counts. */
int oimg_fs_write_all(int fd, const void *buf, size_t len);
ssize_t oimg_fs_read_all(int fd, void *buf, size_t len);

/* mkdir -p below dirfd for a relative path without following symlinks;
 * returns an O_DIRECTORY fd to the last component. */
int oimg_fs_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct oci_error **err);

/* Opens a directory (O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW on the last part). */
int oimg_fs_open_dir(int dirfd, const char *path, struct oci_error **err);

/* fsync a directory by fd. */
int oimg_fs_fsync_dir(int dirfd, struct oci_error **err);

/* O_DIRECT on an open fd (on = false: back to the page cache); 0 or -errno
 * (e.g. -EINVAL from a filesystem without direct I/O).  Direct reads and
 * writes want buffers, offsets and lengths aligned to oimg_fs_direct_align(). */
int oimg_fs_set_direct(int fd, bool on);
size_t oimg_fs_direct_align(void);
/* size bytes aligned to oimg_fs_direct_align(), released with free(); NULL
 * when out of memory. */
void *oimg_fs_direct_alloc(size_t size);

#endif
