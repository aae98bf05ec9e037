/* The shared error type: one line of context-first text and a code. */
/* The analyzer-only wrappers in error.h would rename the definitions below. */
#define OCIIMG_ERROR_IMPL
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/error.h>

static const char *const code_names[OCI_ERR__MAX] = {
    [0] = "ok",
    [OCI_ERR_INVALID] = "invalid",
    [OCI_ERR_NOT_FOUND] = "not-found",
    [OCI_ERR_IO] = "io",
    [OCI_ERR_DIGEST_MISMATCH] = "digest-mismatch",
    [OCI_ERR_UNSUPPORTED] = "unsupported",
    [OCI_ERR_TOO_LARGE] = "too-large",
    [OCI_ERR_NOMEM] = "no-memory",
    [OCI_ERR_EXISTS] = "exists",
    [OCI_ERR_NETWORK] = "network",
    [OCI_ERR_AUTH] = "auth",
    [OCI_ERR_PLATFORM] = "platform",
    [OCI_ERR_STATE] = "state",
    [OCI_ERR_INTERNAL] = "internal",
};

const char *oci_error_code_name(int code)
{
    if (code < 0)
        code = -code;
    if (code >= OCI_ERR__MAX || !code_names[code])
        return "unknown";
    return code_names[code];
}

/* A message must stay one line whatever an image or server put into it. */
static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || (unsigned char)*s < 0x20)
            *s = ' ';
}

int oci_error_vset(struct oci_error **err, int code, int errnum, const char *fmt, va_list ap)
{
    if (code < 0)
        code = -code;
    if (code == 0 || code >= OCI_ERR__MAX)
        code = OCI_ERR_INTERNAL;
    if (!err || *err)
        return -code;

    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg && errnum) {
        char *full = NULL;
        if (asprintf(&full, "%s: %s", msg, strerror(errnum)) >= 0) {
            free(msg);
            msg = full;
        }
    }
    struct oci_error *e = calloc(1, sizeof(*e));
    if (!e) {
        free(msg);
        return -code;
    }
    e->code = code;
    e->sys_errno = errnum;
    e->msg = msg ? msg : strdup("out of memory while formatting an error");
    if (e->msg)
        flatten(e->msg);
    *err = e;
    return -code;
}

int oci_error_set(struct oci_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = oci_error_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

int oci_error_setsys(struct oci_error **err, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = oci_error_vset(err, code, errnum, fmt, ap);
    va_end(ap);
    return r;
}

int oci_error_wrap(struct oci_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -OCI_ERR_INTERNAL;
    struct oci_error *e = *err;
    char *ctx = NULL, *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&ctx, fmt, ap);
    va_end(ap);
    if (n >= 0 && asprintf(&full, "%s: %s", ctx, e->msg ? e->msg : "") >= 0) {
        flatten(full);
        free(e->msg);
        e->msg = full;
    }
    free(ctx);
    return -e->code;
}

void oci_error_free(struct oci_error *e)
{
    if (!e)
        return;
    free(e->msg);
    free(e);
}

void oci_error_clear(struct oci_error **err)
{
    if (err && *err) {
        oci_error_free(*err);
        *err = NULL;
    }
}

void oci_vwarnf(oci_warn_fn warn, void *ctx, const char *fmt, va_list ap)
{
    if (!warn)
        return;
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    flatten(buf);
    warn(ctx, buf);
}

void oci_warnf(oci_warn_fn warn, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    oci_vwarnf(warn, ctx, fmt, ap);
    va_end(ap);
}

void oci_quote(char *dst, size_t dstsz, const char *s, size_t n, size_t max_chars)
{
    size_t o = 0, i = 0;
    if (dstsz < 8)
        return (void)(dstsz ? (dst[0] = '\0') : 0);
    if (!s) {
        snprintf(dst, dstsz, "(null)");
        return;
    }
    dst[o++] = '"';
    for (; i < n && s[i] && i < max_chars && o + 8 < dstsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            dst[o++] = (char)c;
        } else {
            o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
        }
    }
    if (i < n && s[i]) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '"';
    dst[o] = '\0';
}
