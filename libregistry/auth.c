/* Authentication as registries do it (distribution's token auth, as Docker
 * Hub runs it, and Basic):
 *   - GET /v2/ once per host tells the scheme (https, or http for an
 *     insecure host) and the challenge;
 *   - Bearer: a token per scope from the realm, anonymous or with Basic
 *     credentials, or by POST grant_type=refresh_token with an identity
 *     token; renewed before it expires and after any 401; one retry with
 *     the scope an insufficient_scope challenge names;
 *   - Basic: the credentials on every request to the registry's origin.
 * Credentials are looked up lazily (only when a registry asks) and never
 * leave this file except inside an Authorization header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ociimg/base64.h>
#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

#define TOKEN_REFRESH_MARGIN_MAX 10 /* seconds before expiry we renew */

static void set_str(char **slot, const char *v)
{
    if (*slot && v && strcmp(*slot, v) == 0)
        return;
    free(*slot);
    *slot = v ? strdup(v) : NULL;
}

/* Adopts the challenges of a response: Bearer over Basic. */
static int learn_challenges(struct reg_host *h, char *const *hdrs, size_t n, struct oci_error **err)
{
    struct oreg_challenges *ch = NULL;
    int r = oreg_challenges_parse(&ch, (const char *const *)hdrs, n, err);
    if (r < 0)
        return oci_error_wrap(err, "%s: WWW-Authenticate", h->host);
    const struct oreg_challenge *b = oreg_challenges_find(ch, "bearer");
    const struct oreg_challenge *basic = oreg_challenges_find(ch, "basic");
    if (b && oreg_challenge_realm(b)) {
        h->bearer = true;
        h->basic = false;
        set_str(&h->realm, oreg_challenge_realm(b));
        set_str(&h->service, oreg_challenge_service(b));
    } else if (basic) {
        h->basic = true;
        h->bearer = false;
    }
    oreg_challenges_free(ch);
    return 0;
}

int auth_ping(struct oreg_client *c, struct reg_host *h, struct oci_error **err)
{
    if (h->pinged)
        return 0;
    static const char *const secure[] = {"https"}, *const both[] = {"https", "http"};
    const char *const *schemes = h->insecure ? both : secure;
    size_t n = h->insecure ? 2 : 1;
    struct oci_error *first = NULL;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *url = NULL;
        if (asprintf(&url, "%s://%s/v2/", schemes[i], h->host) < 0)
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        /* The TLS settings of this host apply to its URLs from now on. */
        free(h->origin);
        h->origin = http_url_origin(url);
        if (!h->origin)
            return oci_error_set(err, OCI_ERR_INVALID, "invalid registry host %s", h->host);
        struct reg_call call;
        struct call_spec s = {
            .url = url,
            .what = "API version check (GET /v2/)",
            .raw_status = true,
            /* An insecure host's https probe fails fast into http. */
            .no_retries = i + 1 < n,
            .max_failures = h->mirror ? 1 : 0,
        };
        int r = call_init(&call, c, &s, err);
        if (r < 0)
            return r;
        struct oci_error *e = NULL;
        r = call_run(&call, &e);
        if (r < 0) {
            call_clear(&call);
            if (i + 1 < n && e->code == OCI_ERR_NETWORK) {
                oci_error_free(first);
                first = e;
                continue;
            }
            oci_error_free(first);
            *err = e;
            return r;
        }
        long st = call.req->h.status;
        if (st == 401) {
            r = learn_challenges(h, call.req->h.www_auth, call.req->h.n_www_auth, err);
            if (r < 0) {
                call_clear(&call);
                oci_error_free(first);
                return r;
            }
        } else if (st == 404) {
            call_clear(&call);
            oci_error_free(first);
            return oci_error_set(err, OCI_ERR_NOT_FOUND,
                                 "%s: GET /v2/ answered 404: this is not a registry (OCI "
                                 "distribution API)",
                                 h->host);
        }
        call_clear(&call);
        oci_error_free(first);
        h->scheme = schemes[i];
        h->pinged = true;
        return 0;
    }
    if (err && !*err)
        *err = first;
    else
        oci_error_free(first);
    return -OCI_ERR_NETWORK;
}

int auth_host_creds(struct oreg_client *c, struct reg_host *h, const char *repo,
                    struct oci_error **err)
{
    if (h->creds_done)
        return h->creds ? 1 : 0;
    int r = oreg_creds_lookup(&h->creds, h->creds_key, repo, &c->o.creds, err);
    if (r < 0)
        return oci_error_wrap(err, "credentials for %s", h->creds_key);
    h->creds_done = true;
    return r;
}

const char *auth_creds_source(const struct reg_host *h)
{
    return h->creds ? h->creds->source : NULL;
}

static struct token_slot *find_slot(struct reg_host *h, const char *scope)
{
    const char *s = scope ? scope : "";
    for (size_t i = 0; i < h->n_slots; i++)
        if (strcmp(h->slots[i].scope, s) == 0)
            return &h->slots[i];
    return NULL;
}

static char *basic_value(const struct oreg_creds *cr)
{
    size_t ul = strlen(cr->username), pl = strlen(cr->password);
    char *pair = malloc(ul + pl + 2);
    if (!pair)
        return NULL;
    memcpy(pair, cr->username, ul);
    pair[ul] = ':';
    memcpy(pair + ul + 1, cr->password, pl + 1);
    char *b64 = oimg_base64_encode(pair, ul + pl + 1);
    oreg_wipe_free(pair, ul + pl + 1);
    if (!b64)
        return NULL;
    char *v = NULL;
    if (asprintf(&v, "Basic %s", b64) < 0)
        v = NULL;
    oreg_wipe_free(b64, (size_t)-1);
    return v;
}

static int store_token(struct reg_host *h, const char *scope, const struct oreg_token *t,
                       struct oci_error **err)
{
    struct token_slot *s = find_slot(h, scope);
    if (!s) {
        if (h->n_slots < CLIENT_TOKEN_SLOTS) {
            s = &h->slots[h->n_slots++];
            memset(s, 0, sizeof(*s));
        } else {
            s = &h->slots[0]; /* the oldest */
            free(s->scope);
            s->scope = NULL;
        }
        if (!(s->scope = strdup(scope ? scope : "")))
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    }
    if (s->token)
        oreg_wipe_free(s->token, (size_t)-1);
    if (!(s->token = strdup(t->token)))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    s->expiry = oreg_token_expiry(t, time(NULL));
    s->gen++;
    return 0;
}

static int token_request_spec(struct call_spec *s, char **url, char **post, char **basic,
                              const struct reg_host *h, const char *scope, struct oci_error **err)
{
    const struct oreg_creds *cr = h->creds;
    _cleanup_free_ char *svc = h->service ? http_escape(h->service) : NULL;
    _cleanup_free_ char *sc = scope ? http_escape(scope) : NULL;
    if ((h->service && !svc) || (scope && !sc))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    if (cr && cr->identity_token) {
        _cleanup_free_ char *rt = http_escape(cr->identity_token);
        if (!rt ||
            asprintf(post, "grant_type=refresh_token&refresh_token=%s&client_id=ociimg%s%s%s%s", rt,
                     svc ? "&service=" : "", svc ? svc : "", sc ? "&scope=" : "",
                     sc ? sc : "") < 0) {
            if (rt)
                explicit_bzero(rt, strlen(rt));
            *post = NULL;
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        explicit_bzero(rt, strlen(rt));
        *url = strdup(h->realm);
        s->method = "POST";
        s->post = *post;
        s->post_len = strlen(*post);
    } else {
        const char *sep = strchr(h->realm, '?') ? "&" : "?";
        if (asprintf(url, "%s%s%s%s%s%s", h->realm, svc || sc ? sep : "", svc ? "service=" : "",
                     svc ? svc : "", sc ? (svc ? "&scope=" : "scope=") : "", sc ? sc : "") < 0)
            *url = NULL;
        if (cr && cr->username && cr->password && !(*basic = basic_value(cr)))
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        s->fixed_auth = *basic;
    }
    if (!*url)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    s->url = *url;
    return 0;
}

int auth_fetch_token(struct oreg_client *c, struct reg_host *h, const char *scope,
                     struct oci_error **err)
{
    char q[OREG_QUOTE_BUF];
    _cleanup_free_ char *realm_origin = h->realm ? http_url_origin(h->realm) : NULL;
    if (!realm_origin) {
        oreg_quote(q, h->realm);
        return oci_error_set(err, OCI_ERR_AUTH, "%s: the token realm %s is not an http(s) URL",
                             h->host, q);
    }
    int r = auth_host_creds(c, h, NULL, err);
    if (r < 0)
        return r;
    /* Credentials travel in clear only where the registry itself does. */
    if (h->creds && !http_url_is_https(h->realm) && !h->insecure) {
        oreg_quote(q, h->realm);
        return oci_error_set(err, OCI_ERR_AUTH,
                             "%s: refusing to send credentials to the plain-http token realm %s",
                             h->host, q);
    }
    _cleanup_free_ char *url = NULL, *hp = http_url_hostport(h->realm);
    char *post = NULL, *basic = NULL;
    char what[300];
    snprintf(what, sizeof(what), "token for %.200s", scope ? scope : "login");
    struct call_spec s = {
        .what = what, .raw_status = true, .body_max = OREG_TOKEN_RESPONSE_MAX, .tls = &h->tls};
    r = token_request_spec(&s, &url, &post, &basic, h, scope, err);
    struct reg_call call;
    if (r >= 0)
        r = call_init(&call, c, &s, err);
    if (post)
        oreg_wipe_free(post, (size_t)-1);
    if (basic)
        oreg_wipe_free(basic, (size_t)-1);
    if (r < 0)
        return r;
    r = call_run(&call, err);
    if (r < 0) {
        call_clear(&call);
        return r;
    }
    long st = call.req->h.status;
    const char *src = auth_creds_source(h);
    if (st == 401 || st == 403) {
        call_clear(&call);
        if (src)
            return oci_error_set(err, OCI_ERR_AUTH,
                                 "%s: the token server %s refused the credentials from %s (%ld): "
                                 "check them ('ociimg login %s')",
                                 h->host, hp ? hp : "?", src, st, h->creds_key);
        return oci_error_set(err, OCI_ERR_AUTH,
                             "%s: the token server %s refused an anonymous token (%ld): log in "
                             "with 'ociimg login %s' or pass --creds USER:PASS",
                             h->host, hp ? hp : "?", st, h->creds_key);
    }
    if (st != 200) {
        call_clear(&call);
        return oci_error_set(err, st == 404 ? OCI_ERR_NOT_FOUND : OCI_ERR_AUTH,
                             "%s: the token server %s answered %ld to the token request", h->host,
                             hp ? hp : "?", st);
    }
    struct oreg_token *t = NULL;
    r = oreg_token_parse(&t, call.req->body ? call.req->body : "", call.req->body_len, err);
    if (call.req->body)
        explicit_bzero(call.req->body, call.req->body_len);
    call_clear(&call);
    if (r < 0)
        return oci_error_wrap(err, "%s: token server %s", h->host, hp ? hp : "?");
    r = store_token(h, scope, t, err);
    oreg_token_free(t);
    return r;
}

int auth_header(char **out, unsigned *gen, struct oreg_client *c, struct reg_host *h,
                const char *scope, const char *repo_hint, struct oci_error **err)
{
    *out = NULL;
    if (h->bearer) {
        struct token_slot *s = find_slot(h, scope);
        time_t now = time(NULL);
        if (s && s->token) {
            time_t life = s->expiry - now;
            time_t margin =
                life / 5 < TOKEN_REFRESH_MARGIN_MAX ? life / 5 : TOKEN_REFRESH_MARGIN_MAX;
            if (now >= s->expiry - margin)
                s = NULL;
        } else {
            s = NULL;
        }
        if (!s) {
            int r = auth_fetch_token(c, h, scope, err);
            if (r < 0)
                return r;
            s = find_slot(h, scope);
        }
        if (!s || !s->token)
            return oci_error_set(err, OCI_ERR_INTERNAL, "token lost");
        if (asprintf(out, "Bearer %s", s->token) < 0) {
            *out = NULL;
            return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
        *gen = s->gen;
        return 0;
    }
    if (h->basic) {
        int r = auth_host_creds(c, h, repo_hint, err);
        if (r < 0)
            return r;
        if (h->creds && h->creds->username && h->creds->password) {
            if (!(*out = basic_value(h->creds)))
                return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

int auth_on_401(struct oreg_client *c, struct reg_host *h, const struct http_headers *hd,
                char **scope, unsigned used_gen, bool *scope_retried, unsigned *tries,
                struct oci_error **err)
{
    if (hd->n_www_auth == 0)
        return 0;
    struct oreg_challenges *ch = NULL;
    int r = oreg_challenges_parse(&ch, (const char *const *)hd->www_auth, hd->n_www_auth, err);
    if (r < 0)
        return oci_error_wrap(err, "%s: WWW-Authenticate", h->host);
    const struct oreg_challenge *b = oreg_challenges_find(ch, "bearer");
    const struct oreg_challenge *basic = oreg_challenges_find(ch, "basic");
    int again = 0;
    if (b && oreg_challenge_realm(b)) {
        h->bearer = true;
        h->basic = false;
        set_str(&h->realm, oreg_challenge_realm(b));
        set_str(&h->service, oreg_challenge_service(b));
        const char *want = oreg_challenge_scope(b);
        bool other_scope = want && (!*scope || strcmp(want, *scope) != 0);
        if (oreg_challenge_insufficient_scope(b) && other_scope && !*scope_retried &&
            strlen(want) < 1024 && !oreg_has_ctl(want)) {
            *scope_retried = true;
            set_str(scope, want);
            again = *scope ? 1 : -1;
        } else if (*tries < (oreg_challenge_insufficient_scope(b) ? 1u : 2u)) {
            (*tries)++;
            struct token_slot *s = find_slot(h, *scope);
            if (s && s->gen == used_gen)
                s->expiry = 0; /* renew, unless another request already did */
            again = 1;
        }
    } else if (basic) {
        h->basic = true;
        h->bearer = false;
        r = auth_host_creds(c, h, NULL, err);
        if (r < 0) {
            oreg_challenges_free(ch);
            return r;
        }
        if (h->creds && h->creds->password && *tries < 1) {
            (*tries)++;
            again = 1;
        }
    }
    oreg_challenges_free(ch);
    if (again < 0)
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    return again;
}
