/* Internals shared by the files of libimage/base. */
#ifndef OCIIMG_BASE_PRIVATE_H
#define OCIIMG_BASE_PRIVATE_H

#include <errno.h>

#include <ociimg/error.h>

/* The error code a failed system call maps to, so callers can tell a missing
 * file from a real I/O failure without looking at errno themselves. */
static inline int oimg_errno_code(int e)
{
    switch (e) {
    case ENOENT:
        return OCI_ERR_NOT_FOUND;
    case EEXIST:
        return OCI_ERR_EXISTS;
    case ENOMEM:
        return OCI_ERR_NOMEM;
    default:
        return OCI_ERR_IO;
    }
}

#endif
