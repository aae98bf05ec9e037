/* Scope-bound cleanup helpers (systemd style).  Header-only. */
#ifndef OCIIMG_CLEANUP_H
#define OCIIMG_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

static inline void oci_freep(void *p)
{
    free(*(void **)p);
}
static inline void oci_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
static inline void oci_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
static inline void oci_errorp(struct oci_error **e)
{
    oci_error_free(*e);
}
static inline void oci_strvfreep(char ***v)
{
    if (*v) {
        for (char **p = *v; *p; p++)
            free(*p);
        free(*v);
    }
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(oci_freep)
#define _cleanup_close_ _cleanup_(oci_closep)
#define _cleanup_fclose_ _cleanup_(oci_fclosep)
#define _cleanup_error_ _cleanup_(oci_errorp)
#define _cleanup_strv_ _cleanup_(oci_strvfreep)

/* Declares a cleanup function `name##p` for a type with a NULL-safe free. */
#define OCI_DEFINE_CLEANUP(type, freefn)                                                           \
    static inline void freefn##p(type *p)                                                          \
    {                                                                                              \
        freefn(*p);                                                                                \
    }

#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _tp = (p);                                                                   \
        (p) = NULL;                                                                                \
        _tp;                                                                                       \
    })
#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int _tf = (fd);                                                                            \
        (fd) = -1;                                                                                 \
        _tf;                                                                                       \
    })

#define OCI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
