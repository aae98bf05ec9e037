/* libarchive, opened when the first layer is applied: see ociimg/dl.h.
 * The applier calls sym_archive_*(). */
#ifndef OCIIMG_ARCHIVE_DL_H
#define OCIIMG_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include <ociimg/error.h>

#define OIMG_ARCHIVE_FUNCS(X)                                                                      \
    X(archive_version_number)                                                                      \
    X(archive_version_string)                                                                      \
    X(archive_read_new)                                                                            \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_support_format_empty)                                                           \
    X(archive_read_open)                                                                           \
    X(archive_read_next_header)                                                                    \
    X(archive_read_header_position)                                                                \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_filter_bytes)                                                                        \
    X(archive_error_string)                                                                        \
    X(archive_set_error)                                                                           \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_perm)                                                                          \
    X(archive_entry_size)                                                                          \
    X(archive_entry_uid)                                                                           \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_rdevmajor)                                                                     \
    X(archive_entry_rdevminor)                                                                     \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_nsec)                                                                    \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_xattr_reset)                                                                   \
    X(archive_entry_xattr_next)

#define OIMG_DL_DECLARE(f) extern typeof(f) *sym_##f;
OIMG_ARCHIVE_FUNCS(OIMG_DL_DECLARE)

/* Opens libarchive once per process (thread-safe; later calls return the
 * first result). */
int oimg_archive_open(struct oci_error **err);

#endif
