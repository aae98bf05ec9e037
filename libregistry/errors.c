/* What went wrong, said so that a user can act: the host, what was being
 * fetched, the status (with the registry's own error code), and what to do.
 * Registry-supplied text is untrusted and quoted; no secret is ever part of
 * these messages (they are built from the URL's host, never from headers we
 * sent). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ociimg/cleanup.h>
#include <ociimg/json.h>

#include "client_private.h"
#include "registry_private.h"

char *errors_registry_code(const char *body, size_t len, char **message)
{
    if (message)
        *message = NULL;
    if (!body || len == 0)
        return NULL;
    struct oimg_json_limits lim = {.max_size = HTTP_ERROR_BODY_MAX, .max_depth = 16};
    _cleanup_json_ json_object *o = NULL;
    struct oci_error *e = NULL;
    if (oimg_json_parse(&o, body, len, &lim, &e) < 0) {
        oci_error_free(e);
        return NULL;
    }
    json_object *errs = NULL, *first = NULL, *v = NULL;
    if (!json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "errors", &errs) ||
        !json_object_is_type(errs, json_type_array) || json_object_array_length(errs) == 0)
        return NULL;
    first = json_object_array_get_idx(errs, 0);
    if (!json_object_is_type(first, json_type_object) ||
        !json_object_object_get_ex(first, "code", &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    char q[OREG_QUOTE_BUF];
    oreg_quote_n(q, json_object_get_string(v), 64);
    char *code = strndup(q + 1, strlen(q) - 2);
    if (message && json_object_object_get_ex(first, "message", &v) &&
        json_object_is_type(v, json_type_string)) {
        oreg_quote(q, json_object_get_string(v));
        *message = strdup(q);
    }
    return code;
}

static const char *reason(long st)
{
    switch (st) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 416:
        return "Range Not Satisfiable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static void attempts_note(char *buf, size_t n, const struct reg_call *call)
{
    if (call->attempts > 1)
        snprintf(buf, n, " after %u attempts", call->attempts);
    else
        buf[0] = '\0';
}

static void rate_limit_info(char *buf, size_t n, const struct reg_call *call)
{
    const struct http_headers *h = &call->req->h;
    size_t o = 0;
    buf[0] = '\0';
    char q[OREG_QUOTE_BUF];
    long ra = http_parse_retry_after(h->retry_after, time(NULL));
    if (ra >= 0) {
        time_t at = time(NULL) + ra;
        struct tm tm;
        char when[64];
        gmtime_r(&at, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        o += (size_t)snprintf(buf + o, n - o, "; the limit resets in %ld s, at %s", ra, when);
    } else if (h->rl_reset && o < n) {
        oreg_quote(q, h->rl_reset);
        o += (size_t)snprintf(buf + o, n - o, "; RateLimit-Reset: %s", q);
    }
    if (h->rl_remaining && o < n) {
        oreg_quote(q, h->rl_remaining);
        snprintf(buf + o, n - o, "; RateLimit-Remaining: %s", q);
    }
}

int errors_http(struct reg_call *call, struct oci_error **err)
{
    const struct http_req *r = call->req;
    long st = r->h.status;
    _cleanup_free_ char *hp = http_url_hostport(call->url);
    _cleanup_free_ char *rmsg = NULL;
    _cleanup_free_ char *rcode = errors_registry_code(r->body, r->body_len, &rmsg);
    char status[768], att[48];
    snprintf(status, sizeof(status), "%ld%s%s%s%s%s%s", st, *reason(st) ? " " : "", reason(st),
             rcode ? ", " : "", rcode ? rcode : "", rmsg ? " " : "", rmsg ? rmsg : "");
    attempts_note(att, sizeof(att), call);
    const char *host = hp ? hp : "?";
    const char *reg = call->host ? call->host->creds_key : host;
    bool hub = call->host && oreg_host_is_docker_hub(call->host->host);

    if (st == 401) {
        const char *src = call->host ? auth_creds_source(call->host) : NULL;
        if (src)
            return oci_error_set(err, OCI_ERR_AUTH,
                                 "%s: %s: unauthorized (%s): the credentials from %s were "
                                 "refused or give no access to it%s: check the name and the "
                                 "credentials ('ociimg login %s')",
                                 host, call->what, status, src,
                                 hub ? " (Docker Hub also answers 401 for repositories that "
                                       "do not exist)"
                                     : "",
                                 reg);
        return oci_error_set(
            err, OCI_ERR_AUTH,
            "%s: %s: unauthorized (%s): the repository does not exist or needs "
            "credentials%s: check the name, or log in with 'ociimg login %s' "
            "or pass --creds USER:PASS",
            host, call->what, status,
            hub ? " (Docker Hub answers 401 for repositories that do not exist)" : "", reg);
    }
    if (st == 403)
        return oci_error_set(err, OCI_ERR_AUTH,
                             "%s: %s: access denied (%s): the credentials in use do not allow "
                             "pulling it",
                             host, call->what, status);
    if (st == 404) {
        const char *what = "not found";
        if (rcode && strcmp(rcode, "NAME_UNKNOWN") == 0)
            what = "repository not found";
        else if (rcode && strcmp(rcode, "MANIFEST_UNKNOWN") == 0)
            what = "manifest not found";
        else if (rcode && strcmp(rcode, "BLOB_UNKNOWN") == 0)
            what = "blob not found";
        return oci_error_set(err, OCI_ERR_NOT_FOUND, "%s: %s: %s (%s)", host, call->what, what,
                             status);
    }
    if (st == 429) {
        char rl[1200];
        rate_limit_info(rl, sizeof(rl), call);
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: rate limit reached (%s)%s%s: wait, or log in ('ociimg "
                             "login %s') for a higher limit",
                             host, call->what, status, att, rl, reg);
    }
    if (st >= 500)
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: server error (%s)%s: the registry is failing; try again "
                             "later (or with more --retry)",
                             host, call->what, status, att);
    if (st == 408)
        return oci_error_set(err, OCI_ERR_NETWORK, "%s: %s: request timeout (%s)%s", host,
                             call->what, status, att);
    if (st >= 300 && st < 400)
        return oci_error_set(err, OCI_ERR_NETWORK, "%s: %s: redirect (%s) without a Location", host,
                             call->what, status);
    return oci_error_set(err, OCI_ERR_INVALID, "%s: %s: unexpected answer (%s)", host, call->what,
                         status);
}

int errors_transport(struct reg_call *call, struct oci_error **err)
{
    const struct http_req *r = call->req;
    _cleanup_free_ char *hp = http_url_hostport(call->url);
    const char *host = hp ? hp : "?";
    char q[OREG_QUOTE_BUF], att[48];
    oreg_quote(q, http_req_strerror(r));
    attempts_note(att, sizeof(att), call);
    switch (r->cres) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: cannot resolve the host name (DNS: %s)%s: check the name "
                             "and the network's DNS settings",
                             host, call->what, q, att);
    case CURLE_COULDNT_CONNECT:
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: cannot connect (%s)%s: check that the registry runs and "
                             "is reachable (host, port, firewall, proxy)",
                             host, call->what, q, att);
    case CURLE_OPERATION_TIMEDOUT:
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: timed out (%s)%s: the connection is stalled or too slow",
                             host, call->what, q, att);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: the TLS certificate is not trusted (%s): pass --cert-dir "
                             "DIR with the registry's CA certificate (DIR/ca.crt), or "
                             "--tls-verify=false to skip verification",
                             host, call->what, q);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
        return oci_error_set(err, OCI_ERR_NETWORK,
                             "%s: %s: TLS handshake failed (%s)%s: for a registry that speaks "
                             "plain HTTP use --tls-verify=false; for a private CA or a client "
                             "certificate, --cert-dir DIR",
                             host, call->what, q, att);
    default:
        return oci_error_set(err, OCI_ERR_NETWORK, "%s: %s: transfer failed (%s)%s", host,
                             call->what, q, att);
    }
}

int errors_hint(struct oci_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -OCI_ERR_INTERNAL;
    struct oci_error *e = *err;
    char *hint = NULL, *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&hint, fmt, ap);
    va_end(ap);
    if (n >= 0 && asprintf(&full, "%s: %s", e->msg ? e->msg : "", hint) >= 0) {
        free(e->msg);
        e->msg = full;
    }
    free(hint);
    return -e->code;
}

int errors_top_hint(struct oci_error **err, int r, const struct oreg_ref *ref)
{
    if (r == -OCI_ERR_NOT_FOUND)
        return errors_hint(err, "check the name and the %s ('ociimg tags %s' lists the tags)",
                           ref->has_digest ? "digest" : "tag", ref->canonical);
    if (r == -OCI_ERR_PLATFORM)
        return errors_hint(err, "choose one with --platform, or keep all with --all-platforms");
    return r;
}
