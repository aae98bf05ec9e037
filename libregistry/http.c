/* The transfer loop: one curl multi handle that every request of a client
 * goes through (connection reuse, HTTP/2 multiplexing where the server
 * offers it, a per-host connection cap), and single HTTP exchanges on it.
 *
 * Redirects are never followed here (call.c does it, to keep Authorization
 * on its origin) and bodies are never decoded (blob bytes must stay as the
 * digest says).  Callbacks only record: the status and the headers we use,
 * capped, and the body into memory (capped) or a sink. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

/* A blob's receive buffer.  Bigger is not faster (a pull of 148 MB from a
 * local registry takes the same time with 64 KiB as with 512 KiB), and it
 * costs twice: curl's buffer is memory, and when a blob's pipe is full the
 * transfer pauses and curl keeps a copy of what is left of its buffer until
 * it resumes (about two pauses per MiB from a fast registry). */
#define RECV_BUFFER_BIG (128L * 1024)

struct http_loop {
    CURLM *multi;
    size_t active;
    int stall_secs, connect_secs;
    char *ua;
};

int http_loop_new(struct http_loop **out, int max_host_conns, int stall_secs, int connect_secs,
                  const char *user_agent, struct oci_error **err)
{
    int r = oreg_curl_open(err);
    if (r < 0)
        return r;
    struct http_loop *l = calloc(1, sizeof(*l));
    if (!l || !(l->ua = strdup(user_agent ? user_agent : "ociimg"))) {
        free(l);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    l->multi = sym_curl_multi_init();
    if (!l->multi) {
        free(l->ua);
        free(l);
        return oci_error_set(err, OCI_ERR_NOMEM, "initialise libcurl: out of memory");
    }
    l->stall_secs = stall_secs;
    l->connect_secs = connect_secs;
    sym_curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    sym_curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_host_conns);
    /* Registry, blob storage it redirects to, token server. */
    sym_curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_host_conns * 2 + 2);
    *out = l;
    return 0;
}

void http_loop_free(struct http_loop *l)
{
    if (!l)
        return;
    sym_curl_multi_cleanup(l->multi);
    free(l->ua);
    free(l);
}

size_t http_loop_active(const struct http_loop *l)
{
    return l->active;
}

static size_t drain(struct http_loop *l)
{
    size_t n = 0;
    int left = 0;
    CURLMsg *m;
    while ((m = sym_curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct http_req *r = NULL;
        sym_curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        r->cres = m->data.result;
        r->done = true;
        sym_curl_multi_remove_handle(l->multi, r->easy);
        r->added = false;
        l->active--;
        n++;
    }
    return n;
}

int http_loop_step(struct http_loop *l, int timeout_ms, struct oci_error **err)
{
    int running = 0;
    CURLMcode mc = sym_curl_multi_perform(l->multi, &running);
    if (mc == CURLM_OK && drain(l) == 0) {
        mc = sym_curl_multi_poll(l->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
        if (mc == CURLM_OK)
            mc = sym_curl_multi_perform(l->multi, &running);
        drain(l);
    }
    if (mc != CURLM_OK)
        return oci_error_set(err, OCI_ERR_INTERNAL, "transfer loop: %s",
                             sym_curl_multi_strerror(mc));
    return 0;
}

void http_req_resume(struct http_req *r)
{
    if (r && r->easy && r->added && !r->done)
        (void)sym_curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

void http_loop_wakeup(void *loop)
{
    struct http_loop *l = loop;
    sym_curl_multi_wakeup(l->multi);
}

/* ---- one exchange ---- */

static void headers_clear(struct http_headers *h)
{
    free(h->location);
    free(h->content_type);
    free(h->docker_digest);
    free(h->content_range);
    free(h->retry_after);
    free(h->link);
    free(h->rl_remaining);
    free(h->rl_limit);
    free(h->rl_reset);
    for (size_t i = 0; i < h->n_www_auth; i++)
        free(h->www_auth[i]);
    size_t bytes = h->bytes;
    memset(h, 0, sizeof(*h));
    h->bytes = bytes;
    h->content_length = -1;
}

static void wipe_slist(struct curl_slist *s)
{
    for (struct curl_slist *p = s; p; p = p->next)
        if (p->data)
            explicit_bzero(p->data, strlen(p->data));
    sym_curl_slist_free_all(s);
}

void http_req_free(struct http_req *r)
{
    if (!r)
        return;
    if (r->added) {
        sym_curl_multi_remove_handle(r->loop->multi, r->easy);
        r->loop->active--;
    }
    if (r->easy)
        sym_curl_easy_cleanup(r->easy);
    wipe_slist(r->headers);
    headers_clear(&r->h);
    free(r->url);
    if (r->post)
        oreg_wipe_free(r->post, (size_t)-1);
    free(r->body);
    oci_error_free(r->cb_err);
    free(r);
}

static size_t cb_fail(struct http_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static size_t cb_fail(struct http_req *r, int code, const char *fmt, ...)
{
    if (!r->cb_err) {
        va_list ap;
        va_start(ap, fmt);
        oci_error_vset(&r->cb_err, code, 0, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static char *trimmed_dup(const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    return strndup(v, n);
}

static void set_once(char **slot, char *v)
{
    /* The first of repeated single-valued headers wins. */
    if (*slot)
        free(v);
    else
        *slot = v;
}

static int64_t parse_length(const char *v)
{
    if (!v || !*v)
        return -1;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0)
        return -1;
    return n;
}

static size_t end_of_headers(struct http_req *r)
{
    if (r->h.status >= 100 && r->h.status < 200)
        return 1; /* an interim response; the real one follows */
    r->headers_done = true;
    bool ok = r->h.status >= 200 && r->h.status < 300;
    if (ok && r->has_sink) {
        r->sink_on = true;
        if (r->sink.begin && r->sink.begin(r->sink.ud, r, &r->cb_err) < 0)
            return 0;
    } else if (ok && r->h.content_length >= 0 && (uint64_t)r->h.content_length > r->body_max) {
        return cb_fail(r, OCI_ERR_TOO_LARGE, "response of %lld bytes is over the limit of %zu",
                       (long long)r->h.content_length, r->body_max);
    }
    return 1;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct http_req *r = ud;
    size_t len = size * nmemb;
    if (r->h.bytes + len > HTTP_HEADERS_MAX)
        return cb_fail(r, OCI_ERR_TOO_LARGE, "response headers over %u bytes", HTTP_HEADERS_MAX);
    r->h.bytes += len;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        headers_clear(&r->h);
        r->headers_done = false;
        const char *sp = memchr(buf, ' ', len);
        r->h.status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    size_t n = len;
    while (n && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        n--;
    if (n == 0)
        return end_of_headers(r) ? len : 0;
    const char *colon = memchr(buf, ':', n);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
#define IS(name) (nl == strlen(name) && strncasecmp(buf, name, nl) == 0)
    if (IS("www-authenticate")) {
        if (r->h.n_www_auth < OREG_CHALLENGE_MAX && vl <= OREG_CHALLENGE_HEADER_MAX) {
            char *s = trimmed_dup(v, vl);
            if (s)
                r->h.www_auth[r->h.n_www_auth++] = s;
        }
        return len;
    }
    char **slot = NULL;
    if (IS("location"))
        slot = &r->h.location;
    else if (IS("content-type"))
        slot = &r->h.content_type;
    else if (IS("docker-content-digest"))
        slot = &r->h.docker_digest;
    else if (IS("content-range"))
        slot = &r->h.content_range;
    else if (IS("retry-after"))
        slot = &r->h.retry_after;
    else if (IS("link"))
        slot = &r->h.link;
    else if (IS("ratelimit-remaining"))
        slot = &r->h.rl_remaining;
    else if (IS("ratelimit-limit"))
        slot = &r->h.rl_limit;
    else if (IS("ratelimit-reset") || IS("x-ratelimit-reset"))
        slot = &r->h.rl_reset;
    else if (IS("content-length")) {
        char *s = trimmed_dup(v, vl);
        r->h.content_length = parse_length(s);
        free(s);
        return len;
    }
#undef IS
    if (slot) {
        char *s = trimmed_dup(v, vl);
        if (!s)
            return cb_fail(r, OCI_ERR_NOMEM, "out of memory");
        set_once(slot, s);
    }
    return len;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct http_req *r = ud;
    size_t len = size * nmemb;
    if (r->sink_on) {
        int rc = r->sink.data(r->sink.ud, buf, len, &r->cb_err);
        if (rc < 0)
            return 0;
        if (rc == HTTP_SINK_PAUSE)
            return CURL_WRITEFUNC_PAUSE;
        r->rx += len;
        return len;
    }
    r->rx += len;
    bool ok = r->h.status >= 200 && r->h.status < 300;
    size_t max = ok ? r->body_max : HTTP_ERROR_BODY_MAX;
    if (r->body_len + len > max) {
        if (ok)
            return cb_fail(r, OCI_ERR_TOO_LARGE, "response body over the limit of %zu bytes", max);
        len = max - r->body_len; /* an error body: keep its start */
        if (len == 0)
            return size * nmemb;
    }
    if (r->body_len + len + 1 > r->body_alloc) {
        size_t want = r->body_alloc ? r->body_alloc : 4096;
        while (want < r->body_len + len + 1)
            want *= 2;
        char *nb = realloc(r->body, want);
        if (!nb)
            return cb_fail(r, OCI_ERR_NOMEM, "out of memory");
        r->body = nb;
        r->body_alloc = want;
    }
    memcpy(r->body + r->body_len, buf, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return size * nmemb;
}

/* Adds the extra CAs to whatever curl loaded (the system's). */
static CURLcode on_ssl_ctx(CURL *easy, void *sslctx, void *ud)
{
    (void)easy;
    const struct http_tls *t = ud;
    X509_STORE *st = sym_SSL_CTX_get_cert_store((SSL_CTX *)sslctx);
    for (size_t i = 0; st && i < t->n_ca; i++)
        if (X509_STORE_load_file(st, t->ca_files[i]) != 1)
            return CURLE_SSL_CACERT_BADFILE;
    return CURLE_OK;
}

const char *http_req_strerror(const struct http_req *r)
{
    return r->errbuf[0] ? r->errbuf : sym_curl_easy_strerror(r->cres);
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (sym_curl_easy_setopt(r->easy, opt, val) != CURLE_OK)                                   \
            goto setopt_failed;                                                                    \
    } while (0)

int http_req_start(struct http_req **out, struct http_loop *loop, const struct http_req_opts *o,
                   struct oci_error **err)
{
    struct http_req *r = calloc(1, sizeof(*r));
    if (!r) {
        wipe_slist(o->headers);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    r->loop = loop;
    r->headers = o->headers;
    r->h.content_length = -1;
    r->body_max = o->body_max;
    r->tls = o->tls;
    if (o->sink) {
        r->sink = *o->sink;
        r->has_sink = true;
    }
    r->url = strdup(o->url);
    r->easy = sym_curl_easy_init();
    if (!r->url || !r->easy) {
        http_req_free(r);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    SETOPT(CURLOPT_URL, r->url);
    SETOPT(CURLOPT_PRIVATE, (char *)r);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, r);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_ERRORBUFFER, r->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SETOPT(CURLOPT_PIPEWAIT, 1L);
    SETOPT(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT, (long)loop->connect_secs);
    /* Stall detection: under one byte per second for stall_secs. */
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, (long)loop->stall_secs);
    SETOPT(CURLOPT_USERAGENT, loop->ua);
    if (r->headers)
        SETOPT(CURLOPT_HTTPHEADER, r->headers);
    if (o->big)
        SETOPT(CURLOPT_BUFFERSIZE, RECV_BUFFER_BIG);
    if (o->method && strcmp(o->method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (o->post) {
        r->post = strndup(o->post, o->post_len);
        if (!r->post) {
            http_req_free(r);
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        SETOPT(CURLOPT_POSTFIELDS, r->post);
        SETOPT(CURLOPT_POSTFIELDSIZE, (long)o->post_len);
    }
    if (o->tls) {
        SETOPT(CURLOPT_SSL_VERIFYPEER, o->tls->verify ? 1L : 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, o->tls->verify ? 2L : 0L);
        if (o->tls->n_ca) {
            SETOPT(CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
            SETOPT(CURLOPT_SSL_CTX_DATA, (void *)o->tls);
        }
        if (o->tls->cert) {
            SETOPT(CURLOPT_SSLCERT, o->tls->cert);
            SETOPT(CURLOPT_SSLKEY, o->tls->key);
        }
    }
    if (sym_curl_multi_add_handle(loop->multi, r->easy) != CURLM_OK) {
        http_req_free(r);
        return oci_error_set(err, OCI_ERR_INTERNAL, "start request: curl_multi_add_handle failed");
    }
    r->added = true;
    loop->active++;
    *out = r;
    return 0;
setopt_failed:
    http_req_free(r);
    return oci_error_set(err, OCI_ERR_INTERNAL, "set up request: this libcurl lacks an option");
}
