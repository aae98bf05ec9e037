/* The client: options, the transfer loop, what we know of each host
 * (scheme, auth, tokens, TLS), and the endpoints of a repository. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define CLIENT_HOSTS_MAX 64
#define CLIENT_TLS_MAX 64

int64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void client_emit(struct oreg_client *c, const struct oreg_event *ev)
{
    if (c->o.on_event)
        c->o.on_event(c->o.event_ud, ev);
}

void client_note(struct oreg_client *c, const char *host, const char *fmt, ...)
{
    if (!c->o.on_event)
        return;
    _cleanup_free_ char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    struct oreg_event ev = {.kind = OREG_EV_NOTE, .host = host, .msg = msg};
    client_emit(c, &ev);
}

static void host_free(struct reg_host *h)
{
    if (!h)
        return;
    free(h->host);
    free(h->creds_key);
    free(h->origin);
    free(h->realm);
    free(h->service);
    oreg_creds_free(h->creds);
    for (size_t i = 0; i < h->n_slots; i++) {
        free(h->slots[i].scope);
        oreg_wipe_free(h->slots[i].token, (size_t)-1);
    }
    certs_clear(&h->tls);
    free(h);
}

void oreg_client_free(struct oreg_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_hosts; i++)
        host_free(c->hosts[i]);
    free(c->hosts);
    for (size_t i = 0; i < c->n_tls; i++) {
        free(c->tls[i].host);
        certs_clear(&c->tls[i].tls);
    }
    free(c->tls);
    http_loop_free(c->loop);
    free(c->cert_dir);
    oreg_wipe_free(c->creds, (size_t)-1);
    free(c->authfile);
    free(c->user_agent);
    free(c->rl_remaining);
    free(c);
}
OCI_DEFINE_CLEANUP(struct oreg_client *, oreg_client_free)

static bool dup_opt(char **dst, const char *src)
{
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

int oreg_client_new(struct oreg_client **out, const struct oreg_client_opts *opts,
                    struct oci_error **err)
{
    _cleanup_(oreg_client_freep) struct oreg_client *c = calloc(1, sizeof(*c));
    if (!c)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (opts)
        c->o = *opts;
    else
        c->o.retries = -1;
    if (!dup_opt(&c->cert_dir, c->o.cert_dir) || !dup_opt(&c->creds, c->o.creds.creds) ||
        !dup_opt(&c->authfile, c->o.creds.authfile) ||
        !dup_opt(&c->user_agent, c->o.user_agent ? c->o.user_agent : "ociimg"))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->o.cert_dir = c->cert_dir;
    c->o.creds.creds = c->creds;
    c->o.creds.authfile = c->authfile;
    c->o.user_agent = c->user_agent;
    if (c->o.jobs <= 0)
        c->o.jobs = OREG_DEFAULT_JOBS;
    if (c->o.jobs > 64)
        c->o.jobs = 64;
    if (c->o.retries < 0)
        c->o.retries = OREG_DEFAULT_RETRIES;
    if (c->o.retries > 100)
        c->o.retries = 100;
    if (c->o.stall_secs <= 0)
        c->o.stall_secs = OREG_DEFAULT_STALL_SECS;
    if (c->o.connect_secs <= 0)
        c->o.connect_secs = OREG_DEFAULT_CONNECT_SECS;
    if (c->o.retry_after_max <= 0)
        c->o.retry_after_max = OREG_DEFAULT_RETRY_AFTER_MAX;
    int r = http_loop_new(&c->loop, c->o.jobs, c->o.stall_secs, c->o.connect_secs, c->o.user_agent,
                          err);
    if (r < 0)
        return r;
    *out = TAKE_PTR(c);
    return 0;
}

int client_host(struct reg_host **out, struct oreg_client *c, const char *host,
                const char *creds_key, bool insecure, bool named, struct oci_error **err)
{
    for (size_t i = 0; i < c->n_hosts; i++) {
        if (strcmp(c->hosts[i]->host, host) == 0) {
            *out = c->hosts[i];
            return 0;
        }
    }
    if (c->n_hosts >= CLIENT_HOSTS_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "too many registry hosts");
    struct reg_host *h = calloc(1, sizeof(*h));
    struct reg_host **nv = realloc(c->hosts, (c->n_hosts + 1) * sizeof(*nv));
    if (nv)
        c->hosts = nv;
    if (!h || !nv || !(h->host = strdup(host)) || !(h->creds_key = strdup(creds_key))) {
        host_free(h);
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    h->insecure = insecure;
    h->named = named;
    int r = certs_load(&h->tls, c->o.cert_dir, host, named, insecure, err);
    if (r < 0) {
        host_free(h);
        return oci_error_wrap(err, "TLS settings for %s", host);
    }
    c->hosts[c->n_hosts++] = h;
    *out = h;
    return 0;
}

int client_tls_for_url(const struct http_tls **out, struct oreg_client *c, const char *url,
                       struct oci_error **err)
{
    _cleanup_free_ char *origin = http_url_origin(url);
    _cleanup_free_ char *hp = http_url_hostport(url);
    if (!origin || !hp)
        return oci_error_set(err, OCI_ERR_INVALID, "not an http(s) URL");
    for (size_t i = 0; i < c->n_hosts; i++) {
        if (c->hosts[i]->origin && strcmp(c->hosts[i]->origin, origin) == 0) {
            *out = &c->hosts[i]->tls;
            return 0;
        }
    }
    for (size_t i = 0; i < c->n_tls; i++) {
        if (strcmp(c->tls[i].host, hp) == 0) {
            *out = &c->tls[i].tls;
            return 0;
        }
    }
    if (c->n_tls >= CLIENT_TLS_MAX)
        return oci_error_set(err, OCI_ERR_TOO_LARGE, "too many hosts");
    struct tls_entry *nv = realloc(c->tls, (c->n_tls + 1) * sizeof(*nv));
    if (!nv)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    c->tls = nv;
    struct tls_entry *e = &c->tls[c->n_tls];
    memset(e, 0, sizeof(*e));
    if (!(e->host = strdup(hp)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    int r = certs_load(&e->tls, c->o.cert_dir, hp, false, false, err);
    if (r < 0) {
        free(e->host);
        return oci_error_wrap(err, "TLS settings for %s", hp);
    }
    c->n_tls++;
    *out = &e->tls;
    return 0;
}

void endpoint_list_clear(struct endpoint_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].repo);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

int client_endpoints(struct endpoint_list *out, struct oreg_client *c, const struct oreg_ref *ref,
                     struct oci_error **err)
{
    struct oreg_endpoints *eps = NULL;
    int r = oreg_registries_lookup(&eps, c->o.registries, ref->registry, err);
    if (r < 0)
        return r;
    struct endpoint_list l = {.v = calloc(eps->n, sizeof(struct endpoint))};
    if (!l.v)
        r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    for (size_t i = 0; r >= 0 && i < eps->n; i++) {
        const struct oreg_endpoint *e = &eps->v[i];
        bool insecure = e->insecure || (!e->mirror && c->o.insecure);
        /* A mirror's credentials are its own, keyed by its host. */
        r = client_host(&l.v[i].host, c, e->host, e->mirror ? e->host : ref->registry, insecure,
                        !e->mirror, err);
        if (r < 0)
            break;
        l.v[i].mirror = e->mirror;
        l.v[i].host->mirror = e->mirror && i + 1 < eps->n;
        if (*e->path_prefix) {
            if (asprintf(&l.v[i].repo, "%s/%s", e->path_prefix, ref->repository) < 0)
                l.v[i].repo = NULL;
        } else {
            l.v[i].repo = strdup(ref->repository);
        }
        l.n = i + 1;
        if (!l.v[i].repo)
            r = oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    oreg_endpoints_free(eps);
    if (r < 0) {
        endpoint_list_clear(&l);
        return r;
    }
    *out = l;
    return 0;
}
