/* Libraries that only some commands need, opened on first use.
 *
 * libcurl and libarchive bring some forty shared objects with them; mapping
 * and relocating those costs every process about 5 ms before main(), which
 * is a quarter of a warm `ociimg run` that needs neither.  So the modules
 * that use them call through pointers filled here, by dlopen, when the
 * first transfer or layer needs them.
 *
 * A module lists its functions with OCI_DL_SYM over pointers named
 * sym_<function> (declared with typeof, so calls keep their prototypes). */
#ifndef OCIIMG_DL_H
#define OCIIMG_DL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct oci_dl_sym {
    const char *name;
    void **fn;
};
#define OCI_DL_SYM(f)                                                                              \
    {                                                                                              \
#f, (void **)&sym_##f                                                                      \
    }

/* Opens soname (never closed) and fills every sym's *fn: all of them, or
 * none and an error naming the library or the missing function.  Not
 * thread-safe by itself: callers go through oci_dl_once. */
int oci_dl_open(const char *soname, const struct oci_dl_sym *syms, size_t n,
                struct oci_error **err);

/* A library opened once per process: the first caller runs load(), every
 * caller gets its result (the same error message again, if it failed). */
struct oci_dl_once {
    pthread_mutex_t mu;
    bool done;
    int code;
    char msg[512];
};
#define OCI_DL_ONCE_INIT                                                                           \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, false, 0, ""                                                    \
    }
int oci_dl_once(struct oci_dl_once *once, int (*load)(struct oci_error **err),
                struct oci_error **err);

#endif
