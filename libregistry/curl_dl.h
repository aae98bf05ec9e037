/* libcurl (and the one libssl function the CA callback needs), opened on
 * first use: see ociimg/dl.h.  Code in this module calls sym_curl_*(). */
#ifndef OREG_CURL_DL_H
#define OREG_CURL_DL_H

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <ociimg/error.h>

#define OREG_CURL_FUNCS(X)                                                                         \
    X(curl_version_info)                                                                           \
    X(curl_global_init)                                                                            \
    X(curl_free)                                                                                   \
    X(curl_getdate)                                                                                \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_easy_init)                                                                              \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_strerror)                                                                          \
    X(curl_easy_escape)                                                                            \
    X(curl_easy_pause)                                                                             \
    X(curl_multi_init)                                                                             \
    X(curl_multi_setopt)                                                                           \
    X(curl_multi_add_handle)                                                                       \
    X(curl_multi_remove_handle)                                                                    \
    X(curl_multi_perform)                                                                          \
    X(curl_multi_poll)                                                                             \
    X(curl_multi_wakeup)                                                                           \
    X(curl_multi_info_read)                                                                        \
    X(curl_multi_strerror)                                                                         \
    X(curl_multi_cleanup)                                                                          \
    X(curl_url)                                                                                    \
    X(curl_url_set)                                                                                \
    X(curl_url_get)                                                                                \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_strerror)

#define OREG_DL_DECLARE(f) extern typeof(f) *sym_##f;
OREG_CURL_FUNCS(OREG_DL_DECLARE)
OREG_DL_DECLARE(SSL_CTX_get_cert_store)

/* Opens and initialises libcurl once per process (thread-safe; later calls return the
 * first result) and checks that it is at least the version built for. */
int oreg_curl_open(struct oci_error **err);

#endif
