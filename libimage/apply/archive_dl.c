/* libarchive opened on first use (ociimg/dl.h says why). */
#include <ociimg/apply.h>
#include <ociimg/dl.h>

#include "archive_dl.h"

#ifndef OCIIMG_LIBARCHIVE_SONAME
#define OCIIMG_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

#define OIMG_DL_DEFINE(f) typeof(f) *sym_##f;
OIMG_ARCHIVE_FUNCS(OIMG_DL_DEFINE)

static int load(struct oci_error **err)
{
#define SYM(f) OCI_DL_SYM(f),
    static const struct oci_dl_sym syms[] = {OIMG_ARCHIVE_FUNCS(SYM)};
#undef SYM
    int r = oci_dl_open(OCIIMG_LIBARCHIVE_SONAME, syms, sizeof(syms) / sizeof(syms[0]), err);
    if (r >= 0 && sym_archive_version_number() < 3000000)
        r = oci_error_set(err, OCI_ERR_UNSUPPORTED, "%s is %s; libarchive 3 is needed",
                          OCIIMG_LIBARCHIVE_SONAME, sym_archive_version_string());
    return r;
}

int oimg_archive_open(struct oci_error **err)
{
    static struct oci_dl_once once = OCI_DL_ONCE_INIT;
    return oci_dl_once(&once, load, err);
}

const char *oimg_archive_version(void)
{
    return oimg_archive_open(NULL) < 0 ? NULL : sym_archive_version_string();
}
