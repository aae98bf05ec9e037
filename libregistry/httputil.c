/* URL handling (curl's URL API) and the parsers for the response headers
 * the client acts on: Content-Range, Retry-After, Link, Content-Type. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

static CURLU *url_parse(const char *url)
{
    if (!url || strnlen(url, HTTP_URL_MAX + 1) > HTTP_URL_MAX || oreg_curl_open(NULL) < 0)
        return NULL;
    CURLU *u = sym_curl_url();
    if (u && sym_curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        sym_curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

static bool scheme_ok(const char *s)
{
    return s && (strcasecmp(s, "http") == 0 || strcasecmp(s, "https") == 0);
}

char *http_url_origin(const char *url)
{
    CURLU *u = url_parse(url);
    if (!u)
        return NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme_ok(scheme) &&
        sym_curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        sym_curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        oreg_ascii_lower(scheme);
        oreg_ascii_lower(host);
        if (asprintf(&out, "%s://%s:%s", scheme, host, port) < 0)
            out = NULL;
    }
    sym_curl_free(scheme);
    sym_curl_free(host);
    sym_curl_free(port);
    sym_curl_url_cleanup(u);
    return out;
}

char *http_url_hostport(const char *url)
{
    CURLU *u = url_parse(url);
    if (!u)
        return NULL;
    char *host = NULL, *port = NULL, *out = NULL;
    if (sym_curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        oreg_ascii_lower(host);
        if (sym_curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port) {
            if (asprintf(&out, "%s:%s", host, port) < 0)
                out = NULL;
        } else {
            out = strdup(host);
        }
    }
    sym_curl_free(host);
    sym_curl_free(port);
    sym_curl_url_cleanup(u);
    return out;
}

bool http_url_is_https(const char *url)
{
    return url && strncasecmp(url, "https://", 8) == 0;
}

int http_url_resolve(char **out, const char *base, const char *ref, struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    if (!ref || !*ref || strnlen(ref, HTTP_URL_MAX + 1) > HTTP_URL_MAX || oreg_has_ctl(ref)) {
        oreg_quote(q, ref);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid redirect location %s", q);
    }
    CURLU *u = url_parse(base);
    if (!u)
        return oci_error_set(err, OCI_ERR_INVALID, "invalid URL");
    char *res = NULL, *scheme = NULL;
    CURLUcode rc = sym_curl_url_set(u, CURLUPART_URL, ref, 0);
    if (rc == CURLUE_OK)
        rc = sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK && !scheme_ok(scheme))
        rc = CURLUE_UNSUPPORTED_SCHEME;
    if (rc == CURLUE_OK)
        rc = sym_curl_url_get(u, CURLUPART_URL, &res, 0);
    sym_curl_free(scheme);
    sym_curl_url_cleanup(u);
    if (rc != CURLUE_OK) {
        oreg_quote(q, ref);
        return oci_error_set(err, OCI_ERR_INVALID, "invalid redirect location %s: %s", q,
                             sym_curl_url_strerror(rc));
    }
    *out = strdup(res);
    sym_curl_free(res);
    return *out ? 0 : oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
}

char *http_escape(const char *s)
{
    if (oreg_curl_open(NULL) < 0)
        return NULL;
    char *e = sym_curl_easy_escape(NULL, s, 0);
    char *r = e ? strdup(e) : NULL;
    sym_curl_free(e);
    return r;
}

static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t v = 0;
    for (int n = 0; isdigit((unsigned char)*s); s++, n++) {
        if (n >= 19)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    *p = s;
    return true;
}

int http_parse_content_range(const char *v, uint64_t *start, uint64_t *end, int64_t *total)
{
    if (!v || strncasecmp(v, "bytes", 5) != 0)
        return -1;
    const char *p = v + 5;
    while (*p == ' ')
        p++;
    uint64_t a, b, t;
    if (!parse_u64(&p, &a) || *p++ != '-' || !parse_u64(&p, &b) || *p++ != '/' || b < a)
        return -1;
    if (*p == '*' && p[1] == '\0') {
        *total = -1;
    } else {
        if (!parse_u64(&p, &t) || *p || t <= b || t > INT64_MAX)
            return -1;
        *total = (int64_t)t;
    }
    *start = a;
    *end = b;
    return 0;
}

long http_parse_retry_after(const char *v, time_t now)
{
    if (!v || !*v)
        return -1;
    const char *p = v;
    uint64_t s;
    if (parse_u64(&p, &s) && *p == '\0')
        return s > 86400 * 365 ? 86400 * 365 : (long)s;
    if (oreg_curl_open(NULL) < 0)
        return -1;
    time_t t = sym_curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    return t <= now ? 0 : (long)(t - now);
}

char *http_link_next(const char *v)
{
    /* link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), several
     * comma separated; only rel="next" (or rel=next) matters here. */
    const char *p = v;
    for (int guard = 0; p && *p && guard < 64; guard++) {
        const char *lt = strchr(p, '<');
        if (!lt)
            return NULL;
        const char *gt = strchr(lt, '>');
        if (!gt)
            return NULL;
        const char *params = gt + 1;
        const char *next_link = strchr(params, '<');
        size_t plen = next_link ? (size_t)(next_link - params) : strlen(params);
        _cleanup_free_ char *ps = strndup(params, plen);
        if (!ps)
            return NULL;
        oreg_ascii_lower(ps);
        for (char *r = strstr(ps, "rel"); r; r = strstr(r + 3, "rel")) {
            char *q = r + 3;
            while (*q == ' ')
                q++;
            if (*q != '=')
                continue;
            q++;
            while (*q == ' ')
                q++;
            if (*q == '"')
                q++;
            /* rel may list several relation types. */
            size_t n = strcspn(q, "\";,");
            for (char *w = q; w < q + n;) {
                size_t wl = strcspn(w, " \";,");
                if (wl == 4 && strncmp(w, "next", 4) == 0)
                    return strndup(lt + 1, (size_t)(gt - lt - 1));
                w += wl ? wl : 1;
            }
        }
        p = next_link;
    }
    return NULL;
}

char *http_media_type(const char *ct)
{
    if (!ct)
        return NULL;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    char *s = strndup(ct, n);
    if (s)
        oreg_ascii_lower(s);
    return s;
}
