/* libcurl opened on first use (ociimg/dl.h says why). */
#include <ociimg/dl.h>

#include "curl_dl.h"

#ifndef OCIIMG_LIBCURL_SONAME
#define OCIIMG_LIBCURL_SONAME "libcurl.so.4"
#endif
#ifndef OCIIMG_LIBSSL_SONAME
#define OCIIMG_LIBSSL_SONAME "libssl.so.3"
#endif
/* CURLOPT_PROTOCOLS_STR and the URL API's error strings. */
#define CURL_MIN_VERSION 0x075500

#define OREG_DL_DEFINE(f) typeof(f) *sym_##f;
OREG_CURL_FUNCS(OREG_DL_DEFINE)
OREG_DL_DEFINE(SSL_CTX_get_cert_store)

static int load(struct oci_error **err)
{
#define SYM(f) OCI_DL_SYM(f),
    static const struct oci_dl_sym curl_syms[] = {OREG_CURL_FUNCS(SYM)};
#undef SYM
    static const struct oci_dl_sym ssl_syms[] = {OCI_DL_SYM(SSL_CTX_get_cert_store)};
    int r = oci_dl_open(OCIIMG_LIBCURL_SONAME, curl_syms, sizeof(curl_syms) / sizeof(curl_syms[0]),
                        err);
    if (r < 0)
        return r;
    const curl_version_info_data *v = sym_curl_version_info(CURLVERSION_NOW);
    if (!v || v->version_num < CURL_MIN_VERSION)
        return oci_error_set(err, OCI_ERR_UNSUPPORTED,
                             "%s is libcurl %s; at least 7.85.0 is needed", OCIIMG_LIBCURL_SONAME,
                             v && v->version ? v->version : "?");
    if ((r = oci_dl_open(OCIIMG_LIBSSL_SONAME, ssl_syms, 1, err)) < 0)
        return r;
    CURLcode rc = sym_curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
        return oci_error_set(err, OCI_ERR_INTERNAL, "initialise libcurl: %s",
                             sym_curl_easy_strerror(rc));
    return 0;
}

int oreg_curl_open(struct oci_error **err)
{
    static struct oci_dl_once once = OCI_DL_ONCE_INIT;
    return oci_dl_once(&once, load, err);
}

const char *oreg_curl_version(void)
{
    if (oreg_curl_open(NULL) < 0)
        return NULL;
    const curl_version_info_data *v = sym_curl_version_info(CURLVERSION_NOW);
    return v ? v->version : NULL;
}
