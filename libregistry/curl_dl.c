/* libcurl opened on first use (ociimg/dl.h says why). */
#include <pthread.h>
#include <stdio.h>

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

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_code;
static char open_msg[512];

static void open_once(void)
{
#define SYM(f) OCI_DL_SYM(f),
    static const struct oci_dl_sym curl_syms[] = {OREG_CURL_FUNCS(SYM)};
#undef SYM
    static const struct oci_dl_sym ssl_syms[] = {OCI_DL_SYM(SSL_CTX_get_cert_store)};
    struct oci_error *e = NULL;
    int r =
        oci_dl_open(OCIIMG_LIBCURL_SONAME, curl_syms, sizeof(curl_syms) / sizeof(curl_syms[0]), &e);
    if (r >= 0) {
        const curl_version_info_data *v = sym_curl_version_info(CURLVERSION_NOW);
        if (!v || v->version_num < CURL_MIN_VERSION)
            r = oci_error_set(&e, OCI_ERR_UNSUPPORTED,
                              "%s is libcurl %s; at least 7.85.0 is needed", OCIIMG_LIBCURL_SONAME,
                              v && v->version ? v->version : "?");
    }
    if (r >= 0)
        r = oci_dl_open(OCIIMG_LIBSSL_SONAME, ssl_syms, 1, &e);
    CURLcode rc;
    if (r >= 0 && (rc = sym_curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
        r = oci_error_set(&e, OCI_ERR_INTERNAL, "initialise libcurl: %s",
                          sym_curl_easy_strerror(rc));
    if (r < 0) {
        open_code = r;
        snprintf(open_msg, sizeof(open_msg), "%s", e && e->msg ? e->msg : "load libcurl");
        oci_error_free(e);
    }
}

int oreg_curl_open(struct oci_error **err)
{
    pthread_once(&once, open_once);
    if (open_code < 0)
        return oci_error_set(err, -open_code, "%s", open_msg);
    return 0;
}

const char *oreg_curl_version(void)
{
    if (oreg_curl_open(NULL) < 0)
        return NULL;
    const curl_version_info_data *v = sym_curl_version_info(CURLVERSION_NOW);
    return v ? v->version : NULL;
}
