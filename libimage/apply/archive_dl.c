/* libarchive opened on first use (ociimg/dl.h says why). */
#include <pthread.h>
#include <stdio.h>

#include <ociimg/apply.h>
#include <ociimg/dl.h>

#include "archive_dl.h"

#ifndef OCIIMG_LIBARCHIVE_SONAME
#define OCIIMG_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

#define OIMG_DL_DEFINE(f) typeof(f) *sym_##f;
OIMG_ARCHIVE_FUNCS(OIMG_DL_DEFINE)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_code;
static char open_msg[512];

static void open_once(void)
{
#define SYM(f) OCI_DL_SYM(f),
    static const struct oci_dl_sym syms[] = {OIMG_ARCHIVE_FUNCS(SYM)};
#undef SYM
    struct oci_error *e = NULL;
    int r = oci_dl_open(OCIIMG_LIBARCHIVE_SONAME, syms, sizeof(syms) / sizeof(syms[0]), &e);
    if (r >= 0 && sym_archive_version_number() < 3000000)
        r = oci_error_set(&e, OCI_ERR_UNSUPPORTED, "%s is %s; libarchive 3 is needed",
                          OCIIMG_LIBARCHIVE_SONAME, sym_archive_version_string());
    if (r < 0) {
        open_code = r;
        snprintf(open_msg, sizeof(open_msg), "%s", e && e->msg ? e->msg : "load libarchive");
        oci_error_free(e);
    }
}

int oimg_archive_open(struct oci_error **err)
{
    pthread_once(&once, open_once);
    if (open_code < 0)
        return oci_error_set(err, -open_code, "%s", open_msg);
    return 0;
}

const char *oimg_archive_version(void)
{
    return oimg_archive_open(NULL) < 0 ? NULL : sym_archive_version_string();
}
