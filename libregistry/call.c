/* A logical request to a registry (or a token server, a blob store it
 * redirects to, a foreign layer's URL), made of as many HTTP exchanges as it
 * takes:
 *   - redirects are followed here, at most CALL_REDIRECTS_MAX, never from
 *     https to http; Authorization goes only to the origin of the first URL
 *     (scheme, host and port), so a blob store never sees a registry token;
 *   - a 401 from the registry's origin lets auth.c renew the token (or
 *     switch to the scope the challenge names) and the call starts again;
 *   - connection failures, timeouts, stalls and 408/429/5xx are retried
 *     after an exponential backoff with jitter, or after Retry-After (up
 *     to the client's cap); an attempt that moved a lot of data does not
 *     use up a retry, as the next one resumes where it stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define CALL_REDIRECTS_MAX 10
#define CALL_ATTEMPTS_MAX 64
#define CALL_BACKOFF_BASE_MS 250
#define CALL_BACKOFF_MAX_MS 8000
/* An attempt that received this much is progress, not a failure. */
#define CALL_PROGRESS_BYTES (1u << 20)

void call_clear(struct reg_call *call)
{
    http_req_free(call->req);
    free(call->scope);
    free(call->url);
    free(call->origin);
    free(call->accept);
    if (call->fixed_auth)
        oreg_wipe_free(call->fixed_auth, (size_t)-1);
    if (call->post)
        oreg_wipe_free(call->post, call->post_len);
    free(call->what);
    free(call->path);
    oci_error_free(call->err);
    memset(call, 0, sizeof(*call));
}

static bool dup_into(char **dst, const char *src)
{
    if (!src)
        return true;
    return (*dst = strdup(src)) != NULL;
}

int call_init(struct reg_call *call, struct oreg_client *c, const struct call_spec *s,
              struct oci_error **err)
{
    memset(call, 0, sizeof(*call));
    call->c = c;
    call->host = s->host;
    call->method = s->method ? s->method : "GET";
    call->has_sink = s->sink != NULL;
    if (s->sink)
        call->sink = *s->sink;
    call->body_max = s->body_max ? s->body_max : OIMG_MAX_MANIFEST_SIZE;
    call->big = s->big;
    call->range_from = s->range_from;
    call->range_ud = s->range_ud;
    call->raw_status = s->raw_status;
    call->max_failures = s->no_retries ? 0 : s->max_failures > 0 ? s->max_failures : -1;
    /* Another endpoint follows a mirror: one retry, then move on. */
    if (s->host && s->host->mirror && (call->max_failures < 0 || call->max_failures > 1) &&
        c->o.retries > 1)
        call->max_failures = 1;
    call->on_retry = s->on_retry;
    call->retry_ud = s->retry_ud;
    call->tls = s->tls;
    bool ok = dup_into(&call->accept, s->accept) && dup_into(&call->fixed_auth, s->fixed_auth) &&
              dup_into(&call->what, s->what ? s->what : "request") &&
              dup_into(&call->path, s->path) && dup_into(&call->url, s->url);
    if (ok && s->post) {
        call->post = malloc(s->post_len + 1);
        ok = call->post != NULL;
        if (ok) {
            memcpy(call->post, s->post, s->post_len);
            call->post[s->post_len] = '\0';
            call->post_len = s->post_len;
        }
    }
    if (ok && s->host && s->repo && oreg_scope_pull(&call->scope, s->repo, NULL) < 0)
        ok = false;
    if (ok && call->url && !(call->origin = http_url_origin(call->url))) {
        call_clear(call);
        return oci_error_set(err, OCI_ERR_INVALID, "%s: not an http(s) URL", s->what);
    }
    if (!ok) {
        call_clear(call);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    call->state = CALL_IDLE;
    return 0;
}

void call_fail(struct reg_call *call, int code, struct oci_error *e)
{
    if (call->err)
        oci_error_free(e);
    else
        call->err = e;
    call->result = -code;
    call->state = CALL_FAILED;
}

static void fail_with(struct reg_call *call, int r, struct oci_error *e)
{
    if (!e)
        oci_error_set(&e, r < 0 ? -r : OCI_ERR_INTERNAL, "%s failed", call->what);
    call_fail(call, e->code, e);
}

int call_take_error(struct reg_call *call, struct oci_error **err)
{
    int r = call->result < 0 ? call->result : -OCI_ERR_INTERNAL;
    if (err && !*err)
        *err = TAKE_PTR(call->err);
    return r;
}

int64_t call_wake_ms(const struct reg_call *call)
{
    return call->state == CALL_WAITING ? call->wake_ms : -1;
}

static bool same_origin(const struct reg_call *call)
{
    _cleanup_free_ char *o = http_url_origin(call->url);
    return o && call->origin && strcmp(o, call->origin) == 0;
}

static int add_header(struct curl_slist **l, const char *name, const char *v)
{
    _cleanup_free_ char *line = NULL;
    if (asprintf(&line, "%s: %s", name, v) < 0)
        return -1;
    struct curl_slist *n = sym_curl_slist_append(*l, line);
    explicit_bzero(line, strlen(line));
    if (!n)
        return -1;
    *l = n;
    return 0;
}

static void wipe_slist(struct curl_slist *s)
{
    for (struct curl_slist *p = s; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    sym_curl_slist_free_all(s);
}

int call_start(struct reg_call *call)
{
    struct oreg_client *c = call->c;
    struct oci_error *e = NULL;
    int r;
    http_req_free(call->req);
    call->req = NULL;
    if (call->host && !call->url) {
        if ((r = auth_ping(c, call->host, &e)) < 0) {
            fail_with(call, r, e);
            return r;
        }
        if (asprintf(&call->url, "%s%s", call->host->origin, call->path) < 0) {
            call->url = NULL;
            fail_with(call, -OCI_ERR_NOMEM, NULL);
            return -OCI_ERR_NOMEM;
        }
        call->origin = strdup(call->host->origin);
    }
    bool same = same_origin(call);
    struct curl_slist *hl = NULL;
    bool ok = true;
    if (call->accept)
        ok = add_header(&hl, "Accept", call->accept) == 0;
    uint64_t have = call->range_from && !call->no_range ? call->range_from(call->range_ud) : 0;
    if (ok && have > 0) {
        char v[64];
        snprintf(v, sizeof(v), "bytes=%llu-", (unsigned long long)have);
        ok = add_header(&hl, "Range", v) == 0;
    }
    call->sent_auth = false;
    if (ok && same && call->host) {
        char *auth = NULL;
        r = auth_header(&auth, &call->used_gen, c, call->host, call->scope, NULL, &e);
        if (r < 0) {
            wipe_slist(hl);
            fail_with(call, r, e);
            return r;
        }
        if (auth) {
            ok = add_header(&hl, "Authorization", auth) == 0;
            call->sent_auth = true;
            oreg_wipe_free(auth, (size_t)-1);
        }
    } else if (ok && same && call->fixed_auth) {
        ok = add_header(&hl, "Authorization", call->fixed_auth) == 0;
        call->sent_auth = true;
    }
    if (!ok) {
        wipe_slist(hl);
        fail_with(call, -OCI_ERR_NOMEM, NULL);
        return -OCI_ERR_NOMEM;
    }
    const struct http_tls *tls = same && call->tls ? call->tls : NULL;
    if (!tls && (r = client_tls_for_url(&tls, c, call->url, &e)) < 0) {
        wipe_slist(hl);
        fail_with(call, r, e);
        return r;
    }
    struct http_req_opts o = {
        .method = call->method,
        .url = call->url,
        .headers = hl,
        .post = call->post,
        .post_len = call->post_len,
        .tls = tls,
        .sink = call->has_sink ? &call->sink : NULL,
        .body_max = call->body_max,
        .big = call->big,
    };
    if ((r = http_req_start(&call->req, c->loop, &o, &e)) < 0) {
        fail_with(call, r, e);
        return r;
    }
    call->attempts++;
    call->state = CALL_RUNNING;
    return 0;
}

static bool retryable_curl(const struct http_req *r)
{
    CURLcode rc = r->cres;
    /* A handshake that fails the same way every time ("wrong version
     * number": plain HTTP; certificate problems) is not worth retrying;
     * one cut short by the network is. */
    if (rc == CURLE_SSL_CONNECT_ERROR)
        return strstr(r->errbuf, "SYSCALL") || strstr(r->errbuf, "reset") ||
               strstr(r->errbuf, "unexpected eof") || strstr(r->errbuf, "EOF");
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

static bool retryable_status(long st)
{
    return st == 408 || st == 429 || (st >= 500 && st <= 599 && st != 501 && st != 505);
}

static uint32_t jitter_permille(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = (uint32_t)client_now_ms() * 2654435761u;
    return 500 + v % 501; /* 50%..100% of the backoff */
}

static void note_retry(struct reg_call *call, const char *why, int64_t delay_ms)
{
    char buf[600];
    snprintf(buf, sizeof(buf), "%s; retrying in %.1f s", why, (double)delay_ms / 1000.0);
    if (call->on_retry) {
        call->on_retry(call->retry_ud, buf);
    } else {
        _cleanup_free_ char *hp = http_url_hostport(call->url);
        client_note(call->c, hp, "%s: %s: %s", hp ? hp : "?", call->what, buf);
    }
}

/* Retries after delay_ms (< 0: backoff), or fails with give_up when the
 * budget is spent.  Takes give_up. */
static void retry_or_fail(struct reg_call *call, struct oci_error *give_up, long retry_after,
                          const char *why)
{
    struct oreg_client *c = call->c;
    bool progress = call->req && call->req->rx >= CALL_PROGRESS_BYTES;
    if (!progress)
        call->failures++;
    int max = call->max_failures >= 0 ? call->max_failures : c->o.retries;
    if ((int)call->failures > max || call->attempts >= CALL_ATTEMPTS_MAX) {
        call_fail(call, give_up->code, give_up);
        return;
    }
    if (retry_after > c->o.retry_after_max) {
        /* Not worth waiting for within one run: say when to come back. */
        call_fail(call, give_up->code, give_up);
        return;
    }
    oci_error_free(give_up);
    int64_t delay;
    if (retry_after >= 0) {
        delay = (int64_t)retry_after * 1000;
    } else {
        unsigned shift = call->failures > 0 ? call->failures - 1 : 0;
        delay = CALL_BACKOFF_BASE_MS << (shift > 10 ? 10 : shift);
        if (delay > CALL_BACKOFF_MAX_MS)
            delay = CALL_BACKOFF_MAX_MS;
        delay = delay * jitter_permille() / 1000;
    }
    c->retries_done++;
    note_retry(call, why, delay);
    call->wake_ms = client_now_ms() + delay;
    call->state = CALL_WAITING;
}

static void record_ratelimit(struct reg_call *call)
{
    const char *v = call->req->h.rl_remaining;
    struct oreg_client *c = call->c;
    if (!v || (c->rl_remaining && strcmp(c->rl_remaining, v) == 0))
        return;
    char q[OREG_QUOTE_BUF];
    oreg_quote(q, v);
    free(c->rl_remaining);
    c->rl_remaining = strndup(q + 1, strlen(q) - 2); /* printable, unquoted */
    _cleanup_free_ char *hp = http_url_hostport(call->url);
    struct oreg_event ev = {.kind = OREG_EV_RATELIMIT, .host = hp, .msg = c->rl_remaining};
    if (c->rl_remaining)
        client_emit(c, &ev);
}

static void follow_redirect(struct reg_call *call)
{
    struct oci_error *e = NULL;
    char *next = NULL;
    _cleanup_free_ char *hp = http_url_hostport(call->url);
    if (++call->redirects > CALL_REDIRECTS_MAX) {
        oci_error_set(&e, OCI_ERR_NETWORK, "%s: %s: more than %d redirects", hp, call->what,
                      CALL_REDIRECTS_MAX);
        call_fail(call, OCI_ERR_NETWORK, e);
        return;
    }
    int r = http_url_resolve(&next, call->url, call->req->h.location, &e);
    if (r < 0) {
        oci_error_wrap(&e, "%s: %s", hp, call->what);
        call_fail(call, e->code, e);
        return;
    }
    if (http_url_is_https(call->url) && !http_url_is_https(next)) {
        free(next);
        oci_error_set(&e, OCI_ERR_NETWORK, "%s: %s: refusing a redirect from https to plain http",
                      hp, call->what);
        call_fail(call, OCI_ERR_NETWORK, e);
        return;
    }
    free(call->url);
    call->url = next;
    if (call->req->h.status == 303 && strcmp(call->method, "HEAD") != 0) {
        call->method = "GET";
        if (call->post)
            oreg_wipe_free(call->post, call->post_len);
        call->post = NULL;
        call->post_len = 0;
    }
    call_start(call);
}

static void finish_attempt(struct reg_call *call)
{
    struct http_req *r = call->req;
    struct oreg_client *c = call->c;
    c->rx_total += r->rx;
    record_ratelimit(call);
    struct oci_error *e = NULL;
    if (r->cb_err) {
        e = TAKE_PTR(r->cb_err);
        if (e->code == OCI_ERR_NETWORK) {
            char why[512];
            snprintf(why, sizeof(why), "%s", e->msg);
            retry_or_fail(call, e, -1, why);
        } else {
            call_fail(call, e->code, e);
        }
        return;
    }
    if (r->cres != CURLE_OK) {
        errors_transport(call, &e);
        if (retryable_curl(r)) {
            /* A name that does not resolve rarely comes back within seconds. */
            if (r->cres == CURLE_COULDNT_RESOLVE_HOST && call->failures >= 1) {
                call_fail(call, e->code, e);
                return;
            }
            char why[512];
            snprintf(why, sizeof(why), "%s", http_req_strerror(r));
            retry_or_fail(call, e, -1, why);
        } else {
            call_fail(call, e->code, e);
        }
        return;
    }
    long st = r->h.status;
    if (st >= 200 && st < 300) {
        call->state = CALL_OK;
        return;
    }
    if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) && r->h.location) {
        follow_redirect(call);
        return;
    }
    if (st == 401 && call->host && same_origin(call)) {
        int again = auth_on_401(c, call->host, &r->h, &call->scope, call->used_gen,
                                &call->scope_retried, &call->auth_tries, &e);
        if (again < 0) {
            call_fail(call, e->code, e);
            return;
        }
        if (again > 0) {
            call_start(call);
            return;
        }
    }
    if (retryable_status(st)) {
        errors_http(call, &e);
        char why[128];
        snprintf(why, sizeof(why), "HTTP %ld", st);
        long ra = http_parse_retry_after(r->h.retry_after, time(NULL));
        retry_or_fail(call, e, ra, why);
        return;
    }
    if (call->raw_status && st >= 300 && st < 500) {
        call->state = CALL_OK;
        return;
    }
    errors_http(call, &e);
    call_fail(call, e->code, e);
}

enum call_state call_step(struct reg_call *call)
{
    if (call->state == CALL_WAITING && client_now_ms() >= call->wake_ms)
        call_start(call);
    if (call->state == CALL_RUNNING && call->req && call->req->done)
        finish_attempt(call);
    return call->state;
}

int call_retry_now(struct reg_call *call, int code, const char *why)
{
    struct oci_error *e = NULL;
    _cleanup_free_ char *hp = http_url_hostport(call->url);
    oci_error_set(&e, code, "%s: %s: %s", hp ? hp : "?", call->what, why);
    retry_or_fail(call, e, 0, why);
    return call->state == CALL_FAILED ? call->result : 0;
}

int call_run(struct reg_call *call, struct oci_error **err)
{
    if (call->state == CALL_IDLE)
        call_start(call);
    for (;;) {
        if (call_step(call) == CALL_OK)
            return 0;
        if (call->state == CALL_FAILED)
            return call_take_error(call, err);
        int timeout = 1000;
        if (call->state == CALL_WAITING) {
            int64_t left = call->wake_ms - client_now_ms();
            timeout = left < 0 ? 0 : left > 1000 ? 1000 : (int)left;
        }
        struct oci_error *e = NULL;
        int r = http_loop_step(call->c->loop, timeout, &e);
        if (r < 0) {
            call_fail(call, e->code, e);
            return call_take_error(call, err);
        }
    }
}

int call_do(struct reg_call *call, struct oreg_client *c, const struct call_spec *s,
            struct oci_error **err)
{
    int r = call_init(call, c, s, err);
    if (r < 0)
        return r;
    if ((r = call_run(call, err)) < 0)
        call_clear(call);
    return r;
}
