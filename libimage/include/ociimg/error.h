/* The error type shared by every ociimg library.
 *
 * Functions return 0 on success or a negative OCI_ERR_* code and take
 * `struct oci_error **err` last.  On failure *err (when err is not NULL)
 * receives one heap-allocated error whose message is a single line; callers
 * add context on the way up with oci_error_wrap(), and only cmd/ prints. */
#ifndef OCIIMG_ERROR_H
#define OCIIMG_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum oci_errc {
    OCI_ERR_INVALID = 1,     /* malformed input: document, digest, path, argument */
    OCI_ERR_NOT_FOUND,       /* a blob, tag, file or repository does not exist */
    OCI_ERR_IO,              /* a system call failed (errno in sys_errno) */
    OCI_ERR_DIGEST_MISMATCH, /* content does not match its digest or declared size */
    OCI_ERR_UNSUPPORTED,     /* valid but not something we implement */
    OCI_ERR_TOO_LARGE,       /* a size, depth or count cap was hit */
    OCI_ERR_NOMEM,
    OCI_ERR_EXISTS,   /* refusing to overwrite */
    OCI_ERR_NETWORK,  /* transport failure */
    OCI_ERR_AUTH,     /* authentication or authorisation refused */
    OCI_ERR_PLATFORM, /* no manifest for the requested platform */
    OCI_ERR_STATE,    /* operation not allowed in the current state */
    OCI_ERR_INTERNAL,
    OCI_ERR__MAX
};

struct oci_error {
    int code;      /* enum oci_errc, positive */
    int sys_errno; /* errno behind the error, 0 if none */
    char *msg;     /* one line, context first: "open layout `x`: read index.json: ..." */
};

/* Sets *err (if err != NULL and *err == NULL) and returns -code. */
int oci_error_set(struct oci_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like oci_error_set, appending ": strerror(errnum)" and recording errnum. */
int oci_error_setsys(struct oci_error **err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes context to an existing error ("ctx: old"); returns -(*err)->code,
 * or -OCI_ERR_INTERNAL if there is no error to wrap (err NULL or *err NULL). */
int oci_error_wrap(struct oci_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int oci_error_vset(struct oci_error **err, int code, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

void oci_error_free(struct oci_error *e);
/* Frees *err and sets it to NULL (for callers that recover from an error). */
void oci_error_clear(struct oci_error **err);
/* A short stable name for a code: "invalid", "not-found", ... */
const char *oci_error_code_name(int code);

/* Renders untrusted text (from an image, a registry, a user) for a message:
 * in double quotes, printable ASCII as is, anything else \xNN-escaped, cut
 * with "..." after max_chars characters or n bytes.  dst needs room for
 * 4 * max_chars + 8 bytes; a smaller dstsz cuts earlier. */
void oci_quote(char *dst, size_t dstsz, const char *s, size_t n, size_t max_chars);

/* Libraries never print: warnings (a device turned into a file, a label left
 * out) go to a callback the command prints, one line each. */
typedef void (*oci_warn_fn)(void *ctx, const char *msg);
/* Formats one line (newlines flattened) and hands it to warn, if set. */
void oci_warnf(oci_warn_fn warn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void oci_vwarnf(oci_warn_fn warn, void *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* clang's static analyzer (clang-tidy) sees one file at a time, so it cannot
 * know these always return < 0: every `return oci_error_set(...)` would look
 * like a success path leaving out-params unset.  Tell it.  Compilers never
 * see this; error.c, which defines them, opts out. */
#if defined(__clang_analyzer__) && !defined(OCIIMG_ERROR_IMPL)
#define OCI_ANALYZER_NEGATIVE_(call)                                                               \
    __extension__({                                                                                \
        int oci_r_ = (call);                                                                       \
        if (oci_r_ >= 0)                                                                           \
            __builtin_unreachable();                                                               \
        oci_r_;                                                                                    \
    })
#define oci_error_set(...) OCI_ANALYZER_NEGATIVE_(oci_error_set(__VA_ARGS__))
#define oci_error_setsys(...) OCI_ANALYZER_NEGATIVE_(oci_error_setsys(__VA_ARGS__))
#define oci_error_wrap(...) OCI_ANALYZER_NEGATIVE_(oci_error_wrap(__VA_ARGS__))
#define oci_error_vset(...) OCI_ANALYZER_NEGATIVE_(oci_error_vset(__VA_ARGS__))
#endif

#ifdef __cplusplus
}
#endif
#endif
